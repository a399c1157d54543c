"""/projects/<code>/funds: the funds figures and history of one project, and the monthly
report form for the owner unit's people. Thin: the rules are in service.py."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from backend.audit import record
from backend.authz import has_permission, require_permission, visible_project_or_404
from backend.db import utcnow
from backend.extensions import db
from backend.funds import service
from backend.projects.models import Project
from backend.workdays.service import local_date

bp = Blueprint("funds", __name__, template_folder="templates")


def _may_report(project: Project) -> bool:
    return has_permission(current_user, "funds.report") and current_user.unit_id == project.owner_unit_id


def _render(
    project: Project,
    *,
    errors=None,
    values=None,
    line_errors=None,
    line_values=None,
    editing: int | None = None,
    status: int = 200,
):
    today = local_date(utcnow())
    year = request.args.get("year", type=int) or today.year
    lines = service.budget_lines(session=db.session, project=project)
    may_plan = has_permission(current_user, "funds.plan")
    if editing is None and may_plan:
        editing = request.args.get("edit", type=int)
    edited = next((line for line in lines if line.id == editing), None)
    if line_values is None:
        line_values = (
            {"year": str(edited.year), "source": edited.source, "amount": f"{edited.amount:.2f}"}
            if edited is not None
            else {"year": str(today.year), "source": "", "amount": ""}
        )
    return (
        render_template(
            "funds/project.html",
            project=project,
            figures=service.figures(session=db.session, project=project, year=year),
            lines=lines,
            drawn=service.drawn_on_lines(session=db.session, line_ids=[line.id for line in lines]),
            reports=service.report_history(session=db.session, project=project),
            allocations=service.allocations(session=db.session, project=project),
            may_report=_may_report(project),
            may_plan=may_plan,
            errors=errors or {},
            values=values or {"month": f"{today.year:04d}-{today.month:02d}"},
            max_month=f"{today.year:04d}-{today.month:02d}",
            edited=edited,
            line_errors=line_errors or {},
            line_values=line_values,
            sources=[s.get("source") for s in (project.funding_sources or []) if s.get("source")],
        ),
        status,
    )


def _translated(exc: service.FundsError) -> dict[str, str]:
    return {field: _(message, **exc.params.get(field, {})) for field, message in exc.errors.items()}


@bp.get("/projects/<code>/funds")
@require_permission("funds.read")
def project_funds(code: str):
    return _render(visible_project_or_404(code))


@bp.post("/projects/<code>/funds/reports")
@require_permission("funds.report")
def report(code: str):
    project = visible_project_or_404(code)
    if current_user.unit_id != project.owner_unit_id:
        abort(403)
    values = {
        "month": (request.form.get("month") or "").strip(),
        "amount": (request.form.get("amount") or "").strip(),
        "note": (request.form.get("note") or "").strip(),
    }
    year_text, _sep, month_text = values["month"].partition("-")
    if not (year_text.isdigit() and month_text.isdigit()):
        return _render(project, errors={"month": _("请选择月份")}, values=values, status=400)
    try:
        row = service.report_month(
            session=db.session,
            project=project,
            year=int(year_text),
            month=int(month_text),
            amount=values["amount"],
            note=values["note"][:2000],
            reported_by=current_user.username,
        )
    except service.FundsError as exc:
        db.session.rollback()
        errors = {field: _(message) for field, message in exc.errors.items()}
        return _render(project, errors=errors, values=values, status=400)
    record(
        "funds.monthly_report",
        object_type="investment_report",
        object_id=row.id,
        detail={
            "project": project.code,
            "month": f"{row.year}-{row.month:02d}",
            "version": row.version,
            "amount": str(row.amount),
        },
    )
    db.session.commit()
    flash(_("已保存月度完成投资"), "success")
    return redirect(url_for("funds.project_funds", code=project.code))


# --- the annual plan (年度计划投资与资金来源), funds.plan -----------------------------------------


def _line_form() -> dict[str, str]:
    return {
        key: (request.form.get(f"plan_{key}") or "").strip()[:100] for key in ("year", "source", "amount")
    }


def _save_line(code: str, line_id: int | None):
    project = visible_project_or_404(code)
    values = _line_form()
    try:
        change = service.save_budget_line(
            session=db.session,
            project=project,
            line_id=line_id,
            year=values["year"],
            source=values["source"],
            amount=values["amount"],
        )
    except service.FundsError as exc:
        db.session.rollback()
        return _render(project, line_errors=_translated(exc), line_values=values, editing=line_id, status=400)
    _record_line(project, change)
    db.session.commit()
    flash(_("已保存年度计划投资"), "success")
    return redirect(url_for("funds.project_funds", code=project.code) + "#plan")


def _record_line(project: Project, change: service.LineChange) -> None:
    record(
        "funds.budget_line",
        object_type="budget_line",
        object_id=change.line.id,
        detail={"project": project.code, "op": change.op, "before": change.before, "after": change.after},
    )


@bp.post("/projects/<code>/funds/lines")
@require_permission("funds.plan")
def add_line(code: str):
    return _save_line(code, None)


@bp.post("/projects/<code>/funds/lines/<int:line_id>")
@require_permission("funds.plan")
def change_line(code: str, line_id: int):
    return _save_line(code, line_id)


@bp.post("/projects/<code>/funds/lines/<int:line_id>/delete")
@require_permission("funds.plan")
def remove_line(code: str, line_id: int):
    project = visible_project_or_404(code)
    try:
        change = service.remove_budget_line(session=db.session, project=project, line_id=line_id)
    except service.FundsError as exc:
        db.session.rollback()
        return _render(project, line_errors=_translated(exc), editing=line_id, status=400)
    _record_line(project, change)
    db.session.commit()
    flash(_("已删除年度计划投资"), "success")
    return redirect(url_for("funds.project_funds", code=project.code) + "#plan")
