"""/metrics: Prometheus text, state gauges read from the database, per-process request
counters, and access from localhost or with METRICS_TOKEN only."""

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from backend import jobs
from backend.db import utcnow
from backend.jobs.models import OutboxJob
from backend.webhooks.models import WebhookDelivery, WebhookSubscription
from backend.workflow.models import Incident, ProcessDefinition, ProcessInstance, Timer

REMOTE = {"REMOTE_ADDR": "10.1.2.3"}


def scrape(app, **kwargs) -> dict[tuple, float]:
    """{(sample name, sorted labels without pid): value} of one scrape."""
    response = app.test_client().get("/metrics", **kwargs)
    assert response.status_code == 200, response.data
    assert response.content_type.startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "pid"))
            samples[(sample.name, labels)] = samples.get((sample.name, labels), 0) + sample.value
    return samples


def state(samples, name: str, value: str) -> float:
    return samples[(name, (("state", value),))]


def _instance(session, definition, state):
    instance = ProcessInstance(
        definition_id=definition.id,
        process_key="approval",
        state=state,
        state_json="{}",
        serializer_version="1",
    )
    session.add(instance)
    session.flush()
    return instance


def test_state_gauges_follow_the_data(app, session):
    empty = scrape(app)
    for job_state in ("pending", "dispatched", "done", "failed", "dead"):
        assert state(empty, "bpm_jobs", job_state) == 0
    for instance_state in ("running", "completed", "incident", "suspended", "cancelled"):
        assert state(empty, "bpm_process_instances", instance_state) == 0
    for delivery_state in ("pending", "delivered", "dead"):
        assert state(empty, "bpm_webhook_deliveries", delivery_state) == 0
    assert empty[("bpm_incidents_open", ())] == 0
    assert empty[("bpm_timer_lag_seconds", ())] == 0
    assert empty[("bpm_database_up", ())] == 1

    definition = ProcessDefinition(
        key="approval",
        version=1,
        name="审批",
        content_hash="x" * 64,
        file_name="approval.bpmn",
        source_xml="<x/>",
        spec_json="{}",
        serializer_version="1",
    )
    session.add(definition)
    session.flush()
    running = [_instance(session, definition, "running") for _ in range(3)]
    stuck = _instance(session, definition, "incident")
    _instance(session, definition, "completed")
    now = utcnow()
    session.add_all(
        [
            Incident(instance_id=stuck.id, kind="task_error", message="x", state="open"),
            Incident(instance_id=stuck.id, kind="task_error", message="y", state="open"),
            Incident(instance_id=running[0].id, kind="stuck", message="z", state="resolved"),
            # Late by two minutes, late by one, and not due yet: the oldest late one counts.
            Timer(instance_id=running[0].id, due_at=now - timedelta(seconds=120), element_id="t"),
            Timer(instance_id=running[1].id, due_at=now - timedelta(seconds=60), element_id="t"),
            Timer(instance_id=running[2].id, due_at=now + timedelta(hours=1), element_id="t"),
        ]
    )
    for key in ("a", "b", "c"):
        jobs.enqueue(session=session, actor="workflow.fire_timers", payload={"key": key})
    session.flush()
    session.query(OutboxJob).filter(OutboxJob.payload["key"].as_string() == "c").update(
        {"state": "dead"}, synchronize_session=False
    )
    subscription = WebhookSubscription(
        url="http://127.0.0.1:9/", event_types=["instance.started"], secret="s"
    )
    session.add(subscription)
    session.flush()
    for event_id, delivery_state in (("e1", "pending"), ("e2", "delivered"), ("e3", "delivered")):
        session.add(
            WebhookDelivery(
                subscription_id=subscription.id,
                event_id=event_id,
                event_type="instance.started",
                payload={},
                state=delivery_state,
            )
        )
    session.commit()

    full = scrape(app)
    assert state(full, "bpm_jobs", "pending") == 2
    assert state(full, "bpm_jobs", "dead") == 1
    assert state(full, "bpm_jobs", "done") == 0
    assert state(full, "bpm_process_instances", "running") == 3
    assert state(full, "bpm_process_instances", "incident") == 1
    assert state(full, "bpm_process_instances", "completed") == 1
    assert full[("bpm_incidents_open", ())] == 2
    assert 120 <= full[("bpm_timer_lag_seconds", ())] < 150
    assert state(full, "bpm_webhook_deliveries", "pending") == 1
    assert state(full, "bpm_webhook_deliveries", "delivered") == 2
    assert state(full, "bpm_webhook_deliveries", "dead") == 0

    # The late timers fire: no lag left.
    session.query(Timer).filter(Timer.due_at <= now).delete(synchronize_session=False)
    session.commit()
    assert scrape(app)[("bpm_timer_lag_seconds", ())] == 0


