"""A slow receiver holds no database lock: the POST runs between two short transactions, so
requests keep writing meanwhile; a worker killed after the POST delivers again later, and the
try is recorded once."""

import dataclasses
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from backend import jobs
from backend.db import utcnow
from backend.jobs import registry, runner
from backend.jobs.models import OutboxJob
from backend.webhooks import outbound
from backend.webhooks.models import WebhookDelivery
from backend.workflow import service as workflow
from tests.webhooks.conftest import Receiver


class SlowReceiver:
    """Answers 200, but the first request waits until `release` is set."""

    def __init__(self):
        self.requests: list[bytes] = []
        self.arrived = threading.Event()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append(body)
                if len(receiver.requests) == 1:
                    receiver.arrived.set()
                    receiver.release.wait(10)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def slow_receiver():
    receiver = SlowReceiver()
    yield receiver
    receiver.close()


def _subscribe_and_start(session, url):
    outbound.create_subscription(session=session, url=url, event_types=["instance.started"], max_attempts=3)
    session.commit()
    workflow.start_instance(
        session=session,
        process_key="webhook_intake",
        data={"amount": 5, "reference": "S-1"},
        business_key="S-1",
    )
    session.commit()
    job_id = session.scalar(sa.select(OutboxJob.id).filter_by(actor=outbound.DELIVER_JOB))
    session.rollback()  # SQLite: end the read, whose BEGIN IMMEDIATE would hold the worker up
    return job_id


def test_requests_write_while_a_receiver_is_slow(app, session, deployed, slow_receiver):
    job_id = _subscribe_and_start(session, slow_receiver.url)
    outcome: list = []
    worker = threading.Thread(target=lambda: outcome.append(runner.execute(app, job_id)), daemon=True)
    worker.start()
    assert slow_receiver.arrived.wait(10)

    # A request starts an instance (SQLite: needs the write lock) and the admin page locks the
    # delivery and its job row (PostgreSQL: NOWAIT fails if the worker still held them).
    started = time.monotonic()
    workflow.start_instance(
        session=session,
        process_key="webhook_intake",
        data={"amount": 1, "reference": "S-2"},
        business_key="S-2",
    )
    session.scalar(sa.select(OutboxJob).filter_by(id=job_id).with_for_update(nowait=True))
    session.scalars(sa.select(WebhookDelivery).with_for_update(nowait=True)).all()
    session.commit()
    assert time.monotonic() - started < 3, "the write waited for the receiver"

    slow_receiver.release.set()
    worker.join(10)
    assert outcome == ["done"]
    session.rollback()
    first = session.scalar(sa.select(WebhookDelivery).order_by(WebhookDelivery.id))
    assert (first.state, first.attempts, first.last_status_code) == ("delivered", 1, 200)
    assert first.last_latency_ms >= 0 and len(first.attempt_log) == 1


def test_a_worker_killed_after_the_post_delivers_again_and_records_once(app, session, deployed, monkeypatch):
    receiver = Receiver()
    try:
        job_id = _subscribe_and_start(session, receiver.url)

        class Killed(BaseException):
            pass

        def killed_after_post(request):
            outbound.post(request.url, request.body, request.headers, allow_private=True)
            raise Killed()

        spec = registry.require(outbound.DELIVER_JOB)
        monkeypatch.setitem(registry._JOBS, spec.name, dataclasses.replace(spec, call_out=killed_after_post))
        with pytest.raises(Killed):
            jobs.run_job_now(job_id)
        monkeypatch.undo()

        session.rollback()
        (delivery,) = session.scalars(sa.select(WebhookDelivery)).all()
        assert (delivery.state, delivery.attempts, len(receiver.requests)) == ("pending", 0, 1)

        # Once the row is stale the relay sends it again; the delivery is made and logged once.
        session.execute(
            sa.update(OutboxJob).filter_by(id=job_id).values(dispatched_at=utcnow() - timedelta(hours=1))
        )
        session.commit()
        jobs.relay_pending()
        jobs.drain()

        session.rollback()
        (delivery,) = session.scalars(sa.select(WebhookDelivery)).all()
        assert (delivery.state, delivery.attempts, len(delivery.attempt_log)) == ("delivered", 1, 1)
        assert len(receiver.requests) == 2  # at-least-once: the receiver dedupes by X-Event-Id
        ids = {r["headers"]["X-Event-Id"] for r in receiver.requests}
        assert ids == {delivery.event_id}
    finally:
        receiver.close()
