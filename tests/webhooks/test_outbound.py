"""Outbound event webhooks: events written with the transaction that caused them (once per
cause), delivered after commit to a real HTTP receiver, signed, retried, dead, redelivered."""

import json
import socket

import pytest
import sqlalchemy as sa

from backend import jobs
from backend.jobs.models import OutboxJob
from backend.webhooks import outbound
from backend.webhooks.models import WebhookDelivery
from backend.webhooks.signing import sign
from backend.workflow import service as workflow
from backend.workflow.models import HumanTask, ProcessInstance


def subscribe(session, url, *event_types, max_attempts=3):
    subscription, secret = outbound.create_subscription(
        session=session, url=url, event_types=list(event_types), max_attempts=max_attempts, created_by="admin"
    )
    session.commit()
    return subscription, secret


def deliveries(session, **filters):
    session.rollback()
    return list(session.scalars(sa.select(WebhookDelivery).filter_by(**filters).order_by(WebhookDelivery.id)))


def start(session, key="P-1"):
    instance = workflow.start_instance(
        session=session, process_key="webhook_intake", data={"amount": 5, "reference": key}, business_key=key
    )
    session.commit()
    return instance


def test_events_are_signed_and_delivered_after_commit(session, deployed, receiver):
    subscription, secret = subscribe(session, receiver.url, "instance.started", "task.created")

    instance = start(session)
    # Written with the start, not sent yet: the HTTP call waits for the outbox.
    rows = deliveries(session)
    assert sorted(r.event_type for r in rows) == ["instance.started", "task.created"]
    assert {r.state for r in rows} == {"pending"} and receiver.requests == []

    jobs.drain()

    assert len(receiver.requests) == 2
    for request in receiver.requests:
        headers, body = request["headers"], request["body"]
        assert headers["X-Signature"] == sign(secret, headers["X-Timestamp"], body)
        event = json.loads(body)
        assert headers["X-Event-Id"] == event["id"] and headers["X-Event-Type"] == event["type"]
        assert event["data"]["instance_id"] == instance.id and event["data"]["business_key"] == "P-1"
    by_type = {json.loads(r["body"])["type"]: json.loads(r["body"]) for r in receiver.requests}
    assert by_type["task.created"]["data"]["candidate_group"] == "fgw.reviewer"
    assert by_type["instance.started"]["data"]["process_key"] == "webhook_intake"
    for row in deliveries(session):
        assert (row.state, row.attempts, row.last_status_code) == ("delivered", 1, 200)
        assert row.last_latency_ms is not None and row.delivered_at is not None
        assert [a["status_code"] for a in row.attempt_log] == [200]
    # Done is done: draining again sends nothing.
    jobs.drain()
    assert len(receiver.requests) == 2


def test_each_cause_emits_its_event_once(session, deployed, receiver):
    subscribe(session, receiver.url, *outbound.EVENT_TYPES)
    instance = start(session)
    (task,) = session.scalars(sa.select(HumanTask).filter_by(instance_id=instance.id, state="open"))
    workflow.complete_task(session=session, task_id=task.id, data={"approved": True}, actor="reviewer")
    session.commit()
    workflow.correlate_message(session=session, name="webhook_ack", payload={"r": 1}, correlation_key="P-1")
    session.commit()

    types = [r.event_type for r in deliveries(session)]
    assert sorted(types) == sorted(
        ["instance.started", "task.created", "task.completed", "instance.completed"]
    )
    (completed,) = deliveries(session, event_type="task.completed")
    data = completed.payload["data"]
    assert (data["task_id"], data["outcome"], data["completed_by"]) == (task.id, "approved", "reviewer")

    # A rolled-back cause leaves no event behind.
    workflow.start_instance(
        session=session, process_key="webhook_intake", data={"reference": "P-2"}, business_key="P-2"
    )
    session.rollback()
    assert len(deliveries(session)) == 4
    assert (
        session.scalar(sa.select(sa.func.count()).select_from(OutboxJob).filter_by(actor="webhooks.deliver"))
        == 4
    )


