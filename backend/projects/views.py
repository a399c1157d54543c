"""/projects: the projects a person sees (their data scope, backend.authz.scope), and the
project hub /projects/<code> with its tabs (概况, 进度计划, 资金; projects/_tabs.html). Thin:
the figures come from backend.schedule.service and backend.funds.service."""

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from backend.authz import has_permission, require_permission, visible_project_or_404
from backend.authz.scope import project_clause, scope_of
from backend.db import utcnow
from backend.extensions import db
from backend.files import access as file_access
from backend.files.errors import FileRefused
from backend.files.service import DOCUMENT_TYPES
from backend.files.service import store as store_file
from backend.funds import service as funds
from backend.org.errors import RegionNotFound
from backend.org.models import Region
from backend.org.service import descendant_codes
from backend.projects import completion
from backend.projects.models import Project
from backend.schedule import service as schedule
from backend.workdays.service import local_date

bp = Blueprint("projects", __name__, template_folder="templates")

PAGE_SIZE = 20
ACCEPTANCE_MAX_BYTES = 50 * 1024 * 1024  # a scanned 竣工验收报告
STATUS_LABELS = {
    "draft": _l("草稿"),
    "applying": _l("审批中"),
    "returned": _l("退回补正"),
    "approved": _l("已批复"),
    "rejected": _l("未通过"),
    "in_construction": _l("在建"),
    "completed": _l("已竣工"),
}
NATURE_LABELS = {"new": _l("新建"), "continuing": _l("续建")}


def _visible():
    """The projects of the person's scope; another unit's drafts are nobody else's business."""
    clause = project_clause(scope_of(current_user, session=db.session))
    not_draft = Project.status != "draft"
    if current_user.unit_id is not None:
        not_draft = sa.or_(not_draft, Project.owner_unit_id == current_user.unit_id)
    return sa.and_(clause, not_draft)


def _region_choices(visible) -> list[Region]:
    """The regions of the visible projects and the cities above them: what can be filtered on."""
    codes = set(db.session.scalars(sa.select(Project.region_code).where(visible).distinct()))
    regions = {r.code: r for r in db.session.scalars(sa.select(Region).where(Region.code.in_(codes)))}
    parents = {r.parent_code for r in regions.values() if r.parent_code}
    for parent in db.session.scalars(sa.select(Region).where(Region.code.in_(parents))):
        if parent.level != "province":
            regions[parent.code] = parent
    return sorted(regions.values(), key=lambda r: r.code)


def _filters() -> dict[str, str]:
    status = request.args.get("status", "").strip()
    region = request.args.get("region", "").strip()
    return {
        key: value
        for key, value in (
            ("q", request.args.get("q", "").strip()[:100]),
            ("status", status if status in STATUS_LABELS else ""),
            ("region", region if region.isdigit() and len(region) == 6 else ""),
        )
        if value
    }


