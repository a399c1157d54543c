"""EXIF GPS and time read from generated JPEGs, the haversine distance and the geofence edge,
the photo flags, and images too large to open (decompression bombs)."""

import io
import struct
import zlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from PIL import Image

from backend.site import exif, geo, service
from backend.site.models import ProjectSite

from .conftest import RADIUS, SITE_LAT, SITE_LON, jpeg, site_photo

MAX_PIXELS = 60_000_000


def test_degrees_minutes_seconds_to_decimal_degrees_in_all_four_quadrants():
    # 30°15'30.5" N = 30 + 15/60 + 30.5/3600 = 30.258472222… → 30.2584722
    assert exif.to_degrees((30, 15, 30.5), "N", 90) == Decimal("30.2584722")
    # 33°52'4.8" S = -(33 + 52/60 + 4.8/3600) = -(33 + 0.8666667 + 0.0013333) = -33.8680000
    assert exif.to_degrees((33, 52, 4.8), "S", 90) == Decimal("-33.8680000")
    # 120°9'0" E = 120.15
    assert exif.to_degrees((120, 9, 0), "E", 180) == Decimal("120.1500000")
    # 74°0'21.6" W = -(74 + 21.6/3600) = -74.006
    assert exif.to_degrees((74, 0, 21.6), b"W\x00", 180) == Decimal("-74.0060000")
    # No reference, a bad reference, out of range, negative parts: not a position.
    assert exif.to_degrees((30, 0, 0), "", 90) is None
    assert exif.to_degrees((30, 0, 0), "X", 90) is None
    assert exif.to_degrees((91, 0, 0), "N", 90) is None
    assert exif.to_degrees((30, -1, 0), "N", 90) is None
    assert exif.to_degrees((30, 0), "N", 90) is None


def test_a_phone_jpeg_gives_its_position_and_time_in_utc():
    data = jpeg(gps=((30, 15, 30.5), "N", (120, 9, 0), "E"), taken="2026:03:15 10:00:00", offset="+08:00")
    info = exif.inspect(data, name="a.jpg", max_pixels=MAX_PIXELS)
    assert (info.latitude, info.longitude) == (Decimal("30.2584722"), Decimal("120.1500000"))
    assert info.taken_at == datetime(2026, 3, 15, 2, 0, tzinfo=UTC)
    assert info.has_exif and (info.width, info.height) == (64, 48)

    south_west = exif.inspect(
        jpeg(gps=((33, 52, 4.8), "S", (74, 0, 21.6), "W"), taken="2026:03:15 10:00:00", offset="-05:00"),
        name="b.jpg",
        max_pixels=MAX_PIXELS,
    )
    assert (south_west.latitude, south_west.longitude) == (Decimal("-33.8680000"), Decimal("-74.0060000"))
    assert south_west.taken_at == datetime(2026, 3, 15, 15, 0, tzinfo=UTC)


def test_a_time_without_offset_is_beijing_time():
    info = exif.inspect(jpeg(taken="2026:03:15 10:00:00"), name="a.jpg", max_pixels=MAX_PIXELS)
    assert info.taken_at == datetime(2026, 3, 15, 2, 0, tzinfo=UTC)
    assert info.latitude is None and info.has_exif


def test_no_exif_at_all():
    info = exif.inspect(jpeg(), name="a.jpg", max_pixels=MAX_PIXELS)
    assert not info.has_exif and info.taken_at is None and info.latitude is None


def test_haversine_by_hand():
    # Along a meridian one degree is R·π/180 = 6 371 008.8 × 0.0174532925 = 111 195.08 m.
    assert geo.haversine_m(30, 120, 31, 120) == pytest.approx(111_195.08, abs=0.01)
    # Along the equator the same.
    assert geo.haversine_m(0, 120, 0, 121) == pytest.approx(111_195.08, abs=0.01)
    # At 60° N a degree of longitude: 2R·asin(cos 60° · sin 0.5°) = 2R·asin(0.5 × 0.0087265355)
    # = 2 × 6 371 008.8 × 0.0043632562 = 55 597.01 m (a hair under half the equator's degree:
    # a great circle, not the parallel).
    assert geo.haversine_m(60, 10, 60, 11) == pytest.approx(55_597.01, abs=0.01)
    assert geo.haversine_m(30.25, 120.15, 30.25, 120.15) == 0


