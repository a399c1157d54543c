"""The inbox, the task page (form, history, operations) and the notification centre.
Thin: the rules are in tasks/service.py, workflow/service.py and forms/."""

from decimal import Decimal

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    flash,
    has_request_context,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_login import current_user, login_required

from backend.approvals import resubmission
from backend.authz import require_permission
from backend.authz.scope import sees_task
from backend.db import utcnow, write_after_reading
from backend.extensions import db
from backend.files import access as file_access
from backend.files.errors import FileRefused
from backend.files.service import store
from backend.forms import store as form_store
from backend.forms.choices import with_choices
from backend.forms.errors import FormError
from backend.forms.parse import apply_row_action, parse_submission, upload_paths
from backend.forms.validate import validate
from backend.ocr import views as ocr
from backend.projects.models import Project, ProjectDocument
from backend.tasks import add_sign, drafts, service
from backend.tasks.errors import TaskActionError, TaskNotOpen
from backend.tasks.models import Delegation, TaskAction
from backend.workdays.service import SHANGHAI
from backend.workflow import service as workflow
from backend.workflow.errors import TaskAlreadyHandled, WorkflowError
from backend.workflow.models import Event, HumanTask, ProcessDefinition, ProcessInstance

bp = Blueprint("tasks", __name__, template_folder="templates")

TAB_LABELS = {
    "mine": _l("待办"),
    "group": _l("待签收"),
    "done": _l("已办"),
    "copied": _l("抄送我的"),
    "initiated": _l("我发起的"),
}
DUE_LABELS = {"on_time": _l("未到期"), "due_soon": _l("即将到期"), "overdue": _l("已超期")}
# The history's verbs (context "history"): in English they differ from the buttons' words.
EVENT_LABELS = {
    "started": lazy_pgettext("history", "发起流程"),
    "task.ready": lazy_pgettext("history", "到达"),
    "task.completed": lazy_pgettext("history", "办理"),
    "task.cancelled": lazy_pgettext("history", "取消"),
    "task.failed": lazy_pgettext("history", "执行失败"),
    "task.returned": lazy_pgettext("history", "退回"),
    "task.withdrawn": lazy_pgettext("history", "撤回"),
    "task.held": lazy_pgettext("history", "提交 (待后加签)"),
    "task.signed": lazy_pgettext("history", "加签签署"),
    "timer.fired": lazy_pgettext("history", "定时触发"),
    "message.caught": lazy_pgettext("history", "收到消息"),
    "incident.opened": lazy_pgettext("history", "出现异常"),
    "incident.resolved": lazy_pgettext("history", "异常已处理"),
    "completed": lazy_pgettext("history", "流程结束"),
    "cancelled": lazy_pgettext("history", "流程取消"),
}
ACTION_LABELS = {
    "claim": lazy_pgettext("history", "签收"),
    "unclaim": lazy_pgettext("history", "取消签收"),
    "transfer": lazy_pgettext("history", "转办"),
    "delegate": lazy_pgettext("history", "委托"),
    "delegate_return": lazy_pgettext("history", "答复委托"),
    "cc": lazy_pgettext("history", "抄送"),
    "urge": lazy_pgettext("history", "催办"),
    "add_sign": lazy_pgettext("history", "加签"),
    "remove_signer": lazy_pgettext("history", "移除加签人"),
    "sign": lazy_pgettext("history", "签署"),
}
SUBMITTED = {
    "completed": _l("办理完成"),
    "held": _l("已提交, 待后加签人签署同意后生效"),
    "signed": _l("已签署"),
}
DOCUMENT_KINDS = {
    "proposal": _l("项目建议书"),
    "feasibility": _l("可行性研究报告"),
    "preliminary_design": _l("初步设计"),
    "other": _l("其他"),
}


