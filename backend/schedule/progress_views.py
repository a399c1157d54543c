"""Progress reports on WBS leaves by the people responsible (phone-first), and "我的进度任务".

/projects/<code>/wbs/<item code>/progress: the item, its history with evidence, and the form
for whoever may report (access.py). /schedule/mine: the leaves the person or their unit is
responsible for, across projects. Thin: the rules are in service.py and access.py."""

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import aliased

from backend.authz import require_permission
from backend.db import utcnow
from backend.extensions import db
from backend.files import access as file_access
from backend.files.errors import FileRefused
from backend.files.models import StoredFile
from backend.files.service import IMAGE_TYPES, store
from backend.files.sniff import PDF
from backend.org.models import Unit, User
from backend.projects.models import Project
from backend.schedule import access, service
from backend.schedule.models import WbsItem, WbsProgress
from backend.workdays.service import local_date

bp = Blueprint("schedule_progress", __name__, template_folder="templates")

EVIDENCE_TYPES = IMAGE_TYPES | {PDF}
EVIDENCE_MAX_BYTES = 20 * 1024 * 1024  # one phone photo or scanned PDF
MAX_EVIDENCE_FILES = 20


def init_app(app) -> None:
    app.register_blueprint(bp)
    file_access.register_reader(access.readable_files)


@dataclass
class Submission:
    """What the person typed (shown again when refused) and what is wrong, by field."""

    values: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    kept: list = field(default_factory=list)  # [(sha256, name)] stored before a refusal


def _item_or_404(code: str, item_code: str) -> tuple[Project, WbsItem]:
    project = access.find_project(session=db.session, user=current_user, code=code)
    if project is None:
        abort(404)
    item = access.find_item(session=db.session, project=project, code=item_code)
    if item is None:
        abort(404)
    return project, item


def _is_leaf(item: WbsItem) -> bool:
    return db.session.scalar(sa.select(sa.literal(1)).where(WbsItem.parent_id == item.id).limit(1)) is None


def _history(item: WbsItem) -> list[WbsProgress]:
    return list(
        db.session.scalars(
            sa.select(WbsProgress)
            .where(WbsProgress.item_id == item.id)
            .order_by(WbsProgress.recorded_at.desc(), WbsProgress.id.desc())
        )
    )


def _render(project: Project, item: WbsItem, submission: Submission | None = None, status: int = 200):
    history = _history(item)
    hashes = {f.sha256 for entry in history for f in entry.files} | {
        h for h, _n in (submission or Submission()).kept
    }
    types = dict(
        db.session.execute(
            sa.select(StoredFile.sha256, StoredFile.content_type).where(StoredFile.sha256.in_(hashes))
        ).all()
    )
    people = {
        u.username: u.display_name
        for u in db.session.scalars(
            sa.select(User).where(User.username.in_({e.recorded_by for e in history} | {item.responsible}))
        )
    }
    unit = db.session.get(Unit, item.unit_id) if item.unit_id else None
    today = local_date(utcnow())
    leaf = _is_leaf(item)
    progress = (
        item.percent_complete
        if leaf
        else service.item_progress(service.items_of(session=db.session, project_id=project.id))[item.id]
    )
    submission = submission or Submission(
        values={
            "percent": "",
            "actual_start": item.actual_start.isoformat() if item.actual_start else "",
            "actual_end": item.actual_end.isoformat() if item.actual_end else "",
            "note": "",
        }
    )
    return (
        render_template(
            "schedule/progress.html",
            project=project,
            item=item,
            unit=unit,
            people=people,
            history=history,
            types=types,
            images=IMAGE_TYPES,
            progress=progress,
            leaf=leaf,
            overdue=item.planned_end < today and progress < 100,
            today=today,
            may_report=leaf and access.may_report(current_user, item, project),
            submission=submission,
        ),
        status,
    )


@bp.get("/projects/<code>/wbs/<item_code>/progress")
@require_permission("project.read")
def progress_page(code: str, item_code: str):
    project, item = _item_or_404(code, item_code)
    return _render(project, item)


def _parse_date(raw: str, name: str, errors: dict) -> date | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = _("日期格式应为 YYYY-MM-DD")
        return None


