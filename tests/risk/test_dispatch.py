# ruff: noqa: F811  (the `world` fixture is imported from w_fixtures and requested by name)
"""From warning to closure (issue 9): an orange or red warning dispatches one risk_response
process; it sends one rectification ticket (or a coordination task), and the warning closes
only when its cause has cleared AND its ticket is verified. Time is frozen; the scheduler and
jobs run deterministically."""

from dataclasses import replace
from datetime import timedelta

import sqlalchemy as sa
import time_machine

from backend import jobs
from backend.projects.models import Project
from backend.risk import warnings
from backend.tickets import service as tickets
from backend.workflow import service as workflow
from backend.workflow.models import Event, HumanTask, ProcessInstance
from tests.concurrency import race
from tests.risk.w_fixtures import (  # noqa: F401  (fixtures)
    MONDAY,
    all_warnings,
    evaluate_at,
    quiet,
    risk_tickets,
    run_scheduler_at,
    utc,
    world,
)

PHOTO = "b" * 64
DAY = timedelta(days=1)
ORANGE_MILESTONE = {"overdue_milestones": (("主体结构封顶", 20),)}


def _open_task(session, instance_id: int, element: str) -> HumanTask | None:
    return session.scalar(
        sa.select(HumanTask).filter_by(instance_id=instance_id, element_id=element, state="open")
    )


def _rectify_and_verify(session, ticket, moment, *, passed=True):
    with time_machine.travel(moment, tick=False):
        task = _open_task(session, ticket.instance_id, "rectify")
        tickets.submit_rectification(
            session=session,
            task_id=task.id,
            description="已增加作业班组, 抢回工期",
            photos=[PHOTO],
            actor="contractor",
        )
        session.commit()
        jobs.drain()
    with time_machine.travel(moment + timedelta(hours=1), tick=False):
        task = _open_task(session, ticket.instance_id, "verify")
        tickets.verify_rectification(
            session=session,
            task_id=task.id,
            passed=passed,
            opinion="" if passed else "仍滞后",
            actor="inspector",
        )
        session.commit()
        jobs.drain()
    session.expire_all()


def test_orange_warning_dispatches_exactly_one_ticket(session, world):
    evaluate_at(session, world.project, MONDAY, **ORANGE_MILESTONE)
    evaluate_at(session, world.project, MONDAY + DAY, **ORANGE_MILESTONE)

    [warning] = all_warnings(session)
    [ticket] = risk_tickets(session)
    assert (warning.cause, warning.grade, warning.status) == ("milestone_overdue", "orange", "dispatched")
    assert warning.ticket_id == ticket.id and warning.dispatched_at == MONDAY
    assert (ticket.category, ticket.severity, ticket.project_id) == ("schedule", "general", world.project.id)
    assert "里程碑“主体结构封顶”已逾期 20 天" in ticket.description
    # The ticket runs its own process and went to the responsible unit.
    assert _open_task(session, ticket.instance_id, "rectify").candidate_group == f"unit.{world.owner.id}"
    instance = session.get(ProcessInstance, warning.instance_id)
    assert (instance.process_key, instance.business_key, instance.state) == (
        "risk_response",
        world.project.code,
        "running",
    )
    assert (
        session.scalar(
            sa.select(sa.func.count()).select_from(ProcessInstance).filter_by(process_key="risk_response")
        )
        == 1
    )
    assert [e["event"] for e in warning.history] == ["raised", "ticket"]


def test_red_grade_raises_a_major_ticket(session, world):
    evaluate_at(session, world.project, MONDAY, overdue_milestones=(("主体结构封顶", 45),))
    [ticket] = risk_tickets(session)
    assert ticket.severity == "major"


def test_two_evaluations_at_once_dispatch_once(app, session, world):
    project_id = world.project.id
    session.rollback()  # end our read transaction (on SQLite it would hold the write lock)

    def evaluate(s):
        project = s.get(Project, project_id)
        with time_machine.travel(MONDAY, tick=False):
            return warnings.evaluate_project(
                session=s,
                project=project,
                as_of=MONDAY.date(),
                now=MONDAY,
                model=None,
                signals=replace(quiet(project, MONDAY.date()), **ORANGE_MILESTONE),
            )

    outcomes = race(app, [evaluate, evaluate])
    assert any(not isinstance(o, Exception) for o in outcomes), outcomes
    [warning] = all_warnings(session)
    assert warning.status == "dispatched"
    assert len(risk_tickets(session)) == 1
    assert (
        session.scalar(
            sa.select(sa.func.count()).select_from(ProcessInstance).filter_by(process_key="risk_response")
        )
        == 1
    )


def test_closes_when_the_ticket_is_verified_and_the_cause_has_cleared(session, world):
    evaluate_at(session, world.project, MONDAY, **ORANGE_MILESTONE)
    evaluate_at(session, world.project, MONDAY + DAY)  # the milestone was reached: cause cleared
    [warning] = all_warnings(session)
    assert (warning.status, warning.current_grade, warning.grade) == ("cleared", None, "orange")
    assert warning.open_key is not None  # not closed: its ticket is not verified yet

    [ticket] = risk_tickets(session)
    _rectify_and_verify(session, ticket, MONDAY + 2 * DAY)

    [warning] = all_warnings(session)
    assert (warning.status, warning.open_key) == ("closed", None)
    assert warning.closed_at is not None
    assert session.get(ProcessInstance, warning.instance_id).state == "completed"
    assert [e["event"] for e in warning.history] == ["raised", "ticket", "cleared", "closed"]


