"""The operations of /api/v1. Thin: the rules are in the domains' services (workflow, tasks,
approvals, forms, files); the read queries in api/service.py."""

from flask import Response, json, url_for
from flask_babel import gettext as _
from sqlalchemy.orm.exc import StaleDataError

from backend.api import schemas
from backend.api import service as queries
from backend.api.auth import Principal, Refused, forbidden_region
from backend.api.operations import MAX_ID, bad_cursor, decode_cursor, encode_cursor, operation
from backend.api.problems import problem
from backend.approvals import service as approvals
from backend.db import utcnow
from backend.extensions import db
from backend.files import access as file_access
from backend.forms import store as form_store
from backend.forms.choices import with_choices
from backend.forms.errors import FormError
from backend.forms.schema import load_form
from backend.forms.validate import validate
from backend.org.errors import RegionNotFound
from backend.org.service import descendant_codes
from backend.projects.service import ApplicationInvalid, validate_application
from backend.tasks import add_sign, drafts
from backend.tasks import service as inbox
from backend.tasks.errors import (
    NotAssignee,
    NotCandidate,
    NotInvolved,
    SignOnly,
    TaskActionError,
    TaskNotOpen,
)
from backend.workdays.service import get_calendar
from backend.workflow import service as workflow
from backend.workflow.errors import (
    ProcessNotFound,
    TaskAlreadyHandled,
    TaskNotFound,
    WorkflowError,
)
from backend.workflow.models import HumanTask, ProcessInstance

# The application form of project_approval (approvals/views.py shows the same one).
APPLICATION_FORM = "project_application.json"
# Started by a domain action (opening a milestone, raising a ticket), never with bare variables.
DOMAIN_STARTED = {
    "milestone_payment": "contracts.open_milestone",
    "rectification": "tickets.raise_ticket",
}
TAB_OF = {"todo": "mine", "candidate": "group", "done": "done", "copied": "copied", "initiated": "initiated"}
_FORBIDDEN_ACTIONS = (NotCandidate, NotAssignee, SignOnly, NotInvolved)


