"""The applicant's pages: submit a project application (项目申报) with its documents, follow
my applications, and see a project's rounds, opinions and issued 批复. Thin: the rules are in
approvals/service.py, projects/service.py and forms/."""

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    has_request_context,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from backend.approvals import resubmission, service, signing
from backend.approvals.models import ApprovalDocument
from backend.authz import has_permission, require_permission
from backend.authz.scope import project_clause, scope_of, sees_project
from backend.extensions import db
from backend.files import access as file_access
from backend.forms import store as form_store
from backend.forms.choices import with_choices
from backend.forms.errors import FormNotFound
from backend.forms.parse import apply_row_action, parse_submission
from backend.forms.validate import validate
from backend.ocr import views as ocr
from backend.projects.models import Project, ProjectDocument
from backend.projects.service import ApplicationInvalid, validate_application
from backend.tasks.views import DOCUMENT_KINDS, store_form_uploads
from backend.workflow.models import HumanTask, ProcessInstance

bp = Blueprint("approvals", __name__, template_folder="templates")

FORM = "project_application.json"
STATUS_LABELS = {
    "draft": _l("草稿"),
    "applying": _l("审批中"),
    "returned": _l("退回补正"),
    "approved": _l("已批复"),
    "rejected": _l("未通过"),
}
DECISION_LABELS = {
    "approved": _l("同意"),
    "rejected": _l("不同意"),
    "accepted": _l("受理"),
    "returned": _l("退回补正"),
    "resubmitted": _l("重新提交"),
    "signed": _l("负责人签署同意"),
    "overruled": _l("负责人签署不同意"),
}
OUTCOME_LABELS = {"approved": _l("通过"), "rejected": _l("未通过"), None: _l("进行中")}


def _require_owner() -> None:
    if "owner" not in (current_user.roles or []) or not has_permission(current_user, "project.apply"):
        abort(403)


def _form(values: dict | None = None) -> dict:
    # No instance yet: the newest version (read-only, as the form is shown on a GET too).
    schema = form_store.peek(session=db.session, name=FORM)
    if schema is None:
        raise FormNotFound(FORM)
    return with_choices(schema, session=db.session, user=current_user, values=values)


def _render_form(values: dict, errors: dict | None = None, status: int = 200):
    return (
        render_template("approvals/new.html", schema=_form(values), values=values, errors=errors or {}),
        status,
    )


@bp.get("/applications/new")
@login_required
def new_application():
    _require_owner()
    return _render_form(
        {
            "owner_unit_id": current_user.unit_id,
            "documents": [{"kind": k} for k in ("proposal", "feasibility", "preliminary_design")],
        }
    )


@bp.post("/applications/new")
@login_required
def submit_application():
    _require_owner()
    schema = _form()
    uploaded, upload_errors = store_form_uploads()
    data = parse_submission(schema, request.form, uploaded)
    # The documents are read in the background; 上传并识别 / 用文件中的信息填写 only re-render.
    if ocr.application_post(schema=schema, data=data) or apply_row_action(schema, data, request.form):
        db.session.commit()  # the files stored meanwhile stay referenced by the data
        return _render_form(data)
    errors = {
        **validate(schema, data),
        **file_access.unreferable(session=db.session, user=current_user, data=data),
        **upload_errors,
    }
    for error in validate_application(data, session=db.session, applicant=current_user):
        errors.setdefault(error.field.replace("[", ".").replace("]", "") or "_form", error.message)
    if errors:
        db.session.commit()  # keep the files stored: the re-rendered form refers to them
        return _render_form(data, errors, 422)
    try:
        instance = service.submit_application(session=db.session, data=data, applicant=current_user)
        # Values filled from documents: extracted vs submitted, to measure accuracy in real use.
        ocr.application_submitted(schema=schema, data=data, project_code=instance.business_key)
        db.session.commit()
    except ApplicationInvalid as exc:  # taken meanwhile (e.g. the same code submitted twice)
        db.session.rollback()
        return _render_form(data, {e.field or "_form": e.message for e in exc.errors}, 422)
    flash(_("申报已提交"), "success")
    return redirect(url_for("approvals.application", code=instance.business_key))


def _open_steps(codes: list[str]) -> dict[str, list[str]]:
    steps: dict[str, list[str]] = {}
    if not codes:
        return steps
    for task in db.session.scalars(
        sa.select(HumanTask)
        .where(HumanTask.business_key.in_(codes), HumanTask.state == "open")
        .order_by(HumanTask.created_at, HumanTask.id)
    ):
        titles = steps.setdefault(task.business_key, [])
        title = task.title or task.element_id
        if title not in titles:
            titles.append(title)
    return steps


