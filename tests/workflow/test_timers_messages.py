"""Timers fire from the scheduler with time controlled (never slept); messages correlate."""

from datetime import UTC, datetime

import sqlalchemy as sa
import time_machine

from backend import jobs
from backend.workflow import service
from backend.workflow.host import host_context, load_run
from backend.workflow.models import Event, HumanTask, MessageWait, ProcessInstance, Timer

# Wednesday 2025-09-24 10:00 Shanghai. Two working days later crosses the adjusted
# working Sunday 2025-09-28; three crosses into... see the expectations below.
START = datetime(2025, 9, 24, 2, 0, tzinfo=UTC)


def _open(session, instance_id):
    return session.scalars(sa.select(HumanTask).filter_by(instance_id=instance_id, state="open")).all()


def test_reminder_then_deadline_fire_after_restart(session, deployed):
    with time_machine.travel(START, tick=False):
        instance = service.start_instance(session=session, process_key="timed_review", business_key="P-T")
        session.commit()
    timer = session.get(Timer, instance.id)
    # Reminder: end of the 2nd working day after Wed 24 Sep = end of Fri 26 Sep (Shanghai).
    assert timer.element_id == "remind"
    assert timer.due_at == datetime(2025, 9, 26, 16, 0, tzinfo=UTC)

    # Nothing is due before then.
    with time_machine.travel(datetime(2025, 9, 26, 15, 0, tzinfo=UTC), tick=False):
        assert service.schedule_due_timers(session=session) == 0

    # The platform was "down" over the weekend; on restart the scheduler finds it overdue.
    with time_machine.travel(datetime(2025, 9, 27, 3, 0, tzinfo=UTC), tick=False):
        assert service.schedule_due_timers(session=session) == 1
        session.commit()
        jobs.drain()
    instance = session.get(ProcessInstance, instance.id)
    run = load_run(host_context(session), instance)
    assert [t.element_id for t in _open(session, instance.id)] == ["review"]  # non-interrupting
    fired = session.scalars(
        sa.select(Event.element_id).filter_by(instance_id=instance.id, kind="timer.fired")
    ).all()
    assert fired == ["remind"]
    # Deadline: 3 working days = Fri 26 and the adjusted working Sunday 28 Sep count: end of Sun 28.
    timer = session.get(Timer, instance.id)
    assert (timer.element_id, timer.due_at) == ("deadline", datetime(2025, 9, 28, 16, 0, tzinfo=UTC))
    assert run.ready_user_tasks()[0].element_id == "review"

    with time_machine.travel(datetime(2025, 9, 29, 1, 0, tzinfo=UTC), tick=False):
        service.schedule_due_timers(session=session)
        session.commit()
        jobs.drain()
    tasks = _open(session, instance.id)
    assert [t.element_id for t in tasks] == ["escalated"]  # interrupting: the review was removed
    assert tasks[0].candidate_group == "发改分管领导"
    review = session.scalar(sa.select(HumanTask).filter_by(instance_id=instance.id, element_id="review"))
    assert review.state == "cancelled"
    assert session.get(Timer, instance.id) is None


def test_message_correlates_by_business_key_only(session, deployed, payments):
    first = service.start_instance(
        session=session, process_key="payment_flow", data={"amount": "100.00"}, business_key="P-1"
    )
    second = service.start_instance(
        session=session, process_key="payment_flow", data={"amount": "200.00"}, business_key="P-2"
    )
    session.commit()
    assert payments.calls == ["100.00", "200.00"]
    assert session.scalar(sa.select(sa.func.count()).select_from(MessageWait)) == 2

    result = service.correlate_message(
        session=session, name="disbursement_confirmed", payload={"voucher": "V-9"}, business_key="P-2"
    )
    session.commit()
    assert result.delivered_to == [second.id]
    assert session.get(ProcessInstance, second.id).state == "completed"
    assert session.get(ProcessInstance, first.id).state == "running"
    data = load_run(host_context(session), session.get(ProcessInstance, second.id)).data
    assert data["confirmation"] == {"voucher": "V-9"}
    assert data["request"]["request_no"] == "PR-2"

    none = service.correlate_message(session=session, name="disbursement_confirmed", business_key="P-404")
    assert none.delivered_to == [] and none.started == []


def test_message_start_event_starts_an_instance(session, deployed):
    result = service.correlate_message(
        session=session, name="project_registered", payload={"code": "X"}, business_key="P-9"
    )
    session.commit()
    (instance_id,) = result.started
    instance = session.get(ProcessInstance, instance_id)
    assert instance.process_key == "registration" and instance.business_key == "P-9"
    assert [t.element_id for t in _open(session, instance_id)] == ["check"]