def _json(payload, status: int = 200, headers: dict | None = None) -> Response:
    response = Response(json.dumps(payload, ensure_ascii=False), status=status, mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _page(schema: type, rows, next_cursor: str | None) -> Response:
    return _json({"items": schema(many=True).dump(rows), "next_cursor": next_cursor})


def _after(args: dict, types: tuple[type, ...]):
    return decode_cursor(args["cursor"], types=types) if args.get("cursor") else None


def _regions(principal: Principal, requested: str | None) -> set[str] | None:
    """The regions a list is filtered to: the requested one (and those under it) if within the
    key's region, else None (the caller's scope alone bounds the list)."""
    if requested:
        principal.require_region(requested)
        try:
            return descendant_codes(session=db.session, code=requested)
        except RegionNotFound:
            raise Refused(
                problem(
                    400, _("查询参数无效"), errors={"region": [_("行政区划不存在: %(code)s", code=requested)]}
                )
            ) from None
    return None


# --- process definitions ---------------------------------------------------------------------


@operation(
    "GET",
    "/process-definitions",
    scope="processes:read",
    summary="Process definitions: the latest version of each, or every version of ?key=",
    tag="processes",
    query=schemas.ProcessDefinitionQuerySchema,
    responses={200: schemas.ProcessDefinitionPage},
)
def list_process_definitions(principal, *, args, body):
    after = _after(args, (str, int))
    rows = queries.definitions(session=db.session, key=args.get("key"), after=after, limit=args["limit"])
    last = rows.rows[-1] if rows.more else None
    return _page(
        schemas.ProcessDefinitionSchema, rows.rows, encode_cursor([last.key, last.version]) if last else None
    )


# --- instances -------------------------------------------------------------------------------


@operation(
    "POST",
    "/instances",
    scope="instances:write",
    summary="Start an instance of a process by key (project_approval: the application form's data)",
    tag="instances",
    body=schemas.StartInstanceSchema,
    responses={201: schemas.InstanceSchema, 404: None, 409: None},
)
def start_instance(principal, *, args, body):
    key, variables = body["process_key"], body["variables"]
    try:
        workflow.latest_definition(session=db.session, process_key=key)
    except ProcessNotFound:
        return problem(
            422, _("请求数据校验失败"), errors={"process_key": [_("流程不存在: %(key)s", key=key)]}
        )
    if key in DOMAIN_STARTED:
        return problem(
            422,
            _("请求数据校验失败"),
            _("该流程由业务操作启动, 不能直接启动"),
            errors={"process_key": [_("该流程由业务操作启动 (%(action)s)", action=DOMAIN_STARTED[key])]},
        )
    if key == approvals.PROCESS_KEY:
        instance = _submit_application(principal, variables)
    else:
        business_key = body.get("business_key")
        if not principal.sees_business_key(business_key):
            # A start is a write of the caller's choosing: refused, not hidden.
            raise Refused(forbidden_region())
        instance = workflow.start_instance(
            session=db.session,
            process_key=key,
            data=variables,
            business_key=business_key,
            started_by=principal.user.username,
        )
    db.session.commit()
    location = url_for("api.get_instance", instance_id=instance.id)
    return _json(schemas.InstanceSchema().dump(instance), 201, {"Location": location})


def _submit_application(principal: Principal, data: dict) -> ProcessInstance:
    """项目申报 as the applicant's page does it: the form's schema, the files the applicant may
    refer to, the application rules; then approvals.submit_application."""
    user = principal.user
    if "owner" not in (user.roles or []):
        raise Refused(problem(403, _("无权访问"), _("只有建设单位的用户可以提交项目申报")))
    region_code = data.get("region_code")
    if isinstance(region_code, str) and region_code:  # a missing one is the form's error
        principal.require_region(region_code)
    # The newest saved application form, as the applicant's page shows it.
    form = form_store.peek(session=db.session, name=APPLICATION_FORM) or load_form(APPLICATION_FORM)
    schema = with_choices(form, session=db.session, user=user, values=data)
    errors = _as_lists(
        {**validate(schema, data), **file_access.unreferable(session=db.session, user=user, data=data)}
    )
    for error in validate_application(data, session=db.session, applicant=user):
        field = error.field.replace("[", ".").replace("]", "") or "_form"
        errors.setdefault(f"variables.{field}", []).append(error.message)
    if errors:
        raise Refused(_invalid(errors))
    try:
        return approvals.submit_application(session=db.session, data=data, applicant=user)
    except ApplicationInvalid as exc:  # taken meanwhile, e.g. the same code submitted twice
        db.session.rollback()
        raise Refused(
            _invalid({f"variables.{e.field or '_form'}": [e.message] for e in exc.errors}, status=409)
        ) from None


def _as_lists(errors: dict[str, str], prefix: str = "variables") -> dict[str, list[str]]:
    return {f"{prefix}.{field}" if field else prefix: [str(message)] for field, message in errors.items()}


def _invalid(errors: dict[str, list[str]], status: int = 422):
    return problem(status, _("请求数据校验失败"), _("请检查标出的字段"), errors=errors)


@operation(
    "GET",
    "/instances",
    scope="instances:read",
    summary="Process instances the caller may see, newest first",
    tag="instances",
    query=schemas.InstanceQuerySchema,
    responses={200: schemas.InstancePage},
)
def list_instances(principal, *, args, body):
    after = _after(args, (int,))
    rows = queries.instances(
        session=db.session,
        user=principal.user,
        scope=principal.scope,
        process_key=args.get("process"),
        state=args.get("state"),
        business_key=args.get("business_key"),
        started_after=args.get("started_after"),
        started_before=args.get("started_before"),
        before_id=after[0] if after else None,
        limit=args["limit"],
    )
    cursor = encode_cursor([rows.rows[-1].id]) if rows.more else None
    return _page(schemas.InstanceSchema, rows.rows, cursor)


@operation(
    "GET",
    "/instances/<int:instance_id>",
    scope="instances:read",
    summary="One process instance with its open tasks",
    tag="instances",
    responses={200: schemas.InstanceDetailSchema},
    path_params={"instance_id": "integer"},
)
def get_instance(principal, *, args, body, instance_id):
    instance = db.session.get(ProcessInstance, instance_id) if instance_id <= MAX_ID else None
    if instance is None:
        return problem(404, _("资源不存在"), _("流程实例不存在: %(id)s", id=instance_id))
    principal.require_instance(instance, what=_("流程实例不存在: %(id)s", id=instance_id))
    if not queries.may_read_instance(session=db.session, user=principal.user, instance=instance):
        return problem(403, _("无权访问"), _("您没有参与该流程实例"))
    payload = schemas.InstanceSchema().dump(instance)
    payload["open_tasks"] = schemas.OpenTaskSchema(many=True).dump(
        queries.open_tasks(session=db.session, instance_id=instance.id)
    )
    return _json(payload)


# --- tasks -----------------------------------------------------------------------------------


def _task_payload(task: HumanTask, *, days_left=None, due_state=None) -> dict:
    payload = schemas.TaskSchema().dump(task)
    payload.update(days_left=days_left, due_state=due_state)
    return payload


def _task_with_due(task: HumanTask) -> dict:
    now = utcnow()
    calendar = get_calendar(session=db.session)
    left = inbox.days_left(calendar=calendar, due_at=task.due_at, now=now)
    state = inbox._DueBounds.at(calendar, now).state(task.due_at)  # the inbox's own rule
    return _task_payload(task, days_left=left, due_state=state)


@operation(
    "GET",
    "/tasks",
    scope="tasks:read",
    summary="The caller's inbox: todo (待办), candidate (待签收), done (已办), copied, initiated",
    tag="tasks",
    query=schemas.TaskQuerySchema,
    responses={200: schemas.TaskPage},
)
def list_tasks(principal, *, args, body):
    # The inbox applies the person's scope; a key's region narrows every tab further.
    region = args.get("region")
    if region:
        principal.require_region(region)
    elif principal.regions is not None and not principal.whole_tree:
        region = principal.region_code
    filters = inbox.InboxFilters(
        process_key=args.get("process"),
        business_key=args.get("business_key"),
        region_code=region,
        due_state=args.get("due_state"),
    )
    try:
        page = inbox.inbox(
            session=db.session,
            user=principal.user,
            tab=TAB_OF[args["tab"]],
            filters=filters,
            cursor=args.get("cursor"),
            limit=args["limit"],
        )
    except TaskActionError:  # a cursor that is not ours
        return bad_cursor()
    except RegionNotFound:
        return problem(
            400, _("查询参数无效"), errors={"region": [_("行政区划不存在: %(code)s", code=region)]}
        )
    items = [_task_payload(r.task, days_left=r.days_left, due_state=r.due_state) for r in page.rows]
    return _json({"items": items, "next_cursor": page.next_cursor})


def _task_or_problem(principal: Principal, task_id: str) -> HumanTask:
    task = db.session.get(HumanTask, task_id)
    if task is None:
        raise Refused(problem(404, _("资源不存在"), _("任务不存在: %(id)s", id=task_id)))
    principal.require_task(task, what=_("任务不存在: %(id)s", id=task_id))
    return task


def _refusal(exc: Exception):
    """A service's refusal of a task operation as a problem: 403 for who may not, 409 for
    the state of the task or its instance, 404 for a task that is gone."""
    if isinstance(exc, TaskNotFound):
        return problem(404, _("资源不存在"), str(exc))
    if isinstance(exc, _FORBIDDEN_ACTIONS):
        return problem(403, _("无权访问"), str(exc))
    if isinstance(exc, StaleDataError):
        return problem(409, _("资源状态冲突"), _("其他人刚刚修改了这个流程, 请刷新后重试"))
    return problem(409, _("资源状态冲突"), str(exc))


@operation(
    "POST",
    "/tasks/<task_id>/claim",
    scope="tasks:write",
    summary="签收: take an unclaimed task of one of the caller's groups",
    tag="tasks",
    responses={200: schemas.TaskSchema, 409: None},
    path_params={"task_id": "string"},
)
def claim_task(principal, *, args, body, task_id):
    _task_or_problem(principal, task_id)
    try:
        task = inbox.claim(session=db.session, user=principal.user, task_id=task_id)
        db.session.commit()
    except (TaskActionError, WorkflowError) as exc:
        db.session.rollback()
        return _refusal(exc)
    return _json(_task_with_due(task))


def _form_schema(task: HumanTask, principal: Principal) -> dict:
    """The schema the task page shows and validates with, with the caller's choices."""
    if not task.form:
        return {"type": "object", "properties": {}}
    try:
        schema = form_store.for_task(session=db.session, task=task)
    except FormError as exc:
        raise Refused(
            problem(409, _("资源状态冲突"), _("任务表单无法加载: %(error)s", error=str(exc)))
        ) from None
    return with_choices(schema, session=db.session, user=principal.user)


@operation(
    "POST",
    "/tasks/<task_id>/complete",
    scope="tasks:write",
    summary="Complete a task with its form data, validated against the task's JSON Schema",
    tag="tasks",
    body=schemas.CompleteTaskSchema,
    responses={200: schemas.CompletedTaskSchema, 409: None},
    path_params={"task_id": "string"},
    description="Of two concurrent completions of the same task one succeeds, the other gets 409.",
)
def complete_task(principal, *, args, body, task_id):
    task = _task_or_problem(principal, task_id)
    user = principal.user
    try:
        inbox.can_complete(session=db.session, user=user, task=task)
    except TaskActionError as exc:
        return _refusal(exc)
    data = body["data"]
    schema = _form_schema(task, principal)
    errors = {**validate(schema, data), **file_access.unreferable(session=db.session, user=user, data=data)}
    if errors:
        return _invalid(_as_lists(errors, prefix="data"))
    try:
        if task.parent_task_id is not None:
            add_sign.sign(session=db.session, user=user, task_id=task_id, data=data)
            outcome = "signed"
        else:
            outcome = add_sign.submit(session=db.session, user=user, task_id=task_id, data=data)
        drafts.drop_drafts(session=db.session, task_id=task_id)
        db.session.commit()
    except (TaskAlreadyHandled, TaskNotOpen, WorkflowError, TaskActionError, StaleDataError) as exc:
        db.session.rollback()
        return _refusal(exc)
    instance = db.session.get(ProcessInstance, task.instance_id)
    return _json(
        {"task_id": task_id, "outcome": outcome, "instance": schemas.InstanceSchema().dump(instance)}
    )


# --- messages --------------------------------------------------------------------------------


@operation(
    "POST",
    "/messages",
    scope="messages:write",
    summary="Correlate a message by name and business key and/or correlation key",
    tag="messages",
    body=schemas.MessageSchema,
    responses={200: schemas.CorrelationSchema, 404: None, 409: None},
    description="404 when no instance waits for the message and no process starts with it.",
)
def correlate_message(principal, *, args, body):
    business_key = body.get("business_key")
    scope = principal.scope
    if business_key:
        principal.require_business_key(
            business_key, what=_("没有等待该消息的流程实例: %(name)s", name=body["name"])
        )
    elif not scope.all and not (scope.whole_tree and scope.within_whole_tree):
        # Without a business key the message may reach any instance: for the whole tree only.
        return problem(403, _("无权访问"), _("限定行政区划的 API 密钥须指定业务键 (项目代码)"))
    try:
        result = workflow.correlate_message(
            session=db.session,
            name=body["name"],
            payload=body.get("payload"),
            business_key=business_key,
            correlation_key=body.get("correlation_key"),
            actor=principal.user.username,
        )
    except (WorkflowError, StaleDataError) as exc:
        db.session.rollback()
        return _refusal(exc)
    if not result.delivered_to and not result.started:
        db.session.rollback()
        return problem(404, _("资源不存在"), _("没有等待该消息的流程实例: %(name)s", name=body["name"]))
    db.session.commit()
    return _json(schemas.CorrelationSchema().dump(result))


# --- projects, contracts, payments, tickets --------------------------------------------------


@operation(
    "GET",
    "/projects",
    scope="projects:read",
    summary="Key projects",
    tag="projects",
    query=schemas.ProjectQuerySchema,
    responses={200: schemas.ProjectPage},
)
def list_projects(principal, *, args, body):
    after = _after(args, (int,))
    rows = queries.projects(
        session=db.session,
        scope=principal.scope,
        regions=_regions(principal, args.get("region")),
        status=args.get("status"),
        text=args.get("q"),
        after_id=after[0] if after else None,
        limit=args["limit"],
    )
    return _page(schemas.ProjectSchema, rows.rows, encode_cursor([rows.rows[-1].id]) if rows.more else None)


@operation(
    "GET",
    "/projects/<code>",
    scope="projects:read",
    summary="One key project by its 项目代码",
    tag="projects",
    responses={200: schemas.ProjectSchema},
    path_params={"code": "string"},
)
def get_project(principal, *, args, body, code):
    project = queries.project_by_code(session=db.session, code=code)
    if project is None:
        return problem(404, _("资源不存在"), _("项目不存在: %(code)s", code=code))
    principal.require_project(project, what=_("项目不存在: %(code)s", code=code))
    return _json(schemas.ProjectSchema().dump(project))


@operation(
    "GET",
    "/contracts",
    scope="contracts:read",
    summary="Contracts with their payment schedules",
    tag="contracts",
    query=schemas.ContractQuerySchema,
    responses={200: schemas.ContractPage},
)
def list_contracts(principal, *, args, body):
    after = _after(args, (int,))
    rows = queries.contracts(
        session=db.session,
        scope=principal.scope,
        regions=_regions(principal, args.get("region")),
        project_code=args.get("project"),
        after_id=after[0] if after else None,
        limit=args["limit"],
    )
    return _page(schemas.ContractSchema, rows.rows, encode_cursor([rows.rows[-1].id]) if rows.more else None)


@operation(
    "GET",
    "/payments",
    scope="contracts:read",
    summary="Payments of contracts' milestones",
    tag="contracts",
    query=schemas.PaymentQuerySchema,
    responses={200: schemas.PaymentPage},
)
def list_payments(principal, *, args, body):
    after = _after(args, (int,))
    rows = queries.payments(
        session=db.session,
        scope=principal.scope,
        regions=_regions(principal, args.get("region")),
        project_code=args.get("project"),
        contract_number=args.get("contract"),
        state=args.get("state"),
        after_id=after[0] if after else None,
        limit=args["limit"],
    )
    last = rows.rows[-1] if rows.more else None
    return _page(schemas.PaymentSchema, rows.rows, encode_cursor([last.id]) if last else None)


@operation(
    "GET",
    "/tickets",
    scope="tickets:read",
    summary="Rectification tickets (整改工单)",
    tag="tickets",
    query=schemas.TicketQuerySchema,
    responses={200: schemas.TicketPage},
)
def list_tickets(principal, *, args, body):
    after = _after(args, (int,))
    rows = queries.tickets(
        session=db.session,
        scope=principal.scope,
        regions=_regions(principal, args.get("region")),
        project_code=args.get("project"),
        status=args.get("status"),
        severity=args.get("severity"),
        overdue=args.get("overdue"),
        after_id=after[0] if after else None,
        limit=args["limit"],
    )
    return _page(schemas.TicketSchema, rows.rows, encode_cursor([rows.rows[-1].id]) if rows.more else None)
