"""/projects/<code>/schedule: the breakdown as a Gantt chart (static/gantt.js, data from
gantt.json; leaves dragged to new dates by the owner unit's planners) and a tree table with
progress and deviation, its XLSX download and (owner unit, empty breakdown) upload; the item
forms (add, edit, delete a leaf, dependencies) and the baselines page (history, deviation
against a chosen baseline). Thin: the rules are in service.py."""

from datetime import date
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from backend.authz import has_permission, require_permission, visible_project_or_404
from backend.contracts.models import Contract
from backend.db import utcnow
from backend.extensions import db
from backend.org.models import Unit, User
from backend.projects.models import Project
from backend.schedule import service, xlsx
from backend.schedule.models import WbsItem
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


# ---------------------------------------------------------------- Gantt chart and editing


def _editor_or_403(project: Project) -> None:
    if not _may_edit(project):
        abort(403)


def _item_or_404(project: Project, item_id: int) -> WbsItem:
    item = db.session.get(WbsItem, item_id)
    if item is None or item.project_id != project.id:
        abort(404)
    return item


def _gantt(project: Project) -> dict:
    return service.gantt_rows(session=db.session, project_id=project.id, at=local_date(utcnow()))


@bp.get("/projects/<code>/schedule/gantt.json")
@require_permission("project.read")
def gantt_json(code: str):
    return jsonify(_gantt(visible_project_or_404(code)))


@bp.post("/projects/<code>/schedule/items/<int:item_id>/dates")
@require_permission("schedule.edit")
def move_item(code: str, item_id: int):
    """The Gantt drag (static/gantt.js): JSON {start, end} → 200 with the new rows and the
    item's dependency conflicts, or 400 {error} with the unchanged rows to redraw from."""
    project = visible_project_or_404(code)
    if not _may_edit(project):
        return jsonify(error=_("只有项目业主单位的进度计划编辑人员可以修改计划")), 403
    item = _item_or_404(project, item_id)
    data = request.get_json(silent=True) or {}
    try:
        start = date.fromisoformat(str(data["start"]))
        end = date.fromisoformat(str(data["end"]))
    except (KeyError, ValueError):
        return jsonify(error=_("日期格式不正确"), **_gantt(project)), 400
    try:
        conflicts = service.reschedule(
            session=db.session, item=item, planned_start=start, planned_end=end, by=current_user.username
        )
    except service.ScheduleError as exc:
        db.session.rollback()
        return jsonify(error=str(exc), **_gantt(project)), 400
    db.session.commit()
    return jsonify(moved=item.id, moved_conflicts=conflicts, **_gantt(project))


def _choices(project: Project, item: WbsItem | None = None) -> dict:
    """Units (the owner, its contracts' parties, and the item's own, e.g. from an XLSX import)
    and payment milestones of the project."""
    contracts = list(db.session.scalars(sa.select(Contract).where(Contract.project_id == project.id)))
    unit_ids = {project.owner_unit_id, item.unit_id if item is not None else None}
    for contract in contracts:
        unit_ids |= {contract.party_a_unit_id, contract.party_b_unit_id, contract.supervisor_unit_id}
    units = db.session.scalars(sa.select(Unit).where(Unit.id.in_(unit_ids - {None})).order_by(Unit.id))
    milestones = [(m.id, f"{c.number} · {m.seq}. {m.name}") for c in contracts for m in c.milestones]
    return {"units": [(u.id, u.name) for u in units], "milestones": milestones}


FIELDS = ("code", "name", "unit_id", "responsible", "planned_start", "planned_end", "deliverables", "weight")


def _parse_item_form(project: Project, choices: dict) -> tuple[dict, dict, list[str]]:
    """(raw values to show again, parsed values, problems in the form's own terms)."""
    raw = {key: (request.form.get(key) or "").strip() for key in FIELDS}
    raw["is_milestone"] = bool(request.form.get("is_milestone"))
    raw["payment_milestone_id"] = (request.form.get("payment_milestone_id") or "").strip()
    problems, parsed = [], {}
    for key, label in (("planned_start", _("计划开始")), ("planned_end", _("计划完成"))):
        try:
            parsed[key] = date.fromisoformat(raw[key])
        except ValueError:
            problems.append(_("%(field)s须为日期", field=label))
    try:
        parsed["weight"] = Decimal(raw["weight"] or "1")
        if not parsed["weight"].is_finite():
            raise InvalidOperation
    except InvalidOperation:
        problems.append(_("权重须为数字"))
    unit_ids = {unit_id for unit_id, _name in choices["units"]}
    parsed["unit_id"] = int(raw["unit_id"]) if raw["unit_id"].isdigit() else None
    if raw["unit_id"] and parsed["unit_id"] not in unit_ids:
        problems.append(_("责任单位须为项目业主或其合同单位"))
    milestone_ids = {mid for mid, _label in choices["milestones"]}
    parsed["payment_milestone_id"] = (
        int(raw["payment_milestone_id"]) if raw["payment_milestone_id"].isdigit() else None
    )
    if raw["payment_milestone_id"] and parsed["payment_milestone_id"] not in milestone_ids:
        problems.append(_("关联的付款节点不属于本项目的合同"))
    parsed["responsible"] = raw["responsible"] or None
    if parsed["responsible"] and not db.session.scalar(
        sa.select(User.id).where(User.username == parsed["responsible"], User.active.is_(True))
    ):
        problems.append(_("责任人 %(name)s 不存在或已停用", name=parsed["responsible"]))
    parsed.update(name=raw["name"], deliverables=raw["deliverables"], is_milestone=raw["is_milestone"])
    return raw, parsed, problems


