"""The production processes started by hand, as docker/entrypoint.sh starts them: migrations and
deploy through the `flask` commands, gunicorn serving app:app, `flask worker` and
`flask scheduler run`, against a fresh PostgreSQL database and a redis-server of the test's own
(so it can be killed and restarted without touching the suite's shared Redis).

Intervals are shortened by environment variables only, as an operator would. Every process is
stopped in a finalizer, also when a test fails; their output is printed on failure."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from backend import create_app
from backend.jobs import broker
from backend.webhooks.signing import sign

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_FIXTURES = ROOT / "tests" / "webhooks"
# A dispatched job whose worker died is sent again after this long (production: 600 s).
REDISPATCH_SECONDS = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, *, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"{what}: not met within {timeout}s")


class Process:
    """One server process with its output in a log file."""

    def __init__(self, name: str, command: list[str], *, env: dict, logs: Path):
        self.name = name
        self.log_path = logs / f"{name}-{uuid.uuid4().hex[:6]}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop)
        self.popen = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is cleaned up (a crash, an OOM kill)."""
        if self.alive():
            self.popen.kill()
        self.popen.wait(10)

    def stop(self, timeout: float = 15) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self._log.close()


class RedisServer:
    """A private redis-server without persistence: killing it loses every message it held."""

    def __init__(self, logs: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.logs = logs
        self.process: Process | None = None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        self.process = Process("redis", command, env=dict(os.environ), logs=self.logs)
        wait_until(self._ping, timeout=10, what="redis-server answers")

    def _ping(self) -> bool:
        import redis

        try:
            return redis.Redis.from_url(self.url, socket_timeout=0.5).ping()
        except redis.RedisError:
            return False

    def kill(self) -> None:
        self.process.kill()
        self.process.stop()


class Stack:
    """gunicorn + scheduler + worker(s) on one database and one Redis."""

    def __init__(self, *, env: dict, logs: Path):
        self.env = env
        self.logs = logs
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.processes: list[Process] = []

    def flask(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"flask {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def _start(self, name: str, command: list[str]) -> Process:
        process = Process(name, command, env=self.env, logs=self.logs)
        self.processes.append(process)
        return process

    def start_web(self) -> Process:
        web = self._start(
            "gunicorn",
            [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{self.port}", "app:app"],
        )
        wait_until(lambda: self._healthy(web), timeout=30, what="gunicorn serves /healthz")
        return web

    def _healthy(self, web: Process) -> bool:
        assert web.alive(), web.output()
        try:
            with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=2) as response:
                return response.status == 200
        except OSError:  # refused, or accepted by the master before a worker has booted
            return False

    def start_scheduler(self) -> Process:
        return self._start("scheduler", [sys.executable, "-m", "flask", "--app", "app", "scheduler", "run"])

    def start_worker(self) -> Process:
        worker = self._start(
            "worker", [sys.executable, "-m", "flask", "--app", "app", "worker", "--threads", "2"]
        )
        wait_until(
            lambda: "threads on queue" in worker.output() or not worker.alive(),
            timeout=30,
            what="flask worker starts",
        )
        assert worker.alive(), worker.output()
        return worker

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def outputs(self) -> str:
        return "\n".join(f"===== {p.name} ({p.log_path})\n{p.output()[-4000:]}" for p in self.processes)

    def request(self, method: str, path: str, *, body: bytes | None = None, headers: dict | None = None):
        """(status, parsed JSON or text, headers) of one HTTP call to gunicorn."""
        request = urllib.request.Request(
            f"{self.base_url}{path}", data=body, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, raw, got = response.status, response.read(), response.headers
        except urllib.error.HTTPError as exc:
            status, raw, got = exc.code, exc.read(), exc.headers
        text = raw.decode()
        return status, (json.loads(text) if "json" in (got.get("Content-Type") or "") else text), got

    def signed_hook_call(self, name: str, secret: str, payload: dict, *, key: str):
        raw = json.dumps(payload).encode()
        ts = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Timestamp": ts,
            "X-Signature": sign(secret, ts, raw),
            "Idempotency-Key": key,
        }
        return self.request("POST", f"/api/v1/hooks/{name}", body=raw, headers=headers)


class Receiver:
    """A real HTTP endpoint for outbound deliveries. With `block_first`, the first request is
    held open until `release` is set (a delivery in flight when its worker dies)."""

    def __init__(self, *, block_first: bool = False):
        self.arrived: list[dict] = []  # every request that reached the handler
        self.answered: list[dict] = []  # requests answered 200 to a caller still waiting
        self.release = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                record = {"headers": dict(self.headers), "body": body}
                with receiver.lock:
                    receiver.arrived.append(record)
                    hold = block_first and len(receiver.arrived) == 1
                if hold:
                    receiver.release.wait(60)
                    self.close_connection = True
                    return  # its caller is gone: no answer, no successful receipt
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                with receiver.lock:
                    receiver.answered.append(record)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("production-logs")


@pytest.fixture(scope="module")
def fresh_database() -> str:
    """A database of its own on the suite's PostgreSQL server, created empty and dropped after."""
    admin_url = sa.engine.make_url(os.environ["TEST_DATABASE_URL"])
    name = f"bpm_prod_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def redis_server(logs):
    server = RedisServer(logs)
    server.start()
    yield server
    if server.process is not None:
        server.process.stop()


@pytest.fixture(scope="module")
def stack(fresh_database, redis_server, logs, tmp_path_factory):
    # The webhook tests' intake process (a user task for fgw.reviewer), alone: its neighbour
    # calls an operation only those tests register.
    processes = tmp_path_factory.mktemp("production-processes")
    shutil.copy(WEBHOOK_FIXTURES / "bpmn" / "webhook_intake.bpmn", processes)
    env = {
        **os.environ,
        "DATABASE_URL": fresh_database,
        "REDIS_URL": redis_server.url,
        "JOB_REDIS_NAMESPACE": f"bpm-prod-{uuid.uuid4().hex[:8]}",
        "SECRET_KEY": "production-test-" + uuid.uuid4().hex,
        "EMBEDDED_WORKERS": "false",
        "FILES_DIR": str(tmp_path_factory.mktemp("production-files")),
        "PROCESSES_DIR": str(processes),
        "FORMS_DIR": str(WEBHOOK_FIXTURES / "forms"),
        "JOB_RELAY_INTERVAL_SECONDS": "0.2",
        "JOB_REDISPATCH_AFTER_SECONDS": str(REDISPATCH_SECONDS),
        "JOB_WORKER_SHUTDOWN_SECONDS": "5",
        "SCHEDULER_INTERVAL_SECONDS": "0.5",
        "WEBHOOK_BACKOFF_SECONDS": "1",
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",  # the receivers listen on 127.0.0.1
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    stack = Stack(env=env, logs=logs)
    # What the entrypoint runs before gunicorn: migrations, the calendar, the processes.
    stack.flask("db", "upgrade")
    stack.flask("calendar", "seed")
    assert "deployed  webhook_intake" in stack.flask("processes", "deploy", "--by", "test")
    try:
        stack.start_web()
        stack.start_scheduler()
        stack.start_worker()
        yield stack
    finally:
        stack.stop_all()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(autouse=True)
def _logs_on_failure(request, stack):
    """The processes' output, when a test fails: what the worker or gunicorn said is the clue."""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        terminal = request.config.pluginmanager.get_plugin("terminalreporter")
        terminal.write_line(stack.outputs())


@pytest.fixture(scope="module")
def control(app, stack):
    """An app in the test process on the stack's database: configuration through the services
    (hooks, keys, subscriptions) and reading rows, as an admin would."""
    control = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": stack.env["DATABASE_URL"],
            "REDIS_URL": stack.env["REDIS_URL"],
            "JOB_REDIS_NAMESPACE": stack.env["JOB_REDIS_NAMESPACE"],
            "EMBEDDED_WORKERS": False,
            "WEBHOOK_ALLOW_PRIVATE_TARGETS": True,
        }
    )
    try:
        yield control
    finally:
        broker.configure(app)  # the broker is process-wide: give it back to the suite's app
        with control.app_context():
            from backend.extensions import db

            db.engine.dispose()


@pytest.fixture()
def receiver():
    r = Receiver()
    yield r
    r.close()
