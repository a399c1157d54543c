"""Actions on process instances: start, complete, correlate, fire timers, retry, cancel.

Plain keyword-only functions over the session; none commits. The caller (request, job,
CLI command) is the unit of work and commits at its edge.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from backend import jobs
from backend.db import utcnow
from backend.engine import SERIALIZER_VERSION, CannotGoBack, TaskNotReady
from backend.workflow import countersign, registry
from backend.workflow.errors import (
    CannotReturn,
    CannotWithdraw,
    IncidentNotFound,
    InstanceNotActive,
    InstanceNotFound,
    InstanceSuspended,
    NotAnEngineTask,
    ProcessNotFound,
    ReasonRequired,
    TaskAlreadyHandled,
    TaskNotFound,
    VariableNotEditable,
)
from backend.workflow.host import (
    host_context,
    json_safe,
    load_run,
    lock_instance,
    log,
    new_run,
    read_run,
    record,
    save,
)
from backend.workflow.models import (
    Event,
    HumanTask,
    Incident,
    MessageWait,
    ProcessDefinition,
    ProcessInstance,
    Timer,
)


def latest_definition(*, session, process_key: str) -> ProcessDefinition:
    definition = session.scalar(
        sa.select(ProcessDefinition)
        .filter_by(key=process_key)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    )
    if definition is None:
        raise ProcessNotFound(process_key)
    return definition


def start_instance(
    *,
    session,
    process_key: str,
    data: dict[str, Any] | None = None,
    business_key: str | None = None,
    started_by: str | None = None,
) -> ProcessInstance:
    """Start the latest version; the instance stays on that version for life."""
    definition = latest_definition(session=session, process_key=process_key)
    return _start(
        session=session,
        definition=definition,
        data=data or {},
        business_key=business_key,
        started_by=started_by,
    )


def _start(*, session, definition, data, business_key, started_by, message=None) -> ProcessInstance:
    ctx = host_context(session, actor=started_by)
    instance = ProcessInstance(
        definition_id=definition.id,
        process_key=definition.key,
        business_key=business_key,
        state="running",
        state_json="{}",
        serializer_version=SERIALIZER_VERSION,
        started_by=started_by,
        started_at=ctx.now,
        updated_at=ctx.now,
    )
    session.add(instance)
    session.flush()
    record(session, instance, "started", actor=started_by, version=definition.version, data=data)
    run = new_run(ctx, instance, data)
    failures = run.run()
    if message is not None:
        name, payload = message
        run.send_message(name, payload)
        record(session, instance, "message.caught", name=name, payload=payload)
        failures += run.run()
    save(ctx, instance, run, failures, actor=started_by)
    return instance


def complete_task(*, session, task_id: str, data: dict[str, Any], actor: str | None) -> ProcessInstance:
    """Complete a user task with its form data. Exactly one of two concurrent completions wins."""
    # Locks the instance, then re-reads the task: the other click may have committed meanwhile.
    task, instance = _lock_open_task(session, task_id)
    ctx = host_context(session, actor=actor)
    run = load_run(ctx, instance)
    outcome = _outcome(data.get(task.properties.get("decisionField", "approved")))
    # The engine merges and mutates what it is given: never the caller's objects.
    engine_data = copy.deepcopy(data)
    if task.multi_instance_parent and task.properties.get("countersign"):
        engine_data["countersign"] = _countersign_tally(session, task, outcome)
    # Close the task and write its history first: service tasks that run next in this same
    # engine pass (e.g. recording the opinion) see the decision.
    task.state, task.completed_at, task.completed_by, task.outcome = "completed", ctx.now, actor, outcome
    record(
        session,
        instance,
        "task.completed",
        task_id=task_id,
        element_id=task.element_id,
        actor=actor,
        title=task.title,
        data=data,
    )
    for listener in registry.task_completed_listeners():
        listener(session=session, task=task, data=data)
    session.flush()
    try:
        failures = run.complete_user_task(task_id, engine_data, output=copy.deepcopy(data))
    except TaskNotReady:
        raise TaskAlreadyHandled(task_id) from None
    save(ctx, instance, run, failures, actor=actor, closed=frozenset({task_id}))
    return instance


def _outcome(decision) -> str | None:
    if decision is True or decision in ("approved", "approve", "同意"):
        return "approved"
    if decision is False or decision in ("rejected", "reject", "不同意"):
        return "rejected"
    return None


def _countersign_tally(session, task: HumanTask, outcome: str | None) -> dict:
    """The running tally of a countersign step including this vote (see countersign.py)."""
    votes = session.execute(
        sa.select(HumanTask.outcome, sa.func.count())
        .filter_by(multi_instance_parent=task.multi_instance_parent, state="completed")
        .group_by(HumanTask.outcome)
    ).all()
    counts = {o: n for o, n in votes}
    approved = counts.get("approved", 0) + (outcome == "approved")
    rejected = counts.get("rejected", 0) + (outcome == "rejected")
    return countersign.tally(
        task.properties["countersign"],
        approved=approved,
        rejected=rejected,
        total=task.multi_instance_total or approved + rejected,
    )


def returnable_steps(*, session, task_id: str) -> list[HumanTask]:
    """The earlier user steps a ready task may be returned to (退回), nearest first."""
    task = _open_task(session, task_id)
    run = read_run(host_context(session), session.get(ProcessInstance, task.instance_id))
    ids = run.earlier_user_tasks(task_id)
    rows = {r.id: r for r in session.scalars(sa.select(HumanTask).where(HumanTask.id.in_(ids)))}
    return [rows[i] for i in ids if i in rows]


def task_data(*, session, task_id: str) -> dict[str, Any]:
    """What the engine hands an open user task (its form starts from it), as plain JSON."""
    task = _open_task(session, task_id)
    run = read_run(host_context(session), session.get(ProcessInstance, task.instance_id))
    try:
        return json_safe(run.describe_user_task(task_id).data)
    except TaskNotReady:
        raise TaskAlreadyHandled(task_id) from None


def return_task(*, session, task_id: str, to_task_id: str, actor: str, reason: str) -> ProcessInstance:
    """退回: send the instance back from this open task to an earlier user step, with reasons;
    the flow continues from there and the history keeps every step."""
    if not (reason or "").strip():
        raise ReasonRequired()
    task, instance = _lock_open_task(session, task_id)
    ctx = host_context(session, actor=actor)
    run = load_run(ctx, instance)
    target = session.get(HumanTask, to_task_id)
    returned = {"by": actor, "reason": reason.strip(), "from": task.element_id, "at": ctx.now.isoformat()}
    try:
        failures = run.return_to(task_id, to_task_id, {"returned": returned})
    except (CannotGoBack, TaskNotReady):
        raise CannotReturn(task_id) from None
    task.state, task.outcome, task.completed_at, task.completed_by = "cancelled", "returned", ctx.now, actor
    record(
        session,
        instance,
        "task.returned",
        task_id=task_id,
        element_id=task.element_id,
        actor=actor,
        reason=reason.strip(),
        to_task=to_task_id,
        to_element=target.element_id if target else None,
    )
    cause = registry.OpenCause("returned", actor=actor, reason=reason.strip())
    save(ctx, instance, run, failures, actor=actor, closed=frozenset({task_id}), cause=cause)
    return instance


def withdraw_task(*, session, task_id: str, actor: str, reason: str) -> ProcessInstance:
    """撤回: the person who completed a step takes it back while nobody after them has acted."""
    if not (reason or "").strip():
        raise ReasonRequired()
    task = session.get(HumanTask, task_id)
    if task is None:
        raise TaskNotFound(task_id)
    if task.parent_task_id is not None:
        raise NotAnEngineTask(task_id)
    if task.state != "completed" or task.completed_by != actor:
        raise CannotWithdraw(task_id, "只能撤回本人办理的任务")
    instance = lock_instance(session, task.instance_id)
    refuse_if_suspended(instance)
    ctx = host_context(session, actor=actor)
    run = load_run(ctx, instance)
    try:
        failures = run.withdraw(task_id, {"withdrawn": {"by": actor, "reason": reason.strip()}})
    except CannotGoBack:
        raise CannotWithdraw(task_id) from None
    record(
        session,
        instance,
        "task.withdrawn",
        task_id=task_id,
        element_id=task.element_id,
        actor=actor,
        reason=reason.strip(),
    )
    cause = registry.OpenCause("withdrawn", actor=actor, reason=reason.strip())
    save(ctx, instance, run, failures, actor=actor, cause=cause)
    task = session.get(HumanTask, task_id)
    task.assignee = actor  # back on the desk of whoever withdrew it
    return instance


def stamp_open_tasks(
    *,
    session,
    instance_id: int,
    stamp: str,
    now: datetime,
    element_id: str | None = None,
    escalated_to: str | None = None,
) -> list[HumanTask]:
    """Mark an instance's open tasks (or one element's) as reminded or escalated: the tasks
    stay with their assignees; the inbox shows the mark and the marked-tasks listeners tell
    people (`escalated_to`: the group or username an escalation goes to). Returns them,
    oldest first."""
    if stamp not in ("reminded_at", "escalated_at"):
        raise ValueError(stamp)
    query = (
        sa.select(HumanTask).filter_by(instance_id=instance_id, state="open").order_by(HumanTask.created_at)
    )
    if element_id is not None:
        query = query.filter_by(element_id=element_id)
    tasks = list(session.scalars(query))
    for task in tasks:
        setattr(task, stamp, now)
    if tasks:
        mark = "reminded" if stamp == "reminded_at" else "escalated"
        for listener in registry.tasks_marked_listeners():
            listener(session=session, tasks=tasks, mark=mark, escalated_to=escalated_to, now=now)
    return tasks


def _open_task(session, task_id: str) -> HumanTask:
    task = session.get(HumanTask, task_id)
    if task is None:
        raise TaskNotFound(task_id)
    if task.state != "open":
        raise TaskAlreadyHandled(task_id)
    if task.parent_task_id is not None:
        raise NotAnEngineTask(task_id)
    return task


def _lock_open_task(session, task_id: str) -> tuple[HumanTask, ProcessInstance]:
    instance_id = session.scalar(sa.select(HumanTask.instance_id).filter_by(id=task_id))
    if instance_id is None:
        raise TaskNotFound(task_id)
    instance = lock_instance(session, instance_id)
    task = session.scalar(
        sa.select(HumanTask).filter_by(id=task_id).execution_options(populate_existing=True)
    )
    if task.state != "open":
        raise TaskAlreadyHandled(task_id)
    if task.parent_task_id is not None:
        raise NotAnEngineTask(task_id)
    refuse_if_suspended(instance)
    if instance.state not in ("running", "incident"):
        raise InstanceNotActive(instance.id, instance.state)
    return task, instance


def refuse_if_suspended(instance: ProcessInstance) -> None:
    """挂起 stops every task operation (complete, 退回, 撤回, 签收, 转办, 委托, 加签 ...) until
    resumed; drafts may still be saved. The one check all of them call."""
    if instance.state == "suspended":
        raise InstanceSuspended(instance.id)


@dataclass
class Correlation:
    delivered_to: list[int] = field(default_factory=list)
    started: list[int] = field(default_factory=list)


def correlate_message(
    *,
    session,
    name: str,
    payload: Any = None,
    business_key: str | None = None,
    correlation_key: str | None = None,
    start_business_key: str | None = None,
    actor: str | None = None,
) -> Correlation:
    """Deliver `name` to the instances waiting for it (narrowed by business key and/or the
    catch event's correlation key when given) and start the processes whose start event
    waits for it."""
    result = Correlation()
    waits = (
        sa.select(MessageWait.instance_id).filter_by(name=name).distinct().order_by(MessageWait.instance_id)
    )
    if business_key is not None:
        waits = waits.filter_by(business_key=business_key)
    if correlation_key is not None:
        waits = waits.filter_by(correlation_key=str(correlation_key))
    for instance_id in session.scalars(waits).all():
        instance = lock_instance(session, instance_id)
        if instance.state == "suspended":
            # The wait stays: the sender may send again after the operator resumes.
            log.warning("message %s not delivered: instance %s is suspended", name, instance.id)
            continue
        if instance.state not in ("running", "incident"):
            continue
        ctx = host_context(session, actor=actor)
        run = load_run(ctx, instance)
        if not run.send_message(name, payload):
            continue  # the wait ended between our query and the lock
        record(session, instance, "message.caught", actor=actor, name=name, payload=json_safe(payload))
        save(ctx, instance, run, run.run(), actor=actor)
        result.delivered_to.append(instance.id)

    starters = session.scalars(
        sa.select(ProcessDefinition).order_by(ProcessDefinition.key, ProcessDefinition.version.desc())
    ).all()
    latest: dict[str, ProcessDefinition] = {}
    for definition in starters:
        latest.setdefault(definition.key, definition)
    for definition in latest.values():
        if name in (definition.message_starts or []):
            instance = _start(
                session=session,
                definition=definition,
                data={},
                business_key=start_business_key or business_key,
                started_by=actor,
                message=(name, payload),
            )
            result.started.append(instance.id)
    return result


def fire_timers(*, session, instance_id: int) -> bool:
    """Fire whatever is due on one instance. Returns False when nothing was due (yet)."""
    instance = lock_instance(session, instance_id)
    if instance.state not in ("running", "incident"):
        return False
    timer = session.get(Timer, instance_id)
    # The engine fires a timer once its due time has passed (due < now), not at the instant.
    if timer is None or timer.due_at >= utcnow():
        return False
    ctx = host_context(session, actor="scheduler")
    run = load_run(ctx, instance)
    due = [t for t in run.waiting_timers() if t.due_at < ctx.now]
    failures = run.fire_due_timers()
    for fired in due:
        record(
            session,
            instance,
            "timer.fired",
            task_id=fired.task_id,
            element_id=fired.element_id,
            due_at=fired.due_at.isoformat(),
        )
    save(ctx, instance, run, failures)
    return True


def schedule_due_timers(*, session, now: datetime | None = None, limit: int = 1000) -> int:
    """Hand every due instance to a worker. A timer that came due while the platform was
    down is simply overdue: the first scan after start-up fires it."""
    now = now or utcnow()
    due = session.execute(
        sa.select(Timer.instance_id, Timer.due_at)
        .join(ProcessInstance, ProcessInstance.id == Timer.instance_id)
        .where(Timer.due_at < now, ProcessInstance.state != "suspended")
        .order_by(Timer.due_at)
        .limit(limit)
    ).all()
    for instance_id, due_at in due:
        jobs.enqueue(
            session=session,
            actor="workflow.fire_timers",
            payload={"instance_id": instance_id},
            idempotency_key=f"timer:{instance_id}:{due_at.isoformat()}",
        )
    return len(due)


def retry_task(*, session, instance_id: int, task_id: str, attempt: int, actor: str | None = None) -> None:
    """Run a failed task again (the job system's automatic retry, or an operator's)."""
    instance = lock_instance(session, instance_id)
    if instance.state not in ("running", "incident"):
        return
    ctx = host_context(session, actor=actor)
    run = load_run(ctx, instance)
    try:
        failures = run.retry_task(task_id)
    except TaskNotReady:
        return  # already retried successfully by someone else
    record(session, instance, "task.retried", task_id=task_id, actor=actor, attempt=attempt)
    if not any(f.task_id == task_id for f in failures):
        _resolve_incidents(session, instance, task_id=task_id, actor=actor)
    save(ctx, instance, run, failures, attempt=attempt, actor=actor)


def retry_incident(*, session, incident_id: int, actor: str) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None or incident.state != "open":
        raise IncidentNotFound(incident_id)
    refuse_if_suspended(session.get(ProcessInstance, incident.instance_id))
    if incident.kind == "task_error" and incident.task_id:
        retry_task(
            session=session,
            instance_id=incident.instance_id,
            task_id=incident.task_id,
            attempt=incident.attempts + 1,
            actor=actor,
        )
    else:
        instance = lock_instance(session, incident.instance_id)
        ctx = host_context(session, actor=actor)
        run = load_run(ctx, instance)
        _resolve_incidents(session, instance, task_id=None, actor=actor)
        save(ctx, instance, run, run.run(), actor=actor)
    return incident


def _resolve_incidents(session, instance: ProcessInstance, *, task_id: str | None, actor: str | None) -> None:
    query = sa.select(Incident).filter_by(instance_id=instance.id, state="open")
    if task_id is not None:
        query = query.filter_by(task_id=task_id)
    for incident in session.scalars(query).all():
        incident.state, incident.resolved_at, incident.resolved_by = "resolved", utcnow(), actor
        record(
            session,
            instance,
            "incident.resolved",
            task_id=incident.task_id,
            actor=actor,
            incident_id=incident.id,
        )
    session.flush()
    still_open = session.scalar(
        sa.select(sa.func.count()).select_from(Incident).filter_by(instance_id=instance.id, state="open")
    )
    if instance.state == "incident" and not still_open:
        instance.state = "running"


def cancel_instance(*, session, instance_id: int, actor: str, reason: str) -> ProcessInstance:
    instance = lock_instance(session, instance_id)
    if instance.state in ("completed", "cancelled"):
        raise InstanceNotActive(instance.id, instance.state)
    ctx = host_context(session, actor=actor)
    run = load_run(ctx, instance)
    run.cancel()
    instance.state = "cancelled"
    instance.completed_at = ctx.now
    record(session, instance, "cancelled", actor=actor, reason=reason)
    save(ctx, instance, run, [], actor=actor)
    return instance


# -- operator repair (the cockpit) ---------------------------------------------------


def suspend_instance(*, session, instance_id: int, actor: str, reason: str) -> ProcessInstance:
    """挂起: timers do not fire, tasks cannot be completed and messages are not delivered
    until resumed. The engine state is untouched."""
    if not (reason or "").strip():
        raise ReasonRequired()
    instance = lock_instance(session, instance_id)
    if instance.state not in ("running", "incident"):
        raise InstanceNotActive(instance.id, instance.state)
    previous = instance.state
    instance.state, instance.updated_at = "suspended", utcnow()
    record(session, instance, "suspended", actor=actor, reason=reason.strip(), previous=previous)
    session.flush()
    return instance


def resume_instance(*, session, instance_id: int, actor: str, reason: str = "") -> ProcessInstance:
    """恢复: back to running (or incident while an incident is open); a timer that came due
    meanwhile fires on the scheduler's next scan."""
    instance = lock_instance(session, instance_id)
    if instance.state != "suspended":
        raise InstanceNotActive(instance.id, instance.state)
    open_incidents = session.scalar(
        sa.select(sa.func.count()).select_from(Incident).filter_by(instance_id=instance.id, state="open")
    )
    instance.state = "incident" if open_incidents else "running"
    instance.updated_at = utcnow()
    record(session, instance, "resumed", actor=actor, reason=(reason or "").strip(), state=instance.state)
    _requeue_skipped_retries(session, instance)
    session.flush()
    return instance


def _requeue_skipped_retries(session, instance: ProcessInstance) -> None:
    """An automatic retry that came due while suspended did nothing (retry_task skips a
    suspended instance): a failed task without an open incident gets its retry again."""
    run = load_run(host_context(session), instance)
    with_incident = set(
        session.scalars(sa.select(Incident.task_id).filter_by(instance_id=instance.id, state="open"))
    )
    for task_id in run.errored_tasks():
        if task_id in with_incident:
            continue
        failed = session.scalar(
            sa.select(sa.func.count())
            .select_from(Event)
            .filter_by(instance_id=instance.id, task_id=task_id, kind="task.failed")
        )
        jobs.enqueue(
            session=session,
            actor="workflow.retry_task",
            payload={"instance_id": instance.id, "task_id": task_id, "attempt": failed + 1},
            idempotency_key=f"resume-retry:{task_id}:{failed + 1}:{instance.lock_version}",
        )


def inspect_instance(*, session, instance_id: int) -> dict[str, Any]:
    """Read-only look into the engine: top-level data (plain JSON), every waiting timer
    (the timer table keeps only the next one) and the elements passed (service and script
    tasks, gateways, events leave no history row of their own)."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is None:
        raise InstanceNotFound(instance_id)
    run = read_run(host_context(session), instance)
    timers = [] if instance.state in ("completed", "cancelled") else run.waiting_timers()
    return {
        "variables": json_safe(run.variables()),
        "completed_elements": sorted(e for e, state in run.task_states().items() if state == "COMPLETED"),
        "timers": sorted(
            ({"element_id": t.element_id, "due_at": t.due_at} for t in timers), key=lambda t: t["due_at"]
        ),
    }


def instance_variables(*, session, instance_id: int) -> dict[str, Any]:
    """Read-only: the instance's current top-level data, as plain JSON."""
    return inspect_instance(session=session, instance_id=instance_id)["variables"]


def set_instance_variable(
    *, session, instance_id: int, name: str, value: Any, actor: str, reason: str
) -> ProcessInstance:
    """Operator repair: change one top-level variable, with a reason; the history keeps the
    old and the new value."""
    if not (reason or "").strip():
        raise ReasonRequired()
    name = (name or "").strip()
    if not name.isidentifier():
        raise VariableNotEditable(instance_id, "变量名须为字母、数字或下划线组成的标识符")
    instance = lock_instance(session, instance_id)
    if instance.state in ("completed", "cancelled"):
        raise InstanceNotActive(instance.id, instance.state)
    ctx = host_context(session, actor=actor)
    run = load_run(ctx, instance)
    old = run.set_variable(name, copy.deepcopy(value))
    record(
        session,
        instance,
        "variable.changed",
        actor=actor,
        name=name,
        old=old,
        new=value,
        reason=reason.strip(),
    )
    save(ctx, instance, run, [], actor=actor)
    return instance