def test_requests_are_counted_by_endpoint_and_status_with_latency(app, session):
    client = app.test_client()
    before = scrape(app)

    def count(samples, endpoint, status, method="GET"):
        key = (
            "bpm_http_requests_total",
            (("endpoint", endpoint), ("method", method), ("status", status)),
        )
        return samples.get(key, 0)

    def observed(samples, endpoint):
        return samples.get(
            ("bpm_http_request_duration_seconds_count", (("endpoint", endpoint), ("method", "GET"))), 0
        )

    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert client.get("/no/such/page").status_code == 404
    assert client.post("/healthz").status_code == 405
    after = scrape(app)
    assert count(after, "health.healthz", "200") - count(before, "health.healthz", "200") == 3
    assert count(after, "unmatched", "404") - count(before, "unmatched", "404") == 1
    assert count(after, "unmatched", "405", "POST") - count(before, "unmatched", "405", "POST") == 1
    assert observed(after, "health.healthz") - observed(before, "health.healthz") == 3
    # Every observation falls in the +Inf bucket; the sum of durations grows.
    inf = (
        "bpm_http_request_duration_seconds_bucket",
        (("endpoint", "health.healthz"), ("le", "+Inf"), ("method", "GET")),
    )
    assert after[inf] == observed(after, "health.healthz")
    summed = ("bpm_http_request_duration_seconds_sum", (("endpoint", "health.healthz"), ("method", "GET")))
    assert after[summed] > before.get(summed, 0)
    # The scrape itself is a request like any other.
    assert count(after, "metrics.metrics", "200") >= 1


def test_access_from_localhost_or_with_the_token(app, session, monkeypatch):
    client = app.test_client()
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "")
    assert client.get("/metrics", environ_base=REMOTE).status_code == 403
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    # No token configured: no bearer value opens it from elsewhere.
    assert (
        client.get("/metrics", environ_base=REMOTE, headers={"Authorization": "Bearer "}).status_code == 403
    )

    monkeypatch.setitem(app.config, "METRICS_TOKEN", "s3cret-token")
    ok = client.get("/metrics", environ_base=REMOTE, headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 200 and b"bpm_jobs" in ok.data
    wrong = client.get("/metrics", environ_base=REMOTE, headers={"Authorization": "Bearer s3cret-tokeN"})
    assert wrong.status_code == 403
    assert client.get("/metrics", environ_base=REMOTE).status_code == 403
    assert (
        client.get("/metrics", environ_base=REMOTE, headers={"Authorization": "s3cret-token"}).status_code
        == 403
    )


def test_unreadable_database_still_answers(app, tmp_path):
    from backend import create_app
    from backend.jobs import broker

    broken = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}",  # a directory: every query fails
            "EMBEDDED_WORKERS": False,
        }
    )
    try:
        samples = scrape(broken)
    finally:
        broker.configure(app)  # the broker is process-wide: give it back to the suite's app
    assert samples[("bpm_database_up", ())] == 0
    assert not any(name == "bpm_jobs" for name, _ in samples)
