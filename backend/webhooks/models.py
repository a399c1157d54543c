"""Inbound hooks (signed calls that start a process or correlate a message) and outbound
subscriptions (signed event deliveries), each with its delivery log."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import JSONType, UTCDateTime, utcnow
from backend.extensions import db

START = "start"  # target is a process key
CORRELATE = "correlate"  # target is a message name
ACTIONS = (START, CORRELATE)

PENDING = "pending"
DELIVERED = "delivered"
DEAD = "dead"
DELIVERY_STATES = (PENDING, DELIVERED, DEAD)

EVENT_TYPES = (
    "instance.started",
    "instance.completed",
    "task.created",
    "task.completed",
    "approval.issued",
    "payment.released",
    "ticket.overdue",
    "incident.opened",
)


class InboundHook(db.Model):
    __tablename__ = "inbound_hook"
    __table_args__ = (sa.CheckConstraint(sa.text("action IN ('start', 'correlate')"), name="action"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80), unique=True)
    description: Mapped[str] = mapped_column(sa.String(500), default="")
    action: Mapped[str] = mapped_column(sa.String(16))
    # The process key (start) or the message name (correlate).
    target: Mapped[str] = mapped_column(sa.String(200))
    # Process variable (or message payload field) name -> JSON pointer into the payload.
    variables: Mapped[dict] = mapped_column(JSONType, default=dict)
    # JSON Schema the payload must satisfy before it is mapped.
    payload_schema: Mapped[dict] = mapped_column(JSONType, default=dict)
    business_key_pointer: Mapped[str | None] = mapped_column(sa.String(200))
    correlation_key_pointer: Mapped[str | None] = mapped_column(sa.String(200))
    # Kept in clear: the HMAC needs it. Encryption at rest comes with issue 7.
    secret: Mapped[str] = mapped_column(sa.String(128))
    enabled: Mapped[bool] = mapped_column(default=True)
    replay_window_seconds: Mapped[int] = mapped_column(default=300)
    max_body_bytes: Mapped[int] = mapped_column(default=1024 * 1024)
    created_by: Mapped[str | None] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InboundDelivery(db.Model):
    """An accepted call. The unique (hook, idempotency key) makes a retry return this row's
    result instead of acting twice."""

    __tablename__ = "inbound_delivery"
    __table_args__ = (
        sa.UniqueConstraint("hook_id", "idempotency_key", name="uq_inbound_delivery_hook_key"),
        sa.Index("ix_inbound_delivery_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hook_id: Mapped[int] = mapped_column(sa.ForeignKey("inbound_hook.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(sa.String(255))
    # A reused key with another body is refused, not answered with the first result.
    body_sha256: Mapped[str] = mapped_column(sa.String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(sa.String(16), default="accepted")
    response_status: Mapped[int] = mapped_column(default=200)
    result: Mapped[dict] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(sa.Text)
    remote_addr: Mapped[str | None] = mapped_column(sa.String(64))

    hook: Mapped[InboundHook] = relationship()


class WebhookSubscription(db.Model):
    __tablename__ = "webhook_subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    description: Mapped[str] = mapped_column(sa.String(500), default="")
    event_types: Mapped[list] = mapped_column(JSONType, default=list)
    # Kept in clear: the HMAC needs it. Encryption at rest comes with issue 7.
    secret: Mapped[str] = mapped_column(sa.String(128))
    enabled: Mapped[bool] = mapped_column(default=True)
    max_attempts: Mapped[int] = mapped_column(default=8)
    created_by: Mapped[str | None] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(db.Model):
    """One event for one subscription; `attempt_log` keeps every try (status, latency, error)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        sa.UniqueConstraint("subscription_id", "event_id", name="uq_webhook_delivery_subscription_event"),
        sa.Index("ix_webhook_delivery_state", "state", "id"),
        sa.CheckConstraint(sa.text("state IN ('pending', 'delivered', 'dead')"), name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(sa.ForeignKey("webhook_subscription.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(sa.String(36))
    event_type: Mapped[str] = mapped_column(sa.String(40))
    payload: Mapped[dict] = mapped_column(JSONType)
    state: Mapped[str] = mapped_column(sa.String(16), default=PENDING)
    # Tries in the current round (a redelivery starts a new round; the log keeps all).
    attempts: Mapped[int] = mapped_column(default=0)
    attempt_log: Mapped[list] = mapped_column(JSONType, default=list)
    last_status_code: Mapped[int | None] = mapped_column()
    last_latency_ms: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    subscription: Mapped[WebhookSubscription] = relationship()