def _kept_files() -> list[tuple[str, str]]:
    """Files stored by an earlier, refused submission of this form that the person keeps: only
    those they may read (uploaded themselves): a hash in a hidden field opens nothing."""
    pairs = []
    for value in request.form.getlist("kept"):
        sha256, _sep, name = value.partition(":")
        if file_access.is_sha256(sha256):
            pairs.append((sha256, name.strip()[:255] or sha256[:12]))
    allowed = file_access.readable(session=db.session, user=current_user, hashes={h for h, _n in pairs})
    return [(h, n) for h, n in pairs if h in allowed]


def _store_uploads(errors: dict) -> list[tuple[str, str]]:
    stored, refused = [], []
    uploads = [u for u in request.files.getlist("evidence") if u and u.filename]
    if len(uploads) > MAX_EVIDENCE_FILES:
        errors["evidence"] = _("一次最多上传 %(n)s 个文件", n=MAX_EVIDENCE_FILES)
        return []
    for upload in uploads:
        try:
            row = store(
                session=db.session,
                data=upload.stream,
                declared_name=upload.filename,
                allowed_types=EVIDENCE_TYPES,
                max_bytes=EVIDENCE_MAX_BYTES,
            )
        except FileRefused as exc:
            refused.append(str(exc))
            continue
        name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1][:255]
        file_access.record_upload(
            session=db.session, sha256=row.sha256, username=current_user.username, name=name
        )
        stored.append((row.sha256, name))
    if refused:
        errors["evidence"] = "；".join(refused)
    return stored


@bp.post("/projects/<code>/wbs/<item_code>/progress")
@require_permission("project.read")
def record(code: str, item_code: str):
    project, item = _item_or_404(code, item_code)
    if not access.may_report(current_user, item, project):
        abort(403)
    form = request.form
    values = {k: form.get(k, "") for k in ("percent", "actual_start", "actual_end", "note")}
    errors: dict = {}
    percent = values["percent"].strip()
    if not percent:
        errors["percent"] = _("请填写完成百分比")
    actual_start = _parse_date(values["actual_start"], "actual_start", errors)
    actual_end = _parse_date(values["actual_end"], "actual_end", errors)
    if len(values["note"]) > 2000:
        errors["note"] = _("说明最多 2000 字")
    # Accepted uploads are stored (and remembered as the person's) even when something else is
    # wrong: the form offers them again, so a refused photo or a typo loses nothing.
    files = _kept_files() + _store_uploads(errors)
    if not errors:
        try:
            with db.session.begin_nested():
                service.record_progress(
                    session=db.session,
                    item=item,
                    percent=percent,
                    by=current_user.username,
                    note=values["note"],
                    actual_start=actual_start,
                    actual_end=actual_end,
                    files=files,
                )
        except service.ScheduleError as exc:
            errors["_"] = str(exc)
    if errors:
        # The report is undone (savepoint); the accepted uploads stay the person's, offered again.
        db.session.commit()
        return _render(project, item, Submission(values=values, errors=errors, kept=files), 400)
    db.session.commit()
    flash(_("进度已保存"), "success")
    return redirect(url_for("schedule_progress.progress_page", code=project.code, item_code=item.code))


@bp.get("/schedule/mine")
@require_permission("project.read")
def mine():
    """The leaves the person or their unit is responsible for; unfinished first by due date."""
    show_all = request.args.get("all") == "1"
    parent = aliased(WbsItem)
    has_children = sa.exists().where(parent.parent_id == WbsItem.id)
    query = (
        sa.select(WbsItem, Project)
        .join(Project, Project.id == WbsItem.project_id)
        .where(access.responsible_clause(current_user), ~has_children)
        .order_by(WbsItem.planned_end, Project.code, WbsItem.id)
    )
    if not show_all:
        query = query.where(WbsItem.percent_complete < 100)
    rows = db.session.execute(query).all()
    today = local_date(utcnow())
    return render_template(
        "schedule/mine.html",
        rows=[
            (item, project, item.planned_end < today and item.percent_complete < 100)
            for item, project in rows
        ],
        today=today,
        show_all=show_all,
    )
