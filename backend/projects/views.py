"""/projects: the projects a person sees (their data scope, backend.authz.scope), and the
project hub /projects/<code> with its tabs (概况, 进度计划, 资金; projects/_tabs.html). Thin:
the figures come from backend.schedule.service and backend.funds.service."""

import sqlalchemy as sa
from flask import Blueprint, abort, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from backend.authz import has_permission, require_permission, visible_project_or_404
from backend.authz.scope import project_clause, scope_of
from backend.db import utcnow
from backend.extensions import db
from backend.funds import service as funds
from backend.org.errors import RegionNotFound
from backend.org.models import Region
from backend.org.service import descendant_codes
from backend.projects.models import Project
from backend.schedule import service as schedule
from backend.workdays.service import local_date

bp = Blueprint("projects", __name__, template_folder="templates")

PAGE_SIZE = 20
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
    )
