"""The dramatiq side: which broker carries outbox messages, and the actors that receive them.

With REDIS_URL, a RedisBroker shared with the `flask worker` processes; without it, an
in-process StubBroker served by worker threads (embedded mode). Every registered job is
one dramatiq actor of the same name on one queue; its message carries only the outbox
row id, and the actor runs that row (see runner.execute).

The broker has no middleware: retries, backoff and dead-lettering are the outbox's,
kept in the database where they survive a broker that loses its data.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from flask import Flask, current_app, has_app_context
from redis.backoff import NoBackoff
from redis.retry import Retry as RedisRetry

from backend.jobs import registry

REDIS = "redis"
EMBEDDED = "embedded"


@dataclass
class _Runtime:
    app: Flask | None = None
    broker: dramatiq.Broker | None = None
    backend: str = EMBEDDED
    queue: str = "bpm"
    redis_url: str = ""
    status_client: redis.Redis | None = None


_runtime = _Runtime()
_lock = threading.RLock()


def configure(app: Flask) -> None:
    """Build the broker from app.config; the last app configured is the one jobs run in."""
    url = app.config.get("REDIS_URL") or ""
    queue = app.config["JOB_QUEUE"]
    if url:
        broker = RedisBroker(url=url, namespace=app.config["JOB_REDIS_NAMESPACE"], middleware=[])
        backend = REDIS
    else:
        broker = StubBroker(middleware=[])
        backend = EMBEDDED
    with _lock:
        _runtime.app = app
        install(broker, backend=backend, queue=queue, redis_url=url)


def install(broker: dramatiq.Broker, *, backend: str, queue: str, redis_url: str = "") -> None:
    """Make `broker` the one the relay sends to, with an actor for every registered job."""
    with _lock:
        broker.declare_queue(queue)
        _runtime.broker, _runtime.backend, _runtime.queue = broker, backend, queue
        if redis_url != _runtime.redis_url:
            _runtime.status_client = None
        _runtime.redis_url = redis_url
        for spec in registry.all_jobs():
            _declare_actor(broker, spec.name, queue)
        dramatiq.set_broker(broker)


@contextmanager
def using_broker(broker: dramatiq.Broker, *, backend: str, redis_url: str = "") -> Iterator[dramatiq.Broker]:
    """Send and receive through another broker for a while (tests: a private Redis namespace)."""
    with _lock:
        saved = (_runtime.broker, _runtime.backend, _runtime.queue, _runtime.redis_url)
        install(broker, backend=backend, queue=_runtime.queue, redis_url=redis_url)
    try:
        yield broker
    finally:
        with _lock:
            old_broker, old_backend, old_queue, old_url = saved
            if old_broker is not None:
                install(old_broker, backend=old_backend, queue=old_queue, redis_url=old_url)


def declare(spec: registry.JobSpec) -> None:
    """A job registered after the broker was built gets its actor now."""
    with _lock:
        if _runtime.broker is not None:
            _declare_actor(_runtime.broker, spec.name, _runtime.queue)


def _declare_actor(broker: dramatiq.Broker, name: str, queue: str) -> None:
    if name in broker.actors:
        return  # the actor only carries the name; the function is looked up per message

    def perform(outbox_id: int) -> None:
        from backend.jobs import runner

        runner.execute(app_for_jobs(), outbox_id, expected_actor=name)

    perform.__qualname__ = perform.__name__ = f"perform[{name}]"
    dramatiq.Actor(perform, broker=broker, actor_name=name, queue_name=queue, priority=0, options={})


def send(*, actor: str, outbox_id: int) -> None:
    """Hand one outbox row to the broker. The relay only sends rows that are due."""
    broker = current_broker()
    message = dramatiq.Message(
        queue_name=_runtime.queue, actor_name=actor, args=(outbox_id,), kwargs={}, options={}
    )
    broker.enqueue(message)


def current_broker() -> dramatiq.Broker:
    if _runtime.broker is None:
        raise RuntimeError("backend.jobs.init_app(app) has not run: no broker")
    return _runtime.broker


def backend() -> str:
    return _runtime.backend


def queue_name() -> str:
    return _runtime.queue


def app_for_jobs() -> Flask:
    """The current app when there is one, else the app init_app configured (worker threads)."""
    if has_app_context():
        return current_app._get_current_object()
    if _runtime.app is None:
        raise RuntimeError("backend.jobs.init_app(app) has not run: no app to run jobs in")
    return _runtime.app


def broker_status() -> dict:
    """For /healthz: is the broker reachable? Never raises, never waits more than ~1 s."""
    if _runtime.backend != REDIS:
        from backend.jobs import embedded

        return {"ok": True, "backend": EMBEDDED, "workers_running": embedded.is_running()}
    started = time.perf_counter()
    try:
        _status_client().ping()
    except redis.RedisError as exc:
        return {"ok": False, "backend": REDIS, "error": f"{type(exc).__name__}: {exc}"[:200]}
    return {"ok": True, "backend": REDIS, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _status_client() -> redis.Redis:
    with _lock:
        if _runtime.status_client is None:
            # Its own client: short timeouts and one quick retry (a connection left over from before
            # a Redis restart), unlike the broker's patient connection pool.
            _runtime.status_client = redis.Redis.from_url(
                _runtime.redis_url,
                socket_timeout=1,
                socket_connect_timeout=1,
                retry=RedisRetry(NoBackoff(), 1),
            )
        return _runtime.status_client
