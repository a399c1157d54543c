"""The rules of the site: who works on it and who spot-checks it, check-ins and their flags,
daily logs, live check-in requests. Keyword-only functions over a session; they flush, never
commit. A flag is recorded and shown, never a reason to refuse a check-in."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask import current_app

from backend import jobs
from backend.audit.service import record
from backend.authz import permissions_of, role_grants
from backend.contracts.models import Contract
from backend.db import utcnow
from backend.files.access import record_upload
from backend.files.service import IMAGE_TYPES, open_file, store
from backend.files.sniff import JPEG
from backend.org.models import User
from backend.projects.models import Project
from backend.schedule.models import WbsItem
from backend.site import exif, geo
from backend.site.models import (
    ProjectSite,
    SiteCheckin,
    SiteCheckinRequest,
    SiteLog,
    SiteLogEquipment,
    SiteLogMaterial,
    SiteLogRevision,
    SiteLogShortage,
    SiteLogWbs,
    SiteLogWorkforce,
    SitePhoto,
)
from backend.workdays.service import local_date

THUMBNAIL_JOB = "site.thumbnail"

DEFAULTS = {
    # A photo taken longer than this before (or after) its upload is flagged.
    "SITE_PHOTO_MAX_AGE_MINUTES": 120,
    # A browser position less precise than this is flagged (metres, the browser's own estimate).
    "SITE_MAX_ACCURACY_M": 200,
    # Larger images are refused before any pixel is decoded (a 48 MP phone photo passes).
    "SITE_MAX_IMAGE_PIXELS": 60_000_000,
    "SITE_PHOTO_MAX_BYTES": 20 * 1024 * 1024,
    "SITE_MAX_PHOTOS": 9,
    "SITE_DEFAULT_RADIUS_M": 300,
}

WEATHER = {
    "sunny": "晴",
    "cloudy": "多云",
    "overcast": "阴",
    "rain": "雨",
    "heavy_rain": "暴雨",
    "snow": "雪",
    "wind": "大风",
    "heat": "高温",
    "fog": "雾",
    "frost": "冰冻",
}
TRADES = {
    "management": "管理人员",
    "civil": "土建",
    "rebar": "钢筋工",
    "formwork": "木工 (模板)",
    "concrete": "混凝土工",
    "scaffold": "架子工",
    "mason": "瓦工",
    "welder": "焊工",
    "electrician": "电工",
    "plumber": "水暖工",
    "machinery": "机械操作",
    "finishing": "装饰装修",
    "labour": "普工",
}
EQUIPMENT_STATES = {"working": "运行", "idle": "闲置", "broken": "故障"}
REQUEST_LIMITS = (30, 60, 120)
FLAG_LABELS = {
    "no_site": "项目未设置现场位置",
    "no_location": "无定位",
    "low_accuracy": "定位精度低",
    "outside_fence": "定位不在项目现场范围内",
    "photo_no_exif": "照片无拍摄信息",
    "photo_no_time": "照片无拍摄时间",
    "photo_no_gps": "照片无位置信息",
    "photo_outside_fence": "照片拍摄地点不在项目现场范围内",
    "photo_time_mismatch": "照片拍摄时间与上传时间不符",
    "photo_other_day": "照片不是当天拍摄",
    "needs_coordination": "需协调",
    "shortage": "材料短缺",
}
REQUEST_STATES = {"open": "待响应", "answered": "已响应", "expired": "超时未响应"}


class SiteInvalid(ValueError):
    """Field messages (zh-CN) keyed by field name or "<row kind>-<index>"."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(errors.values()))


def setting(name: str):
    return current_app.config.get(name, DEFAULTS[name])


# --- who -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    worker: bool  # checks in and writes the daily log
    manager: bool  # spot-checks: the feed, live requests

    @property
    def any(self) -> bool:
        return self.worker or self.manager


