"""/projects/<code>/schedule: the breakdown as a tree table with progress and deviation, its
XLSX download and (owner unit, empty breakdown) upload. Thin: the rules are in service.py."""

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from backend.authz import has_permission, require_permission, visible_project_or_404
from backend.db import utcnow
from backend.extensions import db
from backend.org.models import Unit
from backend.projects.models import Project
from backend.schedule import service, xlsx
from backend.workdays.service import local_date

bp = Blueprint("schedule", __name__, template_folder="templates")

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_UPLOAD = 5 * 1024 * 1024


def _may_edit(project: Project) -> bool:
    return has_permission(current_user, "schedule.edit") and current_user.unit_id == project.owner_unit_id


def _render(project: Project, *, errors=None, status: int = 200):
    today = local_date(utcnow())
    items = service.items_of(session=db.session, project_id=project.id)
    figures = service.summary(session=db.session, project_id=project.id, at=today)
    units = {
        u.id: u.name
        for u in db.session.scalars(sa.select(Unit).where(Unit.id.in_({i.unit_id for i in items})))
    }
    return (
        render_template(
            "schedule/project.html",
            project=project,
            items=items,
            units=units,
            figures=figures,
            overdue={i.id for i in figures.overdue},
            baseline=service.baseline_of(session=db.session, project_id=project.id),
            today=today,
            may_edit=_may_edit(project),
            errors=errors or [],
        ),
        status,
    )


@bp.get("/projects/<code>/schedule")
@require_permission("project.read")
def project_schedule(code: str):
    return _render(visible_project_or_404(code))


@bp.get("/projects/<code>/schedule.xlsx")
@require_permission("project.read")
def export(code: str):
    project = visible_project_or_404(code)
    data = xlsx.export_xlsx(session=db.session, project_id=project.id)
    return Response(
        data,
        mimetype=XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="wbs-{project.code}.xlsx"'},
    )


@bp.post("/projects/<code>/schedule/import")
@require_permission("schedule.edit")
def import_breakdown(code: str):
    project = visible_project_or_404(code)
    if current_user.unit_id != project.owner_unit_id:
        abort(403)
    upload = request.files.get("file")
    data = upload.read(MAX_UPLOAD + 1) if upload else b""
    if not data:
        return _render(project, errors=[_("请选择要导入的 XLSX 文件")], status=400)
    if len(data) > MAX_UPLOAD:
        return _render(project, errors=[_("文件过大（不超过 5 MB）")], status=400)
    try:
        created = xlsx.import_xlsx(
            session=db.session, project_id=project.id, data=data, by=current_user.username
        )
    except xlsx.ImportErrors as exc:
        db.session.rollback()
        return _render(project, errors=exc.problems, status=400)
    db.session.commit()
    flash(_("已导入 %(n)s 项任务", n=len(created)), "success")
    return redirect(url_for("schedule.project_schedule", code=project.code))