@bp.app_template_filter("shanghai")
def shanghai_time(moment, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An aware UTC time as Beijing time; '' for none."""
    return moment.astimezone(SHANGHAI).strftime(fmt) if moment else ""


@bp.app_template_filter("yuan")
def yuan(amount) -> str:
    """¥1,234,567.00"""
    if amount is None:
        return ""
    return f"¥{Decimal(amount).quantize(Decimal('0.01')):,}"


def unread_badge() -> dict:
    """`unread_notifications` (a count) for the base layout's badge."""
    if not has_request_context() or not current_user.is_authenticated:
        return {}
    # The notifications page's own rule: an unread one it cannot show is not counted.
    return {"unread_notifications": service.unread_count(session=db.session, user=current_user) or 0}


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not request.accept_mimetypes.accept_html


# --- inbox -----------------------------------------------------------------------------------


@bp.get("/inbox")
@login_required
def inbox():
    tab = request.args.get("tab", "mine")
    if tab not in service.TABS:
        tab = "mine"
    args = {k: (request.args.get(k) or "").strip() for k in ("process", "project", "region", "due")}
    filters = service.InboxFilters(
        process_key=args["process"] or None,
        business_key=args["project"] or None,
        region_code=args["region"] or None,
        due_state=args["due"] if args["due"] in service.DUE_STATES else None,
    )
    try:
        page = service.inbox(
            session=db.session,
            user=current_user,
            tab=tab,
            filters=filters,
            cursor=request.args.get("cursor") or None,
        )
    except TaskActionError as exc:  # a cursor that is not ours
        flash(str(exc), "warning")
        return redirect(url_for("tasks.inbox", tab=tab, **args))
    counts = service.tab_counts(session=db.session, user=current_user)
    codes = {row.task.business_key for row in page.rows if row.task.business_key}
    projects = (
        {p.code: p for p in db.session.scalars(sa.select(Project).where(Project.code.in_(codes)))}
        if codes
        else {}
    )
    processes = dict(
        db.session.execute(
            sa.select(ProcessDefinition.key, ProcessDefinition.name).order_by(ProcessDefinition.version)
        ).all()
    )
    return render_template(
        "tasks/inbox.html",
        tab=tab,
        tabs=TAB_LABELS,
        counts=counts,
        page=page,
        args=args,
        projects=projects,
        processes=processes,
        due_labels=DUE_LABELS,
    )


# --- the task page ---------------------------------------------------------------------------


def _task_or_404(task_id: str) -> HumanTask:
    task = db.session.get(HumanTask, task_id)
    if task is None:
        abort(404)
    return task


def _may_view(task: HumanTask) -> bool:
    me = current_user.username
    if me in (task.assignee, task.completed_by):
        return True
    if task.candidate_group in current_user.groups and sees_task(current_user, task):  # data scope
        return True
    # Participants of the instance and people it was copied to, whatever the data scope (what
    # was given or sent to them); heads of the department within their scope.
    return service._involved(db.session, current_user, task)


def _editable(task: HumanTask) -> bool:
    try:
        return service.can_complete(session=db.session, user=current_user, task=task)
    except TaskActionError:
        return False


def _form_file(task: HumanTask) -> dict | None:
    """The task's form as its instance was deployed with (no x-choices options yet)."""
    if not task.form:
        return None
    try:
        return form_store.for_task(session=db.session, task=task)
    except FormError as exc:
        flash(str(exc), "danger")
        return None


def _schema(task: HumanTask) -> dict | None:
    """The task's form with the options the current person may choose, to render or validate."""
    schema = _form_file(task)
    return with_choices(schema, session=db.session, user=current_user) if schema else None


def _history(task: HumanTask) -> list[dict]:
    """The instance's events and inbox operations, oldest first, with their opinions."""
    entries = []
    for event in db.session.scalars(
        sa.select(Event).where(Event.instance_id == task.instance_id).order_by(Event.at, Event.id)
    ):
        detail = event.detail or {}
        data = detail.get("data") or {}
        data = data if isinstance(data, dict) else {}
        # A head's signature decides in head_approved/head_opinion; the rest in approved/opinion.
        note = detail.get("reason") or data.get("head_opinion") or data.get("opinion")
        decision = data.get("head_approved", data.get("approved"))
        if isinstance(data, dict) and not note:
            note = data.get("revision_note")  # the applicant's 补正/修改 说明
        reasons = data.get("return_reasons") if isinstance(data, dict) else None
        entries.append(
            {
                "at": event.at,
                "actor": event.actor,
                "what": EVENT_LABELS.get(event.kind, event.kind),
                "step": detail.get("title") or event.element_id,
                "note": note,
                "decision": {True: _("同意"), False: _("不同意")}.get(decision)
                if isinstance(decision, bool)
                else None,
                "kind": event.kind,
                # 补正事项 of an intake that returned the application, and the documents given.
                "reasons": [r for r in reasons if isinstance(r, str) and r.strip()]
                if isinstance(reasons, list) and data.get("accepted") is False
                else [],
                "files": _files_of(data) if event.kind in ("started", "task.completed") else [],
            }
        )
    for action in db.session.scalars(
        sa.select(TaskAction).where(TaskAction.instance_id == task.instance_id).order_by(TaskAction.at)
    ):
        what = ACTION_LABELS.get(action.action, action.action)
        entries.append(
            {
                "at": action.at,
                "actor": action.actor,
                "what": what + (f" → {action.target_user}" if action.target_user else ""),
                "step": None,
                "note": action.reason,
                "decision": None,
                "kind": f"action.{action.action}",
            }
        )
    entries.sort(key=lambda e: e["at"])
    return entries


def _files_of(data) -> list[dict]:
    """The files form data refers to, once each: [{sha256, name}]."""
    seen, files = set(), []
    for _path, sha256, name in file_access.files_in(data):
        if sha256 not in seen:
            seen.add(sha256)
            files.append({"sha256": sha256, "name": name or sha256[:12]})
    return files


def _position(task: HumanTask) -> dict:
    """当前位置: the steps done and the steps waiting now, in words."""
    steps = list(
        db.session.scalars(
            sa.select(HumanTask)
            .where(HumanTask.instance_id == task.instance_id)
            .order_by(HumanTask.created_at, HumanTask.id)
        )
    )
    done = [s for s in steps if s.state == "completed"]
    waiting = [s for s in steps if s.state == "open"]
    return {"done": done, "waiting": waiting}


def _completed_data(task: HumanTask) -> dict:
    """What was submitted when the task was completed (shown read-only); {} otherwise."""
    if task.state != "completed":
        return {}
    event = db.session.scalar(
        sa.select(Event)
        .where(Event.task_id == task.id, Event.kind == "task.completed")
        .order_by(Event.id.desc())
        .limit(1)
    )
    data = (event.detail or {}).get("data") if event else None
    return data if isinstance(data, dict) else {}


def _read_only_inputs(task: HumanTask, schema: dict | None) -> dict:
    """The process's data for the read-only fields of an open task's form (e.g. the reviewer's
    opinion a head signs): shown as given, whatever the rest of the form was filled from."""
    from backend.forms.schema import resolve

    properties = (schema or {}).get("properties") or {}
    names = [n for n, f in properties.items() if isinstance(f, dict) and resolve(f, schema).get("readOnly")]
    if not names or task.state != "open" or task.parent_task_id is not None:
        return {}
    try:
        data = workflow.task_data(session=db.session, task_id=task.id)
    except WorkflowError:
        return {}
    return {n: data[n] for n in names if n in data}


def _render_task(task: HumanTask, *, values=None, errors=None, status: int = 200):
    me = current_user.username
    schema = _form_file(task)
    editable = _editable(task)
    # 补正/修改: the reasons go above the form, which starts from the application as last submitted.
    applicant_request = resubmission.request_of_task(session=db.session, task=task)
    if applicant_request is not None and schema is not None:
        schema = resubmission.form_schema(schema)
    if values is None:
        draft = drafts.get_draft(session=db.session, task_id=task.id, user=me) if editable else None
        if draft:
            values = draft.data
        elif applicant_request is not None:
            values = applicant_request.prefill
        else:
            values = _completed_data(task)
        if draft:
            flash(_("已恢复 %(time)s 保存的草稿", time=shanghai_time(draft.saved_at)), "info")
    values = {**values, **_read_only_inputs(task, schema)}
    if schema is not None:  # options that depend on the values shown (a unit named by id)
        schema = with_choices(schema, session=db.session, user=current_user, values=values)
    project = (
        db.session.scalar(sa.select(Project).where(Project.code == task.business_key))
        if task.business_key
        else None
    )
    documents = (
        list(db.session.scalars(sa.select(ProjectDocument).where(ProjectDocument.project_id == project.id)))
        if project
        else []
    )
    instance = db.session.get(ProcessInstance, task.instance_id)
    # 挂起: the page says so and offers no operation; only a draft can be saved.
    suspended = instance is not None and instance.state == "suspended"
    returnable = []
    if editable and not suspended:
        try:
            returnable = workflow.returnable_steps(session=db.session, task_id=task.id)
        except WorkflowError:
            returnable = []
    delegation = db.session.scalar(
        sa.select(Delegation).where(Delegation.task_id == task.id, Delegation.answered_at.is_(None))
    )
    parent = db.session.get(HumanTask, task.parent_task_id) if task.parent_task_id else None
    held = add_sign.held_decision(session=db.session, task_id=(parent or task).id)
    history = _history(task)
    shown = {d.file_sha256 for d in documents} | {f["sha256"] for e in history for f in e.get("files", [])}
    readable_files = file_access.readable(session=db.session, user=current_user, hashes=shown)
    return (
        render_template(
            "tasks/task.html",
            signers=[] if parent else add_sign.signers_of(session=db.session, task_id=task.id),
            parent=parent,
            held=held,
            # What the signer is asked to sign: the holder's held decision, shown read-only.
            parent_schema=_schema(parent) if parent else None,
            is_holder=task.state == "open" and task.assignee == me and parent is None and not suspended,
            suspended=suspended,
            sign_positions=add_sign.POSITIONS,
            task=task,
            instance=instance,
            schema=schema,
            values=values,
            errors=errors or {},
            editable=editable,
            can_claim=task.state == "open"
            and task.assignee is None
            and task.candidate_group in current_user.groups
            and not suspended,
            can_unclaim=editable and bool(task.candidate_group) and not suspended,
            can_withdraw=task.state == "completed" and task.completed_by == me and not suspended,
            answering=delegation is not None
            and delegation.delegate == me
            and task.state == "open"
            and not suspended,
            delegation=delegation,
            returnable=returnable,
            project=project,
            documents=documents,
            document_kinds=DOCUMENT_KINDS,
            readable_files=readable_files,
            applicant_request=applicant_request,
            history=history,
            position=_position(task),
        ),
        status,
    )


@bp.get("/tasks/<task_id>")
@login_required
def task_page(task_id):
    task = _task_or_404(task_id)
    if not _may_view(task):
        # Out of the data scope reads as not found (existence is not revealed).
        abort(403 if sees_task(current_user, task) else 404)
    return _render_task(task)


def store_form_uploads() -> tuple[dict, dict]:
    """Store this request's uploads: ({dotted path: [{sha256, name}]}, {dotted path: error})."""
    stored, errors = {}, {}
    for path, uploads in upload_paths(request.files).items():
        for upload in uploads:
            try:
                row = store(session=db.session, data=upload.stream, declared_name=upload.filename)
            except FileRefused as exc:
                errors[path] = str(exc)
                continue
            file_access.record_upload(
                session=db.session, sha256=row.sha256, username=current_user.username, name=upload.filename
            )
            stored.setdefault(path, []).append({"sha256": row.sha256, "name": upload.filename})
    return stored, errors


@bp.post("/tasks/<task_id>")
@require_permission("task.work")
def submit_task(task_id):
    task = _task_or_404(task_id)
    try:
        service.can_complete(session=db.session, user=current_user, task=task)
    except TaskActionError as exc:
        if _wants_json():
            return jsonify(error=str(exc)), 409 if task.state != "open" else 403
        flash(str(exc), "danger")
        if task.state != "open" or not _may_view(task):
            return redirect(url_for("tasks.inbox"))
        return redirect(url_for("tasks.task_page", task_id=task_id))
    schema = _schema(task) or {"type": "object", "properties": {}}
    uploaded, upload_errors = store_form_uploads()
    data = parse_submission(schema, request.form, uploaded)
    # 补正/修改: documents added since the last submission are read, as on the application form.
    applicant_request = resubmission.request_of_task(session=db.session, task=task)
    if (
        applicant_request is not None
        and ocr.application_post(schema=schema, data=data, submitted=applicant_request.data)
    ) or apply_row_action(schema, data, request.form):
        db.session.commit()  # uploads stored meanwhile stay referenced by the data
        return _render_task(task, values=data)
    if request.form.get("_draft"):
        drafts.save_draft(session=db.session, task_id=task.id, user=current_user.username, data=data)
        db.session.commit()
        flash(_("草稿已保存"), "success")
        return redirect(url_for("tasks.task_page", task_id=task_id))
    errors = {
        **validate(schema, data),
        **file_access.unreferable(session=db.session, user=current_user, data=data),
        **upload_errors,
    }
    if errors:
        db.session.commit()  # keep the files stored: the re-rendered form refers to them
        return _render_task(task, values=data, errors=errors, status=422)
    try:
        if task.parent_task_id is not None:
            add_sign.sign(session=db.session, user=current_user, task_id=task_id, data=data)
            outcome = "signed"
        else:
            outcome = add_sign.submit(session=db.session, user=current_user, task_id=task_id, data=data)
        if applicant_request is not None:  # values filled from documents: extracted vs submitted
            ocr.application_submitted(schema=schema, data=data, project_code=task.business_key)
        drafts.drop_drafts(session=db.session, task_id=task_id)
        db.session.commit()
    except (TaskAlreadyHandled, TaskNotOpen) as exc:
        db.session.rollback()
        if _wants_json():
            return jsonify(error=str(exc)), 409
        flash(str(exc), "warning")
        return redirect(url_for("tasks.inbox"))
    except (WorkflowError, TaskActionError) as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for("tasks.task_page", task_id=task_id))
    flash(str(SUBMITTED[outcome]), "success")
    return redirect(url_for("tasks.inbox"))


