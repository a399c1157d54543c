"""Rectification tickets (整改工单): the rules.

A ticket is raised against a project, numbered ZG-<year>-<seq>, and runs the `rectification`
process (processes/rectification.bpmn): dispatched to the responsible unit, rectified with
evidence, verified by an inspector (a failed verification starts another round), reminded one
working day before its deadline and escalated to the 发改 head at the deadline. Closing it tells
the payment process of the project to re-check its release conditions.

Plain keyword-only functions over the session; none commits. The functions the diagram's
service tasks call (dispatch_ticket, record_submission, ...) are wrapped by operations.py.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from backend import jobs
from backend.contracts.models import Contract
from backend.contracts.service import hold_payment_checks
from backend.db import utcnow
from backend.projects.models import Project
from backend.tickets.errors import (
    InvalidTicketInput,
    NotATicketTask,
    TicketClosed,
    TicketError,
    TicketNotFound,
)
from backend.tickets.models import (
    BLOCKING_SEVERITIES,
    CATEGORIES,
    SEVERITIES,
    SOURCES,
    Ticket,
    TicketSequence,
)
from backend.workdays.service import end_of_day, get_calendar, local_date
from backend.workflow import registry
from backend.workflow import service as workflow
from backend.workflow.host import record
from backend.workflow.models import HumanTask, ProcessInstance

PROCESS_KEY = "rectification"
SHANGHAI = ZoneInfo("Asia/Shanghai")
# 整改期限 by severity when none is given, in working days of the official calendar.
DEFAULT_WORKING_DAYS = {"general": 10, "major": 5, "critical": 2}
ESCALATE_TO = "fgw.head"  # 发改分管领导 supervises overdue tickets
RELEASE_MESSAGE = "release_conditions_changed"  # the milestone payment process waits for it
RISK_MESSAGE = "risk_recheck"  # the risk_response process of a warning's ticket waits for it
RECTIFY_STEP, VERIFY_STEP, SUPERVISE_STEP = "rectify", "verify", "supervise"
SUPERVISION_MEASURES = {"phone": "电话督办", "interview": "约谈", "notice": "通报", "listed": "挂牌督办"}
MAX_TEXT = 2000
MAX_PHOTOS = 20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


# --- raising ------------------------------------------------------------------------------


def raise_ticket(
    *,
    session,
    project_id: int,
    source: str,
    category: str,
    severity: str,
    description: str,
    evidence: list[str],
    deadline: datetime | date | None = None,
    raised_by: str,
) -> Ticket:
    """Register a ticket, number it and start its `rectification` process, which dispatches it
    at once. `deadline` defaults by severity (一般 10, 重大 5, 特别重大 2 working days); a date
    means the end of that day in Beijing time."""
    errors: dict[str, str] = {}
    project = session.get(Project, project_id) if isinstance(project_id, int) else None
    if project is None:
        errors["project_id"] = f"项目不存在: {project_id}"
    if source not in SOURCES:
        errors["source"] = "问题来源须为: " + " / ".join(SOURCES.values())
    if category not in CATEGORIES:
        errors["category"] = "问题类别须为: " + " / ".join(CATEGORIES.values())
    if severity not in SEVERITIES:
        errors["severity"] = "严重程度须为: 一般 / 重大 / 特别重大"
    description = _text(description)
    if not description:
        errors["description"] = "请填写问题描述"
    elif len(description) > MAX_TEXT:
        errors["description"] = f"问题描述不能超过 {MAX_TEXT} 字"
    photos_problem = _photos_problem(evidence, required=False)
    if photos_problem:
        errors["evidence"] = photos_problem
    raised_by = _text(raised_by)
    if not raised_by:
        errors["raised_by"] = "缺少登记人"

    now = utcnow()
    due = None
    if deadline is not None or severity in SEVERITIES:
        due, deadline_problem = _resolve_deadline(session, now, severity, deadline)
        if deadline_problem:
            errors["deadline"] = deadline_problem
    if errors:
        raise InvalidTicketInput(errors)

    ticket = Ticket(
        number=allocate_number(session=session, year=now.astimezone(SHANGHAI).year),
        project_id=project.id,
        source=source,
        category=category,
        severity=severity,
        description=description,
        evidence=list(evidence or []),
        deadline=due,
        raised_by=raised_by,
        status="raised",
        rounds=0,
        history=[],
        created_at=now,
    )
    session.add(ticket)
    session.flush()
    instance = workflow.start_instance(
        session=session,
        process_key=PROCESS_KEY,
        business_key=project.code,
        started_by=raised_by,
        data={
            "ticket_id": ticket.id,
            "ticket_number": ticket.number,
            "project_id": project.id,
            "severity": severity,
            # Timers of the diagram count from it: `deadline`, `working_days_before(deadline, 1)`.
            "deadline": due.astimezone(SHANGHAI).isoformat(),
        },
    )
    ticket.instance_id = instance.id
    session.flush()
    return ticket


def _resolve_deadline(session, now: datetime, severity: str, deadline) -> tuple[datetime | None, str | None]:
    calendar = get_calendar(session=session)
    if deadline is None:
        return calendar.add_working_days(now, DEFAULT_WORKING_DAYS[severity]), None
    if isinstance(deadline, datetime):
        if deadline.tzinfo is None or deadline.utcoffset() is None:
            return None, "整改期限须带时区 (北京时间)"
        due = deadline.astimezone(UTC)
    elif isinstance(deadline, date):
        due = end_of_day(deadline)
    else:
        return None, "整改期限格式无效"
    if due <= now:
        return None, "整改期限已过, 请重新选择"
    reminder = calendar.deadline_minus_working_days(due, 1)
    if reminder <= now:
        # The reminder one working day before would be due already: leave the unit a working day.
        last_day = local_date(reminder - timedelta(microseconds=1))
        return None, f"整改期限过近: 期限前一个工作日 ({last_day.isoformat()}) 已过, 请至少留出一个完整工作日"
    return due, None


def allocate_number(*, session, year: int) -> str:
    """The next ZG-<year>-<seq>: one counter row per year, incremented under its row lock, so
    concurrent allocations queue and never repeat a number (the lock is held until commit)."""
    table = TicketSequence.__table__
    dialect = session.connection().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.execute(
            insert(table).values(year=year, last_seq=0).on_conflict_do_nothing(index_elements=["year"])
        )
    elif session.scalar(sa.select(table.c.year).where(table.c.year == year)) is None:
        session.execute(table.insert().values(year=year, last_seq=0))
    seq = session.execute(
        sa.update(table)
        .where(table.c.year == year)
        .values(last_seq=table.c.last_seq + 1)
        .returning(table.c.last_seq)
    ).scalar_one()
    return f"ZG-{year}-{seq:06d}"


# --- queries ------------------------------------------------------------------------------


def get_ticket(*, session, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise TicketNotFound(ticket_id)
    return ticket


def open_blocking_tickets(*, session, project_id: int) -> list[Ticket]:
    """Open major or critical tickets of a project: they block milestone payment release."""
    return list(
        session.scalars(
            sa.select(Ticket)
            .where(
                Ticket.project_id == project_id,
                Ticket.status != "closed",
                Ticket.severity.in_(BLOCKING_SEVERITIES),
            )
            .order_by(Ticket.deadline, Ticket.id)
        )
    )


def responsible_unit(*, session, project_id: int) -> tuple[int, str]:
    """Who rectifies: the contractor (乙方) of the project's most recent contract, else the
    owner unit. Returns (unit id, "contract" | "owner")."""
    contractor = session.scalar(
        sa.select(Contract.party_b_unit_id)
        .where(Contract.project_id == project_id)
        .order_by(Contract.signed_on.is_(None), Contract.signed_on.desc(), Contract.id.desc())
        .limit(1)
    )
    if contractor is not None:
        return contractor, "contract"
    return session.scalar(sa.select(Project.owner_unit_id).where(Project.id == project_id)), "owner"


# --- the people's steps (forms of the diagram's user tasks) -------------------------------


def submit_rectification(*, session, task_id: str, description: str, photos: list[str], actor: str) -> Ticket:
    """The responsible unit's 整改: what was done and photos of it, for the inspector to verify."""
    ticket = _ticket_of_task(session, task_id, RECTIFY_STEP, "整改")
    errors = _submission_problems(description, photos)
    if errors:
        raise InvalidTicketInput(errors)
    workflow.complete_task(
        session=session,
        task_id=task_id,
        data={
            "rectification_description": _text(description),
            "rectification_photos": list(photos),
            "submitted_by": actor,
        },
        actor=actor,
    )
    return ticket


