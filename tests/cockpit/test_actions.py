"""Suspend/resume, edit a variable, retry an incident: the rules in workflow/service.py."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from backend import jobs
from backend.workflow import service
from backend.workflow.errors import InstanceNotActive, InstanceSuspended, ReasonRequired
from backend.workflow.models import Event, HumanTask, Incident, ProcessInstance, Timer

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # a Monday


def _open_task(session, instance_id, element_id):
    return session.scalar(
        sa.select(HumanTask).filter_by(instance_id=instance_id, element_id=element_id, state="open")
    )


def _fresh(session, instance_id):
    session.expire_all()
    return session.get(ProcessInstance, instance_id)


def test_suspend_blocks_completion_and_timers_resume_lets_them_through(session, deployed):
    with time_machine.travel(T0, tick=False) as clock:
        instance = service.start_instance(session=session, process_key="cockpit_route", data={"amount": 5})
        session.commit()
        task = _open_task(session, instance.id, "review")

        with pytest.raises(ReasonRequired):
            service.suspend_instance(session=session, instance_id=instance.id, actor="ops", reason=" ")
        service.suspend_instance(session=session, instance_id=instance.id, actor="ops", reason="数据核查")
        session.commit()
        assert _fresh(session, instance.id).state == "suspended"

        with pytest.raises(InstanceSuspended) as refused:
            service.complete_task(session=session, task_id=task.id, data={"approved": True}, actor="li")
        assert "挂起" in str(refused.value)
        session.rollback()

        # The deadline passes while suspended: the scheduler does not pick it, and firing does nothing.
        clock.shift(timedelta(days=10))
        assert service.schedule_due_timers(session=session) == 0
        session.commit()
        jobs.drain()
        assert service.fire_timers(session=session, instance_id=instance.id) is False
        session.commit()
        assert _open_task(session, instance.id, "review") is not None
        assert _open_task(session, instance.id, "escalated") is None

        service.resume_instance(session=session, instance_id=instance.id, actor="ops", reason="核查完毕")
        session.commit()
        assert _fresh(session, instance.id).state == "running"
        assert service.schedule_due_timers(session=session) == 1
        session.commit()
        jobs.drain()
        assert _open_task(session, instance.id, "escalated") is not None  # the overdue timer fired

    kinds = session.scalars(sa.select(Event.kind).filter_by(instance_id=instance.id).order_by(Event.id)).all()
    assert kinds.index("suspended") < kinds.index("resumed") < kinds.index("timer.fired")
    suspended = session.scalar(sa.select(Event).filter_by(instance_id=instance.id, kind="suspended"))
    assert suspended.actor == "ops" and suspended.detail["reason"] == "数据核查"


def test_resume_then_complete(session, deployed):
    instance = service.start_instance(session=session, process_key="cockpit_route", data={"amount": 5})
    service.suspend_instance(session=session, instance_id=instance.id, actor="ops", reason="r")
    service.resume_instance(session=session, instance_id=instance.id, actor="ops")
    session.commit()
    task = _open_task(session, instance.id, "review")
    service.complete_task(session=session, task_id=task.id, data={"approved": True}, actor="li")
    session.commit()
    assert _fresh(session, instance.id).state == "completed"
    with pytest.raises(InstanceNotActive):
        service.suspend_instance(session=session, instance_id=instance.id, actor="ops", reason="r")


def test_messages_wait_while_suspended(session, deployed, budget):
    instance = service.start_instance(session=session, process_key="cockpit_service", data={"amount": "1"})
    session.commit()
    service.suspend_instance(session=session, instance_id=instance.id, actor="ops", reason="r")
    session.commit()
    result = service.correlate_message(session=session, name="cockpit_ack")
    assert result.delivered_to == []
    session.commit()
    service.resume_instance(session=session, instance_id=instance.id, actor="ops")
    assert service.correlate_message(session=session, name="cockpit_ack").delivered_to == [instance.id]
    session.commit()
    assert _fresh(session, instance.id).state == "completed"


def test_edited_variable_decides_the_later_gateway_and_script(session, deployed):
    instance = service.start_instance(session=session, process_key="cockpit_route", data={"amount": 5})
    session.commit()
    assert service.instance_variables(session=session, instance_id=instance.id)["amount"] == 5

    with pytest.raises(ReasonRequired):
        service.set_instance_variable(
            session=session, instance_id=instance.id, name="amount", value=500, actor="ops", reason=""
        )
    service.set_instance_variable(
        session=session,
        instance_id=instance.id,
        name="amount",
        value=500,
        actor="ops",
        reason="录入错误, 应为500万",
    )
    session.commit()
    assert service.instance_variables(session=session, instance_id=instance.id)["amount"] == 500

    task = _open_task(session, instance.id, "review")
    service.complete_task(session=session, task_id=task.id, data={"approved": True}, actor="li")
    session.commit()
    assert _fresh(session, instance.id).state == "completed"
    output = service.instance_variables(session=session, instance_id=instance.id)
    assert output["route"] == "big" and output["seen_amount"] == 500

    event = session.scalar(sa.select(Event).filter_by(instance_id=instance.id, kind="variable.changed"))
    assert event.actor == "ops"
    assert event.detail == {"name": "amount", "old": 5, "new": 500, "reason": "录入错误, 应为500万"}

    with pytest.raises(InstanceNotActive):
        service.set_instance_variable(
            session=session, instance_id=instance.id, name="amount", value=1, actor="ops", reason="x"
        )


def test_unedited_instance_takes_the_small_route(session, deployed):
    """The control for the test above: without the edit the gateway goes the other way."""
    instance = service.start_instance(session=session, process_key="cockpit_route", data={"amount": 5})
    task = _open_task(session, instance.id, "review")
    service.complete_task(session=session, task_id=task.id, data={"approved": True}, actor="li")
    session.commit()
    assert service.instance_variables(session=session, instance_id=instance.id)["route"] == "small"


def test_retry_failing_service_task(session, deployed, budget):
    budget.failures_left = 1
    instance = service.start_instance(session=session, process_key="cockpit_service", data={"amount": "9"})
    session.commit()
    assert _fresh(session, instance.id).state == "incident"
    incident = session.scalar(sa.select(Incident).filter_by(instance_id=instance.id, state="open"))
    assert incident.element_id == "call_budget" and "budget system unreachable" in incident.message

    service.suspend_instance(session=session, instance_id=instance.id, actor="ops", reason="r")
    with pytest.raises(InstanceSuspended):
        service.retry_incident(session=session, incident_id=incident.id, actor="ops")
    service.resume_instance(session=session, instance_id=instance.id, actor="ops")
    assert _fresh(session, instance.id).state == "incident"  # back to what it was

    service.retry_incident(session=session, incident_id=incident.id, actor="ops")
    session.commit()
    assert budget.calls == 2
    assert _fresh(session, instance.id).state == "running"
    assert session.get(Incident, incident.id).state == "resolved"
    assert session.get(Timer, instance.id) is None


def test_automatic_retry_skipped_while_suspended_runs_after_resume(
    app, session, deployed, budget, monkeypatch
):
    monkeypatch.setitem(app.config, "SERVICE_TASK_RETRIES", 2)
    budget.failures_left = 1
    instance = service.start_instance(session=session, process_key="cockpit_service", data={"amount": "9"})
    service.suspend_instance(session=session, instance_id=instance.id, actor="ops", reason="r")
    session.commit()
    jobs.drain()  # the scheduled retry comes due while suspended: skipped
    assert budget.calls == 1
    assert _fresh(session, instance.id).state == "suspended"
    assert session.scalar(sa.select(Incident).filter_by(instance_id=instance.id)) is None

    service.resume_instance(session=session, instance_id=instance.id, actor="ops")
    session.commit()
    jobs.drain()
    assert budget.calls == 2
    assert _fresh(session, instance.id).state == "running"  # retried, now waiting for the message