# --- operations ------------------------------------------------------------------------------


def _operate(task_id: str, action, done: str, *, back_to_inbox: bool = False):
    """Run one operation; commit and flash `done`, or roll back and flash the refusal."""
    task = _task_or_404(task_id)
    try:
        action()
        db.session.commit()
    except (TaskActionError, WorkflowError) as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        if not _may_view(task):
            return redirect(url_for("tasks.inbox"))
        return redirect(url_for("tasks.task_page", task_id=task_id))
    flash(done, "success")
    if back_to_inbox:
        return redirect(url_for("tasks.inbox"))
    return redirect(url_for("tasks.task_page", task_id=task_id))


def _field(name: str) -> str:
    return (request.form.get(name) or "").strip()


@bp.post("/tasks/<task_id>/claim")
@require_permission("task.work")
def claim(task_id):
    return _operate(
        task_id,
        lambda: service.claim(session=db.session, user=current_user, task_id=task_id),
        _("签收成功, 请办理"),
    )


@bp.post("/tasks/<task_id>/unclaim")
@require_permission("task.work")
def unclaim(task_id):
    return _operate(
        task_id,
        lambda: service.unclaim(
            session=db.session, user=current_user, task_id=task_id, reason=_field("reason") or None
        ),
        _("已取消签收, 任务退回待签收"),
        back_to_inbox=True,
    )