def site_unit_ids(*, session, project: Project) -> set[int]:
    """The owner unit and every contractor and supervisor on a contract of the project."""
    units = {project.owner_unit_id}
    for party_b, supervisor in session.execute(
        sa.select(Contract.party_b_unit_id, Contract.supervisor_unit_id).where(
            Contract.project_id == project.id
        )
    ):
        units.add(party_b)
        if supervisor is not None:
            units.add(supervisor)
    return units


def access_of(*, session, user, project: Project) -> Access:
    """Workers: `site.checkin` holders of a site unit. Managers: `site.inspect` holders whose
    data scope includes the project, and the owner unit's people."""
    from backend.authz.scope import sees_project

    perms = permissions_of(user)  # grants read once per request
    unit_id = getattr(user, "unit_id", None)
    worker = (
        "site.checkin" in perms
        and unit_id is not None
        and unit_id in site_unit_ids(session=session, project=project)
    )
    owner = unit_id is not None and unit_id == project.owner_unit_id and "project.read" in perms
    manager = owner or ("site.inspect" in perms and sees_project(user, project, session=session))
    return Access(worker=worker, manager=manager)


SITE_STATES = ("approved", "in_construction")


def projects_of(*, session, user) -> list[tuple[Project, Access]]:
    """The projects under construction whose site this person works on or spot-checks."""
    from backend.authz.scope import project_clause, scope_of

    perms = permissions_of(user)
    unit_id = getattr(user, "unit_id", None)
    parts = []
    if unit_id is not None:
        contracted = sa.select(Contract.project_id).where(
            sa.or_(Contract.party_b_unit_id == unit_id, Contract.supervisor_unit_id == unit_id)
        )
        parts += [Project.owner_unit_id == unit_id, Project.id.in_(contracted)]
    if "site.inspect" in perms:
        parts.append(project_clause(scope_of(user, session=session)))
    if not parts:
        return []
    projects = session.scalars(
        sa.select(Project)
        .where(Project.status.in_(SITE_STATES), sa.or_(*parts))
        .order_by(Project.code)
        .limit(200)
    )
    found = [(p, access_of(session=session, user=user, project=p)) for p in projects]
    return [(p, a) for p, a in found if a.any]


def site_people(*, session, project: Project) -> list[str]:
    """Usernames of the people who may check in on this site (the live request goes to them)."""
    grants = role_grants(session=session)
    users = session.scalars(
        sa.select(User)
        .where(User.unit_id.in_(site_unit_ids(session=session, project=project)))
        .order_by(User.username)
    )
    return [
        u.username
        for u in users
        if getattr(u, "active", True) and "site.checkin" in permissions_of(u, grants=grants)
    ]


# --- the site --------------------------------------------------------------------------------


def site_of(*, session, project_id: int) -> ProjectSite | None:
    return session.scalar(sa.select(ProjectSite).where(ProjectSite.project_id == project_id))


def save_site(
    *, session, project: Project, latitude, longitude, radius_m, address: str, by: str
) -> ProjectSite:
    errors: dict[str, str] = {}
    lat = _decimal(latitude)
    lon = _decimal(longitude)
    if lat is None or not -90 <= lat <= 90:
        errors["latitude"] = "纬度应为 -90 到 90 之间的数字 (WGS-84 十进制度)"
    if lon is None or not -180 <= lon <= 180:
        errors["longitude"] = "经度应为 -180 到 180 之间的数字 (WGS-84 十进制度)"
    radius = _int(radius_m)
    if radius is None or not 20 <= radius <= 5000:
        errors["radius_m"] = "范围半径应为 20 到 5000 之间的整数 (米)"
    address = (address or "").strip()
    if len(address) > 200:
        errors["address"] = "地址不超过 200 字"
    if errors:
        raise SiteInvalid(errors)
    site = site_of(session=session, project_id=project.id)
    if site is None:
        site = ProjectSite(project_id=project.id)
        session.add(site)
    site.latitude = lat.quantize(Decimal("0.0000001"))
    site.longitude = lon.quantize(Decimal("0.0000001"))
    site.radius_m = radius
    site.address = address
    site.updated_by = by
    site.updated_at = utcnow()
    session.flush()
    record(
        "site.location_update",
        object_type="project",
        object_id=project.code,
        detail={"latitude": str(site.latitude), "longitude": str(site.longitude), "radius_m": radius},
        session=session,
    )
    return site