def test_closes_when_the_cause_clears_after_the_ticket_was_verified(session, world):
    evaluate_at(session, world.project, MONDAY, **ORANGE_MILESTONE)
    [ticket] = risk_tickets(session)
    _rectify_and_verify(session, ticket, MONDAY + DAY)
    [warning] = all_warnings(session)
    assert warning.status == "dispatched"  # verified, but the cause was not re-evaluated yet

    evaluate_at(session, world.project, MONDAY + 2 * DAY)  # cleared: the evaluation tells the process
    [warning] = all_warnings(session)
    assert warning.status == "closed"
    assert len(risk_tickets(session)) == 1


def test_stays_open_while_the_ticket_is_not_verified(session, world):
    evaluate_at(session, world.project, MONDAY, **ORANGE_MILESTONE)
    evaluate_at(session, world.project, MONDAY + DAY)  # cleared
    [ticket] = risk_tickets(session)
    # A failed verification: the ticket goes back for another round.
    _rectify_and_verify(session, ticket, MONDAY + 2 * DAY, passed=False)
    # The daily re-checks find the ticket open, day after day.
    for day in range(3, 8):
        run_scheduler_at(session, MONDAY + day * DAY)
    [warning] = all_warnings(session)
    assert warning.status == "cleared" and warning.open_key is not None
    assert session.get(ProcessInstance, warning.instance_id).state == "running"


def test_a_cause_that_persists_after_the_ticket_gets_a_new_round(session, world):
    evaluate_at(session, world.project, MONDAY, **ORANGE_MILESTONE)
    [first] = risk_tickets(session)
    _rectify_and_verify(session, first, MONDAY + DAY)
    [warning] = all_warnings(session)
    assert warning.status == "dispatched" and len(risk_tickets(session)) == 1

    # The next evaluation after the closure still finds the milestone overdue: a second round.
    evaluate_at(session, world.project, MONDAY + 2 * DAY, overdue_milestones=(("主体结构封顶", 22),))
    first_again, second = risk_tickets(session)
    assert first_again.id == first.id and second.status == "dispatched"
    [warning] = all_warnings(session)
    assert warning.ticket_id == second.id and warning.status == "dispatched"
    assert "第 2 轮" in second.description
    assert [e["event"] for e in warning.history] == ["raised", "ticket", "ticket"]

    # Further evaluations while the second ticket is open dispatch nothing more.
    evaluate_at(session, world.project, MONDAY + 3 * DAY, overdue_milestones=(("主体结构封顶", 23),))
    assert len(risk_tickets(session)) == 2

    evaluate_at(session, world.project, MONDAY + 4 * DAY)  # cleared
    _rectify_and_verify(session, second, MONDAY + 5 * DAY)
    [warning] = all_warnings(session)
    assert warning.status == "closed"


def test_yellow_warning_is_not_dispatched_and_closes_with_its_cause(session, world):
    evaluate_at(session, world.project, MONDAY, days_since_checkin=8)
    [warning] = all_warnings(session)
    assert (warning.cause, warning.grade, warning.status, warning.instance_id) == (
        "no_checkin",
        "yellow",
        "open",
        None,
    )
    assert risk_tickets(session) == []

    evaluate_at(session, world.project, MONDAY + DAY, days_since_checkin=15)  # orange now: dispatched
    [warning] = all_warnings(session)
    assert (warning.grade, warning.current_grade, warning.status) == ("orange", "orange", "dispatched")
    assert len(risk_tickets(session)) == 1


def test_payment_delay_goes_to_a_coordination_task_that_escalates_at_its_deadline(session, world):
    evaluate_at(session, world.project, MONDAY, overdue_payments=(("进度款第3期", 20),))
    [warning] = all_warnings(session)
    assert warning.status == "dispatched" and risk_tickets(session) == []
    task = _open_task(session, warning.instance_id, "coordinate")
    assert task.candidate_group == "cz.finance"
    # 3 working days from Monday: the end of Thursday in Beijing (16:00 UTC).
    assert task.due_at == utc(2026, 3, 5, 16, 0)

    run_scheduler_at(session, utc(2026, 3, 4, 15, 59))
    task = session.get(HumanTask, task.id)
    assert task.reminded_at is None and task.escalated_at is None
    run_scheduler_at(session, utc(2026, 3, 4, 16, 1))  # one working day before: reminded
    task = session.get(HumanTask, task.id)
    assert task.reminded_at is not None and task.escalated_at is None
    run_scheduler_at(session, utc(2026, 3, 5, 15, 59))
    assert session.get(HumanTask, task.id).escalated_at is None
    run_scheduler_at(session, utc(2026, 3, 5, 16, 1))  # the limit: escalated to the 发改 head
    task = session.get(HumanTask, task.id)
    assert task.escalated_at is not None and task.state == "open"
    escalation = session.scalar(
        sa.select(Event).filter_by(instance_id=warning.instance_id, kind="task.escalated")
    )
    assert (escalation.task_id, escalation.detail["escalated_to"]) == (task.id, "fgw.head")

    with time_machine.travel(utc(2026, 3, 6, 1, 0), tick=False):
        workflow.complete_task(
            session=session,
            task_id=task.id,
            data={"coordination_opinion": "已协调财政厅本周拨付"},
            actor="cz_finance",
        )
        session.commit()
    [warning] = all_warnings(session)
    assert warning.status == "dispatched"  # the payment is still overdue
    assert warning.history[-1]["event"] == "coordinated" and warning.history[-1]["by"] == "cz_finance"

    evaluate_at(session, world.project, utc(2026, 3, 6, 3, 0))  # paid: cleared, coordination done
    [warning] = all_warnings(session)
    assert warning.status == "closed"


def test_approval_step_delay_goes_to_the_fgw_reviewers(session, world):
    evaluate_at(session, world.project, MONDAY, overdue_steps=(("发改委审查", 4),))
    [warning] = all_warnings(session)
    assert _open_task(session, warning.instance_id, "coordinate").candidate_group == "fgw.reviewer"
