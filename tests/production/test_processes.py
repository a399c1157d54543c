"""The production processes, started by hand (see conftest.py): gunicorn, `flask worker`,
`flask scheduler run`, PostgreSQL and Redis. A signed inbound call starts an instance whose
first task the REST API shows; an outbound delivery arrives signed; a worker killed during a
delivery and a Redis that lost its data lose nothing."""

import json
import time
import uuid

import pytest
import sqlalchemy as sa

from backend.api import keys
from backend.extensions import db
from backend.jobs.models import OutboxJob
from backend.org.models import Department, Region, User
from backend.webhooks import outbound, service
from backend.webhooks.models import WebhookDelivery, WebhookSubscription
from backend.webhooks.signing import sign
from tests.production.conftest import REDISPATCH_SECONDS, Receiver, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

INTAKE_SCHEMA = {
    "type": "object",
    "required": ["project_code", "amount"],
    "properties": {"project_code": {"type": "string", "minLength": 1}, "amount": {"type": "number"}},
}


@pytest.fixture(scope="module")
def integrator(control):
    """What an admin sets up once: a reviewer, an API key acting as them, and the intake hook."""
    with control.app_context():
        session = db.session
        session.add(Region(code="330000", name="浙江省", level="province"))
        session.flush()
        fgw = Department(code="fgw", name="发展和改革委员会", short_name="发改", region_code="330000")
        session.add(fgw)
        session.flush()
        session.add(
            User(username="reviewer", display_name="审核人", department_id=fgw.id, roles=["reviewer"])
        )
        session.flush()
        hook, hook_secret = service.create_hook(
            session=session,
            name="intake",
            action="start",
            target="webhook_intake",
            variables={"amount": "/amount", "reference": "/project_code"},
            payload_schema=INTAKE_SCHEMA,
            business_key_pointer="/project_code",
        )
        _key, token = keys.create_key(
            session=session,
            name="对接测试",
            owner="reviewer",
            scopes=["tasks:read", "instances:read"],
            region_code="330000",
            created_by="test",
        )
        session.commit()
    return {"hook": "intake", "hook_secret": hook_secret, "token": token}


@pytest.fixture()
def subscribe(control):
    """Subscribe a receiver; every subscription made is disabled after the test, so later tests'
    events do not go to receivers that are closed."""
    made = []

    def _subscribe(url, *event_types):
        with control.app_context():
            subscription, secret = outbound.create_subscription(
                session=db.session, url=url, event_types=list(event_types), max_attempts=5, created_by="test"
            )
            db.session.commit()
            made.append(subscription.id)
        return secret

    yield _subscribe
    with control.app_context():
        db.session.execute(
            sa.update(WebhookSubscription).where(WebhookSubscription.id.in_(made)).values(enabled=False)
        )
        db.session.commit()


def rows(control, model, *where):
    with control.app_context():
        found = list(db.session.scalars(sa.select(model).where(*where).order_by(model.id)))
        db.session.expunge_all()
        db.session.rollback()
        return found


def last_job_id(control) -> int:
    with control.app_context():
        value = db.session.scalar(sa.select(sa.func.max(OutboxJob.id))) or 0
        db.session.rollback()
        return value


def start_by_hook(stack, integrator, code: str) -> int:
    status, body, _ = stack.signed_hook_call(
        integrator["hook"], integrator["hook_secret"], {"project_code": code, "amount": 5}, key=f"key-{code}"
    )
    assert status in (200, 201), body
    return body["result"]["instance_id"]


def test_signed_inbound_call_starts_an_instance_whose_task_the_api_lists(stack, integrator):
    code = f"P-{uuid.uuid4().hex[:6]}"
    instance_id = start_by_hook(stack, integrator, code)

    auth = {"Authorization": f"Bearer {integrator['token']}"}
    status, page, _ = stack.request("GET", "/api/v1/tasks?tab=candidate", headers=auth)
    assert status == 200, page
    (task,) = [t for t in page["items"] if t["instance_id"] == instance_id]
    assert task["business_key"] == code and task["candidate_group"] == "fgw.reviewer"
    status, instance, _ = stack.request("GET", f"/api/v1/instances/{instance_id}", headers=auth)
    assert status == 200 and [t["id"] for t in instance["open_tasks"]] == [task["id"]]

    # The same call again (an integrator's retry) is answered from the record: no second instance.
    status, body, headers = stack.signed_hook_call(
        integrator["hook"], integrator["hook_secret"], {"project_code": code, "amount": 5}, key=f"key-{code}"
    )
    assert body["result"]["instance_id"] == instance_id and headers["Idempotent-Replayed"] == "true"
    # A bad signature is refused by the real server too.
    status, body, _ = stack.signed_hook_call(
        integrator["hook"], "whsec_wrong", {"project_code": "X", "amount": 1}, key="key-wrong"
    )
    assert status == 401, body

    # /metrics of the running server (gunicorn on localhost) counts the instance from the database.
    status, text, _ = stack.request("GET", "/metrics")
    assert status == 200
    running = [
        line for line in text.splitlines() if line.startswith('bpm_process_instances{state="running"}')
    ]
    assert running and float(running[0].split()[-1]) >= 1


