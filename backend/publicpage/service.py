"""Rules of the public progress page (项目进度查询).

Which projects are public: status approved / in_construction / completed AND the project's
publication switch on. The switch defaults to ON (no `project_publication` row): issue 8 says
"every project has a public page", a site board with a QR code is required by the rules on
construction sites, and the page shows nothing sensitive by construction — so staff switch it
off for the exception (e.g. a confidential project), not on for every project. Any other
project, or one switched off, is "not found" exactly like a code that does not exist.

What the page shows is the `PublicPage` dataclass below and nothing else: templates get this
allowlisted view model, never a Project row, so a new column on a model cannot leak by
accident. Never shown: money, people (names, phones, usernames), review opinions, documents,
tasks or process data.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from backend.audit import record
from backend.db import utcnow
from backend.files import service as files
from backend.files.errors import FileMissing
from backend.files.sniff import JPEG, PNG, WEBP
from backend.org.models import Region, Unit
from backend.projects.models import Project
from backend.publicpage.models import ProjectPublication, PublicFeedback, PublicPhoto
from backend.schedule import service as schedule

PUBLIC_STATES = frozenset({"approved", "in_construction", "completed"})
PHOTO_TYPES = frozenset({JPEG, PNG, WEBP})
PHOTO_MAX_BYTES = 20 * 1024 * 1024
PHOTO_MAX_SIDE = 1600  # px: enough for a phone screen, small to download
COMMENT_MAX = 500
CAPTION_MAX = 200
REASON_MAX = 200
COMMENTS_SHOWN = 20

# Milestone states (the page translates the labels).
NOT_STARTED, IN_PROGRESS, DONE, OVERDUE = "not_started", "in_progress", "done", "overdue"
STATE_LABELS = {NOT_STARTED: "未开始", IN_PROGRESS: "进行中", DONE: "已完成", OVERDUE: "已逾期"}


class PublicationError(ValueError):
    """A rule is broken; `errors` maps a form field to a Chinese message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


# ---------------------------------------------------------------- the view model


@dataclass(frozen=True)
class PublicMilestone:
    name: str
    planned_end: date
    state: str

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


@dataclass(frozen=True)
class PublicPhotoView:
    sha256: str  # of the re-encoded copy: the URL, and the long cache's key
    caption: str
    width: int
    height: int


@dataclass(frozen=True)
class PublicComment:
    rating: int
    comment: str  # phone-like digit runs masked
    day: date  # Shanghai date of the comment


@dataclass(frozen=True)
class PublicPage:
    """Everything the public page may show. Add a field only after asking: could this be money,
    a person, an opinion or an internal document?"""

    code: str
    name: str
    owner_unit: str
    location: str
    planned_start: date
    planned_end: date
    progress: Decimal  # 形象进度, %
    milestones: tuple[PublicMilestone, ...]
    photos: tuple[PublicPhotoView, ...]
    comments: tuple[PublicComment, ...]
    rating_average: Decimal | None
    rating_count: int
    status: str  # approved | in_construction | completed (a public state; label in the template)


# ---------------------------------------------------------------- which projects are public


def publication_of(*, session, project_id: int) -> ProjectPublication | None:
    return session.get(ProjectPublication, project_id)


def is_enabled(*, session, project_id: int) -> bool:
    row = publication_of(session=session, project_id=project_id)
    return True if row is None else bool(row.enabled)


def public_state(*, session, code: str) -> tuple[Project, int] | None:
    """(project, publication version) when the project with this code is public, else None.
    One small query: run on every hit, so the cache key follows changes across workers."""
    row = session.execute(
        sa.select(Project, ProjectPublication.enabled, ProjectPublication.version)
        .outerjoin(ProjectPublication, ProjectPublication.project_id == Project.id)
        .where(Project.code == code)
    ).first()
    if row is None:
        return None
    project, enabled, version = row
    if project.status not in PUBLIC_STATES or enabled is False:
        return None
    return project, int(version or 0)


def _touch(session, project_id: int, by: str | None) -> ProjectPublication:
    """The project's publication row (made on first change), its version raised."""
    row = publication_of(session=session, project_id=project_id)
    if row is None:
        row = ProjectPublication(project_id=project_id, enabled=True, version=0)
        session.add(row)
    row.version = (row.version or 0) + 1
    row.updated_by = by
    row.updated_at = utcnow()
    session.flush()
    return row