def verify_rectification(*, session, task_id: str, passed: bool, opinion: str | None, actor: str) -> Ticket:
    """The inspector's 复核: pass closes the ticket, fail sends it back for another round."""
    ticket = _ticket_of_task(session, task_id, VERIFY_STEP, "复核")
    errors = _verification_problems(passed, opinion)
    if errors:
        raise InvalidTicketInput(errors)
    workflow.complete_task(
        session=session,
        task_id=task_id,
        data={"passed": passed, "verification_opinion": _text(opinion), "verified_by": actor},
        actor=actor,
    )
    return ticket


def supervise_overdue(*, session, task_id: str, opinion: str, measure: str, actor: str) -> Ticket:
    """The 发改 head's 督办 of an overdue ticket: an instruction and the measure taken."""
    ticket = _ticket_of_task(session, task_id, SUPERVISE_STEP, "督办")
    errors = _supervision_problems(opinion, measure)
    if errors:
        raise InvalidTicketInput(errors)
    workflow.complete_task(
        session=session,
        task_id=task_id,
        data={"supervision_opinion": _text(opinion), "supervision_measure": measure, "supervised_by": actor},
        actor=actor,
    )
    return ticket


def cancel_ticket(*, session, ticket_id: int, actor: str, reason: str) -> Ticket:
    """Withdraw a ticket raised in error (撤销): its process is cancelled, payments re-check."""
    ticket = get_ticket(session=session, ticket_id=ticket_id)
    if not ticket.is_open:
        raise TicketClosed(ticket.number)
    reason = _text(reason)
    if not reason:
        raise InvalidTicketInput({"reason": "请填写撤销原因"})
    if ticket.instance_id is not None:
        workflow.cancel_instance(session=session, instance_id=ticket.instance_id, actor=actor, reason=reason)
    hold_payment_checks(session=session, project_id=ticket.project_id)
    ticket.status, ticket.outcome, ticket.closed_at, ticket.cancel_reason = (
        "closed",
        "cancelled",
        utcnow(),
        reason,
    )
    _notify_payments(session, ticket, reason="ticket_cancelled", sender=ticket.instance_id)
    _notify_risk(session, ticket, sender=ticket.instance_id)
    session.flush()
    return ticket


