"""POST /api/v1/hooks/<name>: each refusal its own status, a log line and nothing started;
an accepted call acts once per idempotency key, also under 20 concurrent retries."""

import io
import json
import logging
import time
from types import SimpleNamespace

import sqlalchemy as sa

from backend.webhooks.models import InboundDelivery
from backend.webhooks.signing import sign
from backend.workflow import service as workflow
from backend.workflow.models import HumanTask, ProcessInstance
from tests.concurrency import race
from tests.webhooks.conftest import signed_post

PAYLOAD = {"project_code": "2026-330100-48-01-000777", "amount": 1200, "contact": {"name": "王工"}}


def counts(session):
    """(instances, inbound deliveries) as committed by the requests."""
    session.rollback()
    return (
        session.scalar(sa.select(sa.func.count(ProcessInstance.id))),
        session.scalar(sa.select(sa.func.count(InboundDelivery.id))),
    )


def assert_problem(response, status: int, code: str):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert (body["status"], body["code"]) == (status, code) and body["title"] and body["detail"]
    return body


def test_signed_call_starts_the_process_with_the_mapped_variables(app, session, intake_hook):
    response = signed_post(app.test_client(), intake_hook, PAYLOAD, key="order-1")

    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    instance = session.get(ProcessInstance, body["result"]["instance_id"])
    assert (instance.process_key, instance.business_key) == ("webhook_intake", PAYLOAD["project_code"])
    assert instance.started_by == "hook:intake"
    variables = workflow.instance_variables(session=session, instance_id=instance.id)
    assert (variables["amount"], variables["contact_name"], variables["reference"]) == (
        1200,
        "王工",
        PAYLOAD["project_code"],
    )
    (task,) = session.scalars(sa.select(HumanTask).filter_by(instance_id=instance.id, state="open"))
    assert task.element_id == "review"
    delivery = session.get(InboundDelivery, body["delivery_id"])
    assert (delivery.idempotency_key, delivery.response_status, delivery.status) == (
        "order-1",
        201,
        "accepted",
    )
    assert delivery.result == body["result"] and delivery.remote_addr == "127.0.0.1"
    assert counts(session) == (1, 1)


def test_bad_or_missing_signature_is_401_logged_and_starts_nothing(app, session, intake_hook, caplog):
    client = app.test_client()
    caplog.set_level(logging.INFO, logger="backend.webhooks")
    now = int(time.time())
    original = json.dumps(PAYLOAD).encode()
    tampered = json.dumps({**PAYLOAD, "amount": 999999}).encode()

    responses = [
        signed_post(client, intake_hook, PAYLOAD, secret="whsec_not_the_secret"),
        signed_post(client, intake_hook, PAYLOAD, headers={"X-Signature": None}),
        signed_post(client, intake_hook, PAYLOAD, headers={"X-Signature": "sha256=" + "0" * 64}),
        # The signature of the original body does not cover another body.
        client.post(
            "/api/v1/hooks/intake",
            data=tampered,
            headers={
                "X-Timestamp": str(now),
                "X-Signature": sign(intake_hook.secret, now, original),
                "Idempotency-Key": "t",
            },
        ),
        # ...nor another timestamp.
        client.post(
            "/api/v1/hooks/intake",
            data=original,
            headers={
                "X-Timestamp": str(now + 1),
                "X-Signature": sign(intake_hook.secret, now, original),
                "Idempotency-Key": "t",
            },
        ),
    ]

    for response in responses:
        assert_problem(response, 401, "bad_signature")
    rejected = [r for r in caplog.records if r.getMessage() == "webhook.inbound.rejected"]
    assert [(r.code, r.status, r.hook) for r in rejected] == [("bad_signature", 401, "intake")] * 5
    assert counts(session) == (0, 0)


