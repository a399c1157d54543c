"""Published photos carry no EXIF (the original stays private); long cache headers by hash.
The QR code (SVG and PNG) encodes the absolute public address."""

import io

import segno
import sqlalchemy as sa
from PIL import Image

from backend.files.models import StoredFile
from backend.files.service import path_of
from backend.publicpage import service
from backend.publicpage.models import PublicPhoto
from tests.api.conftest import Client, signed_in

from .conftest import CODE, photo_with_gps


def anonymous(app) -> Client:
    return Client(app, app.response_class, use_cookies=True)


def has_exif(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as image:
        return bool(image.getexif()) or "exif" in image.info or bool(image.info.get("xmp"))


def test_published_photo_has_no_exif_and_the_original_stays_private(app, session, world):
    original = photo_with_gps()
    assert has_exif(original)  # the test picture really carries EXIF and GPS
    with Image.open(io.BytesIO(original)) as image:
        assert image.getexif().get_ifd(0x8825)  # GPS IFD
    photo = service.add_photo(
        session=session,
        project=world.project,
        data=original,
        declared_name="IMG_0001.jpg",
        caption="基坑开挖现场",
        by="applicant",
    )
    session.commit()
    published = path_of(photo.published_sha256).read_bytes()
    assert photo.published_sha256 != photo.original_sha256
    assert not has_exif(published)
    assert b"Exif" not in published and b"PhoneMaker" not in published and b"GPS" not in published
    assert path_of(photo.original_sha256).read_bytes() == original  # the original is kept

    client = anonymous(app)
    html = client.get(f"/p/{CODE}").get_data(as_text=True)
    assert f"/p/{CODE}/photos/{photo.published_sha256}.jpg" in html
    assert photo.original_sha256 not in html
    assert "基坑开挖现场" in html
    served = client.get(f"/p/{CODE}/photos/{photo.published_sha256}.jpg")
    assert served.status_code == 200
    assert served.data == published and not has_exif(served.data)
    assert served.mimetype == "image/jpeg"
    cache = served.headers["Cache-Control"]
    assert "public" in cache and "max-age=31536000" in cache and "immutable" in cache
    # The original is no public photo, and the files route does not give it to its uploader.
    assert client.get(f"/p/{CODE}/photos/{photo.original_sha256}.jpg").status_code == 404
    assert signed_in(app, "applicant").get(f"/files/{photo.original_sha256}").status_code in (403, 404)


def test_png_with_exif_and_rotation_is_reencoded_upright(app, session, world):
    image = Image.new("RGB", (300, 100), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
    exif[0x8825] = {1: "N", 2: (30.0, 1.0, 0.0)}
    out = io.BytesIO()
    image.save(out, format="PNG", exif=exif.tobytes())
    photo = service.add_photo(
        session=session, project=world.project, data=out.getvalue(), declared_name="a.png", caption="", by="x"
    )
    published = path_of(photo.published_sha256).read_bytes()
    assert not has_exif(published)
    assert (photo.width, photo.height) == (100, 300)  # turned before the metadata was dropped
    assert session.get(StoredFile, photo.published_sha256).content_type == "image/jpeg"


def test_large_photos_are_scaled_down(session, world):
    photo = service.add_photo(
        session=session,
        project=world.project,
        data=photo_with_gps(size=(4000, 3000)),
        declared_name="big.jpg",
        caption="",
        by="x",
    )
    assert (photo.width, photo.height) == (1600, 1200)


def test_not_a_picture_is_refused(session, world):
    import pytest

    with pytest.raises(service.PublicationError) as refused:
        service.add_photo(
            session=session,
            project=world.project,
            data=b"%PDF-1.4\n...",
            declared_name="a.pdf",
            caption="",
            by="x",
        )
    assert "photo" in refused.value.errors
    assert session.scalar(sa.select(sa.func.count()).select_from(PublicPhoto)) == 0


def test_unpublished_photo_is_gone_from_the_page(app, session, world):
    photo = service.add_photo(
        session=session,
        project=world.project,
        data=photo_with_gps(),
        declared_name="a.jpg",
        caption="",
        by="x",
    )
    session.commit()
    client = anonymous(app)
    url = f"/p/{CODE}/photos/{photo.published_sha256}.jpg"
    assert client.get(url).status_code == 200
    service.update_photo(session=session, photo=photo, caption="", position=1, published=False, by="x")
    session.commit()
    assert url not in client.get(f"/p/{CODE}").get_data(as_text=True)
    assert client.get(url).status_code == 404


def expected_png(url: str) -> bytes:
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=10, border=4)
    return out.getvalue()


def test_qr_codes_encode_the_absolute_public_address(app, session, world):
    client = anonymous(app)
    before = app.config["PUBLIC_BASE_URL"]
    app.config["PUBLIC_BASE_URL"] = "https://xmgk.zj.gov.cn/"
    try:
        png = client.get(f"/p/{CODE}/qr.png")
        svg = client.get(f"/p/{CODE}/qr.svg")
        app.config["PUBLIC_BASE_URL"] = ""  # unset: the request's own address
        own = client.get(f"/p/{CODE}/qr.png", base_url="http://gk.example.org")
    finally:
        app.config["PUBLIC_BASE_URL"] = before
    wanted = f"https://xmgk.zj.gov.cn/p/{CODE}"
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.data == expected_png(wanted)
    assert png.data != expected_png(f"https://xmgk.zj.gov.cn/p/{CODE}x")  # the comparison can fail
    # The PNG's modules are the matrix segno makes for that URL.
    matrix = segno.make(wanted, error="m").matrix
    with Image.open(io.BytesIO(png.data)) as image:
        pixels = image.convert("1")
        size = len(matrix)
        read = [
            [1 if pixels.getpixel(((4 + x) * 10 + 5, (4 + y) * 10 + 5)) == 0 else 0 for x in range(size)]
            for y in range(size)
        ]
    assert read == [list(row) for row in matrix]
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert svg.data.startswith(b"<?xml") and b"<svg" in svg.data
    out = io.BytesIO()
    segno.make(wanted, error="m").save(out, kind="svg", scale=10, border=4, xmldecl=True, svgns=True)
    assert svg.data == out.getvalue()
    assert own.data == expected_png(f"http://gk.example.org/p/{CODE}")