@pytest.fixture()
def fence():
    return ProjectSite(latitude=SITE_LAT, longitude=SITE_LON, radius_m=RADIUS)


def test_photo_inside_and_outside_the_fence_at_the_radius(app, fence):
    taken = datetime(2026, 3, 15, 10, 0)  # Beijing
    uploaded = datetime(2026, 3, 15, 2, 30, tzinfo=UTC)
    with app.app_context():
        inside = exif.inspect(site_photo(taken, north_m=RADIUS - 2), name="in.jpg", max_pixels=MAX_PIXELS)
        flags, distance = service.photo_flags(inside, site=fence, uploaded_at=uploaded)
        assert flags == [] and distance == RADIUS - 2
        outside = exif.inspect(site_photo(taken, north_m=RADIUS + 2), name="out.jpg", max_pixels=MAX_PIXELS)
        flags, distance = service.photo_flags(outside, site=fence, uploaded_at=uploaded)
        assert flags == ["photo_outside_fence"] and distance == RADIUS + 2


def test_photo_time_against_upload_time(app, fence):
    photo = exif.inspect(site_photo(datetime(2026, 3, 15, 10, 0)), name="a.jpg", max_pixels=MAX_PIXELS)
    taken = datetime(2026, 3, 15, 2, 0, tzinfo=UTC)
    with app.app_context():
        limit = app.config["SITE_PHOTO_MAX_AGE_MINUTES"]
        assert service.photo_flags(photo, site=fence, uploaded_at=taken + timedelta(minutes=limit))[0] == []
        late = service.photo_flags(photo, site=fence, uploaded_at=taken + timedelta(minutes=limit + 1))
        assert late[0] == ["photo_time_mismatch"]
        # A camera clock ahead of the server is as suspicious as an old photo.
        early = service.photo_flags(photo, site=fence, uploaded_at=taken - timedelta(minutes=limit + 1))
        assert early[0] == ["photo_time_mismatch"]
        bare = exif.inspect(jpeg(), name="b.jpg", max_pixels=MAX_PIXELS)
        assert service.photo_flags(bare, site=fence, uploaded_at=taken) == (["photo_no_exif"], None)
        no_gps = exif.inspect(jpeg(taken="2026:03:15 10:00:00"), name="c.jpg", max_pixels=MAX_PIXELS)
        assert service.photo_flags(no_gps, site=fence, uploaded_at=taken) == (["photo_no_gps"], None)


def bomb_png(width: int, height: int) -> bytes:
    """A 1×1 PNG whose header claims width×height: Pillow reads the size without decoding."""
    out = io.BytesIO()
    Image.new("1", (1, 1)).save(out, "PNG")
    data = bytearray(out.getvalue())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    body = bytes(data[ihdr : ihdr + 17])
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", zlib.crc32(body))
    return bytes(data)


def test_decompression_bombs_and_oversized_images_are_refused_in_chinese():
    with pytest.raises(exif.PhotoRefused, match="像素过多.*解压炸弹"):
        exif.inspect(bomb_png(40_000, 40_000), name="bomb.png", max_pixels=MAX_PIXELS)
    # Between our limit and Pillow's: refused by our own check, with the size.
    with pytest.raises(exif.PhotoRefused, match="8000×8000"):
        exif.inspect(bomb_png(8000, 8000), name="big.png", max_pixels=MAX_PIXELS)
    with pytest.raises(exif.PhotoRefused, match="无法识别为图片"):
        exif.inspect(b"not an image at all", name="x.jpg", max_pixels=MAX_PIXELS)


def test_thumbnail_is_upright_small_and_without_metadata():
    data = jpeg(
        gps=((30, 15, 0), "N", (120, 9, 0), "E"),
        taken="2026:03:15 10:00:00",
        size=(1600, 1200),
        orientation=6,
    )
    thumb = Image.open(io.BytesIO(exif.thumbnail(data, max_pixels=MAX_PIXELS)))
    # Orientation 6 = rotate 90°: the landscape 1600×1200 becomes a portrait 240×320.
    assert thumb.format == "JPEG" and thumb.size == (240, 320)
    assert len(thumb.getexif()) == 0
