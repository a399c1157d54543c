"""The `rectification` process end to end: dispatch, rounds of rectification and verification,
the deadline's reminder and escalation over the whole loop, closure and the payment message.
Time is frozen with time_machine; the scheduler and jobs run deterministically."""

from datetime import timedelta

import sqlalchemy as sa
import time_machine

from backend.jobs.models import OutboxJob
from backend.org.models import Unit
from backend.tickets import service
from backend.tickets.models import Ticket
from backend.workflow import service as workflow
from backend.workflow.host import host_context, load_run
from backend.workflow.models import Event, HumanTask, ProcessInstance, Timer
from tests.tickets.conftest import (
    PHOTO_B,
    PHOTO_C,
    add_contract,
    open_task,
    raise_at,
    run_scheduler_at,
    submit,
    utc,
    verify,
)

# Monday 2 March 2026, 10:00 in Beijing: no holiday in the next weeks.
MONDAY = utc(2026, 3, 2, 2, 0)
# A general ticket has 10 working days: the end of Monday 16 March (Beijing midnight);
# its reminder is the end of the working day before, Friday 13 March.
GENERAL_DEADLINE = utc(2026, 3, 16, 16, 0)
GENERAL_REMINDER = utc(2026, 3, 13, 16, 0)
SECOND = timedelta(seconds=1)


def _ticket(session, ticket_id: int) -> Ticket:
    session.expire_all()
    return session.get(Ticket, ticket_id)


def _release_messages(session) -> list[dict]:
    rows = session.scalars(
        sa.select(OutboxJob).filter_by(actor="workflow.deliver_message").order_by(OutboxJob.id)
    ).all()
    return [r.payload for r in rows if r.payload["name"] == "release_conditions_changed"]


def test_dispatched_to_the_contractor_of_the_latest_contract(session, deployed, org):
    earlier = Unit(name="浙江省第二建设有限公司", kind="contractor")
    session.add(earlier)
    session.flush()
    add_contract(session, org.project, earlier, number="HT-2025-001", signed_on=utc(2025, 4, 1).date())
    add_contract(session, org.project, org.contractor, number="HT-2025-002", signed_on=utc(2025, 9, 1).date())
    add_contract(session, org.project, earlier, number="HT-2025-003", signed_on=None)  # not signed yet
    session.commit()

    ticket = raise_at(session, MONDAY, org.project)

    ticket = _ticket(session, ticket.id)
    assert (ticket.responsible_unit_id, ticket.dispatch_basis) == (org.contractor.id, "contract")
    assert ticket.status == "dispatched" and ticket.dispatched_at == MONDAY
    task = open_task(session, ticket, "rectify")
    assert task.candidate_group == f"unit.{org.contractor.id}"
    instance = session.get(ProcessInstance, ticket.instance_id)
    assert (instance.process_key, instance.business_key) == ("rectification", org.project.code)


def test_dispatched_to_the_owner_unit_without_a_contract(session, deployed, org):
    ticket = raise_at(session, MONDAY, org.project)

    ticket = _ticket(session, ticket.id)
    assert (ticket.responsible_unit_id, ticket.dispatch_basis) == (org.owner.id, "owner")
    assert open_task(session, ticket, "rectify").candidate_group == f"unit.{org.owner.id}"


def test_failed_verification_reworks_then_passes_and_notifies_payments(session, deployed, org):
    ticket = raise_at(session, MONDAY, org.project, severity="major")
    submit(session, ticket, MONDAY + timedelta(days=1), photos=[PHOTO_B])
    assert _ticket(session, ticket.id).status == "verifying"
    assert open_task(session, ticket, "verify").candidate_group == "inspector"

    verify(session, ticket, MONDAY + timedelta(days=2), passed=False, opinion="警示标志不全, 请补设")
    ticket = _ticket(session, ticket.id)
    assert (ticket.status, ticket.rounds) == ("rectifying", 1)
    assert open_task(session, ticket, "rectify") is not None  # back to the unit: round 2
    assert _release_messages(session) == []

    submit(session, ticket, MONDAY + timedelta(days=3), photos=[PHOTO_C], actor="contractor2")
    verify(session, ticket, MONDAY + timedelta(days=3, hours=2), passed=True, actor="inspector2")

    ticket = _ticket(session, ticket.id)
    assert ticket.rounds == 2
    assert (ticket.status, ticket.outcome, ticket.first_pass) == ("closed", "passed", False)
    assert ticket.closed_at == MONDAY + timedelta(days=3, hours=2)
    assert ticket.inspector == "inspector2"
    first, second = ticket.history
    assert first["round"] == 1 and first["photos"] == [PHOTO_B] and first["submitted_by"] == "contractor"
    assert (first["verdict"], first["opinion"], first["verified_by"]) == (
        "failed",
        "警示标志不全, 请补设",
        "inspector",
    )
    assert first["verified_at"] == (MONDAY + timedelta(days=2)).isoformat()
    assert second["round"] == 2 and second["photos"] == [PHOTO_C] and second["submitted_by"] == "contractor2"
    assert (second["verdict"], second["verified_by"]) == ("passed", "inspector2")
    assert session.get(ProcessInstance, ticket.instance_id).state == "completed"
    outcomes = session.scalars(
        sa.select(HumanTask.outcome)
        .filter_by(instance_id=ticket.instance_id, element_id="verify")
        .order_by(HumanTask.created_at)
    ).all()
    assert outcomes == ["rejected", "approved"]
    assert _release_messages(session) == [
        {
            "name": "release_conditions_changed",
            "payload": {"reason": "ticket_closed", "ticket": ticket.number},
            "business_key": org.project.code,
            "sender": ticket.instance_id,
        }
    ]