def test_message_correlates_by_correlation_key(session, deployed, payments):
    first = service.start_instance(
        session=session, process_key="payment_flow", data={"amount": "1.00"}, business_key="P-C"
    )
    second = service.start_instance(
        session=session, process_key="payment_flow", data={"amount": "2.00"}, business_key="P-C"
    )
    session.commit()
    # Same project: the request number (from the service result) tells them apart.
    keys = session.scalars(sa.select(MessageWait.correlation_key).order_by(MessageWait.instance_id)).all()
    assert keys == ["PR-1", "PR-2"]
    result = service.correlate_message(
        session=session, name="disbursement_confirmed", correlation_key="PR-1", payload={"voucher": "V-1"}
    )
    session.commit()
    assert result.delivered_to == [first.id]
    assert session.get(ProcessInstance, second.id).state == "running"


def test_thrown_message_reaches_waiting_instance_of_same_project(session, deployed, payments):
    waiting = service.start_instance(
        session=session, process_key="payment_flow", data={"amount": "3.00"}, business_key="P-M"
    )
    other = service.start_instance(
        session=session, process_key="payment_flow", data={"amount": "4.00"}, business_key="P-OTHER"
    )
    sender = service.start_instance(
        session=session, process_key="confirmer", data={"voucher": "V-77"}, business_key="P-M"
    )
    session.commit()
    assert sender.state == "completed"
    jobs.drain()
    session.expire_all()
    assert session.get(ProcessInstance, waiting.id).state == "completed"
    assert session.get(ProcessInstance, other.id).state == "running"
    data = load_run(host_context(session), session.get(ProcessInstance, waiting.id)).data
    assert data["confirmation"] == {"voucher": "V-77"}


def test_time_limit_reminds_then_escalates_and_the_task_stays(session, deployed):
    # Mon 2025-09-29 10:00 Shanghai; 3 working days cross National Day (10-01..08 off):
    # Tue 30 Sep, Thu 9 Oct, Fri 10 Oct.
    start = datetime(2025, 9, 29, 2, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        instance = service.start_instance(session=session, process_key="limited_review")
        session.commit()
    (task,) = _open(session, instance.id)
    assert task.due_at == datetime(2025, 10, 10, 16, 0, tzinfo=UTC)  # end of Fri 10 Oct
    for moment in (datetime(2025, 10, 9, 16, 0, 1, tzinfo=UTC), datetime(2025, 10, 10, 16, 0, 1, tzinfo=UTC)):
        with time_machine.travel(moment, tick=False):
            service.schedule_due_timers(session=session)
            session.commit()
            jobs.drain()
    session.expire_all()
    (task,) = _open(session, instance.id)  # still the reviewer's
    assert task.reminded_at == datetime(2025, 10, 9, 16, 0, 1, tzinfo=UTC)
    assert task.escalated_at == datetime(2025, 10, 10, 16, 0, 1, tzinfo=UTC)
    escalation = session.scalar(sa.select(Event).filter_by(instance_id=instance.id, kind="task.escalated"))
    assert escalation.detail["escalated_to"] == "fgw.head"


def test_event_based_gateway_waits_are_projected(session, deployed):
    """Spiff moves the catch events onto the gateway; the host must still see both waits."""
    with time_machine.travel(START, tick=False):
        by_message = service.start_instance(
            session=session, process_key="await_or_timeout", business_key="P-E1"
        )
        by_timer = service.start_instance(
            session=session, process_key="await_or_timeout", business_key="P-E2"
        )
        session.commit()
    for instance in (by_message, by_timer):
        assert instance.state == "running"  # not flagged stuck
        assert session.get(Timer, instance.id).due_at == datetime(2025, 9, 25, 16, 0, tzinfo=UTC)
    with time_machine.travel(datetime(2025, 9, 25, 1, 0, tzinfo=UTC), tick=False):  # before the timer
        service.correlate_message(session=session, name="release_conditions_changed", business_key="P-E1")
        session.commit()
    with time_machine.travel(datetime(2025, 9, 26, 1, 0, tzinfo=UTC), tick=False):
        service.schedule_due_timers(session=session)
        session.commit()
        jobs.drain()
    session.expire_all()
    ctx = host_context(session)
    assert load_run(ctx, session.get(ProcessInstance, by_message.id)).data["path"] == "message"
    assert load_run(ctx, session.get(ProcessInstance, by_timer.id)).data["path"] == "timer"
    assert session.scalar(sa.select(sa.func.count()).select_from(MessageWait)) == 0