# --- photos ------------------------------------------------------------------------------------


@dataclass
class Upload:
    name: str
    data: bytes
    info: exif.PhotoInfo | None = None


def check_photos(uploads: list[Upload]) -> list[Upload]:
    """Read every photo before anything is stored, so one bad photo costs nothing else.
    Raises exif.PhotoRefused (the message names the photo)."""
    if len(uploads) > setting("SITE_MAX_PHOTOS"):
        raise exif.PhotoRefused(f"一次最多上传 {setting('SITE_MAX_PHOTOS')} 张照片")
    limit = setting("SITE_PHOTO_MAX_BYTES")
    for upload in uploads:
        if len(upload.data) > limit:
            raise exif.PhotoRefused(f"照片 {upload.name} 超过 {limit // (1024 * 1024)} MB")
        upload.info = exif.inspect(upload.data, name=upload.name, max_pixels=setting("SITE_MAX_IMAGE_PIXELS"))
    return uploads


def photo_flags(
    info: exif.PhotoInfo, *, site: ProjectSite | None, uploaded_at: datetime, log_date: date | None = None
):
    """(flags, distance in metres or None) of one photo."""
    flags: list[str] = []
    distance = None
    if not info.has_exif:
        return ["photo_no_exif"], None
    if info.taken_at is None:
        flags.append("photo_no_time")
    elif log_date is not None:
        if local_date(info.taken_at) != log_date:
            flags.append("photo_other_day")
    elif abs(uploaded_at - info.taken_at) > timedelta(minutes=setting("SITE_PHOTO_MAX_AGE_MINUTES")):
        flags.append("photo_time_mismatch")
    if info.latitude is None:
        flags.append("photo_no_gps")
    elif site is not None:
        distance = round(geo.haversine_m(site.latitude, site.longitude, info.latitude, info.longitude))
        if distance > site.radius_m:
            flags.append("photo_outside_fence")
    return flags, distance


def _add_photos(session, *, project, uploads, user, now, site, checkin=None, log=None) -> list[SitePhoto]:
    rows = []
    for upload in uploads:
        stored = store(
            session=session,
            data=upload.data,
            declared_name=upload.name,
            allowed_types=IMAGE_TYPES,
            max_bytes=setting("SITE_PHOTO_MAX_BYTES"),
        )
        record_upload(session=session, sha256=stored.sha256, username=user.username, name=upload.name)
        flags, distance = photo_flags(
            upload.info, site=site, uploaded_at=now, log_date=log.log_date if log is not None else None
        )
        photo = SitePhoto(
            project_id=project.id,
            checkin_id=checkin.id if checkin is not None else None,
            log_id=log.id if log is not None else None,
            sha256=stored.sha256,
            name=upload.name[:255],
            width=upload.info.width,
            height=upload.info.height,
            taken_at=upload.info.taken_at,
            latitude=upload.info.latitude,
            longitude=upload.info.longitude,
            distance_m=distance,
            flags=flags,
            thumb_state="pending",
            uploaded_by=user.username,
            uploaded_at=now,
        )
        session.add(photo)
        session.flush()
        jobs.enqueue(
            session=session,
            actor=THUMBNAIL_JOB,
            payload={"photo_id": photo.id},
            idempotency_key=f"{THUMBNAIL_JOB}:{photo.id}",
        )
        rows.append(photo)
    return rows


@jobs.job(THUMBNAIL_JOB, max_retries=3)
def make_thumbnail(payload: dict) -> None:
    """A 320 px JPEG of the photo, stored as its own StoredFile."""
    from backend.extensions import db

    photo = db.session.get(SitePhoto, payload["photo_id"])
    if photo is None or photo.thumb_state != "pending":
        return
    with open_file(sha256=photo.sha256) as blob:
        data = blob.read()
    try:
        thumb = exif.thumbnail(data, max_pixels=setting("SITE_MAX_IMAGE_PIXELS"))
    except exif.PhotoRefused:
        photo.thumb_state = "failed"
        db.session.flush()
        return
    stored = store(
        session=db.session, data=thumb, declared_name=f"thumb-{photo.id}.jpg", allowed_types={JPEG}
    )
    photo.thumb_sha256 = stored.sha256
    photo.thumb_state = "done"
    db.session.flush()


