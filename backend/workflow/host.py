"""The host side of one engine run: lock, load, run, save, and write the projections.

Every action on an instance goes through `locked_run`: the row lock is taken first
(PostgreSQL SELECT ... FOR UPDATE; on SQLite the unit of work began with BEGIN IMMEDIATE),
state is loaded fresh, and `save` writes state and projections in the same transaction.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm.exc import StaleDataError

from backend import jobs
from backend.crypto import variables
from backend.db import utcnow
from backend.engine import ProcessRun, TaskFailure
from backend.engine.sandbox import SandboxEnvironment
from backend.workdays.service import get_calendar, script_helpers
from backend.workflow import live_runs, registry
from backend.workflow.countersign import countersign_result
from backend.workflow.errors import ConcurrentModification, InstanceNotFound
from backend.workflow.models import (
    Event,
    HumanTask,
    Incident,
    MessageWait,
    ProcessDefinition,
    ProcessInstance,
    Timer,
)

log = logging.getLogger("backend.workflow")
SHANGHAI = ZoneInfo("Asia/Shanghai")

HELPER_NAMES = (
    "working_days_from_now",
    "working_days_after",
    "working_days_before",
    "working_days_between",
    "is_workday",
    "now_iso",
    "countersign_result",
)

# Specs are immutable per version: keep their JSON, never live spec objects (the engine
# mutates specs at run time, so each run restores its own).
_spec_cache: dict[int, str] = {}


@dataclass
class HostContext:
    session: object
    calendar: object
    environment: SandboxEnvironment
    actor: str | None = None
    now: datetime = field(default_factory=utcnow)


def host_context(session, *, actor: str | None = None) -> HostContext:
    calendar = get_calendar(session=session)
    helpers = script_helpers(calendar, utcnow)
    helpers["now_iso"] = lambda: utcnow().astimezone(SHANGHAI).isoformat()
    helpers["countersign_result"] = countersign_result
    environment = SandboxEnvironment(
        helpers=helpers, time_limit=current_app.config["SCRIPT_TIME_LIMIT_SECONDS"]
    )
    return HostContext(session=session, calendar=calendar, environment=environment, actor=actor)


def clear_spec_cache() -> None:
    """Only for tests that empty the tables; definition rows are never updated or deleted."""
    _spec_cache.clear()


def spec_json(session, definition_id: int) -> str:
    cached = _spec_cache.get(definition_id)
    if cached is None:
        cached = session.scalar(sa.select(ProcessDefinition.spec_json).filter_by(id=definition_id))
        _spec_cache[definition_id] = cached
    return cached


def lock_instance(session, instance_id: int) -> ProcessInstance:
    stmt = (
        sa.select(ProcessInstance)
        .filter_by(id=instance_id)
        .execution_options(populate_existing=True)
        .with_for_update(of=ProcessInstance)
    )
    instance = session.scalar(stmt)
    if instance is None:
        raise InstanceNotFound(instance_id)
    return instance


def new_run(ctx: HostContext, instance: ProcessInstance, data: dict) -> ProcessRun:
    run = ProcessRun.new(
        spec_json(ctx.session, instance.definition_id),
        data,
        environment=ctx.environment,
        services=_service_caller(ctx, instance),
    )
    # A new instance has no rows yet: the first save need not read any (4 queries fewer).
    run.memo.update(new=True, open_task_ids=set(), timer=None, message_waits=set())
    return run


def read_run(ctx: HostContext, instance: ProcessInstance) -> ProcessRun:
    """The instance's workflow for questions only (nothing of it is saved): loaded once per
    session and lock_version, so a page asking several things (task data, returnable steps)
    restores it once, not once per question."""
    memo = ctx.session.info.setdefault("read_runs", {})
    hit = memo.get(instance.id)
    if hit is not None and hit[0] == instance.lock_version:
        return hit[1]
    run = load_run(ctx, instance)
    memo[instance.id] = (instance.lock_version, run)
    return run


def load_run(ctx: HostContext, instance: ProcessInstance) -> ProcessRun:
    """The instance's workflow: the live one this process kept after its last commit when
    it is still current (same lock_version), else restored from the stored state."""
    services = _service_caller(ctx, instance)
    run = live_runs.take(instance.id, instance.lock_version)
    if run is not None:
        run.rebind(environment=ctx.environment, services=services)
        return run
    state_json = instance.state_json
    return ProcessRun.restore(
        spec_json(ctx.session, instance.definition_id),
        state_json,
        environment=ctx.environment,
        services=services,
        transform=variables.reveal_state if variables.state_has_tokens(state_json) else None,
    )


def _service_caller(ctx: HostContext, instance: ProcessInstance):
    def call(operation: str, params: dict, data: dict):
        context = registry.OperationContext(
            session=ctx.session,
            instance_id=instance.id,
            process_key=instance.process_key,
            business_key=instance.business_key,
            data=data,
            now=ctx.now,
            actor=ctx.actor,
        )
        return registry.call(operation, params, context)

    return call


def record(
    session, instance: ProcessInstance, kind: str, *, task_id=None, element_id=None, actor=None, **detail
):
    session.add(
        Event(
            instance_id=instance.id,
            kind=kind,
            task_id=task_id,
            element_id=element_id,
            actor=actor,
            detail=json_safe(detail),
        )
    )
    log.info(
        kind, extra={"instance_id": instance.id, "task_id": task_id, "element_id": element_id, "actor": actor}
    )


def json_safe(value):
    """Task data may hold Decimal and dates; history and job payloads are plain JSON."""
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def save(
    ctx: HostContext,
    instance: ProcessInstance,
    run: ProcessRun,
    failures: list[TaskFailure],
    *,
    attempt: int = 1,
    actor: str | None = None,
    closed: frozenset[str] = frozenset(),
    cause: registry.OpenCause | None = None,
) -> None:
    """Write state and every projection; the caller's unit of work commits them together.
    `closed`: the user tasks this action itself completed; `cause`: why tasks reopen (退回, 撤回)."""
    session = ctx.session
    snapshot = run.snapshot()
    instance.state_json = run.dump(lambda state: variables.protect_state(state, session=session))
    instance.updated_at = ctx.now
    opened = _sync_human_tasks(ctx, instance, run, snapshot, closed)
    _sync_timer(session, instance, run, snapshot)
    _sync_message_waits(ctx, instance, run, snapshot)
    for message in run.take_thrown_messages():
        jobs.enqueue(
            session=session,
            actor="workflow.deliver_message",
            payload=json_safe(
                {
                    "name": message.name,
                    "payload": message.payload,
                    "correlations": message.correlations,
                    "business_key": instance.business_key,
                    "sender": instance.id,
                }
            ),
        )
    for failure in failures:
        _handle_failure(ctx, instance, failure, attempt=attempt)

    if snapshot.completed and instance.state in ("running", "incident"):
        instance.state = "completed"
        instance.completed_at = ctx.now
        record(session, instance, "completed", actor=actor)
    elif instance.state == "running" and _is_stuck(snapshot):
        _open_incident(
            session, instance, kind="stuck", message="流程实例停滞: 没有待办任务、没有等待的定时器或消息"
        )
    try:
        session.flush()
    except StaleDataError as exc:
        raise ConcurrentModification(instance.id) from exc
    if opened:
        for listener in registry.tasks_opened_listeners():
            listener(session=session, tasks=opened, cause=cause)
    run.memo.pop("new", None)
    live_runs.keep_after_commit(session, instance, run)


def _is_stuck(snapshot) -> bool:
    return not snapshot.ready_task_ids and not snapshot.has_waiting_events and not snapshot.errored_tasks


def _sync_human_tasks(
    ctx: HostContext, instance: ProcessInstance, run: ProcessRun, snapshot, closed: frozenset[str]
) -> list[HumanTask]:
    """Insert rows for new READY tasks and cancel rows whose task vanished. `closed` are the
    tasks this action itself closed (completed); the open set a kept live run remembers
    spares the query."""
    session = ctx.session
    ready = set(snapshot.ready_task_ids)
    known = run.memo.get("open_task_ids")
    if known is not None:
        open_ids = known - closed
    else:
        open_ids = (
            set(
                session.scalars(
                    sa.select(HumanTask.id).filter_by(
                        instance_id=instance.id, state="open", parent_task_id=None
                    )
                ).all()
            )
            - closed
        )
    run.memo["open_task_ids"] = ready
    gone = open_ids - ready
    if gone:
        # A boundary timer removed them, or a rejection cancelled the branch: close, never dangle.
        session.execute(
            sa.update(HumanTask)
            .where(HumanTask.id.in_(gone), HumanTask.state == "open")
            .values(state="cancelled", completed_at=ctx.now)
        )
        for task_id in gone:
            record(session, instance, "task.cancelled", task_id=task_id)
    if gone or closed:
        # Added signers (加签) of a task that is no longer open have nothing left to sign.
        session.execute(
            sa.update(HumanTask)
            .where(
                HumanTask.parent_task_id.in_(sorted(gone | closed)),
                HumanTask.state.in_(("open", "waiting")),
            )
            .values(state="cancelled", completed_at=ctx.now)
        )
    new_ids = ready - open_ids
    # A task id can come back (a retried or reset task): update its old row instead.
    existing = (
        {r.id: r for r in session.scalars(sa.select(HumanTask).where(HumanTask.id.in_(new_ids)))}
        if new_ids and not run.memo.get("new")
        else {}
    )
    opened: list[HumanTask] = []
    for task_id in new_ids:
        task = run.describe_user_task(task_id)
        props = task.properties
        values = dict(
            instance_id=instance.id,
            process_key=instance.process_key,
            business_key=instance.business_key,
            element_id=task.element_id,
            title=task.title,
            lane=task.lane,
            candidate_group=_evaluate_property(ctx, task, "candidateGroupExpression")
            or props.get("candidateGroups")
            or task.lane,
            assignee=_evaluate_property(ctx, task, "assignee"),
            form=props.get("formJsonSchemaFilename"),
            multi_instance_parent=task.multi_instance_parent,
            multi_instance_total=task.instance_count,
            item=json_safe(task.item),
            properties=props,
            due_at=_due_at(ctx, props, task),
            created_at=ctx.now,
            state="open",
            outcome=None,
            reminded_at=None,
            escalated_at=None,
            completed_at=None,
            completed_by=None,
        )
        if task_id in existing:
            row = existing[task_id]
            for name, value in values.items():
                setattr(row, name, value)
        else:
            row = HumanTask(id=task_id, **values)
            session.add(row)
        opened.append(row)
        record(session, instance, "task.ready", task_id=task_id, element_id=task.element_id, title=task.title)
    return opened


def _evaluate_property(ctx: HostContext, task, name: str) -> str | None:
    """A data-dependent assignment (assignee, candidate group) evaluated in the sandbox."""
    source = task.properties.get(name)
    if not source:
        return None
    context = dict(task.data)
    if task.item is not None:
        context.setdefault("item", task.item)
    try:
        value = ctx.environment.evaluate(source, context)
    except Exception as exc:  # unresolvable: the task falls back to its static group or lane
        log.warning(
            "task property expression failed",
            extra={"task_id": task.task_id, "property": name, "error": str(exc)},
        )
        return None
    return str(value) if value not in (None, "") else None


def _due_at(ctx: HostContext, props: dict, task=None) -> datetime | None:
    # timeLimitWorkingDaysExpression (e.g. a setting handed over as a variable) wins over the
    # static timeLimitWorkingDays, which stays the fallback when the expression fails.
    limit = (
        _evaluate_property(ctx, task, "timeLimitWorkingDaysExpression") if task is not None else None
    ) or props.get("timeLimitWorkingDays")
    if not limit:
        return None
    try:
        days = int(limit)
    except ValueError:
        return None
    return ctx.calendar.add_working_days(ctx.now, days)


def _sync_timer(session, instance: ProcessInstance, run: ProcessRun, snapshot) -> None:
    timers = sorted(snapshot.waiting_timers, key=lambda t: t.due_at)
    wanted = (timers[0].due_at, timers[0].element_id) if timers else None
    if "timer" in run.memo and run.memo["timer"] == wanted:
        return  # a kept live run knows what the row holds: nothing to read or write
    run.memo["timer"] = wanted
    row = None if run.memo.get("new") else session.get(Timer, instance.id)
    if wanted is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(Timer(instance_id=instance.id, due_at=wanted[0], element_id=wanted[1]))
    elif (row.due_at, row.element_id) != wanted:
        row.due_at, row.element_id = wanted


def _sync_message_waits(ctx: HostContext, instance: ProcessInstance, run: ProcessRun, snapshot) -> None:
    session = ctx.session
    wanted = {(m.name, m.element_id): m for m in snapshot.waiting_messages}
    if run.memo.get("message_waits") == wanted.keys():
        return
    run.memo["message_waits"] = set(wanted)
    rows = (
        []
        if run.memo.get("new")
        else session.scalars(sa.select(MessageWait).filter_by(instance_id=instance.id)).all()
    )
    have = {(r.name, r.element_id): r for r in rows}
    for key, row in have.items():
        if key not in wanted:
            session.delete(row)
    for name, element_id in wanted.keys() - have.keys():
        message = wanted[(name, element_id)]
        session.add(
            MessageWait(
                instance_id=instance.id,
                name=name,
                element_id=element_id,
                business_key=instance.business_key,
                correlation_key=_correlation_key(ctx, message),
            )
        )


def _correlation_key(ctx: HostContext, message) -> str | None:
    source = message.properties.get("correlation")
    if not source:
        return None
    try:
        value = ctx.environment.evaluate(source, dict(message.data))
    except Exception as exc:  # an unresolvable key leaves the wait correlatable by business key only
        log.warning("correlation expression failed", extra={"task_id": message.task_id, "error": str(exc)})
        return None
    return None if value is None else str(value)


def _handle_failure(
    ctx: HostContext, instance: ProcessInstance, failure: TaskFailure, *, attempt: int
) -> None:
    session = ctx.session
    record(
        session,
        instance,
        "task.failed",
        task_id=failure.task_id,
        element_id=failure.element_id,
        error=f"{failure.error_type}: {failure.message}",
        operation=failure.operation,
        attempt=attempt,
    )
    retries = current_app.config["SERVICE_TASK_RETRIES"]
    if failure.retryable and attempt <= retries:
        delay = current_app.config["SERVICE_TASK_BACKOFF_SECONDS"] * (2 ** (attempt - 1))
        jobs.enqueue(
            session=session,
            actor="workflow.retry_task",
            payload={"instance_id": instance.id, "task_id": failure.task_id, "attempt": attempt + 1},
            delay_seconds=delay,
            idempotency_key=f"retry:{failure.task_id}:{attempt + 1}",
        )
        return
    _open_incident(
        session,
        instance,
        kind="task_error",
        task_id=failure.task_id,
        element_id=failure.element_id,
        operation=failure.operation,
        error_type=failure.error_type,
        message=failure.message,
        stack=failure.stack,
        attempts=attempt,
    )


def _open_incident(session, instance: ProcessInstance, *, kind: str, message: str, **fields) -> Incident:
    existing = None
    if fields.get("task_id"):
        existing = session.scalar(
            sa.select(Incident).filter_by(instance_id=instance.id, task_id=fields["task_id"], state="open")
        )
    if existing is not None:
        existing.message = message
        existing.attempts = fields.get("attempts", existing.attempts)
        existing.error_type = fields.get("error_type", existing.error_type)
        existing.stack = fields.get("stack", existing.stack)
        incident = existing
    else:
        incident = Incident(instance_id=instance.id, kind=kind, message=message, **fields)
        session.add(incident)
        session.flush()
        record(
            session,
            instance,
            "incident.opened",
            task_id=fields.get("task_id"),
            element_id=fields.get("element_id"),
            incident_id=incident.id,
            incident_kind=kind,
            message=message,
        )
    if instance.state == "running":
        instance.state = "incident"
    return incident