def _item_values(item: WbsItem) -> dict:
    return {
        "code": item.code,
        "name": item.name,
        "unit_id": str(item.unit_id or ""),
        "responsible": item.responsible or "",
        "planned_start": item.planned_start.isoformat(),
        "planned_end": item.planned_end.isoformat(),
        "deliverables": item.deliverables or "",
        "weight": format(item.weight.normalize(), "f"),  # 100, not 1E+2
        "is_milestone": item.is_milestone,
        "payment_milestone_id": str(item.payment_milestone_id or ""),
    }


def _item_page(project: Project, *, item=None, values=None, errors=None, status: int = 200):
    items = service.items_of(session=db.session, project_id=project.id)
    predecessors = []
    if item is not None:
        ids = {
            p for p, s in service.dependencies_of(session=db.session, project_id=project.id) if s == item.id
        }
        predecessors = [i for i in items if i.id in ids]
    return (
        render_template(
            "schedule/item.html",
            project=project,
            item=item,
            items=items,
            predecessors=predecessors,
            has_children=item is not None and any(i.parent_id == item.id for i in items),
            values=values or {},
            errors=errors or [],
            **_choices(project, item),
        ),
        status,
    )


@bp.route("/projects/<code>/schedule/items/new", methods=["GET", "POST"])
@require_permission("schedule.edit")
def new_item(code: str):
    project = visible_project_or_404(code)
    _editor_or_403(project)
    if request.method == "GET":
        parent = request.args.get("parent", "")
        return _item_page(project, values={"code": f"{parent}." if parent else "", "weight": "1"})
    raw, parsed, problems = _parse_item_form(project, _choices(project))
    if problems:
        return _item_page(project, values=raw, errors=problems, status=400)
    try:
        item = service.create_item(
            session=db.session, project_id=project.id, code=raw["code"], by=current_user.username, **parsed
        )
    except service.ScheduleError as exc:
        db.session.rollback()
        return _item_page(project, values=raw, errors=[str(exc)], status=400)
    db.session.commit()
    flash(_("已添加任务 %(code)s", code=item.code), "success")
    return redirect(url_for("schedule.project_schedule", code=project.code))


@bp.route("/projects/<code>/schedule/items/<int:item_id>/edit", methods=["GET", "POST"])
@require_permission("schedule.edit")
def edit_item(code: str, item_id: int):
    project = visible_project_or_404(code)
    _editor_or_403(project)
    item = _item_or_404(project, item_id)
    if request.method == "GET":
        return _item_page(project, item=item, values=_item_values(item))
    raw, parsed, problems = _parse_item_form(project, _choices(project, item))
    raw["code"] = item.code  # the code places the item in the tree: not editable
    if problems:
        return _item_page(project, item=item, values=raw, errors=problems, status=400)
    changes = {key: value for key, value in parsed.items() if getattr(item, key) != value}
    if changes:
        try:
            service.update_item(session=db.session, item=item, by=current_user.username, **changes)
        except service.ScheduleError as exc:
            db.session.rollback()
            return _item_page(project, item=item, values=raw, errors=[str(exc)], status=400)
        db.session.commit()
        flash(_("已保存任务 %(code)s", code=item.code), "success")
    return redirect(url_for("schedule.edit_item", code=project.code, item_id=item.id))


@bp.post("/projects/<code>/schedule/items/<int:item_id>/delete")
@require_permission("schedule.edit")
def delete_item(code: str, item_id: int):
    project = visible_project_or_404(code)
    _editor_or_403(project)
    item = _item_or_404(project, item_id)
    item_code = item.code
    try:
        service.delete_item(session=db.session, item=item, by=current_user.username)
    except service.ScheduleError as exc:
        db.session.rollback()
        return _item_page(project, item=item, values=_item_values(item), errors=[str(exc)], status=400)
    db.session.commit()
    flash(_("已删除任务 %(code)s", code=item_code), "success")
    return redirect(url_for("schedule.project_schedule", code=project.code))