@bp.get("/projects")
@require_permission("project.read")
def index():
    visible = _visible()
    filters = _filters()
    query = sa.select(Project).where(visible)
    if filters.get("q"):
        like = "%" + filters["q"].replace("\\", "").replace("%", "").replace("_", "") + "%"
        query = query.where(sa.or_(Project.name.like(like), Project.code.like(like)))
    if filters.get("status"):
        query = query.where(Project.status == filters["status"])
    if filters.get("region"):
        try:
            codes = descendant_codes(session=db.session, code=filters["region"])
        except RegionNotFound:
            codes = set()
        query = query.where(Project.region_code.in_(sorted(codes)))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    projects = db.session.scalars(
        query.order_by(Project.created_at.desc(), Project.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    return render_template(
        "projects/index.html",
        projects=projects,
        total=total,
        page=page,
        pages=pages,
        filters=filters,
        status_labels=STATUS_LABELS,
        regions=_region_choices(visible),
    )


@bp.get("/projects/<code>")
@require_permission("project.read")
def hub(code: str):
    project = visible_project_or_404(code)
    if project.status == "draft" and project.owner_unit_id != current_user.unit_id:
        abort(404)
    today = local_date(utcnow())
    figures = None
    if has_permission(current_user, "funds.read"):
        figures = funds.figures(session=db.session, project=project, year=today.year)
    return render_template(
        "projects/hub.html",
        project=project,
        status_labels=STATUS_LABELS,
        nature_labels=NATURE_LABELS,
        progress=schedule.summary(session=db.session, project_id=project.id, at=today),
        figures=figures,
        today=today,
        construction=_construction(project),
    )


# --- 开工申报 and 竣工验收 (rules: completion.py) ------------------------------------------------

CONCLUSION_LABELS = {"passed": _l("合格"), "failed": _l("不合格")}
ACCEPTANCE_FIELDS = (
    "accepted_on",
    "conclusion",
    "opinion",
    "annual_benefit",
    "new_jobs",
    "annual_tax",
    "other_benefits",
)


def _construction(project: Project) -> dict:
    """The hub's 开工与竣工 card: the record and which buttons the person gets."""
    return {
        "completion": completion.completion_of(session=db.session, project=project),
        "may_start": project.status == "approved"
        and completion.may_report_start(user=current_user, project=project),
        "may_accept": project.status == "in_construction"
        and completion.may_accept(session=db.session, user=current_user, project=project),
        "conclusion_labels": CONCLUSION_LABELS,
    }


def _refused(exc: completion.CompletionError) -> dict[str, str]:
    return {field: _(message, **exc.params.get(field, {})) for field, message in exc.errors.items()}


def _start_project(code: str) -> Project:
    project = visible_project_or_404(code)
    if not completion.may_report_start(user=current_user, project=project):
        abort(403)
    return project


def _render_start(project: Project, *, values=None, errors=None, status: int = 200):
    today = local_date(utcnow())
    values = values or {
        "actual_start": project.actual_start.isoformat() if project.actual_start else "",
        "permit_no": project.construction_permit_no or "",
    }
    return (
        render_template(
            "projects/start.html", project=project, values=values, errors=errors or {}, today=today
        ),
        status,
    )


@bp.get("/projects/<code>/start")
@require_permission("project.apply")
def start_form(code: str):
    return _render_start(_start_project(code))


@bp.post("/projects/<code>/start")
@require_permission("project.apply")
def start(code: str):
    project = _start_project(code)
    values = {key: (request.form.get(key) or "").strip()[:100] for key in ("actual_start", "permit_no")}
    try:
        completion.report_start(
            session=db.session,
            project=project,
            actor=current_user,
            actual_start=values["actual_start"],
            permit_no=values["permit_no"],
        )
    except completion.CompletionError as exc:
        db.session.rollback()
        return _render_start(project, values=values, errors=_refused(exc), status=400)
    db.session.commit()
    flash(_("已申报开工，项目状态为在建"), "success")
    return redirect(url_for("projects.hub", code=project.code))


def _render_acceptance(project: Project, *, values=None, errors=None, status: int = 200):
    record = completion.completion_of(session=db.session, project=project)
    may_accept = project.status == "in_construction" and completion.may_accept(
        session=db.session, user=current_user, project=project
    )
    readable = set()
    if record is not None and record.document_sha256:
        readable = file_access.readable(
            session=db.session, user=current_user, hashes=[record.document_sha256]
        )
    return (
        render_template(
            "projects/acceptance.html",
            project=project,
            record=record,
            readable_files=readable,
            may_accept=may_accept,
            values=values or {"conclusion": "passed"},
            errors=errors or {},
            today=local_date(utcnow()),
            conclusion_labels=CONCLUSION_LABELS,
            status_labels=STATUS_LABELS,
        ),
        status,
    )


@bp.get("/projects/<code>/acceptance")
@require_permission("project.read")
def acceptance(code: str):
    project = visible_project_or_404(code)
    if project.status == "draft" and project.owner_unit_id != current_user.unit_id:
        abort(404)
    return _render_acceptance(project)


def _stored_document(errors: dict) -> tuple[str, str] | None:
    """The uploaded acceptance document, stored and remembered as the person's upload."""
    upload = request.files.get("document")
    if upload is None or not upload.filename:
        return None
    try:
        row = store_file(
            session=db.session,
            data=upload.stream,
            declared_name=upload.filename,
            allowed_types=DOCUMENT_TYPES,
            max_bytes=ACCEPTANCE_MAX_BYTES,
        )
    except FileRefused as exc:
        errors["document"] = str(exc)
        return None
    name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1][:255]
    file_access.record_upload(
        session=db.session, sha256=row.sha256, username=current_user.username, name=name
    )
    return row.sha256, name


@bp.post("/projects/<code>/acceptance")
@require_permission("project.accept")
def record_acceptance(code: str):
    project = visible_project_or_404(code)
    if not completion.may_accept(session=db.session, user=current_user, project=project):
        abort(403)
    values = {key: (request.form.get(key) or "").strip()[:2000] for key in ACCEPTANCE_FIELDS}
    errors: dict[str, str] = {}
    document = _stored_document(errors)
    if not errors:
        try:
            completion.record_acceptance(
                session=db.session,
                project=project,
                actor=current_user,
                document=document,
                **values,
            )
        except completion.CompletionError as exc:
            errors = _refused(exc)
    if errors:
        db.session.rollback()
        return _render_acceptance(project, values=values, errors=errors, status=400)
    db.session.commit()
    if project.status == "completed":
        flash(_("竣工验收合格，项目状态为已竣工"), "success")
    else:
        flash(_("已记录竣工验收（不合格），项目仍为在建"), "warning")
    return redirect(url_for("projects.acceptance", code=project.code))
