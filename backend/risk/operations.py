"""Operations the `risk_response` diagram's service tasks call (processes/risk_response.bpmn).

risk.dispatch sends one round (a rectification ticket to the responsible unit, or a coordination
task to a department); risk.check decides, after the round, whether the warning closes (cause
cleared and round verified), needs a new round (the cause persists at an evaluation after the
round was verified) or waits; risk.close closes it. All are safe to retry.
"""

from __future__ import annotations

from datetime import datetime

from backend.risk import warnings
from backend.risk.models import GRADES, RiskWarning
from backend.tickets import service as tickets
from backend.tickets.models import Ticket
from backend.workflow.registry import OperationContext, operation


def _warning(ctx: OperationContext, warning_id) -> RiskWarning:
    warning = ctx.session.get(RiskWarning, int(warning_id))
    if warning is None:
        raise LookupError(f"风险预警不存在: {warning_id}")
    return warning


def _parse(moment: str | None) -> datetime | None:
    return datetime.fromisoformat(moment) if moment else None


def _handled_at(session, warning: RiskWarning) -> datetime | None:
    """When the current round was verified: its ticket closed, or its coordination task done."""
    rounds = [e for e in warning.history or [] if e.get("event") in ("ticket", "coordination")]
    if not rounds:
        return None
    if rounds[-1]["event"] == "ticket":
        ticket = session.get(Ticket, warning.ticket_id) if warning.ticket_id else None
        return ticket.closed_at if ticket is not None and ticket.status == "closed" else None
    done = [e for e in warning.history if e.get("event") == "coordinated"]
    return _parse(done[-1]["at"]) if done and done[-1]["at"] >= rounds[-1]["at"] else None


@operation(
    "risk.dispatch",
    description="风险预警派单: 现场问题派整改工单至责任单位, 付款和审批延误派协调督办任务",
    params=("warning_id",),
)
def dispatch(ctx: OperationContext, *, warning_id) -> dict:
    session = ctx.session
    warning = _warning(ctx, warning_id)
    mode = warnings.dispatch_mode(warning.cause, warning.current_grade or warning.grade)
    rounds = sum(1 for e in warning.history or [] if e.get("event") in ("ticket", "coordination")) + 1
    if mode == "coordination":
        warnings._event(warning, ctx.now, "coordination", note=f"第 {rounds} 轮协调督办")
        return {"mode": mode, "round": rounds, "ticket_id": None}
    current = session.get(Ticket, warning.ticket_id) if warning.ticket_id else None
    if current is not None and current.is_open:  # a retried call: the round is already out
        return {"mode": mode, "round": rounds - 1, "ticket_id": current.id, "ticket_number": current.number}
    grade = warning.current_grade or warning.grade
    # A savepoint: when the ticket's process cannot start, the ticket row goes too, so that the
    # host's retries (and the operator's retry of the incident) do not leave a ticket each.
    with session.begin_nested():
        ticket = _raise_ticket(session, warning, grade, rounds)
    warning.ticket_id = ticket.id
    warnings._event(warning, ctx.now, "ticket", note=f"派发整改工单 {ticket.number} (第 {rounds} 轮)")
    return {"mode": mode, "round": rounds, "ticket_id": ticket.id, "ticket_number": ticket.number}


def _raise_ticket(session, warning: RiskWarning, grade: str, rounds: int) -> Ticket:
    return tickets.raise_ticket(
        session=session,
        project_id=warning.project_id,
        source="risk",
        category=warnings.TICKET_CATEGORIES.get(warning.cause, "schedule"),
        severity=warnings.TICKET_SEVERITIES.get(grade, "general"),
        description=(
            f"{GRADES.get(grade, '')}预警 ({warnings.CAUSES.get(warning.cause, warning.cause)}): {warning.title}"
            + (f"。第 {rounds} 轮派单: 上一轮整改已销号但预警原因仍在" if rounds > 1 else "")
        ),
        evidence=[],
        raised_by=warnings.SYSTEM_ACTOR,
    )


@operation(
    "risk.record_coordination",
    description="登记协调督办结果",
    params=("warning_id", "opinion"),
)
def record_coordination(ctx: OperationContext, *, warning_id, opinion: str | None = None) -> dict:
    warning = _warning(ctx, warning_id)
    by = ctx.actor or warnings.SYSTEM_ACTOR
    warnings._event(warning, ctx.now, "coordinated", by=by, note=(opinion or "").strip()[:500])
    return {"by": by, "at": ctx.now.isoformat()}


@operation(
    "risk.check",
    description="复核预警: 原因已消除且整改已销号则关闭, 整改销号后原因仍在则再派一轮",
    params=("warning_id",),
)
def check(ctx: OperationContext, *, warning_id) -> dict:
    warning = _warning(ctx, warning_id)
    if warning.status == "closed":
        return {"close": True, "redispatch": False, "cause_cleared": True, "handled": True}
    handled_at = _handled_at(ctx.session, warning)
    cleared = warning.current_grade is None
    persists = (
        not cleared
        and handled_at is not None
        and warning.evaluated_at is not None
        and warning.evaluated_at > handled_at
    )
    return {
        "close": cleared and handled_at is not None,
        "redispatch": persists,
        "cause_cleared": cleared,
        "handled": handled_at is not None,
    }


@operation("risk.close", description="预警原因已消除且整改已核验: 关闭预警", params=("warning_id",))
def close(ctx: OperationContext, *, warning_id) -> dict:
    warning = _warning(ctx, warning_id)
    if warning.status != "closed":
        warnings.close_warning(
            session=ctx.session, warning=warning, now=ctx.now, note="预警原因已消除, 整改已核验销号"
        )
    return {"closed_at": warning.closed_at.isoformat()}
