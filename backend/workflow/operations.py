"""Operations the workflow host itself offers to diagrams: reminders and escalations.

A time limit in a diagram is a pair of non-interrupting boundary timers on the user task:
the reminder calls `tasks.remind`, the limit calls `tasks.escalate`. The task stays with its
reviewer; it is marked, and its history says so.
"""

from backend.workflow.host import record
from backend.workflow.models import ProcessInstance
from backend.workflow.registry import OperationContext, operation
from backend.workflow.service import stamp_open_tasks


def _mark_open_tasks(
    ctx: OperationContext, element: str, *, stamp: str, kind: str, escalated_to: str | None = None
) -> list[str]:
    """Stamp the element's open tasks (reminded_at / escalated_at) and record it in history;
    stamping tells the people concerned (registry.on_tasks_marked)."""
    tasks = stamp_open_tasks(
        session=ctx.session,
        instance_id=ctx.instance_id,
        stamp=stamp,
        now=ctx.now,
        element_id=element,
        escalated_to=escalated_to,
    )
    detail = {"escalated_to": escalated_to} if stamp == "escalated_at" else {}
    instance = ctx.session.get(ProcessInstance, ctx.instance_id)
    for task in tasks:
        record(
            ctx.session,
            instance,
            kind,
            task_id=task.id,
            element_id=element,
            assignee=task.assignee,
            candidate_group=task.candidate_group,
            **detail,
        )
    return [t.id for t in tasks]


@operation(
    "tasks.remind",
    description="办理时限到期前提醒 (mark the open tasks of an element as reminded)",
    params=("element",),
)
def remind(ctx: OperationContext, *, element: str) -> dict:
    return {"reminded": _mark_open_tasks(ctx, element, stamp="reminded_at", kind="task.reminded")}


@operation(
    "tasks.escalate",
    description="超过办理时限: 标记逾期并提交分管领导督办 (mark overdue, escalate)",
    params=("element", "to"),
)
def escalate(ctx: OperationContext, *, element: str, to: str | None = None) -> dict:
    escalated = _mark_open_tasks(ctx, element, stamp="escalated_at", kind="task.escalated", escalated_to=to)
    return {"escalated": escalated, "to": to}
