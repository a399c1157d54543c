"""Fixtures of the webhook tests: a small process deployed from tests/webhooks/bpmn, a hook
that starts it and one that correlates its message, a signed-call helper, and a real HTTP
receiver (http.server in a thread) for outbound deliveries."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from backend.webhooks import service
from backend.webhooks.signing import sign
from backend.workdays.service import seed_from_chinese_calendar
from backend.workflow import registry
from backend.workflow.deploy import deploy_files, read_directory

HERE = Path(__file__).parent

INTAKE_SCHEMA = {
    "type": "object",
    "required": ["project_code", "amount"],
    "properties": {
        "project_code": {"type": "string", "minLength": 1},
        "amount": {"type": "number", "minimum": 0},
        "contact": {"type": "object"},
    },
}


@registry.operation("webhook_test.unreachable")
def _unreachable(ctx):
    raise ConnectionError("outside system unreachable")


@pytest.fixture()
def deployed(session):
    seed_from_chinese_calendar(session=session)
    deploy_files(
        session=session, files=read_directory(HERE / "bpmn"), forms_dir=HERE / "forms", deployed_by="test"
    )
    session.commit()


@pytest.fixture()
def intake_hook(session, deployed):
    hook, secret = service.create_hook(
        session=session,
        name="intake",
        action="start",
        target="webhook_intake",
        variables={"amount": "/amount", "contact_name": "/contact/name", "reference": "/project_code"},
        payload_schema=INTAKE_SCHEMA,
        business_key_pointer="/project_code",
    )
    session.commit()
    return hook


@pytest.fixture()
def ack_hook(session, deployed):
    hook, _ = service.create_hook(
        session=session,
        name="ack",
        action="correlate",
        target="webhook_ack",
        variables={"receipt": "/receipt"},
        payload_schema={"type": "object", "required": ["reference", "receipt"]},
        correlation_key_pointer="/reference",
    )
    session.commit()
    return hook


def signed_post(client, hook, payload, *, key="k-1", timestamp=None, secret=None, body=None, headers=None):
    """POST a call the way an integrator would: raw JSON body, its HMAC, a timestamp, a key."""
    raw = body if body is not None else json.dumps(payload).encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    sent = {
        "Content-Type": "application/json",
        "X-Timestamp": ts,
        "X-Signature": sign(secret or hook.secret, ts, raw),
        "Idempotency-Key": key,
    }
    sent.update(headers or {})
    return client.post(
        f"/api/v1/hooks/{hook.name}", data=raw, headers={k: v for k, v in sent.items() if v is not None}
    )


class Receiver:
    """A real HTTP endpoint: records each request; answers with the next status in `replies`
    (then 200)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.replies: list[int] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.requests.append({"headers": dict(self.headers), "body": body})
                    status = receiver.replies.pop(0) if receiver.replies else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture()
def fast_retries(app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_BACKOFF_SECONDS", 0)