# --- check-in ------------------------------------------------------------------------------------


def record_checkin(
    *,
    session,
    project: Project,
    user,
    latitude=None,
    longitude=None,
    accuracy=None,
    note: str = "",
    uploads: list[Upload],
    now: datetime | None = None,
) -> SiteCheckin:
    """Record a check-in with its photos (already read by check_photos). No position (refused
    permission, no GPS) is allowed and flagged. Answers the project's open live requests."""
    now = now or utcnow()
    if not uploads:
        raise SiteInvalid({"photos": "请至少拍摄或选择一张现场照片"})
    note = (note or "").strip()
    if len(note) > 500:
        raise SiteInvalid({"note": "备注不超过 500 字"})
    site = site_of(session=session, project_id=project.id)
    flags: list[str] = []
    lat, lon, acc, distance = _decimal(latitude), _decimal(longitude), _decimal(accuracy), None
    if lat is None or lon is None or not geo.valid_point(lat, lon):
        lat = lon = acc = None
        flags.append("no_location")
    else:
        lat, lon = lat.quantize(Decimal("0.0000001")), lon.quantize(Decimal("0.0000001"))
        if acc is not None:
            acc = max(Decimal(0), min(acc, Decimal("999999"))).quantize(Decimal("0.1"))
            if acc > setting("SITE_MAX_ACCURACY_M"):
                flags.append("low_accuracy")
        if site is not None:
            distance = round(geo.haversine_m(site.latitude, site.longitude, lat, lon))
            if distance > site.radius_m:
                flags.append("outside_fence")
    if site is None:
        flags.append("no_site")
    checkin = SiteCheckin(
        project_id=project.id,
        username=user.username,
        unit_id=user.unit_id,
        checked_in_at=now,
        latitude=lat,
        longitude=lon,
        accuracy_m=acc,
        distance_m=distance,
        note=note,
        flags=flags,
    )
    session.add(checkin)
    session.flush()
    photos = _add_photos(
        session, project=project, uploads=uploads, user=user, now=now, site=site, checkin=checkin
    )
    all_flags = list(dict.fromkeys(flags + [f for p in photos for f in p.flags]))
    checkin.flags = all_flags
    checkin.flagged = bool(all_flags)
    answered = _answer_requests(session, project=project, checkin=checkin, now=now)
    session.flush()
    record(
        "site.checkin",
        object_type="project",
        object_id=project.code,
        detail={
            "checkin_id": checkin.id,
            "flags": all_flags,
            "distance_m": distance,
            "photos": [p.sha256 for p in photos],
            "answered_requests": [r.id for r in answered],
        },
        session=session,
    )
    return checkin


def _answer_requests(session, *, project, checkin, now) -> list[SiteCheckinRequest]:
    expire_requests(session=session, now=now)
    open_requests = session.scalars(
        sa.select(SiteCheckinRequest).where(
            SiteCheckinRequest.project_id == project.id,
            SiteCheckinRequest.state == "open",
            SiteCheckinRequest.deadline_at >= now,
        )
    ).all()
    from backend.tasks.service import notify

    for request in open_requests:
        request.state = "answered"
        request.checkin_id = checkin.id
        request.closed_at = now
        notify(
            session=session,
            users=[request.requested_by],
            kind="site_answered",
            title=f"{project.name}: 实时打卡要求已由 {checkin.username} 响应",
            link=f"/projects/{project.code}/site",
            now=now,
        )
    return list(open_requests)


# --- live check-in requests ------------------------------------------------------------------------


