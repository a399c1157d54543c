"""Outbound event webhooks: subscriptions, events written with the transaction that caused
them, and the signed delivery of each.

`publish` never flushes and never calls out: it adds a `webhook_delivery` row per matching
subscription and an outbox row (`webhooks.deliver`) beside it, so it is safe inside a flush
(the host's Event rows are seen in `before_flush`) and the HTTP call happens after commit.

Each try is logged on the delivery (`attempt_log`), so a failed try must commit: the job
records it and queues the next try itself (a new outbox row after an exponential backoff)
instead of raising, which would roll the log back. After `max_attempts` tries the delivery
is dead; an admin's redelivery starts a new round.

The job runs in phases (backend.jobs.runner): `prepare_delivery` reads and signs, the POST
(`send`) runs with no transaction open, `record_attempt` logs it in a second transaction.
Delivery is at-least-once (a worker killed after the POST sends again); receivers dedupe
by `X-Event-Id`. The attempt is recorded once.
"""

import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import scoped_session

from backend import jobs
from backend.db import utcnow
from backend.jobs import registry as job_registry
from backend.jobs.models import PENDING as JOB_PENDING
from backend.jobs.models import OutboxJob
from backend.jobs.service import ENQUEUED
from backend.webhooks import egress, signing
from backend.webhooks.models import (
    DEAD,
    DELIVERED,
    EVENT_TYPES,
    PENDING,
    WebhookDelivery,
    WebhookSubscription,
)

log = logging.getLogger("backend.webhooks")

DELIVER_JOB = "webhooks.deliver"
TIMEOUT_SECONDS = 5
MAX_BACKOFF_SECONDS = 6 * 3600
MAX_ERROR_CHARS = 2000
MAX_LOGGED_ATTEMPTS = 50
SUBSCRIPTIONS = "webhooks.subscriptions"  # Session.info: the enabled subscriptions of this transaction