def test_missing_or_stale_timestamp_is_401(app, session, intake_hook):
    client = app.test_client()
    window = intake_hook.replay_window_seconds

    assert_problem(
        signed_post(client, intake_hook, PAYLOAD, headers={"X-Timestamp": None}), 401, "missing_timestamp"
    )
    assert_problem(
        signed_post(client, intake_hook, PAYLOAD, headers={"X-Timestamp": "yesterday"}),
        401,
        "missing_timestamp",
    )
    # Correctly signed, but outside the window either way: a captured request replayed later.
    old = int(time.time()) - window - 5
    assert_problem(signed_post(client, intake_hook, PAYLOAD, timestamp=old), 401, "stale_timestamp")
    future = int(time.time()) + window + 5
    assert_problem(signed_post(client, intake_hook, PAYLOAD, timestamp=future), 401, "stale_timestamp")
    assert counts(session) == (0, 0)
    # Just inside the window is fine.
    inside = int(time.time()) - window + 5
    assert signed_post(client, intake_hook, PAYLOAD, timestamp=inside).status_code == 201


def test_same_key_replays_the_stored_answer_and_never_starts_twice(app, session, intake_hook, caplog):
    client = app.test_client()
    caplog.set_level(logging.INFO, logger="backend.webhooks")
    first = signed_post(client, intake_hook, PAYLOAD, key="pay-42")
    # The integrator retries (a new timestamp and signature, the same body and key).
    again = signed_post(client, intake_hook, PAYLOAD, key="pay-42", timestamp=int(time.time()) + 1)

    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert counts(session) == (1, 1)
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("webhook.inbound")] == [
        "webhook.inbound.accepted",
        "webhook.inbound.replayed",
    ]
    # Another key is another request.
    assert signed_post(client, intake_hook, PAYLOAD, key="pay-43").status_code == 201
    assert counts(session) == (2, 2)


def test_same_key_with_another_body_is_422(app, session, intake_hook):
    client = app.test_client()
    assert signed_post(client, intake_hook, PAYLOAD, key="pay-1").status_code == 201

    response = signed_post(client, intake_hook, {**PAYLOAD, "amount": 5}, key="pay-1")

    assert_problem(response, 422, "idempotency_key_reused")
    assert counts(session) == (1, 1)


def test_malformed_json_is_400(app, session, intake_hook):
    client = app.test_client()
    # The last: valid JSON whose text PostgreSQL could not store (a 500 there before).
    for raw in (b'{"project_code": "X", ', b"\xff\xfe not utf-8", b"", b'{"project_code": "X\\u0000"}'):
        assert_problem(signed_post(client, intake_hook, None, body=raw), 400, "malformed_json")
    assert counts(session) == (0, 0)


def test_missing_idempotency_key_is_400(app, session, intake_hook):
    response = signed_post(app.test_client(), intake_hook, PAYLOAD, headers={"Idempotency-Key": None})
    assert_problem(response, 400, "missing_idempotency_key")
    assert counts(session) == (0, 0)


def test_body_over_the_limit_is_413_by_header_and_by_real_length(app, session, intake_hook):
    intake_hook.max_body_bytes = 200
    session.commit()
    client = app.test_client()
    big = {**PAYLOAD, "contact": {"name": "王" * 300}}

    assert_problem(signed_post(client, intake_hook, big), 413, "body_too_large")
    # No Content-Length (chunked): the body is read up to the limit, then refused.
    raw = json.dumps(big).encode()
    now = int(time.time())
    response = client.post(
        "/api/v1/hooks/intake",
        input_stream=io.BytesIO(raw),
        environ_overrides={"wsgi.input_terminated": True},  # what gunicorn sets for chunked bodies
        headers={
            "Transfer-Encoding": "chunked",
            "X-Timestamp": str(now),
            "X-Signature": sign(intake_hook.secret, now, raw),
            "Idempotency-Key": "c-1",
        },
    )
    assert_problem(response, 413, "body_too_large")
    assert counts(session) == (0, 0)
    # A body at the limit passes.
    small = json.dumps(PAYLOAD).encode()
    assert len(small) <= 200
    assert signed_post(client, intake_hook, None, body=small).status_code == 201


