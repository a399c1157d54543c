"""Raising tickets: validation, default deadlines, numbering (also under concurrency),
what blocks payments, withdrawal, and the checks on the people's steps."""

from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from backend.jobs.models import OutboxJob
from backend.tickets import service
from backend.tickets.errors import InvalidTicketInput, NotATicketTask, TicketClosed
from backend.tickets.models import Ticket
from backend.workflow.errors import TaskAlreadyHandled
from backend.workflow.models import HumanTask, ProcessInstance
from tests.concurrency import race
from tests.tickets.conftest import PHOTO_A, open_task, raise_at, submit, utc, verify

MONDAY = utc(2026, 3, 2, 2, 0)  # 10:00 in Beijing


def _raise(session, project, **overrides):
    values = {
        "project_id": project.id,
        "source": "inspection",
        "category": "quality",
        "severity": "general",
        "description": "混凝土养护不到位",
        "evidence": [PHOTO_A],
        "raised_by": "inspector",
    } | overrides
    return service.raise_ticket(session=session, **values)


def _count(session, model) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.mark.parametrize(
    ("severity", "deadline"),
    [
        ("general", utc(2026, 3, 16, 16, 0)),  # 10 working days: end of Mon 16 March
        ("major", utc(2026, 3, 9, 16, 0)),  # 5: end of Mon 9 March
        ("critical", utc(2026, 3, 4, 16, 0)),  # 2: end of Wed 4 March
    ],
)
def test_default_deadline_by_severity_in_working_days(session, deployed, org, severity, deadline):
    ticket = raise_at(session, MONDAY, org.project, severity=severity)
    assert ticket.deadline == deadline


def test_a_given_deadline_is_kept_and_a_date_means_the_end_of_that_day(session, deployed, org):
    exact = datetime.fromisoformat("2026-03-20T17:30:00+08:00")
    assert raise_at(session, MONDAY, org.project, deadline=exact).deadline == utc(2026, 3, 20, 9, 30)
    by_date = raise_at(session, MONDAY, org.project, deadline=date(2026, 3, 20))
    assert by_date.deadline == utc(2026, 3, 20, 16, 0)


def test_numbers_count_per_year_in_beijing_time(session, deployed, org):
    numbers = [raise_at(session, MONDAY + timedelta(minutes=i), org.project).number for i in range(3)]
    assert numbers == ["ZG-2026-000001", "ZG-2026-000002", "ZG-2026-000003"]
    # 31 December 2025, 16:30 UTC is already 1 January 2026 in Beijing.
    assert raise_at(session, utc(2025, 12, 31, 16, 30), org.project).number == "ZG-2026-000004"
    assert raise_at(session, utc(2025, 12, 31, 15, 30), org.project).number == "ZG-2025-000001"


def test_concurrent_raises_get_distinct_numbers(app, session, deployed, org):
    project_id = org.project.id
    session.rollback()  # end our read transaction (on SQLite it would hold the write lock)
    count = 4

    def raise_one(i):
        return lambda s: (
            service.raise_ticket(
                session=s,
                project_id=project_id,
                source="manual",
                category="other",
                severity="general",
                description=f"并发登记 {i}",
                evidence=[],
                raised_by=f"user{i}",
            ).number
        )

    with time_machine.travel(MONDAY, tick=False):
        results = race(app, [raise_one(i) for i in range(count)])
    assert sorted(results) == [f"ZG-2026-{n:06d}" for n in range(1, count + 1)]
    assert _count(session, Ticket) == count


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"project_id": 999999}, "project_id", "项目不存在"),
        ({"source": "rumour"}, "source", "问题来源须为"),
        ({"category": "weather"}, "category", "问题类别须为"),
        ({"severity": "minor"}, "severity", "严重程度须为"),
        ({"description": "   "}, "description", "请填写问题描述"),
        ({"description": "问" * 2001}, "description", "不能超过 2000 字"),
        ({"evidence": ["not-a-hash"]}, "evidence", "照片文件哈希无效"),
        ({"evidence": [PHOTO_A, PHOTO_A]}, "evidence", "照片重复"),
        ({"raised_by": ""}, "raised_by", "缺少登记人"),
        ({"deadline": datetime(2026, 3, 20, 18, 0)}, "deadline", "须带时区"),
        ({"deadline": utc(2026, 3, 1, 0, 0)}, "deadline", "整改期限已过"),
        # Due at 17:00 today: the working day before it (Friday) is over, no reminder possible.
        ({"deadline": utc(2026, 3, 2, 9, 0)}, "deadline", "整改期限过近"),
    ],
)
def test_invalid_input_is_refused_with_chinese_messages_and_nothing_written(
    session, deployed, org, overrides, field, message
):
    with time_machine.travel(MONDAY, tick=False), pytest.raises(InvalidTicketInput) as refused:
        _raise(session, org.project, **overrides)
    assert list(refused.value.errors) == [field]
    assert message in refused.value.errors[field]
    assert message in str(refused.value)
    session.rollback()
    assert _count(session, Ticket) == 0 and _count(session, ProcessInstance) == 0


def test_every_problem_is_reported_at_once(session, deployed, org):
    with time_machine.travel(MONDAY, tick=False), pytest.raises(InvalidTicketInput) as refused:
        _raise(session, org.project, source="x", severity="x", description="", raised_by=None)
    assert set(refused.value.errors) == {"source", "severity", "description", "raised_by"}