def test_reminder_one_working_day_before_the_deadline(session, deployed, org):
    ticket = raise_at(session, MONDAY, org.project)
    assert ticket.deadline == GENERAL_DEADLINE
    timer = session.get(Timer, ticket.instance_id)
    assert (timer.element_id, timer.due_at) == ("reminder_due", GENERAL_REMINDER)

    assert run_scheduler_at(session, GENERAL_REMINDER - SECOND) == 0
    assert _ticket(session, ticket.id).reminded_at is None

    run_scheduler_at(session, GENERAL_REMINDER + SECOND)
    ticket = _ticket(session, ticket.id)
    assert ticket.reminded_at == GENERAL_REMINDER + SECOND
    assert not ticket.overdue
    assert open_task(session, ticket, "rectify").reminded_at == GENERAL_REMINDER + SECOND
    reminded = session.scalar(
        sa.select(Event).filter_by(instance_id=ticket.instance_id, kind="ticket.reminded")
    )
    assert reminded.detail["number"] == ticket.number
    timer = session.get(Timer, ticket.instance_id)
    assert (timer.element_id, timer.due_at) == ("deadline_reached", GENERAL_DEADLINE)


def test_overdue_escalation_at_a_deadline_counted_across_the_national_day_holiday(session, deployed, org):
    # Tuesday 30 September 2025, 10:00 in Beijing. 1-8 October are the National Day and
    # Mid-Autumn holidays: the 2 working days of a critical ticket are Thu 9 and Fri 10 Oct.
    raised = utc(2025, 9, 30, 2, 0)
    deadline = utc(2025, 10, 10, 16, 0)  # the end of Friday 10 October in Beijing
    ticket = raise_at(session, raised, org.project, severity="critical")
    assert ticket.deadline == deadline
    data = load_run(host_context(session), session.get(ProcessInstance, ticket.instance_id)).data
    assert data["deadline"] == "2025-10-11T00:00:00+08:00"

    run_scheduler_at(session, utc(2025, 10, 9, 16, 0) + SECOND)  # the reminder: end of Thu 9 Oct
    assert _ticket(session, ticket.id).reminded_at is not None
    assert session.get(Timer, ticket.instance_id).due_at == deadline

    assert run_scheduler_at(session, deadline - SECOND) == 0
    ticket = _ticket(session, ticket.id)
    assert not ticket.overdue and open_task(session, ticket, "supervise") is None

    run_scheduler_at(session, deadline + SECOND)
    ticket = _ticket(session, ticket.id)
    assert ticket.overdue and ticket.escalated_at == deadline + SECOND
    assert ticket.status == "dispatched"  # escalation does not take the ticket from the unit
    supervise = open_task(session, ticket, "supervise")
    assert supervise.candidate_group == "fgw.head"
    rectify = open_task(session, ticket, "rectify")
    assert rectify.escalated_at == deadline + SECOND
    escalated = session.scalar(
        sa.select(Event).filter_by(instance_id=ticket.instance_id, kind="ticket.escalated")
    )
    assert escalated.detail["escalated_to"] == "fgw.head"
    assert session.get(Timer, ticket.instance_id) is None  # both timers have fired


def test_a_scheduler_pass_at_the_exact_deadline_instant_still_escalates(session, deployed, org):
    ticket = raise_at(session, MONDAY, org.project)
    run_scheduler_at(session, GENERAL_REMINDER + SECOND)
    run_scheduler_at(session, GENERAL_DEADLINE)  # exactly at the deadline
    run_scheduler_at(session, GENERAL_DEADLINE + timedelta(minutes=1))
    assert _ticket(session, ticket.id).overdue