@bp.post("/tasks/<task_id>/return")
@require_permission("task.work")
def return_task(task_id):
    task = _task_or_404(task_id)

    def act():
        service.can_complete(session=db.session, user=current_user, task=task)
        workflow.return_task(
            session=db.session,
            task_id=task_id,
            to_task_id=_field("to_task"),
            actor=current_user.username,
            reason=_field("reason"),
        )
        drafts.drop_drafts(session=db.session, task_id=task_id)

    return _operate(task_id, act, _("已退回"), back_to_inbox=True)


@bp.post("/tasks/<task_id>/withdraw")
@require_permission("task.work")
def withdraw(task_id):
    return _operate(
        task_id,
        lambda: workflow.withdraw_task(
            session=db.session, task_id=task_id, actor=current_user.username, reason=_field("reason")
        ),
        _("已撤回, 请重新办理"),
        back_to_inbox=True,
    )


@bp.post("/tasks/<task_id>/transfer")
@require_permission("task.work")
def transfer(task_id):
    return _operate(
        task_id,
        lambda: service.transfer(
            session=db.session, user=current_user, task_id=task_id, to=_field("to"), reason=_field("reason")
        ),
        _("已转办"),
        back_to_inbox=True,
    )


@bp.post("/tasks/<task_id>/delegate")
@require_permission("task.work")
def delegate(task_id):
    return _operate(
        task_id,
        lambda: service.delegate(
            session=db.session, user=current_user, task_id=task_id, to=_field("to"), reason=_field("reason")
        ),
        _("已委托, 对方答复后任务回到您这里"),
    )