def set_enabled(*, session, project: Project, enabled: bool, by: str | None) -> ProjectPublication:
    before = is_enabled(session=session, project_id=project.id)
    row = _touch(session, project.id, by)
    row.enabled = bool(enabled)
    session.flush()
    if before != row.enabled:
        record(
            "publication.switch",
            object_type="project",
            object_id=project.code,
            detail={"enabled": row.enabled},
            username=by,
            session=session,
        )
    return row


# ---------------------------------------------------------------- what the page shows


def location_of(project: Project, *, session=None) -> str:
    """Region names from the top down (浙江省 杭州市 西湖区), then the site's address when the
    project has a site (the address is on the site board anyway; coordinates are not shown)."""
    names = []
    region: Region | None = project.region
    while region is not None and len(names) < 5:
        names.append(region.name)
        region = region.parent
    names.reverse()
    if session is not None:
        from backend.site.models import ProjectSite

        address = session.scalar(sa.select(ProjectSite.address).where(ProjectSite.project_id == project.id))
        if address and address.strip():
            names.append(address.strip())
    return " ".join(names)


def milestone_state(*, progress: Decimal, planned_end: date, actual_start, actual_end, today: date) -> str:
    if progress >= 100 or actual_end is not None:
        return DONE
    if planned_end < today:
        return OVERDUE
    if progress > 0 or actual_start is not None:
        return IN_PROGRESS
    return NOT_STARTED


_DIGIT_RUN = re.compile(r"\+?\d[\d\s\-]{5,}\d")


def mask_numbers(text: str) -> str:
    """Phone-like runs of 7+ digits become *** (a citizen may type their own number)."""
    return _DIGIT_RUN.sub("***", text)


def satisfaction(*, session, project_id: int) -> tuple[Decimal | None, int]:
    """(average of the approved ratings, 2 places; their count). Average None when none."""
    count, total = session.execute(
        sa.select(sa.func.count(PublicFeedback.id), sa.func.sum(PublicFeedback.rating)).where(
            PublicFeedback.project_id == project_id, PublicFeedback.status == "approved"
        )
    ).one()
    if not count:
        return None, 0
    average = (Decimal(int(total)) / Decimal(int(count))).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return average, int(count)


def published_photos(*, session, project_id: int) -> list[PublicPhoto]:
    return list(
        session.scalars(
            sa.select(PublicPhoto)
            .where(PublicPhoto.project_id == project_id, PublicPhoto.published.is_(True))
            .order_by(PublicPhoto.position, PublicPhoto.id)
        )
    )


def page_of(*, session, project: Project, today: date) -> PublicPage:
    from backend.workdays.service import SHANGHAI

    figures = schedule.summary(session=session, project_id=project.id, at=today)
    items = schedule.items_of(session=session, project_id=project.id)
    milestones = tuple(
        PublicMilestone(
            name=item.name,
            planned_end=item.planned_end,
            state=milestone_state(
                progress=figures.progress.get(item.id, Decimal(0)),
                planned_end=item.planned_end,
                actual_start=item.actual_start,
                actual_end=item.actual_end,
                today=today,
            ),
        )
        for item in sorted((i for i in items if i.is_milestone), key=lambda i: (i.planned_end, i.code))
    )
    photos = tuple(
        PublicPhotoView(sha256=p.published_sha256, caption=p.caption, width=p.width, height=p.height)
        for p in published_photos(session=session, project_id=project.id)
    )
    approved = session.scalars(
        sa.select(PublicFeedback)
        .where(PublicFeedback.project_id == project.id, PublicFeedback.status == "approved")
        .order_by(PublicFeedback.created_at.desc(), PublicFeedback.id.desc())
        .limit(COMMENTS_SHOWN)
    )
    comments = tuple(
        PublicComment(
            rating=f.rating, comment=mask_numbers(f.comment), day=f.created_at.astimezone(SHANGHAI).date()
        )
        for f in approved
    )
    average, count = satisfaction(session=session, project_id=project.id)
    unit = session.get(Unit, project.owner_unit_id)
    return PublicPage(
        code=project.code,
        name=project.name,
        owner_unit=unit.name if unit else "",
        location=location_of(project, session=session),
        planned_start=project.planned_start,
        planned_end=project.planned_end,
        progress=figures.progress[None],
        milestones=milestones,
        photos=photos,
        comments=comments,
        rating_average=average,
        rating_count=count,
        status=project.status,
    )


def is_published_photo(*, session, project_id: int, sha256: str) -> bool:
    return (
        session.scalar(
            sa.select(PublicPhoto.id).where(
                PublicPhoto.project_id == project_id,
                PublicPhoto.published_sha256 == sha256,
                PublicPhoto.published.is_(True),
            )
        )
        is not None
    )