def test_outbound_delivery_arrives_signed(stack, integrator, subscribe, receiver, control):
    secret = subscribe(receiver.url, "instance.started")
    instance_id = start_by_hook(stack, integrator, f"P-{uuid.uuid4().hex[:6]}")

    wait_until(lambda: receiver.answered, timeout=15, what="the worker delivers instance.started")
    (received,) = receiver.answered
    headers, body = received["headers"], received["body"]
    assert headers["X-Signature"] == sign(secret, headers["X-Timestamp"], body)
    event = json.loads(body)
    assert event["type"] == "instance.started" and event["data"]["instance_id"] == instance_id
    wait_until(
        lambda: (
            [d.state for d in rows(control, WebhookDelivery, WebhookDelivery.event_id == event["id"])]
            == ["delivered"]
        ),
        timeout=10,
        what="the delivery row is marked delivered",
    )


def test_a_worker_killed_during_a_delivery_delivers_it_later_once(stack, integrator, subscribe, control):
    receiver = Receiver(block_first=True)
    try:
        secret = subscribe(receiver.url, "instance.started")
        start_by_hook(stack, integrator, f"P-{uuid.uuid4().hex[:6]}")
        wait_until(lambda: receiver.arrived, timeout=15, what="the delivery reaches the receiver")
        (worker,) = [p for p in stack.processes if p.name == "worker" and p.alive()]
        worker.kill()  # mid-request: the receiver still holds the connection
        receiver.release.set()
        event_id = json.loads(receiver.arrived[0]["body"])["id"]
        (delivery,) = rows(control, WebhookDelivery, WebhookDelivery.event_id == event_id)
        assert delivery.state == "pending"  # the killed attempt delivered nothing

        stack.start_worker()
        wait_until(
            lambda: (
                rows(control, WebhookDelivery, WebhookDelivery.event_id == event_id)[0].state == "delivered"
            ),
            timeout=REDISPATCH_SECONDS + 20,
            what="the new worker delivers it",
        )
        time.sleep(1.5)  # anything sent twice would arrive by now
        assert [json.loads(r["body"])["id"] for r in receiver.answered] == [event_id]  # once
        for request in receiver.arrived:  # the retry is the same event, signed again
            headers = request["headers"]
            assert headers["X-Event-Id"] == event_id
            assert headers["X-Signature"] == sign(secret, headers["X-Timestamp"], request["body"])
        jobs_of_event = rows(control, OutboxJob, OutboxJob.payload["event_id"].as_string() == event_id)
        assert [j.state for j in jobs_of_event] == ["done"]  # the same row, sent again and run
    finally:
        receiver.close()


def test_redis_restarted_while_jobs_are_pending_loses_nothing(
    stack, integrator, subscribe, receiver, control, redis_server
):
    subscribe(receiver.url, "instance.started", "task.created")
    for worker in [p for p in stack.processes if p.name == "worker" and p.alive()]:
        worker.stop()  # nobody consumes: the messages wait in Redis
    first_new_job = last_job_id(control) + 1
    before_kill = [start_by_hook(stack, integrator, f"R-{uuid.uuid4().hex[:6]}") for _ in range(3)]

    def new_jobs():
        return rows(control, OutboxJob, OutboxJob.id >= first_new_job)

    # The scheduler relays them: they are in Redis only, as messages, when Redis dies.
    wait_until(
        lambda: len(new_jobs()) == 6 and {j.state for j in new_jobs()} == {"dispatched"},
        timeout=15,
        what="the relay hands the six delivery jobs to Redis",
    )
    redis_server.kill()
    # Work keeps being accepted while Redis is down: it waits in the outbox.
    during = start_by_hook(stack, integrator, f"R-{uuid.uuid4().hex[:6]}")
    redis_server.start()  # empty: --save '' --appendonly no
    stack.start_worker()

    wait_until(
        lambda: len(new_jobs()) == 8 and {j.state for j in new_jobs()} == {"done"},
        timeout=REDISPATCH_SECONDS + 30,
        what="every job committed before and during the outage runs",
    )
    received = {
        (json.loads(r["body"])["type"], json.loads(r["body"])["data"]["instance_id"])
        for r in receiver.answered
    }
    expected = {(t, i) for i in [*before_kill, during] for t in ("instance.started", "task.created")}
    assert received == expected
    deliveries = rows(
        control, WebhookDelivery, WebhookDelivery.event_type.in_(["instance.started", "task.created"])
    )
    assert {d.state for d in deliveries if d.payload["data"]["instance_id"] in {*before_kill, during}} == {
        "delivered"
    }