def test_supervision_is_recorded_and_an_open_supervision_ends_with_the_ticket(session, deployed, org):
    ticket = raise_at(session, MONDAY, org.project)
    run_scheduler_at(session, GENERAL_DEADLINE + SECOND)
    ticket = _ticket(session, ticket.id)
    supervise = open_task(session, ticket, "supervise")
    with time_machine.travel(GENERAL_DEADLINE + timedelta(hours=2), tick=False):
        service.supervise_overdue(
            session=session,
            task_id=supervise.id,
            opinion="限三日内完成整改",
            measure="interview",
            actor="fgw_head",
        )
        session.commit()
    ticket = _ticket(session, ticket.id)
    assert ticket.supervision == {
        "opinion": "限三日内完成整改",
        "measure": "interview",
        "by": "fgw_head",
        "at": (GENERAL_DEADLINE + timedelta(hours=2)).isoformat(),
    }

    # A second overdue ticket closes while its supervision is still open: the task is withdrawn.
    other = raise_at(session, MONDAY, org.other_project)
    run_scheduler_at(session, GENERAL_DEADLINE + timedelta(hours=3))
    assert open_task(session, other, "supervise") is not None
    submit(session, other, GENERAL_DEADLINE + timedelta(hours=4))
    verify(session, other, GENERAL_DEADLINE + timedelta(hours=5), passed=True)
    other = _ticket(session, other.id)
    assert (other.status, other.overdue, other.supervision) == ("closed", True, None)
    assert session.get(ProcessInstance, other.instance_id).state == "completed"
    states = session.scalars(
        sa.select(HumanTask.state).filter_by(instance_id=other.instance_id, element_id="supervise")
    ).all()
    assert states == ["cancelled"]


def test_reminder_and_overdue_fire_while_the_ticket_is_in_its_second_round(session, deployed, org):
    ticket = raise_at(session, MONDAY, org.project)
    submit(session, ticket, MONDAY + timedelta(days=1))
    verify(session, ticket, MONDAY + timedelta(days=2), passed=False, opinion="整改不到位")
    assert open_task(session, ticket, "rectify") is not None  # round 2 with the unit

    run_scheduler_at(session, GENERAL_REMINDER + SECOND)
    ticket = _ticket(session, ticket.id)
    assert ticket.reminded_at == GENERAL_REMINDER + SECOND
    assert open_task(session, ticket, "rectify").reminded_at == GENERAL_REMINDER + SECOND

    submit(session, ticket, GENERAL_REMINDER + timedelta(hours=10))  # round 2 goes to verification
    run_scheduler_at(session, GENERAL_DEADLINE + SECOND)
    ticket = _ticket(session, ticket.id)
    assert ticket.overdue and ticket.escalated_at == GENERAL_DEADLINE + SECOND
    assert open_task(session, ticket, "verify").escalated_at == GENERAL_DEADLINE + SECOND
    assert open_task(session, ticket, "supervise").candidate_group == "fgw.head"

    verify(session, ticket, GENERAL_DEADLINE + timedelta(days=1), passed=True)
    ticket = _ticket(session, ticket.id)
    assert (ticket.status, ticket.outcome, ticket.rounds, ticket.overdue) == ("closed", "passed", 2, True)
    assert [h["verdict"] for h in ticket.history] == ["failed", "passed"]


def test_closing_before_the_deadline_cancels_the_timers(session, deployed, org):
    ticket = raise_at(session, MONDAY, org.project)
    submit(session, ticket, MONDAY + timedelta(days=1))
    verify(session, ticket, MONDAY + timedelta(days=2), passed=True)

    ticket = _ticket(session, ticket.id)
    assert (ticket.status, ticket.outcome, ticket.rounds, ticket.first_pass) == ("closed", "passed", 1, True)
    assert session.get(ProcessInstance, ticket.instance_id).state == "completed"
    assert session.get(Timer, ticket.instance_id) is None

    assert run_scheduler_at(session, GENERAL_DEADLINE + timedelta(days=3)) == 0
    ticket = _ticket(session, ticket.id)
    assert ticket.reminded_at is None and not ticket.overdue and ticket.escalated_at is None
    fired = session.scalars(
        sa.select(Event.kind).filter_by(instance_id=ticket.instance_id, kind="timer.fired")
    ).all()
    assert fired == []
    assert len(_release_messages(session)) == 1


def test_steps_completed_from_the_generic_inbox_record_the_claimant_never_a_stale_actor(
    session, deployed, org
):
    ticket = raise_at(session, MONDAY, org.project)
    submit(session, ticket, MONDAY + timedelta(hours=1), actor="contractor")
    verify(session, ticket, MONDAY + timedelta(hours=2), passed=False, opinion="照片不清晰")

    # Round 2 through the generic task API: the form data only, no actor in it.
    rectify = open_task(session, ticket, "rectify")
    with time_machine.travel(MONDAY + timedelta(hours=3), tick=False):
        workflow.complete_task(
            session=session,
            task_id=rectify.id,
            actor="someone",
            data={"rectification_description": "重新拍照上传", "rectification_photos": [PHOTO_C]},
        )
        session.commit()
    task = open_task(session, ticket, "verify")
    task.assignee = "inspector_li"  # claimed (签收) before deciding
    session.commit()
    with time_machine.travel(MONDAY + timedelta(hours=4), tick=False):
        workflow.complete_task(session=session, task_id=task.id, actor="inspector_li", data={"passed": True})
        session.commit()

    ticket = _ticket(session, ticket.id)
    assert ticket.status == "closed"
    second = ticket.history[1]
    assert second["submitted_by"] == "someone"  # who completed it, not round 1's "contractor"
    assert (second["verdict"], second["opinion"], second["verified_by"]) == ("passed", "", "inspector_li")