def _list_filters() -> dict[str, str]:
    """The applications list's filters (page and exports alike): status and a text in the
    project's name or code."""
    status = request.args.get("status", "").strip()
    text = request.args.get("q", "").strip()[:100]
    return {
        key: value
        for key, value in (("status", status if status in STATUS_LABELS else ""), ("q", text))
        if value
    }


def _listed(filters: dict[str, str], *, limit: int | None = None) -> list[Project]:
    """The applications the person sees: an applicant's own (those they filed or started);
    for everyone else the applications (no drafts) of their data scope (backend.authz.scope)."""
    if "owner" in (current_user.roles or []):
        me = current_user.username
        started = sa.select(ProcessInstance.business_key).where(
            ProcessInstance.started_by == me, ProcessInstance.process_key == service.PROCESS_KEY
        )
        query = sa.select(Project).where(sa.or_(Project.created_by == me, Project.code.in_(started)))
    else:
        query = sa.select(Project).where(
            project_clause(scope_of(current_user, session=db.session)), Project.status != "draft"
        )
    if filters.get("status"):
        query = query.where(Project.status == filters["status"])
    if filters.get("q"):
        like = "%" + filters["q"].replace("\\", "").replace("%", "").replace("_", "") + "%"
        query = query.where(sa.or_(Project.name.like(like), Project.code.like(like)))
    query = query.order_by(Project.created_at.desc(), Project.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def _documents_of(projects: list[Project]) -> dict[int, ApprovalDocument]:
    ids = [p.id for p in projects]
    if not ids:
        return {}
    return {
        d.project_id: d
        for d in db.session.scalars(sa.select(ApprovalDocument).where(ApprovalDocument.project_id.in_(ids)))
    }


@bp.get("/applications")
@login_required
def applications():
    filters = _list_filters()
    projects = _listed(filters)
    ids = [p.id for p in projects]
    documents = (
        {
            d.project_id: d
            for d in db.session.scalars(
                sa.select(ApprovalDocument).where(ApprovalDocument.project_id.in_(ids))
            )
        }
        if ids
        else {}
    )
    return render_template(
        "approvals/list.html",
        projects=projects,
        steps=_open_steps([p.code for p in projects]),
        documents=documents,
        status_labels=STATUS_LABELS,
        may_apply="owner" in (current_user.roles or []),
        filters=filters,
        may_export=has_permission(current_user, "export.data"),
    )


# --- exports (导出业务数据) -------------------------------------------------------------------

EXPORT_LIMIT = 10_000


def _export_headers() -> list[str]:
    return [
        _("项目代码"),
        _("项目名称"),
        _("建设单位"),
        _("行政区划"),
        _("总投资 (元)"),
        _("状态"),
        _("联系人"),
        _("联系电话"),
        _("申报时间"),
        _("批复文号"),
    ]


def _safe(value):
    """Spreadsheet formula injection: text starting with = + - @ is kept as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _export_rows(projects: list[Project]) -> list[list]:
    from backend.crypto.fields import mask
    from backend.tasks.views import shanghai_time

    documents = _documents_of(projects)
    rows = []
    for p in projects:
        document = documents.get(p.id)
        rows.append(
            [
                _safe(value)
                for value in (
                    p.code,
                    p.name,
                    p.owner_unit.name if p.owner_unit else "",
                    p.region.name if p.region else p.region_code,
                    f"{p.total_investment:.2f}" if p.total_investment is not None else "",
                    str(STATUS_LABELS.get(p.status, p.status)),
                    p.contact_name or "",
                    mask(p.contact_phone, "phone") if p.contact_phone else "",  # masked in exports
                    shanghai_time(p.created_at),
                    document.number if document else "",
                )
            ]
        )
    return rows


def _export(fmt: str):
    """The applications list the person sees, with the page's filters, audited."""
    from backend.audit import record

    filters = _list_filters()
    projects = _listed(filters, limit=EXPORT_LIMIT)
    rows = _export_rows(projects)
    record(
        "data.export",
        object_type="project",
        detail={"what": "applications", "format": fmt, "rows": len(rows), "filters": filters},
    )
    db.session.commit()
    name = f"applications-{datetime.now(ZoneInfo('Asia/Shanghai')):%Y%m%d-%H%M%S}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        out = io.StringIO()
        out.write("\ufeff")  # Excel opens UTF-8 Chinese only with the BOM
        writer = csv.writer(out)
        writer.writerow(_export_headers())
        writer.writerows(rows)
        return Response(out.getvalue().encode("utf-8"), mimetype="text/csv", headers=headers)
    from backend.audit import xlsx

    data = xlsx.workbook(_export_headers(), rows, sheet_name="applications")
    return Response(data, mimetype=xlsx.MIMETYPE, headers=headers)


@bp.get("/applications/export.csv")
@require_permission("export.data")
def export_applications_csv():
    return _export("csv")


@bp.get("/applications/export.xlsx")
@require_permission("export.data")
def export_applications_xlsx():
    return _export("xlsx")


def _may_see(project: Project) -> bool:
    if current_user.department_id is not None:
        return sees_project(current_user, project)  # data scope: their regions
    if project.created_by == current_user.username:
        return True
    return "owner" in (current_user.roles or []) and current_user.unit_id == project.owner_unit_id


@bp.get("/applications/<code>")
@login_required
def application(code):
    project = db.session.scalar(sa.select(Project).where(Project.code == code))
    if project is None:
        abort(404)
    if not _may_see(project):
        # Out of the data scope reads as not found (existence is not revealed).
        abort(403 if sees_project(current_user, project) else 404)
    documents = list(
        db.session.scalars(
            sa.select(ProjectDocument)
            .where(ProjectDocument.project_id == project.id)
            .order_by(ProjectDocument.uploaded_at, ProjectDocument.id)
        )
    )
    applicant_request = resubmission.open_request(session=db.session, project_code=project.code)
    return render_template(
        "approvals/detail.html",
        project=project,
        applicant_request=applicant_request,
        # The button to the 补正/修改 task, for whoever may handle it.
        request_link=applicant_request is not None
        and (
            applicant_request.task.assignee == current_user.username
            or applicant_request.task.candidate_group in current_user.groups
        ),
        readable_files=file_access.readable(
            session=db.session, user=current_user, hashes={d.file_sha256 for d in documents}
        ),
        status_labels=STATUS_LABELS,
        decision_labels=DECISION_LABELS,
        outcome_labels=OUTCOME_LABELS,
        department_names=service.DEPARTMENT_NAMES,
        rounds=service.rounds_of_project(session=db.session, project_id=project.id),
        opinions=service.opinions_of_project(session=db.session, project_id=project.id),
        steps=_open_steps([project.code]).get(project.code, []),
        documents=documents,
        document_kinds=DOCUMENT_KINDS,
        document=db.session.scalar(
            sa.select(ApprovalDocument).where(ApprovalDocument.project_id == project.id)
        ),
    )


# --- 会签签署: the department heads' queue ------------------------------------------------------


def sign_queue_badge() -> dict:
    """`sign_queue_count` for the navigation's 待签署 link; only heads get it."""
    if not has_request_context() or not current_user.is_authenticated or not signing.is_head(current_user):
        return {}
    return {"sign_queue_count": signing.queue_count(session=db.session, user=current_user)}


def _render_sign_queue(*, results=None, remark: str = "", error: str | None = None, status: int = 200):
    return (
        render_template(
            "approvals/sign_queue.html",
            items=signing.sign_queue(session=db.session, user=current_user),
            results=results or [],
            remark=remark,
            error=error,
            decision_labels=DECISION_LABELS,
        ),
        status,
    )


@bp.get("/sign")
@login_required
def sign_queue():
    if not signing.is_head(current_user):
        abort(403)
    return _render_sign_queue()


@bp.post("/sign")
@login_required
def batch_sign():
    """签署 one row (button `only`) or the checked rows (批量签署), all with 同意."""
    if not signing.is_head(current_user) or not has_permission(current_user, "task.work"):
        abort(403)
    remark = (request.form.get("remark") or "").strip()
    only = request.form.get("only")
    task_ids = [only] if only else request.form.getlist("task_id")
    if not task_ids:
        return _render_sign_queue(remark=remark, error=_("请先勾选要签署的事项"), status=422)
    try:
        results = signing.batch_sign(session=db.session, user=current_user, task_ids=task_ids, remark=remark)
    except signing.SignRemarkInvalid as exc:
        db.session.rollback()
        return _render_sign_queue(remark=remark, error=exc.message, status=422)
    db.session.commit()
    return _render_sign_queue(results=results, remark="" if all(r.signed for r in results) else remark)