def request_checkin(
    *, session, project: Project, by, limit_minutes, note: str = "", now=None
) -> SiteCheckinRequest:
    now = now or utcnow()
    minutes = _int(limit_minutes)
    if minutes not in REQUEST_LIMITS:
        raise SiteInvalid({"limit_minutes": "请选择响应时限: 30、60 或 120 分钟"})
    note = (note or "").strip()
    if len(note) > 200:
        raise SiteInvalid({"note": "说明不超过 200 字"})
    people = site_people(session=session, project=project)
    if not people:
        raise SiteInvalid({"limit_minutes": "该项目现场没有可打卡的人员, 无法发出实时打卡要求"})
    request = SiteCheckinRequest(
        project_id=project.id,
        requested_by=by.username,
        requested_at=now,
        limit_minutes=minutes,
        deadline_at=now + timedelta(minutes=minutes),
        note=note,
        state="open",
    )
    session.add(request)
    session.flush()
    from backend.tasks.service import notify

    notify(
        session=session,
        users=people,
        kind="site_request",
        title=f"{project.name}: 请在 {minutes} 分钟内完成现场实时打卡" + (f" ({note})" if note else ""),
        link=f"/projects/{project.code}/site/checkin",
        now=now,
    )
    record(
        "site.request",
        object_type="project",
        object_id=project.code,
        detail={"request_id": request.id, "limit_minutes": minutes, "notified": people},
        session=session,
    )
    return request


def expire_requests(*, session, now: datetime | None = None) -> int:
    """Open requests past their deadline become 超时未响应 and their requester is told.
    Run by the scheduler's tick and before any page shows requests."""
    now = now or utcnow()
    overdue = session.scalars(
        sa.select(SiteCheckinRequest)
        .where(SiteCheckinRequest.state == "open", SiteCheckinRequest.deadline_at < now)
        .with_for_update()
    ).all()
    if not overdue:
        return 0
    from backend.tasks.service import notify

    for request in overdue:
        project = session.get(Project, request.project_id)
        request.state = "expired"
        request.closed_at = now
        notify(
            session=session,
            users=[request.requested_by],
            kind="site_timeout",
            title=f"{project.name}: 实时打卡要求超时未响应 ({request.limit_minutes} 分钟)",
            link=f"/projects/{project.code}/site",
            now=now,
        )
        record(
            "site.request_expired",
            object_type="project",
            object_id=project.code,
            detail={"request_id": request.id, "deadline_at": request.deadline_at.isoformat()},
            user=None,
            username=request.requested_by,
            session=session,
        )
    session.flush()
    return len(overdue)


def tick(*, session) -> None:
    expire_requests(session=session)


def requests_of(*, session, project_ids, limit: int = 20) -> list[SiteCheckinRequest]:
    return list(
        session.scalars(
            sa.select(SiteCheckinRequest)
            .where(SiteCheckinRequest.project_id.in_(project_ids))
            .order_by(SiteCheckinRequest.requested_at.desc(), SiteCheckinRequest.id.desc())
            .limit(limit)
        )
    )


def open_request(*, session, project_id: int, now=None) -> SiteCheckinRequest | None:
    now = now or utcnow()
    return session.scalar(
        sa.select(SiteCheckinRequest)
        .where(
            SiteCheckinRequest.project_id == project_id,
            SiteCheckinRequest.state == "open",
            SiteCheckinRequest.deadline_at >= now,
        )
        .order_by(SiteCheckinRequest.deadline_at)
        .limit(1)
    )


# --- daily log -----------------------------------------------------------------------------------


@dataclass
class LogForm:
    """A log as typed (strings, lists of row dicts) and, once valid, as typed values."""

    raw: dict = field(default_factory=dict)
    weather: str = ""
    temp_min: Decimal | None = None
    temp_max: Decimal | None = None
    work_done: str = ""
    problems: str = ""
    needs_coordination: bool = False
    workforce: list = field(default_factory=list)
    materials: list = field(default_factory=list)
    shortages: list = field(default_factory=list)
    equipment: list = field(default_factory=list)
    wbs_ids: list = field(default_factory=list)


ROWS = {
    "workforce": ("trade", "headcount"),
    "materials": ("material", "quantity", "unit"),
    "shortages": ("material", "quantity", "unit", "impact"),
    "equipment": ("name", "count", "state"),
}