@bp.post("/tasks/<task_id>/answer")
@require_permission("task.work")
def answer(task_id):
    return _operate(
        task_id,
        lambda: service.answer_delegation(
            session=db.session, user=current_user, task_id=task_id, opinion=_field("opinion")
        ),
        _("意见已提交"),
        back_to_inbox=True,
    )


@bp.post("/tasks/<task_id>/cc")
@require_permission("task.work")
def cc(task_id):
    names = _names(_field("to"))
    return _operate(
        task_id,
        lambda: service.cc(
            session=db.session, user=current_user, task_id=task_id, to=names, note=_field("note") or None
        ),
        _("已抄送"),
    )


@bp.post("/tasks/<task_id>/urge")
@require_permission("task.work")
def urge(task_id):
    return _operate(
        task_id,
        lambda: service.urge(
            session=db.session, user=current_user, task_id=task_id, reason=_field("reason") or None
        ),
        _("已催办"),
    )


def _names(raw: str) -> list[str]:
    return [n for n in raw.replace("，", ",").replace("、", ",").replace(" ", ",").split(",") if n]


@bp.post("/tasks/<task_id>/add-sign")
@require_permission("task.work")
def add_signers(task_id):
    position = _field("position")
    return _operate(
        task_id,
        lambda: add_sign.add_signers(
            session=db.session,
            user=current_user,
            task_id=task_id,
            usernames=_names(_field("to")),
            position=position,
            reason=_field("reason"),
        ),
        _("已加签, 加签人签署后请您办理") if position == "before" else _("已加签, 您提交后由加签人签署"),
    )