# --- what the diagram's service tasks record (see operations.py) -------------------------


def dispatch_ticket(*, session, ticket_id: int, now: datetime) -> Ticket:
    ticket = _open_ticket(session, ticket_id)
    ticket.responsible_unit_id, ticket.dispatch_basis = responsible_unit(
        session=session, project_id=ticket.project_id
    )
    ticket.dispatched_at = now
    if ticket.status == "raised":
        ticket.status = "dispatched"
    return ticket


def record_submission(
    *, session, ticket_id: int, description: str, photos: list[str], submitted_by: str | None, now: datetime
) -> dict:
    """Start the next round with the unit's evidence; the ticket waits for verification."""
    ticket = _open_ticket(session, ticket_id)
    errors = _submission_problems(description, photos)
    if errors:
        raise InvalidTicketInput(errors)
    ticket.rounds = (ticket.rounds or 0) + 1
    entry = {
        "round": ticket.rounds,
        "description": _text(description),
        "photos": list(photos),
        "submitted_by": submitted_by,
        "submitted_at": now.isoformat(),
        "verdict": None,
        "opinion": None,
        "verified_by": None,
        "verified_at": None,
    }
    ticket.history = [*(ticket.history or []), entry]  # a new list: JSON columns track assignment
    ticket.status = "verifying"
    return {"round": ticket.rounds}