def raw_log(form) -> dict:
    """The posted fields as typed (a werkzeug MultiDict or a plain dict of lists): rows are
    parallel lists `<kind>-<column>`; rows left wholly empty are dropped."""

    def getlist(key):
        return [str(v) for v in (form.getlist(key) if hasattr(form, "getlist") else form.get(key, []))]

    def get(key):
        values = getlist(key)
        return values[0].strip() if values else ""

    raw = {
        key: get(key)
        for key in ("weather", "temp_min", "temp_max", "work_done", "problems", "needs_coordination")
    }
    for kind, columns in ROWS.items():
        lists = [getlist(f"{kind}-{c}") for c in columns]
        rows = []
        for i in range(max((len(v) for v in lists), default=0)):
            row = {
                c: (values[i].strip() if i < len(values) else "")
                for c, values in zip(columns, lists, strict=True)
            }
            if any(row.values()):
                rows.append(row)
        raw[kind] = rows
    raw["wbs"] = [v for v in getlist("wbs") if v.strip()]
    return raw


def parse_log(raw: dict, *, session, project_id: int) -> LogForm:
    """Validate the typed log; raises SiteInvalid with every message at once."""
    errors: dict[str, str] = {}
    form = LogForm(raw=raw)
    if raw.get("weather") not in WEATHER:
        errors["weather"] = "请选择天气"
    form.weather = raw.get("weather", "")
    for key, label in (("temp_min", "最低气温"), ("temp_max", "最高气温")):
        text = raw.get(key, "")
        if text:
            value = _decimal(text)
            if value is None or not Decimal(-50) <= value <= Decimal(60):
                errors[key] = f"{label}应为 -50 到 60 之间的数字 (℃)"
            else:
                setattr(form, key, value.quantize(Decimal("0.1")))
    if form.temp_min is not None and form.temp_max is not None and form.temp_min > form.temp_max:
        errors["temp_max"] = "最高气温不能低于最低气温"
    form.work_done = raw.get("work_done", "")
    if not form.work_done:
        errors["work_done"] = "请填写当日施工内容"
    elif len(form.work_done) > 5000:
        errors["work_done"] = "施工内容不超过 5000 字"
    form.problems = raw.get("problems", "")
    if len(form.problems) > 5000:
        errors["problems"] = "存在问题不超过 5000 字"
    form.needs_coordination = raw.get("needs_coordination") in ("1", "on", "true", "yes")
    if form.needs_coordination and not form.problems:
        errors["problems"] = "勾选“需协调”时请写明需要协调的问题"

    seen_trades = set()
    for i, row in enumerate(raw.get("workforce", [])):
        count = _int(row["headcount"])
        if row["trade"] not in TRADES:
            errors[f"workforce-{i}"] = f"第 {i + 1} 行: 请选择工种"
        elif row["trade"] in seen_trades:
            errors[f"workforce-{i}"] = f"第 {i + 1} 行: 工种“{TRADES[row['trade']]}”重复"
        elif count is None or not 1 <= count <= 10000:
            errors[f"workforce-{i}"] = f"第 {i + 1} 行: 人数应为 1 到 10000 之间的整数"
        else:
            seen_trades.add(row["trade"])
            form.workforce.append((row["trade"], count))
    for kind, label in (("materials", "进场材料"), ("shortages", "短缺材料")):
        for i, row in enumerate(raw.get(kind, [])):
            quantity = _decimal(row["quantity"])
            if not row["material"] or len(row["material"]) > 100:
                errors[f"{kind}-{i}"] = f"{label}第 {i + 1} 行: 请填写材料名称 (不超过 100 字)"
            elif quantity is None or quantity <= 0 or quantity >= Decimal("1e11"):
                errors[f"{kind}-{i}"] = f"{label}第 {i + 1} 行: 数量应为正数"
            elif quantity != quantity.quantize(Decimal("0.001")):
                errors[f"{kind}-{i}"] = f"{label}第 {i + 1} 行: 数量最多三位小数"
            elif not row["unit"] or len(row["unit"]) > 20:
                errors[f"{kind}-{i}"] = f"{label}第 {i + 1} 行: 请填写计量单位 (如 吨、立方米)"
            elif kind == "shortages" and len(row.get("impact", "")) > 1000:
                errors[f"{kind}-{i}"] = f"{label}第 {i + 1} 行: 影响说明不超过 1000 字"
            else:
                values = {"material": row["material"], "quantity": quantity, "unit": row["unit"]}
                if kind == "shortages":
                    values["impact"] = row.get("impact", "")
                getattr(form, kind).append(values)
    for i, row in enumerate(raw.get("equipment", [])):
        count = _int(row["count"])
        if not row["name"] or len(row["name"]) > 100:
            errors[f"equipment-{i}"] = f"设备第 {i + 1} 行: 请填写设备名称 (不超过 100 字)"
        elif count is None or not 1 <= count <= 1000:
            errors[f"equipment-{i}"] = f"设备第 {i + 1} 行: 台数应为 1 到 1000 之间的整数"
        elif row["state"] not in EQUIPMENT_STATES:
            errors[f"equipment-{i}"] = f"设备第 {i + 1} 行: 请选择设备状态"
        else:
            form.equipment.append({"name": row["name"], "count": count, "state": row["state"]})
    ids = {_int(v) for v in raw.get("wbs", [])}
    if ids:
        known = set(
            session.scalars(
                sa.select(WbsItem.id).where(WbsItem.project_id == project_id, WbsItem.id.in_(ids - {None}))
            )
        )
        if ids - known:
            errors["wbs"] = "所选任务不属于本项目"
        form.wbs_ids = sorted(known)
    if errors:
        raise SiteInvalid(errors)
    return form