class SubscriptionInvalid(ValueError):
    def __init__(self, problems: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


class DeliveryNotRedeliverable(ValueError):
    def __init__(self, delivery_id: int, state: str | None):
        super().__init__(
            f"投递 {delivery_id} 当前状态为 {state or '不存在'}, 只有失败 (dead) 的投递可以重新投递"
        )
        self.delivery_id = delivery_id
        self.state = state


# --- subscriptions ------------------------------------------------------------------------

SUBSCRIPTION_FIELDS = ("url", "description", "event_types", "enabled", "max_attempts")


def create_subscription(
    *, session, created_by: str | None = None, **config
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its secret (returned once)."""
    _check_subscription(config)
    now = utcnow()
    secret = signing.new_secret()
    subscription = WebhookSubscription(
        secret=secret, created_by=created_by, created_at=now, updated_at=now, **config
    )
    session.add(subscription)
    session.flush()
    return subscription, secret


def update_subscription(*, session, subscription: WebhookSubscription, **config) -> WebhookSubscription:
    _check_subscription(config)
    for key, value in config.items():
        setattr(subscription, key, value)
    subscription.updated_at = utcnow()
    session.flush()
    return subscription


def rotate_subscription_secret(*, session, subscription: WebhookSubscription) -> str:
    subscription.secret = signing.new_secret()
    subscription.updated_at = utcnow()
    session.flush()
    return subscription.secret


def _check_subscription(config: dict) -> None:
    unknown = set(config) - set(SUBSCRIPTION_FIELDS)
    if unknown:
        raise TypeError(f"unknown subscription settings: {', '.join(sorted(unknown))}")
    problems = {}
    url = str(config.get("url") or "")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
        problems["url"] = "请填写 http:// 或 https:// 开头的完整地址"
    elif not current_app.config.get("WEBHOOK_ALLOW_PRIVATE_TARGETS") and (reason := egress.check_url(url)):
        problems["url"] = f"只能投递到公网地址: {reason}"
    types = config.get("event_types")
    if not isinstance(types, list) or not types:
        problems["event_types"] = "请至少选择一种事件"
    elif set(types) - set(EVENT_TYPES):
        problems["event_types"] = f"未知的事件类型: {', '.join(sorted(set(types) - set(EVENT_TYPES)))}"
    attempts = config.get("max_attempts", 8)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= 20:
        problems["max_attempts"] = "最多尝试次数必须是 1 到 20 之间的整数"
    if problems:
        raise SubscriptionInvalid(problems)


def list_subscriptions(*, session) -> list[WebhookSubscription]:
    return list(session.scalars(sa.select(WebhookSubscription).order_by(WebhookSubscription.id)))


def recent_deliveries(*, session, state: str | None = None, limit: int = 50) -> list[WebhookDelivery]:
    stmt = sa.select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
    if state:
        stmt = stmt.filter_by(state=state)
    return list(session.scalars(stmt))


# --- events -------------------------------------------------------------------------------


def publish(*, session, event_type: str, data: dict, occurred_at: datetime | None = None) -> str | None:
    """Queue `event_type` for every enabled subscription to it, in the caller's transaction.
    Returns the event id, or None when nobody subscribes. Never flushes."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    subscriptions = [s for s in _enabled_subscriptions(session) if event_type in (s.event_types or [])]
    if not subscriptions:
        return None
    job_registry.require(DELIVER_JOB)
    now = utcnow()
    event_id = str(uuid.uuid4())
    envelope = {
        "id": event_id,
        "type": event_type,
        "occurred_at": (occurred_at or now).isoformat(),
        "data": _json_safe(data),
    }
    for subscription in subscriptions:
        session.add(
            WebhookDelivery(
                subscription_id=subscription.id,
                event_id=event_id,
                event_type=event_type,
                payload=envelope,
                state=PENDING,
                attempts=0,
                attempt_log=[],
                created_at=now,
                next_attempt_at=now,
            )
        )
        # The outbox row jobs.enqueue would write, added without its flush (we may be inside one).
        session.add(_job_row({"subscription_id": subscription.id, "event_id": event_id}, now))
    session.info[ENQUEUED] = True
    log.info(
        "webhook.event",
        extra={"event_id": event_id, "event_type": event_type, "subscribers": len(subscriptions)},
    )
    return event_id


def _enabled_subscriptions(session) -> list[WebhookSubscription]:
    """Read once per transaction: a save that opens many tasks asks once, not per task."""
    if isinstance(session, scoped_session):
        session = session()
    transaction = session.get_transaction()
    cached = session.info.get(SUBSCRIPTIONS)
    if cached is None or transaction is None or cached[0] is not transaction:
        with session.no_autoflush:
            rows = list(session.scalars(sa.select(WebhookSubscription).filter_by(enabled=True)))
        cached = (transaction, rows)
        session.info[SUBSCRIPTIONS] = cached
    return cached[1]


def _job_row(payload: dict, run_after: datetime) -> OutboxJob:
    return OutboxJob(
        actor=DELIVER_JOB,
        payload=payload,
        state=JOB_PENDING,
        run_after=run_after,
        attempts=0,
        created_at=utcnow(),
    )


def _json_safe(value):
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


# --- delivery -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    status_code: int | None
    latency_ms: int
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def encode(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float = TIMEOUT_SECONDS,
    allow_private: bool = False,
) -> Attempt:
    """One HTTP POST to a public address (egress.py); any answer or failure becomes an
    Attempt, never an exception. Redirects are answers, not followed."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    started = time.perf_counter()
    try:
        with egress.opener(allow_private=allow_private).open(request, timeout=timeout) as response:
            response.read(64 * 1024)
            status, error = response.status, None
    except urllib.error.HTTPError as exc:
        status, error = exc.code, f"HTTP {exc.code} {exc.reason}"
    except Exception as exc:  # refused, timeout, DNS, TLS: the receiver is unreachable
        status, error = None, f"{type(exc).__name__}: {exc}"
    latency = int((time.perf_counter() - started) * 1000)
    return Attempt(status, latency, error[:MAX_ERROR_CHARS] if error else None)


@dataclass(frozen=True)
class Send:
    """What one try sends, read in the job's first transaction; the POST happens after it."""

    delivery_id: int
    attempts: int  # the delivery's tries when this was read: the outcome is for that state only
    url: str | None  # None: the subscription is disabled, nothing is sent
    body: bytes = b""
    headers: dict[str, str] | None = None
    allow_private: bool = False  # WEBHOOK_ALLOW_PRIVATE_TARGETS, read where the app is at hand


def prepare_delivery(*, session, subscription_id: int, event_id: str) -> Send | None:
    """The request for the next try of a pending delivery, or None (delivered, dead, gone)."""
    delivery = session.scalar(
        sa.select(WebhookDelivery).filter_by(subscription_id=subscription_id, event_id=event_id)
    )
    if delivery is None or delivery.state != PENDING:
        return None
    subscription = delivery.subscription
    if not subscription.enabled:
        return Send(delivery.id, delivery.attempts, None)
    timestamp = int(time.time())
    body = encode(delivery.payload)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "keyproject-bpm-webhooks/1",
        "X-Event-Id": delivery.event_id,
        "X-Event-Type": delivery.event_type,
        **signing.signed_headers(subscription.secret, timestamp, body),
    }
    allow_private = bool(current_app.config.get("WEBHOOK_ALLOW_PRIVATE_TARGETS"))
    return Send(delivery.id, delivery.attempts, subscription.url, body, headers, allow_private)


def send(request: Send) -> Attempt:
    """The HTTP try; touches no database, so no lock is held while a receiver is slow."""
    if request.url is None:
        return Attempt(None, 0, "订阅已停用")
    return post(request.url, request.body, request.headers or {}, allow_private=request.allow_private)


def record_attempt(*, session, request: Send, attempt: Attempt, now: datetime | None = None) -> str | None:
    """Log the try on its delivery (delivered, dead, or the next try queued). Returns the
    delivery's state, or None when it moved on meanwhile (the try is then not counted)."""
    delivery = session.scalar(sa.select(WebhookDelivery).filter_by(id=request.delivery_id).with_for_update())
    if delivery is None or delivery.state != PENDING or delivery.attempts != request.attempts:
        log.warning(
            "webhook.attempt_superseded",
            extra={"delivery_id": request.delivery_id, "status_code": attempt.status_code},
        )
        return None
    _record(session, delivery, delivery.subscription, attempt, now or utcnow())
    return delivery.state


def deliver(*, session, subscription_id: int, event_id: str, now: datetime | None = None) -> str | None:
    """One try in the caller's transaction (the `webhooks.deliver` job runs the same three
    steps in phases, without a transaction during the POST). Returns the delivery's state,
    or None when there is nothing to do (already delivered or dead, or gone)."""
    request = prepare_delivery(session=session, subscription_id=subscription_id, event_id=event_id)
    if request is None:
        return None
    return record_attempt(session=session, request=request, attempt=send(request), now=now)


def _record(session, delivery: WebhookDelivery, subscription, attempt: Attempt, now: datetime) -> None:
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_status_code = attempt.status_code
    delivery.last_latency_ms = attempt.latency_ms
    delivery.last_error = attempt.error
    entry = {
        "at": now.isoformat(),
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
        "error": attempt.error,
    }
    delivery.attempt_log = [*(delivery.attempt_log or []), entry][-MAX_LOGGED_ATTEMPTS:]
    extra = {
        "delivery_id": delivery.id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "subscription_id": subscription.id,
        "attempt": delivery.attempts,
        "status_code": attempt.status_code,
        "latency_ms": attempt.latency_ms,
    }
    if attempt.ok:
        delivery.state = DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        log.info("webhook.delivered", extra=extra)
    elif not subscription.enabled or delivery.attempts >= subscription.max_attempts:
        delivery.state = DEAD
        delivery.next_attempt_at = None
        log.warning("webhook.dead", extra={**extra, "error": attempt.error})
    else:
        delay = backoff_seconds(delivery.attempts)
        delivery.next_attempt_at = now + timedelta(seconds=delay)
        jobs.enqueue(
            session=session,
            actor=DELIVER_JOB,
            payload={"subscription_id": subscription.id, "event_id": delivery.event_id},
            delay_seconds=delay,
        )
        log.info("webhook.retry_scheduled", extra={**extra, "error": attempt.error, "delay_seconds": delay})
    session.flush()


def backoff_seconds(failures: int) -> float:
    """WEBHOOK_BACKOFF_SECONDS, then twice as long after each failure, capped at 6 hours."""
    base = float(current_app.config.get("WEBHOOK_BACKOFF_SECONDS", 30))
    return min(MAX_BACKOFF_SECONDS, base * 2 ** max(failures - 1, 0))


def redeliver(*, session, delivery_id: int) -> WebhookDelivery:
    """An admin sends a dead delivery again: a new round of `max_attempts` tries."""
    delivery = session.scalar(sa.select(WebhookDelivery).filter_by(id=delivery_id).with_for_update())
    if delivery is None or delivery.state != DEAD:
        raise DeliveryNotRedeliverable(delivery_id, delivery.state if delivery else None)
    delivery.state = PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = utcnow()
    jobs.enqueue(
        session=session,
        actor=DELIVER_JOB,
        payload={"subscription_id": delivery.subscription_id, "event_id": delivery.event_id},
    )
    session.flush()
    log.info("webhook.redelivered", extra={"delivery_id": delivery.id, "event_id": delivery.event_id})
    return delivery