def test_only_enabled_subscriptions_to_the_type_get_it(session, deployed, receiver):
    subscribe(session, receiver.url, "instance.completed")
    disabled, _ = subscribe(session, receiver.url, "instance.started")
    disabled.enabled = False
    session.commit()

    start(session)

    assert deliveries(session) == []


def test_failing_receiver_is_retried_then_dead_then_redelivered(
    app, session, deployed, receiver, fast_retries
):
    from tests.webhooks.test_admin import admin_client

    subscribe(session, receiver.url, "instance.started", max_attempts=3)
    receiver.replies = [500, 503, 502]
    start(session)

    jobs.drain()

    (row,) = deliveries(session)
    assert (row.state, row.attempts, row.last_status_code) == ("dead", 3, 502)
    assert [a["status_code"] for a in row.attempt_log] == [500, 503, 502]
    assert "502" in row.last_error and len(receiver.requests) == 3
    # The three tries were three outbox rows, each 'done' (the HTTP failure is the delivery's, not the job's).
    states = session.scalars(sa.select(OutboxJob.state).filter_by(actor="webhooks.deliver")).all()
    assert states == ["done"] * 3

    client = admin_client(app, session)
    page = client.get("/admin/webhooks?state=dead").get_data(as_text=True)
    assert f'data-delivery-id="{row.id}" data-state="dead"' in page and "/redeliver" in page
    response = client.post(f"/admin/webhooks/deliveries/{row.id}/redeliver")
    assert response.status_code == 302
    jobs.drain()

    (row,) = deliveries(session)
    assert (row.state, row.attempts, row.last_status_code) == ("delivered", 1, 200)
    assert [a["status_code"] for a in row.attempt_log] == [500, 503, 502, 200]
    assert len(receiver.requests) == 4
    # The same event each time: one id, so the receiver can deduplicate.
    assert len({r["headers"]["X-Event-Id"] for r in receiver.requests}) == 1
    # Only dead deliveries can be redelivered.
    with pytest.raises(outbound.DeliveryNotRedeliverable):
        outbound.redeliver(session=session, delivery_id=row.id)


def test_business_transaction_commits_while_the_receiver_is_down(app, session, deployed, fast_retries):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"
    subscribe(session, url, "instance.started", max_attempts=2)

    instance = start(session)
    assert session.get(ProcessInstance, instance.id).state == "running"

    jobs.drain()

    session.rollback()
    assert session.get(ProcessInstance, instance.id).state == "running"
    (row,) = deliveries(session)
    assert (row.state, row.attempts, row.last_status_code) == ("dead", 2, None)
    assert all("Connection" in a["error"] or "refused" in a["error"] for a in row.attempt_log)


def test_backoff_waits_between_tries(app, session, deployed, receiver, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_BACKOFF_SECONDS", 60)
    subscribe(session, receiver.url, "instance.started", max_attempts=5)
    receiver.replies = [500]
    start(session)

    jobs.drain()

    (row,) = deliveries(session)
    assert (row.state, row.attempts) == ("pending", 1)
    waiting = session.scalar(sa.select(OutboxJob).filter_by(actor="webhooks.deliver", state="pending"))
    assert 59 <= (waiting.run_after - row.last_attempt_at).total_seconds() <= 61
    assert outbound.backoff_seconds(1) == 60 and outbound.backoff_seconds(3) == 240
    assert len(receiver.requests) == 1


def test_incident_opened_is_emitted(app, session, deployed, monkeypatch):
    monkeypatch.setitem(app.config, "SERVICE_TASK_RETRIES", 0)
    subscribe(session, "http://127.0.0.1:9/none", "incident.opened", "instance.completed")

    instance = workflow.start_instance(session=session, process_key="webhook_failing", data={})
    session.commit()

    assert session.get(ProcessInstance, instance.id).state == "incident"
    (row,) = deliveries(session)
    data = row.payload["data"]
    assert (row.event_type, data["instance_id"], data["incident_kind"]) == (
        "incident.opened",
        instance.id,
        "task_error",
    )
    assert "unreachable" in data["message"] and data["element_id"] == "call_out"