def record_verification(
    *, session, ticket_id: int, passed, opinion: str | None, verified_by: str | None, now: datetime
) -> dict:
    """The verdict on the current round; a failure puts the ticket back to rectifying."""
    ticket = _open_ticket(session, ticket_id)
    errors = _verification_problems(passed, opinion)
    if errors:
        raise InvalidTicketInput(errors)
    history = list(ticket.history or [])
    if not history or history[-1].get("verdict") is not None:
        raise TicketError(f"整改工单 {ticket.number} 没有待复核的整改材料", number=ticket.number)
    history[-1] = {
        **history[-1],
        "verdict": "passed" if passed else "failed",
        "opinion": _text(opinion),
        "verified_by": verified_by,
        "verified_at": now.isoformat(),
    }
    ticket.history = history
    ticket.inspector = verified_by or ticket.inspector
    if not passed:
        ticket.status = "rectifying"
    return {"passed": passed, "round": ticket.rounds}


def record_reminder(*, session, ticket_id: int, instance_id: int, now: datetime) -> dict:
    """One working day before the deadline: the ticket and its open tasks are marked reminded."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or not ticket.is_open:
        return {"reminded": []}
    ticket.reminded_at = now
    tasks = workflow.stamp_open_tasks(session=session, instance_id=instance_id, stamp="reminded_at", now=now)
    record(
        session,
        session.get(ProcessInstance, instance_id),
        "ticket.reminded",
        number=ticket.number,
        deadline=ticket.deadline.isoformat(),
        tasks=[t.id for t in tasks],
        candidate_groups=sorted({t.candidate_group for t in tasks if t.candidate_group}),
    )
    return {"reminded": [t.id for t in tasks]}


def mark_overdue(*, session, ticket_id: int, instance_id: int, escalated_to: str, now: datetime) -> dict:
    """At the deadline: the ticket is overdue and escalated; its open tasks are marked too."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or not ticket.is_open:
        return {"escalated": [], "to": escalated_to}
    ticket.overdue = True
    ticket.escalated_at = now
    tasks = workflow.stamp_open_tasks(
        session=session, instance_id=instance_id, stamp="escalated_at", now=now, escalated_to=escalated_to
    )
    record(
        session,
        session.get(ProcessInstance, instance_id),
        "ticket.escalated",
        number=ticket.number,
        escalated_to=escalated_to,
        tasks=[t.id for t in tasks],
    )
    registry.domain_event(
        session=session, kind="ticket.overdue", data=_overdue_event(ticket, escalated_to, now)
    )
    return {"escalated": [t.id for t in tasks], "to": escalated_to}


def _overdue_event(ticket: Ticket, escalated_to: str, now: datetime) -> dict:
    return {
        "ticket_number": ticket.number,
        "project_code": ticket.project.code,
        "severity": ticket.severity,
        "deadline": ticket.deadline.isoformat() if ticket.deadline else None,
        "escalated_to": escalated_to,
        "overdue_at": now.isoformat(),
    }


def record_supervision(
    *, session, ticket_id: int, opinion: str, measure: str, supervised_by: str | None, now: datetime
) -> dict:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise TicketNotFound(ticket_id)
    errors = _supervision_problems(opinion, measure)
    if errors:
        raise InvalidTicketInput(errors)
    ticket.supervision = {
        "opinion": _text(opinion),
        "measure": measure,
        "by": supervised_by,
        "at": now.isoformat(),
    }
    return {"measure": measure}