def log_of(*, session, project_id: int, day: date) -> SiteLog | None:
    return session.scalar(sa.select(SiteLog).where(SiteLog.project_id == project_id, SiteLog.log_date == day))


def may_edit_log(log: SiteLog | None, *, user, access: Access, today: date) -> bool:
    """Today's log: whoever works on the site starts it; then only its author edits it, and
    only that day."""
    if not access.worker:
        return False
    if log is None:
        return True
    return log.log_date == today and log.created_by == user.username


def save_log(
    *, session, project: Project, user, access: Access, form: LogForm, uploads: list[Upload], now=None
) -> SiteLog:
    now = now or utcnow()
    today = local_date(now)
    log = log_of(session=session, project_id=project.id, day=today)
    if not may_edit_log(log, user=user, access=access, today=today):
        raise SiteInvalid({"log": f"今天的施工日志由 {log.created_by} 填写, 只有填写人可以修改"})
    if log is None:
        log = SiteLog(
            project_id=project.id, log_date=today, created_by=user.username, created_at=now, version=0
        )
        session.add(log)
    log.weather = form.weather
    log.temp_min, log.temp_max = form.temp_min, form.temp_max
    log.work_done, log.problems = form.work_done, form.problems
    log.needs_coordination = form.needs_coordination
    log.workforce = [SiteLogWorkforce(trade=t, headcount=n) for t, n in form.workforce]
    log.headcount = sum(n for _t, n in form.workforce)
    log.materials = [SiteLogMaterial(**m) for m in form.materials]
    log.shortages = [SiteLogShortage(**s) for s in form.shortages]
    log.equipment = [SiteLogEquipment(**e) for e in form.equipment]
    log.wbs_links = [SiteLogWbs(wbs_item_id=i) for i in form.wbs_ids]
    log.version = (log.version or 0) + 1
    log.updated_by, log.updated_at = user.username, now
    session.flush()
    site = site_of(session=session, project_id=project.id)
    _add_photos(session, project=project, uploads=uploads, user=user, now=now, site=site, log=log)
    session.flush()
    session.refresh(log, ["photos"])
    flags = (["needs_coordination"] if log.needs_coordination else []) + (
        ["shortage"] if log.shortages else []
    )
    flags += [f for p in log.photos for f in p.flags]
    log.flags = list(dict.fromkeys(flags))
    log.flagged = bool(log.flags)
    session.add(
        SiteLogRevision(
            log_id=log.id, version=log.version, saved_by=user.username, saved_at=now, content=log_content(log)
        )
    )
    session.flush()
    record(
        "site.log_save",
        object_type="project",
        object_id=project.code,
        detail={"log_id": log.id, "date": today.isoformat(), "version": log.version, "flags": log.flags},
        session=session,
    )
    return log


