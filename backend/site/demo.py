"""Demo site data: every approved or in-construction demo project gets a site (near its city's
centre); the project with the demo contract gets the contractor's check-ins (one clean, one
flagged: no position, a photo without EXIF) and daily logs for yesterday and today (yesterday's
with a shortage and 需协调). Idempotent: a project with a site is left as it is."""

import io
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
from PIL import ExifTags, Image

from backend.contracts.models import Contract
from backend.db import utcnow
from backend.demo import loader
from backend.org.models import User
from backend.projects.models import Project
from backend.site import service
from backend.site.models import ProjectSite, SiteLog
from backend.workdays.service import SHANGHAI, local_date

DEMO_STATES = ("approved", "in_construction")
# City centres by the first four digits of the region code (WGS-84).
CENTRES = {
    "3301": (Decimal("30.2741"), Decimal("120.1551"), "杭州市"),
    "3302": (Decimal("29.8683"), Decimal("121.5440"), "宁波市"),
    "3303": (Decimal("27.9943"), Decimal("120.6994"), "温州市"),
    "3307": (Decimal("29.0790"), Decimal("119.6474"), "金华市"),
}


def demo_photo(*, colour: str, latitude=None, longitude=None, taken_at=None) -> bytes:
    """A small JPEG; with EXIF time and GPS when given (as a phone camera writes them)."""
    image = Image.new("RGB", (640, 480), colour)
    exif = Image.Exif()
    if taken_at is not None:
        local = taken_at.astimezone(SHANGHAI)
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = local.strftime("%Y:%m:%d %H:%M:%S")
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.OffsetTimeOriginal] = "+08:00"
    if latitude is not None:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps[ExifTags.GPS.GPSLatitudeRef] = "N" if latitude >= 0 else "S"
        gps[ExifTags.GPS.GPSLatitude] = _dms(abs(latitude))
        gps[ExifTags.GPS.GPSLongitudeRef] = "E" if longitude >= 0 else "W"
        gps[ExifTags.GPS.GPSLongitude] = _dms(abs(longitude))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=70, exif=exif)
    return out.getvalue()


def _dms(value: Decimal) -> tuple[float, float, float]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = float((value - degrees - Decimal(minutes) / 60) * 3600)
    return (float(degrees), float(minutes), round(seconds, 4))


@loader
def load_site(*, session) -> int:
    """现场位置、打卡和施工日志 (site, check-ins, daily logs)"""
    created = 0
    projects = session.scalars(
        sa.select(Project).where(Project.status.in_(DEMO_STATES)).order_by(Project.id)
    ).all()
    contractor = session.scalar(sa.select(User).filter_by(username="contractor"))
    for project in projects:
        if service.site_of(session=session, project_id=project.id) is not None:
            continue
        lat, lon, city = CENTRES.get(project.region_code[:4], CENTRES["3301"])
        offset = Decimal(project.id % 7) * Decimal("0.011")
        site = ProjectSite(
            project_id=project.id,
            latitude=lat + offset,
            longitude=lon + offset,
            radius_m=300,
            address=f"{'' if project.name.startswith(city) else city}{project.name}施工现场",
            updated_by="demo",
            updated_at=utcnow(),
        )
        session.add(site)
        session.flush()
        created += 1
        has_contract = (
            session.scalar(
                sa.select(Contract.id).where(
                    Contract.project_id == project.id, Contract.party_b_unit_id == contractor.unit_id
                )
            )
            if contractor is not None
            else None
        )
        if has_contract:
            created += _activity(session, project=project, site=site, user=contractor)
    return created


def _activity(session, *, project, site, user) -> int:
    now = utcnow()
    access = service.Access(worker=True, manager=False)
    yesterday = now - timedelta(days=1)
    # Yesterday's log (written yesterday: a shortage and a problem that needs coordination).
    if service.log_of(session=session, project_id=project.id, day=local_date(yesterday)) is None:
        form = service.parse_log(
            {
                "weather": "rain",
                "temp_min": "12",
                "temp_max": "17.5",
                "work_done": "地下室底板钢筋绑扎 (B 区), 侧墙模板安装。",
                "problems": "商品混凝土供应不足, B 区底板浇筑推迟。",
                "needs_coordination": "1",
                "workforce": [
                    {"trade": "management", "headcount": "6"},
                    {"trade": "rebar", "headcount": "28"},
                    {"trade": "formwork", "headcount": "15"},
                ],
                "materials": [{"material": "HRB400 螺纹钢 Φ25", "quantity": "42.5", "unit": "吨"}],
                "shortages": [
                    {
                        "material": "C35 商品混凝土",
                        "quantity": "380",
                        "unit": "立方米",
                        "impact": "B 区底板浇筑推迟 2 天",
                    }
                ],
                "equipment": [
                    {"name": "塔式起重机 QTZ80", "count": "2", "state": "working"},
                    {"name": "混凝土泵车", "count": "1", "state": "idle"},
                ],
                "wbs": [],
            },
            session=session,
            project_id=project.id,
        )
        service.save_log(
            session=session, project=project, user=user, access=access, form=form, uploads=[], now=yesterday
        )
    # A clean check-in this morning: position and photo GPS inside the fence, photo just taken.
    taken = now - timedelta(minutes=5)
    near_lat, near_lon = site.latitude + Decimal("0.0005"), site.longitude + Decimal("0.0004")
    clean = service.check_photos(
        [
            service.Upload(
                "现场-基坑.jpg",
                demo_photo(colour="#8a7f6a", latitude=near_lat, longitude=near_lon, taken_at=taken),
            )
        ]
    )
    service.record_checkin(
        session=session,
        project=project,
        user=user,
        latitude=near_lat,
        longitude=near_lon,
        accuracy="12",
        note="上午例行打卡",
        uploads=clean,
        now=now - timedelta(minutes=3),
    )
    # A flagged one: no position (permission refused) and a photo without EXIF.
    bare = service.check_photos([service.Upload("现场.jpg", demo_photo(colour="#5d6d7e"))])
    service.record_checkin(session=session, project=project, user=user, uploads=bare, note="", now=now)
    if (
        session.scalar(
            sa.select(SiteLog.id).where(SiteLog.project_id == project.id, SiteLog.log_date == local_date(now))
        )
        is None
    ):
        form = service.parse_log(
            {
                "weather": "cloudy",
                "temp_min": "14",
                "temp_max": "21",
                "work_done": "B 区底板混凝土浇筑 (380 立方米), A 区侧墙钢筋绑扎。",
                "problems": "",
                "workforce": [
                    {"trade": "management", "headcount": "6"},
                    {"trade": "concrete", "headcount": "22"},
                    {"trade": "rebar", "headcount": "18"},
                ],
                "materials": [{"material": "C35 商品混凝土", "quantity": "380", "unit": "立方米"}],
                "shortages": [],
                "equipment": [
                    {"name": "塔式起重机 QTZ80", "count": "2", "state": "working"},
                    {"name": "混凝土泵车", "count": "2", "state": "working"},
                ],
                "wbs": [],
            },
            session=session,
            project_id=project.id,
        )
        service.save_log(
            session=session, project=project, user=user, access=access, form=form, uploads=[], now=now
        )
    return 4