# ---------------------------------------------------------------- photos


CANDIDATES_SHOWN = 24


def candidate_photos(*, session, project_id: int) -> list:
    """The project's recent site photos (check-ins, daily logs) not yet chosen for the public
    page, newest first: staff publish what the site already took instead of uploading again."""
    from backend.site.models import SitePhoto

    chosen = sa.select(PublicPhoto.original_sha256).where(PublicPhoto.project_id == project_id)
    return list(
        session.scalars(
            sa.select(SitePhoto)
            .where(SitePhoto.project_id == project_id, SitePhoto.sha256.not_in(chosen))
            .order_by(SitePhoto.uploaded_at.desc(), SitePhoto.id.desc())
            .limit(CANDIDATES_SHOWN)
        )
    )


def candidate_photo(*, session, project_id: int, photo_id: int):
    """One site photo of this project, or None."""
    from backend.site.models import SitePhoto

    row = session.get(SitePhoto, photo_id)
    return row if row is not None and row.project_id == project_id else None


def add_site_photo(*, session, project: Project, photo_id: int, caption: str, by: str | None) -> PublicPhoto:
    """Publish a site photo: the same re-encoding as an upload (no EXIF, no GPS leaves)."""
    row = candidate_photo(session=session, project_id=project.id, photo_id=photo_id)
    if row is None:
        raise PublicationError({"photo": "现场照片不存在"})
    try:
        with files.open_file(sha256=row.sha256) as stream:
            data = stream.read()
    except FileMissing as exc:
        raise PublicationError({"photo": "现场照片文件缺失"}) from exc
    return add_photo(
        session=session, project=project, data=data, declared_name=row.name, caption=caption, by=by
    )


def reencode(data: bytes) -> tuple[bytes, int, int]:
    """The picture as a fresh JPEG with no metadata (EXIF, GPS, XMP, ICC, comments): the
    orientation is applied to the pixels first, then only pixels are written."""
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            upright = ImageOps.exif_transpose(image)
            pixels = upright.convert("RGB")
    except Exception as exc:  # Pillow raises many types for a broken picture
        raise PublicationError({"photo": "无法识别的图片文件"}) from exc
    pixels.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
    clean = Image.new("RGB", pixels.size)
    clean.paste(pixels)  # a new image: no info dict carried over
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=85, optimize=True, progressive=True)
    return out.getvalue(), clean.width, clean.height


def add_photo(
    *, session, project: Project, data: bytes, declared_name: str, caption: str, by: str | None
) -> PublicPhoto:
    from backend.files.errors import FileRefused

    caption = _clean_line(caption or "", CAPTION_MAX, "caption", "说明")
    try:
        original = files.store(
            session=session,
            data=data,
            declared_name=declared_name or "photo.jpg",
            allowed_types=PHOTO_TYPES,
            max_bytes=PHOTO_MAX_BYTES,
        )
    except FileRefused as exc:
        raise PublicationError({"photo": str(exc)}) from exc
    clean, width, height = reencode(data)
    published = files.store(
        session=session,
        data=clean,
        declared_name="public.jpg",
        allowed_types={JPEG},
        max_bytes=PHOTO_MAX_BYTES,
    )
    position = session.scalar(
        sa.select(sa.func.coalesce(sa.func.max(PublicPhoto.position), 0)).where(
            PublicPhoto.project_id == project.id
        )
    )
    photo = PublicPhoto(
        project_id=project.id,
        original_sha256=original.sha256,
        published_sha256=published.sha256,
        caption=caption,
        position=int(position or 0) + 1,
        published=True,
        width=width,
        height=height,
        created_by=by,
    )
    session.add(photo)
    session.flush()
    _touch(session, project.id, by)
    record(
        "publication.photo_publish",
        object_type="public_photo",
        object_id=photo.id,
        detail={"project": project.code, "sha256": published.sha256},
        username=by,
        session=session,
    )
    return photo


