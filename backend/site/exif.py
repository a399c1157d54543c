"""Reading a site photo with Pillow: its size (refusing decompression bombs), the EXIF time it
was taken and its GPS position, and the background thumbnail.

EXIF GPS is WGS-84 (the GPS datum), the same as the browser's position."""

import io
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from backend.workdays.service import SHANGHAI

THUMB_PX = 320
_SEVEN = Decimal("0.0000001")


class PhotoRefused(ValueError):
    """A file that is not a usable photo; the message is for the person uploading it."""


@dataclass(frozen=True)
class PhotoInfo:
    width: int
    height: int
    has_exif: bool
    taken_at: datetime | None  # UTC
    latitude: Decimal | None
    longitude: Decimal | None


def inspect(data: bytes, *, name: str, max_pixels: int) -> PhotoInfo:
    """Open the image (header only: no pixels are decoded) and read its EXIF. Raises
    PhotoRefused for what Pillow cannot read or what is larger than `max_pixels`."""
    image = _open(data, name=name, max_pixels=max_pixels)
    with image:
        width, height = image.size
        exif = image.getexif()
        taken_at = _taken_at(exif)
        latitude, longitude = gps_position(exif.get_ifd(ExifTags.IFD.GPSInfo))
        has_exif = bool(len(exif)) or taken_at is not None or latitude is not None
    return PhotoInfo(width, height, has_exif, taken_at, latitude, longitude)


def thumbnail(data: bytes, *, max_pixels: int) -> bytes:
    """A JPEG at most THUMB_PX on its longer side, turned upright by its EXIF orientation and
    saved without any metadata (no GPS leaves through a thumbnail)."""
    image = _open(data, name="", max_pixels=max_pixels)
    with image:
        upright = ImageOps.exif_transpose(image)
        upright.thumbnail((THUMB_PX, THUMB_PX))
        if upright.mode not in ("RGB", "L"):
            background = Image.new("RGB", upright.size, "white")
            rgba = upright.convert("RGBA")
            background.paste(rgba, mask=rgba.getchannel("A"))
            upright = background
        out = io.BytesIO()
        upright.save(out, "JPEG", quality=80, optimize=True)
    return out.getvalue()


def _open(data: bytes, *, name: str, max_pixels: int) -> Image.Image:
    label = f"照片 {name} " if name else "照片"
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that: refuse those too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRefused(f"{label}像素过多, 无法处理 (疑似解压炸弹), 请压缩后重新上传") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise PhotoRefused(f"{label}无法识别为图片") from None
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise PhotoRefused(
            f"{label}像素过多 ({width}×{height}), 上限 {max_pixels // 1_000_000} 百万像素, 请压缩后重新上传"
        )
    return image


def _taken_at(exif: Image.Exif) -> datetime | None:
    """DateTimeOriginal with OffsetTimeOriginal when given; without an offset the camera's
    clock is taken to be Beijing time (phones sold here)."""
    ifd = exif.get_ifd(ExifTags.IFD.Exif)
    raw = ifd.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
    if not isinstance(raw, str):
        return None
    try:
        local = datetime.strptime(raw.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    zone = _offset(ifd.get(ExifTags.Base.OffsetTimeOriginal)) or SHANGHAI
    return local.replace(tzinfo=zone).astimezone(UTC)


def _offset(raw) -> timezone | None:
    if not isinstance(raw, str) or len(raw.strip()) != 6 or raw[0] not in "+-" or raw[3] != ":":
        return None
    try:
        minutes = int(raw[1:3]) * 60 + int(raw[4:6])
    except ValueError:
        return None
    return timezone((1 if raw[0] == "+" else -1) * timedelta(minutes=minutes))


def gps_position(gps) -> tuple[Decimal | None, Decimal | None]:
    """(latitude, longitude) in decimal degrees from a GPS IFD; south and west negative."""
    latitude = to_degrees(gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef), 90)
    longitude = to_degrees(gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef), 180)
    if latitude is None or longitude is None:
        return None, None
    return latitude, longitude


def to_degrees(dms, ref, limit: int) -> Decimal | None:
    """(degrees, minutes, seconds) rationals + "N"/"S"/"E"/"W" → signed decimal degrees."""
    if not isinstance(dms, tuple | list) or len(dms) != 3:
        return None
    try:
        d, m, s = (Decimal(str(float(part))) for part in dms)
    except (TypeError, ValueError, ZeroDivisionError, InvalidOperation):
        return None
    if not all(part.is_finite() and part >= 0 for part in (d, m, s)):
        return None
    value = d + m / 60 + s / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "ignore")
    ref = (ref or "").strip("\x00 ").upper()
    if ref not in ("N", "S", "E", "W") or value > limit:
        return None
    return (-value if ref in ("S", "W") else value).quantize(_SEVEN)
