"""A failing operation is retried with backoff by the job system, then becomes an
incident with its real cause, which an operator retries by hand."""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import time_machine

from backend import jobs
from backend.workflow import service
from backend.workflow.models import Event, Incident, ProcessInstance


def test_retries_then_incident_then_manual_retry(app, session, deployed, payments, monkeypatch):
    monkeypatch.setitem(app.config, "SERVICE_TASK_RETRIES", 2)
    monkeypatch.setitem(app.config, "SERVICE_TASK_BACKOFF_SECONDS", 60)
    payments.failures_left = 10
    t0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    with time_machine.travel(t0, tick=False) as clock:
        instance = service.start_instance(
            session=session, process_key="payment_flow", data={"amount": "5.00"}, business_key="P-R"
        )
        session.commit()
        assert instance.state == "running"  # first failure: a retry is scheduled, no incident yet
        assert len(payments.calls) == 1
        jobs.drain()
        assert len(payments.calls) == 1  # backoff: not due yet
        clock.shift(timedelta(seconds=61))
        jobs.drain()
        assert len(payments.calls) == 2
        clock.shift(timedelta(seconds=121))
        jobs.drain()
        assert len(payments.calls) == 3
        clock.shift(timedelta(days=1))
        jobs.drain()
        assert len(payments.calls) == 3  # retries exhausted

    session.expire_all()
    instance = session.get(ProcessInstance, instance.id)
    assert instance.state == "incident"
    incident = session.scalar(sa.select(Incident).filter_by(instance_id=instance.id, state="open"))
    assert incident.operation == "test.request_payment"
    assert incident.error_type == "ConnectionError"  # the real cause, not NameError 'script'
    assert "budget system unreachable" in incident.message
    assert incident.attempts == 3

    payments.failures_left = 0
    service.retry_incident(session=session, incident_id=incident.id, actor="ops")
    session.commit()
    instance = session.get(ProcessInstance, instance.id)
    assert instance.state == "running"  # now waiting for the disbursement message
    assert session.get(Incident, incident.id).state == "resolved"
    kinds = session.scalars(sa.select(Event.kind).filter_by(instance_id=instance.id)).all()
    assert kinds.count("task.failed") == 3 and "incident.resolved" in kinds