def test_unknown_or_disabled_hook_is_404(app, session, intake_hook):
    client = app.test_client()
    now = int(time.time())
    response = client.post(
        "/api/v1/hooks/nope", data=b"{}", headers={"X-Timestamp": str(now), "Idempotency-Key": "x"}
    )
    assert_problem(response, 404, "unknown_hook")

    intake_hook.enabled = False
    session.commit()
    assert_problem(signed_post(client, intake_hook, PAYLOAD), 404, "unknown_hook")
    assert counts(session) == (0, 0)


def test_payload_failing_the_mapping_is_422_naming_the_fields(app, session, intake_hook):
    client = app.test_client()

    schema_failure = signed_post(client, intake_hook, {"amount": -3, "contact": "nobody"}, key="m-1")
    body = assert_problem(schema_failure, 422, "mapping_failed")
    assert set(body["errors"]) == {"/project_code", "/amount", "/contact"}

    # Valid against the schema, but a mapped field is absent.
    pointer_failure = signed_post(client, intake_hook, {"project_code": "P-1", "amount": 3}, key="m-2")
    body = assert_problem(pointer_failure, 422, "mapping_failed")
    assert list(body["errors"]) == ["/contact/name"] and "contact_name" in body["errors"]["/contact/name"][0]
    assert counts(session) == (0, 0)
    # A refused call stores nothing: the same key may be used once the payload is fixed.
    assert signed_post(client, intake_hook, PAYLOAD, key="m-2").status_code == 201


def test_twenty_concurrent_retries_start_one_instance(app, session, intake_hook):
    raw = json.dumps(PAYLOAD).encode()
    hook = SimpleNamespace(name=intake_hook.name, secret=intake_hook.secret)
    session.rollback()  # this test's own transaction would hold SQLite's write lock

    def call(_session):
        # A retry of the same request (same key and body), each from its own connection.
        _session.rollback()
        response = signed_post(app.test_client(), hook, None, body=raw, key="storm-1")
        return response.status_code, response.get_json()

    outcomes = race(app, [call] * 20)

    assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    assert {status for status, _ in outcomes} == {201}
    bodies = [json.dumps(body, sort_keys=True) for _, body in outcomes]
    assert len(set(bodies)) == 1
    assert counts(session) == (1, 1)


def test_correlate_hook_delivers_the_message_to_the_waiting_instance(app, session, intake_hook, ack_hook):
    client = app.test_client()
    started = signed_post(client, intake_hook, PAYLOAD, key="s-1").get_json()["result"]["instance_id"]
    (task,) = session.scalars(sa.select(HumanTask).filter_by(instance_id=started, state="open"))
    workflow.complete_task(session=session, task_id=task.id, data={"approved": True}, actor="reviewer")
    session.commit()

    nobody = signed_post(client, ack_hook, {"reference": "OTHER", "receipt": "R-0"}, key="a-0")
    assert_problem(nobody, 409, "no_receiver")
    response = signed_post(
        client, ack_hook, {"reference": PAYLOAD["project_code"], "receipt": "R-1"}, key="a-1"
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    result = response.get_json()["result"]
    assert (
        result["correlated_instances"] == [started] and result["correlation_key"] == PAYLOAD["project_code"]
    )
    session.expire_all()
    assert session.get(ProcessInstance, started).state == "completed"
    assert workflow.instance_variables(session=session, instance_id=started)["ack"] == {"receipt": "R-1"}
    # Only the accepted calls are stored (start + correlate); the 409 left nothing.
    assert counts(session) == (1, 2)


def test_a_refused_action_stores_no_delivery(app, session, deployed):
    from backend.webhooks import service

    hook, _ = service.create_hook(session=session, name="ghost", action="start", target="no_such_process")
    session.commit()

    response = signed_post(app.test_client(), hook, {"a": 1}, key="g-1")

    assert_problem(response, 409, "workflow_refused")
    assert counts(session) == (0, 0)