@bp.post("/tasks/<task_id>/signers/<signer_task_id>/remove")
@require_permission("task.work")
def remove_signer(task_id, signer_task_id):
    return _operate(
        task_id,
        lambda: add_sign.remove_signer(
            session=db.session,
            user=current_user,
            task_id=task_id,
            signer_task_id=signer_task_id,
            reason=_field("reason") or None,
        ),
        _("已移除加签人"),
    )


# --- notifications ---------------------------------------------------------------------------


@bp.get("/notifications")
@login_required
def notifications():
    """Newest first, 20 a page; the unread ones of the page are marked read by opening it
    (and still shown as new). The count of unread ones left covers every page."""
    try:
        page = service.notification_page(
            session=db.session, user=current_user, cursor=request.args.get("cursor") or None
        )
    except TaskActionError as exc:  # a cursor that is not ours
        flash(str(exc), "warning")
        return redirect(url_for("tasks.notifications"))
    unread = {n.id for n in page.rows if n.read_at is None}
    left = page.unread
    if unread:
        write_after_reading(db.session)
        left -= service.mark_read(
            session=db.session, user=current_user, notification_ids=sorted(unread), now=utcnow()
        )
        db.session.commit()
    return render_template("tasks/notifications.html", page=page, rows=page.rows, unread=unread, left=left)


@bp.post("/notifications/read")
@login_required
def notifications_read():
    """全部标为已读: every unread notification, on whatever page it is."""
    service.mark_all_read(session=db.session, user=current_user, now=utcnow())
    db.session.commit()
    return redirect(url_for("tasks.notifications"))
