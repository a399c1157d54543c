"""Operations the `rectification` diagram's service tasks call (processes/rectification.bpmn).

Each records one step of the ticket in the engine's unit of work. They check their input
before they write anything: a failing service task is retried, and a retry must not find a
half-recorded step.
"""

import sqlalchemy as sa

from backend.tickets import service
from backend.workflow.models import HumanTask
from backend.workflow.registry import OperationContext, operation


def _person(ctx: OperationContext, given: str | None, element: str) -> str | None:
    """Who completed the step: the form's actor (set by the ticket services), else the user
    whose completion is running this engine pass, else who completed the step's last task."""
    if given:
        return given
    if ctx.actor:
        return ctx.actor
    return ctx.session.scalar(
        sa.select(HumanTask.completed_by)
        .filter_by(instance_id=ctx.instance_id, element_id=element, state="completed")
        .order_by(HumanTask.completed_at.desc())
        .limit(1)
    )


@operation(
    "tickets.dispatch", description="自动派单: 项目最近合同的施工单位, 否则建设单位", params=("ticket_id",)
)
def dispatch(ctx: OperationContext, *, ticket_id: int) -> int:
    """Returns the responsible unit's id (the rectify task's candidate group is unit.<id>)."""
    ticket = service.dispatch_ticket(session=ctx.session, ticket_id=ticket_id, now=ctx.now)
    return ticket.responsible_unit_id


@operation(
    "tickets.record_submission",
    description="登记整改材料, 开始新一轮复核",
    params=("ticket_id", "description", "photos", "submitted_by"),
)
def record_submission(
    ctx: OperationContext, *, ticket_id: int, description: str, photos: list, submitted_by: str | None = None
) -> dict:
    return service.record_submission(
        session=ctx.session,
        ticket_id=ticket_id,
        description=description,
        photos=photos,
        submitted_by=_person(ctx, submitted_by, service.RECTIFY_STEP),
        now=ctx.now,
    )


@operation(
    "tickets.record_verification",
    description="登记复核结论 (通过 / 退回整改)",
    params=("ticket_id", "passed", "opinion", "verified_by"),
)
def record_verification(
    ctx: OperationContext,
    *,
    ticket_id: int,
    passed,
    opinion: str | None = None,
    verified_by: str | None = None,
) -> dict:
    return service.record_verification(
        session=ctx.session,
        ticket_id=ticket_id,
        passed=passed,
        opinion=opinion,
        verified_by=_person(ctx, verified_by, service.VERIFY_STEP),
        now=ctx.now,
    )


@operation("tickets.remind", description="整改期限前一个工作日提醒", params=("ticket_id",))
def remind(ctx: OperationContext, *, ticket_id: int) -> dict:
    return service.record_reminder(
        session=ctx.session, ticket_id=ticket_id, instance_id=ctx.instance_id, now=ctx.now
    )


@operation(
    "tickets.mark_overdue",
    description="整改期限届满: 标记逾期并升级至分管领导督办",
    params=("ticket_id", "escalated_to"),
)
def mark_overdue(ctx: OperationContext, *, ticket_id: int, escalated_to: str = service.ESCALATE_TO) -> dict:
    return service.mark_overdue(
        session=ctx.session,
        ticket_id=ticket_id,
        instance_id=ctx.instance_id,
        escalated_to=escalated_to,
        now=ctx.now,
    )


@operation(
    "tickets.record_supervision",
    description="登记分管领导督办意见",
    params=("ticket_id", "opinion", "measure", "supervised_by"),
)
def record_supervision(
    ctx: OperationContext, *, ticket_id: int, opinion: str, measure: str, supervised_by: str | None = None
) -> dict:
    return service.record_supervision(
        session=ctx.session,
        ticket_id=ticket_id,
        opinion=opinion,
        measure=measure,
        supervised_by=_person(ctx, supervised_by, service.SUPERVISE_STEP),
        now=ctx.now,
    )


@operation(
    "tickets.close", description="复核通过, 整改销号并通知付款流程重新核验放款条件", params=("ticket_id",)
)
def close(ctx: OperationContext, *, ticket_id: int) -> dict:
    return service.close_ticket(
        session=ctx.session, ticket_id=ticket_id, instance_id=ctx.instance_id, now=ctx.now
    )