def close_ticket(*, session, ticket_id: int, instance_id: int, now: datetime) -> dict:
    """Verified: close it (销号) and, in the same transaction, tell the project's payment
    process to re-check its release conditions."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise TicketNotFound(ticket_id)
    if ticket.is_open:  # a retried service task must not notify twice
        # A payment check in flight either sees the ticket closed or is waiting when the
        # message arrives: never in between (see contracts.service.hold_payment_checks).
        hold_payment_checks(session=session, project_id=ticket.project_id)
        ticket.status, ticket.outcome, ticket.closed_at = "closed", "passed", now
        _notify_payments(session, ticket, reason="ticket_closed", sender=instance_id)
        _notify_risk(session, ticket, sender=instance_id)
    return {"number": ticket.number, "closed_at": ticket.closed_at.isoformat(), "rounds": ticket.rounds}


# --- internals ----------------------------------------------------------------------------


def _notify_payments(session, ticket: Ticket, *, reason: str, sender: int | None) -> None:
    jobs.enqueue(
        session=session,
        actor="workflow.deliver_message",
        payload={
            "name": RELEASE_MESSAGE,
            "payload": {"reason": reason, "ticket": ticket.number},
            "business_key": ticket.project.code,
            "sender": sender,
        },
    )


def _notify_risk(session, ticket: Ticket, *, sender: int | None) -> None:
    """A ticket of a risk warning is done: its risk_response process re-checks the warning."""
    if ticket.source != "risk":
        return
    jobs.enqueue(
        session=session,
        actor="workflow.deliver_message",
        payload={
            "name": RISK_MESSAGE,
            "payload": {"reason": "ticket_closed", "ticket": ticket.number},
            "business_key": ticket.project.code,
            "sender": sender,
        },
    )


def _open_ticket(session, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise TicketNotFound(ticket_id)
    if not ticket.is_open:
        raise TicketClosed(ticket.number)
    return ticket


def _ticket_of_task(session, task_id: str, step: str, label: str) -> Ticket:
    task = session.get(HumanTask, task_id)
    if task is None or task.process_key != PROCESS_KEY or task.element_id != step:
        raise NotATicketTask(task_id, label)
    ticket = session.scalar(sa.select(Ticket).where(Ticket.instance_id == task.instance_id))
    if ticket is None:
        raise NotATicketTask(task_id, label)
    if not ticket.is_open:
        raise TicketClosed(ticket.number)
    return ticket


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _photos_problem(photos, *, required: bool) -> str | None:
    if photos is None:
        photos = []
    if not isinstance(photos, list | tuple):
        return "照片须为文件哈希列表"
    if required and not photos:
        return "请上传至少一张整改后照片"
    if len(photos) > MAX_PHOTOS:
        return f"照片不能超过 {MAX_PHOTOS} 张"
    bad = [p for p in photos if not (isinstance(p, str) and _SHA256.match(p))]
    if bad:
        return f"照片文件哈希无效 (须为 64 位小写十六进制 SHA-256): {bad[0]!s:.80}"
    if len(set(photos)) != len(photos):
        return "照片重复"
    return None


def _submission_problems(description, photos) -> dict[str, str]:
    errors = {}
    description = _text(description)
    if not description:
        errors["description"] = "请填写整改情况说明"
    elif len(description) > MAX_TEXT:
        errors["description"] = f"整改情况说明不能超过 {MAX_TEXT} 字"
    photos_problem = _photos_problem(photos, required=True)
    if photos_problem:
        errors["photos"] = photos_problem
    return errors


def _verification_problems(passed, opinion) -> dict[str, str]:
    if not isinstance(passed, bool):
        return {"passed": "请选择复核结论: 通过或不通过"}
    if not passed and not _text(opinion):
        return {"opinion": "复核不通过时须写明整改意见"}
    if len(_text(opinion)) > MAX_TEXT:
        return {"opinion": f"复核意见不能超过 {MAX_TEXT} 字"}
    return {}


def _supervision_problems(opinion, measure) -> dict[str, str]:
    errors = {}
    if not _text(opinion):
        errors["opinion"] = "请填写督办意见"
    if measure not in SUPERVISION_MEASURES:
        errors["measure"] = "督办措施须为: " + " / ".join(SUPERVISION_MEASURES.values())
    return errors