@bp.post("/projects/<code>/schedule/items/<int:item_id>/dependencies")
@require_permission("schedule.edit")
def add_dependency(code: str, item_id: int):
    project = visible_project_or_404(code)
    _editor_or_403(project)
    item = _item_or_404(project, item_id)
    predecessor_id = request.form.get("predecessor_id", type=int)
    predecessor = db.session.get(WbsItem, predecessor_id) if predecessor_id else None
    if predecessor is None or predecessor.project_id != project.id:
        return _item_page(
            project, item=item, values=_item_values(item), errors=[_("请选择前置任务")], status=400
        )
    try:
        service.add_dependency(
            session=db.session, predecessor=predecessor, successor=item, by=current_user.username
        )
    except service.ScheduleError as exc:
        db.session.rollback()
        return _item_page(project, item=item, values=_item_values(item), errors=[str(exc)], status=400)
    db.session.commit()
    conflicts = service.dependency_conflicts(session=db.session, project_id=project.id, item_id=item.id)
    flash(_("已添加前置任务 %(code)s", code=predecessor.code), "success")
    for c in conflicts:
        flash(
            _(
                "注意：%(succ)s 计划开始 %(start)s，早于或等于前置任务 %(pred)s 的计划完成 %(end)s",
                succ=c["successor_code"],
                start=c["successor_start"],
                pred=c["predecessor_code"],
                end=c["predecessor_end"],
            ),
            "warning",
        )
    return redirect(url_for("schedule.edit_item", code=project.code, item_id=item.id))


@bp.post("/projects/<code>/schedule/items/<int:item_id>/dependencies/<int:predecessor_id>/delete")
@require_permission("schedule.edit")
def remove_dependency(code: str, item_id: int, predecessor_id: int):
    project = visible_project_or_404(code)
    _editor_or_403(project)
    item = _item_or_404(project, item_id)
    predecessor = _item_or_404(project, predecessor_id)
    try:
        service.remove_dependency(
            session=db.session, predecessor=predecessor, successor=item, by=current_user.username
        )
    except service.ScheduleError as exc:
        db.session.rollback()
        return _item_page(project, item=item, values=_item_values(item), errors=[str(exc)], status=400)
    db.session.commit()
    flash(_("已移除前置任务 %(code)s", code=predecessor.code), "success")
    return redirect(url_for("schedule.edit_item", code=project.code, item_id=item.id))


def _baselines_page(project: Project, *, errors=None, reason: str = "", status: int = 200):
    history = service.baselines_of(session=db.session, project_id=project.id)
    chosen = None
    number = request.args.get("number", type=int)
    if history:
        chosen = next((b for b in history if b.number == number), None) if number else history[0]
        if chosen is None:
            abort(404)
    today = local_date(utcnow())
    figures = (
        service.summary(session=db.session, project_id=project.id, at=today, baseline_number=chosen.number)
        if chosen
        else None
    )
    items = service.items_of(session=db.session, project_id=project.id)
    rows = []
    if chosen:
        current = {i.id: i for i in items}
        for row in chosen.items:
            now = current.get(row.item_id)
            rows.append(
                {
                    "code": row.code,
                    "name": now.name if now else "",
                    "baseline_start": row.planned_start,
                    "baseline_end": row.planned_end,
                    "start": now.planned_start if now else None,
                    "end": now.planned_end if now else None,
                    "shift": (now.planned_end - row.planned_end).days if now else None,
                    "planned": figures.planned.get(row.item_id) if figures.planned else None,
                    "progress": figures.progress.get(row.item_id),
                }
            )
        rows.sort(key=lambda r: service.code_key(r["code"]))
        rows += [
            {"code": i.code, "name": i.name, "start": i.planned_start, "end": i.planned_end, "new": True}
            for i in items
            if i.id not in {row.item_id for row in chosen.items}
        ]
    return (
        render_template(
            "schedule/baselines.html",
            project=project,
            history=history,
            chosen=chosen,
            figures=figures,
            rows=rows,
            has_items=bool(items),
            today=today,
            may_edit=_may_edit(project),
            errors=errors or [],
            reason=reason,
        ),
        status,
    )


@bp.get("/projects/<code>/schedule/baselines")
@require_permission("project.read")
def baselines(code: str):
    return _baselines_page(visible_project_or_404(code))


@bp.post("/projects/<code>/schedule/baselines")
@require_permission("schedule.edit")
def create_baseline(code: str):
    project = visible_project_or_404(code)
    _editor_or_403(project)
    reason = (request.form.get("reason") or "").strip()
    try:
        baseline = service.create_baseline(
            session=db.session, project_id=project.id, by=current_user.username, reason=reason
        )
    except service.ScheduleError as exc:
        db.session.rollback()
        return _baselines_page(project, errors=[str(exc)], reason=reason, status=400)
    db.session.commit()
    flash(_("已设立基线 %(n)s", n=baseline.number), "success")
    return redirect(url_for("schedule.baselines", code=project.code))