def test_a_deadline_one_working_day_ahead_is_accepted(session, deployed, org):
    # Friday 6 March 10:00: the end of Monday 9 March leaves Friday for the reminder.
    friday = utc(2026, 3, 6, 2, 0)
    ticket = raise_at(session, friday, org.project, deadline=date(2026, 3, 9))
    assert ticket.deadline == utc(2026, 3, 9, 16, 0)
    with time_machine.travel(friday, tick=False), pytest.raises(InvalidTicketInput) as refused:
        _raise(session, org.project, deadline=date(2026, 3, 6))  # due tonight: no working day left
    assert "整改期限过近" in refused.value.errors["deadline"]


def test_open_blocking_tickets_are_open_major_or_critical_of_the_project(session, deployed, org):
    general = raise_at(session, MONDAY, org.project, severity="general")
    major = raise_at(session, MONDAY, org.project, severity="major")
    critical = raise_at(session, MONDAY, org.project, severity="critical")
    closed_major = raise_at(session, MONDAY, org.project, severity="major")
    raise_at(session, MONDAY, org.other_project, severity="critical")
    submit(session, closed_major, MONDAY + timedelta(hours=1))
    verify(session, closed_major, MONDAY + timedelta(hours=2), passed=True)

    blocking = service.open_blocking_tickets(session=session, project_id=org.project.id)
    # Soonest deadline first: critical (2 working days) before major (5).
    assert [t.id for t in blocking] == [critical.id, major.id]
    assert general.id not in [t.id for t in blocking]


def test_cancelling_withdraws_the_process_and_notifies_payments(session, deployed, org):
    ticket = raise_at(session, MONDAY, org.project, severity="critical")
    with time_machine.travel(MONDAY + timedelta(hours=1), tick=False):
        with pytest.raises(InvalidTicketInput):
            service.cancel_ticket(session=session, ticket_id=ticket.id, actor="fgw_head", reason=" ")
        service.cancel_ticket(session=session, ticket_id=ticket.id, actor="fgw_head", reason="重复登记")
        session.commit()

    session.expire_all()
    ticket = session.get(Ticket, ticket.id)
    assert (ticket.status, ticket.outcome, ticket.cancel_reason) == ("closed", "cancelled", "重复登记")
    assert ticket.closed_at == MONDAY + timedelta(hours=1)
    assert session.get(ProcessInstance, ticket.instance_id).state == "cancelled"
    assert session.scalars(sa.select(HumanTask.state).filter_by(instance_id=ticket.instance_id)).all() == [
        "cancelled"
    ]
    assert service.open_blocking_tickets(session=session, project_id=org.project.id) == []
    (job,) = session.scalars(sa.select(OutboxJob).filter_by(actor="workflow.deliver_message")).all()
    assert job.payload["payload"] == {"reason": "ticket_cancelled", "ticket": ticket.number}
    with pytest.raises(TicketClosed):
        service.cancel_ticket(session=session, ticket_id=ticket.id, actor="fgw_head", reason="再次撤销")


def test_submission_and_verification_are_checked_before_the_task_completes(session, deployed, org):
    ticket = raise_at(session, MONDAY, org.project)
    rectify = open_task(session, ticket, "rectify")
    with pytest.raises(InvalidTicketInput) as refused:
        service.submit_rectification(
            session=session, task_id=rectify.id, description="", photos=[], actor="contractor"
        )
    assert set(refused.value.errors) == {"description", "photos"}
    assert "至少一张" in refused.value.errors["photos"]
    with pytest.raises(NotATicketTask):
        service.verify_rectification(
            session=session, task_id=rectify.id, passed=True, opinion="", actor="inspector"
        )
    session.rollback()
    assert open_task(session, ticket, "rectify").id == rectify.id  # still with the unit

    submit(session, ticket, MONDAY + timedelta(hours=1))
    task = open_task(session, ticket, "verify")
    with pytest.raises(InvalidTicketInput) as refused:
        service.verify_rectification(
            session=session, task_id=task.id, passed=False, opinion=" ", actor="inspector"
        )
    assert "须写明整改意见" in refused.value.errors["opinion"]
    with pytest.raises(InvalidTicketInput):
        service.verify_rectification(
            session=session, task_id=task.id, passed="yes", opinion="", actor="inspector"
        )
    session.rollback()
    assert session.get(Ticket, ticket.id).status == "verifying"

    verify(session, ticket, MONDAY + timedelta(hours=2), passed=True)
    with pytest.raises(TicketClosed):  # the same task clicked again after closure
        service.verify_rectification(
            session=session, task_id=task.id, passed=True, opinion="", actor="inspector"
        )


def test_a_second_click_on_a_submitted_rectification_is_refused(session, deployed, org):
    ticket = raise_at(session, MONDAY, org.project)
    rectify = open_task(session, ticket, "rectify")
    submit(session, ticket, MONDAY + timedelta(hours=1))
    with pytest.raises(TaskAlreadyHandled):
        service.submit_rectification(
            session=session, task_id=rectify.id, description="再次提交", photos=[PHOTO_A], actor="contractor"
        )
    session.rollback()
    assert session.get(Ticket, ticket.id).rounds == 1
