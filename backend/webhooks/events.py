"""Where the platform's facts become outbound webhook events.

- The host's `event` rows (started, completed, incident.opened): seen as they are flushed,
  so every path that records them (start, correlate, timers, retries) emits without a hook.
- User tasks: the workflow registry's task hooks.
- Domain facts (批复 issued, payment disbursed, ticket overdue): `registry.domain_event`.
"""

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from backend.webhooks import outbound
from backend.workflow import registry
from backend.workflow.models import Event, HumanTask, ProcessInstance

HOST_EVENTS = {
    "started": "instance.started",
    "completed": "instance.completed",
    "incident.opened": "incident.opened",
}
DOMAIN_EVENTS = {"approval.issued", "payment.released", "ticket.overdue"}


def install() -> None:
    if not sa_event.contains(Session, "before_flush", _before_flush):
        sa_event.listen(Session, "before_flush", _before_flush)
    registry.on_tasks_opened(_tasks_opened)
    registry.on_task_completed(_task_completed)
    registry.on_domain_event(_domain_event)


def _before_flush(session, _flush_context, _instances) -> None:
    recorded = [o for o in session.new if isinstance(o, Event) and o.kind in HOST_EVENTS]
    for row in recorded:
        instance = session.get(ProcessInstance, row.instance_id)
        data = {
            "instance_id": row.instance_id,
            "process_key": instance.process_key if instance else None,
            "business_key": instance.business_key if instance else None,
            "state": instance.state if instance else None,
            "actor": row.actor,
        }
        if row.kind == "incident.opened":
            detail = row.detail or {}
            data.update(
                incident_id=detail.get("incident_id"),
                incident_kind=detail.get("incident_kind"),
                message=detail.get("message"),
                task_id=row.task_id,
                element_id=row.element_id,
            )
        outbound.publish(session=session, event_type=HOST_EVENTS[row.kind], data=data, occurred_at=row.at)


def _task_data(task: HumanTask) -> dict:
    return {
        "task_id": task.id,
        "instance_id": task.instance_id,
        "process_key": task.process_key,
        "business_key": task.business_key,
        "element_id": task.element_id,
        "title": task.title,
        "candidate_group": task.candidate_group,
        "assignee": task.assignee,
        "due_at": task.due_at.isoformat() if task.due_at else None,
    }


def _tasks_opened(*, session, tasks, cause) -> None:
    for task in tasks:
        data = _task_data(task)
        data["cause"] = cause.kind if cause else None
        outbound.publish(session=session, event_type="task.created", data=data, occurred_at=task.created_at)


def _task_completed(*, session, task, data) -> None:
    payload = _task_data(task)
    payload.update(outcome=task.outcome, completed_by=task.completed_by)
    outbound.publish(
        session=session, event_type="task.completed", data=payload, occurred_at=task.completed_at
    )


def _domain_event(*, session, kind: str, data: dict) -> None:
    if kind in DOMAIN_EVENTS:
        outbound.publish(session=session, event_type=kind, data=data)