def update_photo(
    *, session, photo: PublicPhoto, caption: str, position: int, published: bool, by: str | None
) -> PublicPhoto:
    caption = _clean_line(caption or "", CAPTION_MAX, "caption", "说明")
    was = photo.published
    photo.caption = caption
    photo.position = int(position)
    photo.published = bool(published)
    if was and not photo.published:
        photo.unpublished_at = utcnow()
    elif photo.published:
        photo.unpublished_at = None
    session.flush()
    _touch(session, photo.project_id, by)
    detail = {"caption": caption, "position": photo.position}
    if was and not photo.published:
        record(
            "publication.photo_unpublish",
            object_type="public_photo",
            object_id=photo.id,
            detail=detail,
            username=by,
            session=session,
        )
    elif photo.published and not was:
        record(
            "publication.photo_publish",
            object_type="public_photo",
            object_id=photo.id,
            detail=detail,
            username=by,
            session=session,
        )
    else:
        record(
            "publication.photo_edit",
            object_type="public_photo",
            object_id=photo.id,
            detail=detail,
            username=by,
            session=session,
        )
    return photo


def photos_of(*, session, project_id: int) -> list[PublicPhoto]:
    return list(
        session.scalars(
            sa.select(PublicPhoto)
            .where(PublicPhoto.project_id == project_id)
            .order_by(PublicPhoto.published.desc(), PublicPhoto.position, PublicPhoto.id)
        )
    )


# ---------------------------------------------------------------- feedback


def ip_hash(address: str, *, salt: bytes) -> str:
    """A salted hash of the address: the same address gives the same value, but the address
    cannot be read back (no table of 2^32 hashes helps without the salt)."""
    return hmac.new(salt, (address or "-").encode(), hashlib.sha256).hexdigest()


_ALLOWED_CONTROLS = {"\n", "\t"}


def _has_controls(text: str) -> bool:
    # Cc: C0/C1 controls; Cf: invisible format characters (bidi overrides, zero-width);
    # Co/Cs/Cn: private use, surrogates, unassigned.
    return any(
        ch not in _ALLOWED_CONTROLS and unicodedata.category(ch) in {"Cc", "Cf", "Co", "Cs", "Cn"}
        for ch in text
    )


def _clean_line(text: str, limit: int, field: str, label: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if "\n" in text or _has_controls(text):
        raise PublicationError({field: f"{label}含有不允许的控制字符"})
    if len(text) > limit:
        raise PublicationError({field: f"{label}不能超过 {limit} 个字"})
    return text


def submit_feedback(*, session, project: Project, rating, comment: str, address_hash: str) -> PublicFeedback:
    errors = {}
    try:
        value = int(str(rating).strip())
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= 5:
        errors["rating"] = "请选择 1 到 5 星的评分"
    text = unicodedata.normalize("NFC", (comment or "").replace("\r\n", "\n").replace("\r", "\n")).strip()
    if len(text) > COMMENT_MAX:
        errors["comment"] = f"留言不能超过 {COMMENT_MAX} 个字"
    elif _has_controls(text):
        errors["comment"] = "留言含有不允许的控制字符"
    if errors:
        raise PublicationError(errors)
    row = PublicFeedback(
        project_id=project.id, rating=value, comment=text, status="pending", ip_hash=address_hash
    )
    session.add(row)
    session.flush()
    return row


def pending_feedback(*, session, project_id: int) -> list[PublicFeedback]:
    return list(
        session.scalars(
            sa.select(PublicFeedback)
            .where(PublicFeedback.project_id == project_id, PublicFeedback.status == "pending")
            .order_by(PublicFeedback.created_at, PublicFeedback.id)
        )
    )


def moderated_feedback(*, session, project_id: int, limit: int = 50) -> list[PublicFeedback]:
    return list(
        session.scalars(
            sa.select(PublicFeedback)
            .where(PublicFeedback.project_id == project_id, PublicFeedback.status != "pending")
            .order_by(PublicFeedback.moderated_at.desc(), PublicFeedback.id.desc())
            .limit(limit)
        )
    )


def moderate(
    *, session, feedback: PublicFeedback, approve: bool, reason: str = "", by: str | None
) -> PublicFeedback:
    if feedback.status != "pending":
        raise PublicationError({"feedback": "该留言已审核"})
    reason = _clean_line(reason or "", REASON_MAX, "reason", "原因")
    if not approve and not reason:
        raise PublicationError({"reason": "驳回须填写原因"})
    feedback.status = "approved" if approve else "rejected"
    feedback.reject_reason = None if approve else reason
    feedback.moderated_by = by
    feedback.moderated_at = utcnow()
    session.flush()
    if approve:
        _touch(session, feedback.project_id, by)
    if approve:
        record(
            "publication.feedback_approve",
            object_type="public_feedback",
            object_id=feedback.id,
            username=by,
            session=session,
        )
    else:
        record(
            "publication.feedback_reject",
            object_type="public_feedback",
            object_id=feedback.id,
            detail={"reason": reason},
            username=by,
            session=session,
        )
    return feedback