def log_content(log: SiteLog) -> dict:
    """The log as JSON (numbers as strings: exact), for its revision history."""
    return {
        "date": log.log_date.isoformat(),
        "weather": log.weather,
        "temp_min": _str(log.temp_min),
        "temp_max": _str(log.temp_max),
        "workforce": [{"trade": w.trade, "headcount": w.headcount} for w in log.workforce],
        "headcount": log.headcount,
        "work_done": log.work_done,
        "wbs": [w.wbs_item_id for w in log.wbs_links],
        "materials": [
            {"material": m.material, "quantity": str(m.quantity), "unit": m.unit} for m in log.materials
        ],
        "shortages": [
            {"material": s.material, "quantity": str(s.quantity), "unit": s.unit, "impact": s.impact}
            for s in log.shortages
        ],
        "equipment": [{"name": e.name, "count": e.count, "state": e.state} for e in log.equipment],
        "problems": log.problems,
        "needs_coordination": log.needs_coordination,
        "photos": [p.sha256 for p in log.photos],
    }


def raw_of(log: SiteLog) -> dict:
    """A saved log as the form shows it."""
    return {
        "weather": log.weather,
        "temp_min": _str(log.temp_min) or "",
        "temp_max": _str(log.temp_max) or "",
        "work_done": log.work_done,
        "problems": log.problems,
        "needs_coordination": "1" if log.needs_coordination else "",
        "workforce": [{"trade": w.trade, "headcount": str(w.headcount)} for w in log.workforce],
        "materials": [
            {"material": m.material, "quantity": plain_number(m.quantity), "unit": m.unit}
            for m in log.materials
        ],
        "shortages": [
            {"material": s.material, "quantity": plain_number(s.quantity), "unit": s.unit, "impact": s.impact}
            for s in log.shortages
        ],
        "equipment": [{"name": e.name, "count": str(e.count), "state": e.state} for e in log.equipment],
        "wbs": [str(w.wbs_item_id) for w in log.wbs_links],
    }


# --- feeds ----------------------------------------------------------------------------------------


def feed(*, session, project_ids, flagged_only: bool = False, limit: int = 50) -> list[tuple[str, object]]:
    """Recent check-ins and logs of these projects, newest first: ("checkin" | "log", row)."""
    checkins = sa.select(SiteCheckin).where(SiteCheckin.project_id.in_(project_ids))
    logs = sa.select(SiteLog).where(SiteLog.project_id.in_(project_ids))
    if flagged_only:
        checkins = checkins.where(SiteCheckin.flagged.is_(True))
        logs = logs.where(SiteLog.flagged.is_(True))
    items = [
        ("checkin", c)
        for c in session.scalars(checkins.order_by(SiteCheckin.checked_in_at.desc()).limit(limit))
    ]
    items += [("log", g) for g in session.scalars(logs.order_by(SiteLog.updated_at.desc()).limit(limit))]
    items.sort(
        key=lambda item: item[1].checked_in_at if item[0] == "checkin" else item[1].updated_at, reverse=True
    )
    return items[:limit]


def flag_label(code: str) -> str:
    return FLAG_LABELS.get(code, code)


# --- helpers -----------------------------------------------------------------------------------------


def _decimal(value) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _int(value) -> int | None:
    number = _decimal(value)
    if number is None or number != number.to_integral_value():
        return None
    return int(number)


def _str(value) -> str | None:
    return None if value is None else str(value)


def plain_number(value: Decimal) -> str:
    """A quantity as a person types it: 12.500 → 12.5, 380.000 → 380 (never 3.8E+2)."""
    return format(value.normalize(), "f")
