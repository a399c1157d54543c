"""The applicant's pages: submit a project application (项目申报) with its documents, follow
my applications, and see a project's rounds, opinions and issued 批复. Thin: the rules are in
approvals/service.py, projects/service.py and forms/."""

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from backend.approvals import service
from backend.approvals.models import ApprovalDocument
from backend.extensions import db
from backend.forms.parse import apply_row_action, parse_submission
from backend.forms.schema import load_form
from backend.forms.validate import validate
from backend.projects.models import Project, ProjectDocument
from backend.projects.service import ApplicationInvalid, validate_application
from backend.tasks.views import DOCUMENT_KINDS, store_form_uploads
from backend.workflow.models import HumanTask, ProcessInstance

bp = Blueprint("approvals", __name__, template_folder="templates")

FORM = "project_application.json"
STATUS_LABELS = {
    "draft": "草稿",
    "applying": "审批中",
    "returned": "退回补正",
    "approved": "已批复",
    "rejected": "未通过",
}
DECISION_LABELS = {
    "approved": "同意",
    "rejected": "不同意",
    "accepted": "受理",
    "returned": "退回补正",
    "resubmitted": "重新提交",
}
OUTCOME_LABELS = {"approved": "通过", "rejected": "未通过", None: "进行中"}


def _require_owner() -> None:
    if "owner" not in (current_user.roles or []):
        abort(403)


def _render_form(values: dict, errors: dict | None = None, status: int = 200):
    return (
        render_template("approvals/new.html", schema=load_form(FORM), values=values, errors=errors or {}),
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
    schema = load_form(FORM)
    uploaded, upload_errors = store_form_uploads()
    data = parse_submission(schema, request.form, uploaded)
    if apply_row_action(schema, data, request.form):
        db.session.commit()  # the files stored meanwhile stay referenced by the data
        return _render_form(data)
    errors = {**validate(schema, data), **upload_errors}
    for error in validate_application(data, session=db.session, applicant=current_user):
        errors.setdefault(error.field.replace("[", ".").replace("]", "") or "_form", error.message)
    if errors:
        db.session.commit()  # keep the files stored: the re-rendered form refers to them
        return _render_form(data, errors, 422)
    try:
        instance = service.submit_application(session=db.session, data=data, applicant=current_user)
        db.session.commit()
    except ApplicationInvalid as exc:  # taken meanwhile (e.g. the same code submitted twice)
        db.session.rollback()
        return _render_form(data, {e.field or "_form": e.message for e in exc.errors}, 422)
    flash("申报已提交", "success")
    return redirect(url_for("approvals.application", code=instance.business_key))


def _mine():
    me = current_user.username
    started = sa.select(ProcessInstance.business_key).where(
        ProcessInstance.started_by == me, ProcessInstance.process_key == service.PROCESS_KEY
    )
    return list(
        db.session.scalars(
            sa.select(Project)
            .where(sa.or_(Project.created_by == me, Project.code.in_(started)))
            .order_by(Project.created_at.desc(), Project.id.desc())
        )
    )


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


@bp.get("/applications")
@login_required
def applications():
    projects = _mine()
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
    )


def _may_see(project: Project) -> bool:
    if current_user.department_id is not None:
        return True
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
        abort(403)
    return render_template(
        "approvals/detail.html",
        project=project,
        status_labels=STATUS_LABELS,
        decision_labels=DECISION_LABELS,
        outcome_labels=OUTCOME_LABELS,
        department_names=service.DEPARTMENT_NAMES,
        rounds=service.rounds_of_project(session=db.session, project_id=project.id),
        opinions=service.opinions_of_project(session=db.session, project_id=project.id),
        steps=_open_steps([project.code]).get(project.code, []),
        documents=list(
            db.session.scalars(
                sa.select(ProjectDocument)
                .where(ProjectDocument.project_id == project.id)
                .order_by(ProjectDocument.uploaded_at, ProjectDocument.id)
            )
        ),
        document_kinds=DOCUMENT_KINDS,
        document=db.session.scalar(
            sa.select(ApprovalDocument).where(ApprovalDocument.project_id == project.id)
        ),
    )
