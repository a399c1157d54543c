"""Jobs through a real Redis and real dramatiq worker threads, including Redis restarts.

Each test uses its own Redis key namespace (or its own redis-server), so runs never see
each other's messages.
"""

import os
import shutil
import socket
import subprocess
import time
import uuid

import dramatiq
import pytest
import redis
from dramatiq.brokers.redis import RedisBroker

from backend import jobs
from backend.jobs import broker as jobs_broker
from backend.jobs.embedded import stop_worker
from tests.jobs.conftest import row_state, wait_until

IN_CI = os.environ.get("CI", "").lower() == "true"
QUEUE = "bpm"


def _enqueue_committed(session, *keys: str) -> list[int]:
    ids = [jobs.enqueue(session=session, actor="test_jobs.record", payload={"key": k}).id for k in keys]
    session.commit()
    return ids


def _all_done(session, ids) -> bool:
    return all(row_state(session, i).state == "done" for i in ids)


class _Running:
    """A dramatiq Worker (threads) in this process, as `flask worker` runs one."""

    def __init__(self, broker):
        self.worker = dramatiq.Worker(broker, queues={QUEUE}, worker_threads=2, worker_timeout=100)

    def __enter__(self):
        self.worker.start()
        return self.worker

    def __exit__(self, *exc):
        stop_worker(self.worker, timeout=10)


@pytest.fixture()
def private_namespace_broker():
    url = os.environ["TEST_REDIS_URL"]
    namespace = f"bpm-test-{uuid.uuid4().hex[:12]}"
    broker = RedisBroker(url=url, namespace=namespace, middleware=[])
    with jobs_broker.using_broker(broker, backend=jobs_broker.REDIS, redis_url=url):
        yield broker
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"{namespace}*"))
    if keys:
        client.delete(*keys)
    broker.close()


@pytest.mark.redis
def test_job_runs_through_redis_and_a_real_worker(session, calls, private_namespace_broker):
    assert jobs.broker_status()["ok"] is True and jobs.broker_status()["backend"] == "redis"
    ids = _enqueue_committed(session, "a", "b")
    assert jobs.relay_pending() == 2
    with _Running(private_namespace_broker):
        wait_until(lambda: _all_done(session, ids))
    assert sorted(calls.keys()) == ["a", "b"]


# --- a redis-server of our own, to kill and restart -----------------------------------


def _redis_server_binary() -> str:
    binary = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )
    if binary is None:
        reason = "redis-server binary not found: cannot test Redis restarts"
        if IN_CI:
            pytest.fail(reason + " (CI must install redis-server)")
        pytest.skip(reason)
    return binary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server subprocess on a free port; kill() is a crash (SIGKILL), not a shutdown."""

    def __init__(self, directory, *, appendonly: bool):
        self.binary = _redis_server_binary()
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.args = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(directory),
            "--save", "", "--daemonize", "no", "--appendonly", "yes" if appendonly else "no",
            "--appendfsync", "always",
        ]  # fmt: skip
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        wait_until(lambda: self._pings(client), timeout=10)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    @staticmethod
    def _pings(client) -> bool:
        try:
            return client.ping()
        except redis.RedisError:
            return False

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)


@pytest.fixture()
def redis_server_factory(tmp_path):
    servers = []

    def make(*, appendonly: bool) -> RedisServer:
        server = RedisServer(tmp_path, appendonly=appendonly)
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        if server.process and server.process.poll() is None:
            server.kill()


def _queued(server: RedisServer, namespace: str) -> int:
    return server.client().hlen(f"{namespace}:{QUEUE}.msgs")


def test_queued_messages_survive_a_redis_restart(session, calls, redis_server_factory):
    server = redis_server_factory(appendonly=True)
    namespace = "bpm-restart"
    broker = RedisBroker(url=server.url, namespace=namespace, middleware=[])
    with jobs_broker.using_broker(broker, backend=jobs_broker.REDIS, redis_url=server.url):
        first = _enqueue_committed(session, "a", "b", "c")
        assert jobs.relay_pending() == 3
        assert _queued(server, namespace) == 3

        server.kill()  # a crash while the messages wait in Redis
        assert jobs.broker_status()["ok"] is False  # /healthz notices
        # Work committed while Redis is down waits in the outbox.
        [during] = _enqueue_committed(session, "d")
        with pytest.raises(redis.ConnectionError):
            jobs.relay_pending()
        assert row_state(session, during).state == "pending"

        server.start()  # the append-only file brings the messages back
        assert _queued(server, namespace) == 3
        assert jobs.broker_status()["ok"] is True
        assert jobs.relay_pending() == 1

        with _Running(broker):
            wait_until(lambda: _all_done(session, [*first, during]))
            # Redis crashes again under a running worker, which reconnects by itself.
            server.kill()
            server.start()
            second = _enqueue_committed(session, "e", "f")
            assert jobs.relay_pending() == 2
            wait_until(lambda: _all_done(session, second), timeout=30)
    assert sorted(calls.keys()) == ["a", "b", "c", "d", "e", "f"]  # each exactly once


def test_messages_lost_by_redis_are_redispatched_from_the_outbox(
    session, calls, app, redis_server_factory, monkeypatch
):
    server = redis_server_factory(appendonly=False)
    namespace = "bpm-lost"
    broker = RedisBroker(url=server.url, namespace=namespace, middleware=[])
    with jobs_broker.using_broker(broker, backend=jobs_broker.REDIS, redis_url=server.url):
        ids = _enqueue_committed(session, "a", "b")
        assert jobs.relay_pending() == 2
        server.kill()
        server.start()  # no persistence: Redis comes back empty
        assert _queued(server, namespace) == 0

        with _Running(broker):
            time.sleep(0.5)
            assert {row_state(session, i).state for i in ids} == {"dispatched"}  # the messages are gone
            assert jobs.relay_pending() == 0  # not stale yet
            monkeypatch.setitem(app.config, "JOB_REDISPATCH_AFTER_SECONDS", 0)  # ...now they are
            assert jobs.relay_pending() == 2
            wait_until(lambda: _all_done(session, ids))
            assert jobs.relay_pending() == 0
    assert sorted(calls.keys()) == ["a", "b"]
