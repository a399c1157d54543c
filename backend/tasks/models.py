"""Tables of the inbox: what people did to a human task, copies, delegations, notifications.

Keyed by the engine's task id (human_task.id) without a foreign key on it: the log outlives
any cleanup of the projection, and it is append-only.
"""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.crypto.variables import SensitiveJSON
from backend.db import UTCDateTime, utcnow
from backend.extensions import db

ACTIONS = (
    "claim",
    "unclaim",
    "transfer",
    "delegate",
    "delegate_return",
    "cc",
    "urge",
    "add_sign",
    "remove_signer",
    "sign",
)
NOTIFICATION_KINDS = (
    "new_task",
    "returned",
    "urged",
    "reminded",
    "cc",
    "escalated",
    "delegated",
    "transferred",
    "add_sign",
)


class TaskAction(db.Model):
    """Append-only: who did what to a task, to whom, why and when."""

    __tablename__ = "task_action"
    __table_args__ = (
        sa.Index("ix_task_action_task_action_at", "task_id", "action", "at"),
        sa.Index("ix_task_action_instance", "instance_id"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    task_id: Mapped[str] = mapped_column(sa.String(36))
    instance_id: Mapped[int] = mapped_column(sa.ForeignKey("process_instance.id"))
    action: Mapped[str] = mapped_column(sa.String(20))
    actor: Mapped[str] = mapped_column(sa.String(120))
    target_user: Mapped[str | None] = mapped_column(sa.String(120))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)


class TaskCopy(db.Model):
    """抄送: a task shown to someone for information; they cannot act on it."""

    __tablename__ = "task_copy"
    __table_args__ = (sa.Index("ix_task_copy_to_user_task", "to_user", "task_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[str] = mapped_column(sa.String(36))
    instance_id: Mapped[int] = mapped_column(sa.ForeignKey("process_instance.id"), index=True)
    to_user: Mapped[str] = mapped_column(sa.String(120))
    from_user: Mapped[str] = mapped_column(sa.String(120))
    note: Mapped[str | None] = mapped_column(sa.Text)
    at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[object | None] = mapped_column(UTCDateTime)


class Notification(db.Model):
    __tablename__ = "notification"
    # The unread badge counts (user, read_at IS NULL); the unread list reads it newest first.
    # The notifications page reads (user) newest first, read or not, in keyset pages.
    __table_args__ = (
        sa.Index("ix_notification_user_read", "user", "read_at", "created_at", "id"),
        sa.Index("ix_notification_user_created", "user", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    user: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[str] = mapped_column(sa.String(20))
    title: Mapped[str] = mapped_column(sa.String(300))
    link: Mapped[str | None] = mapped_column(sa.String(300))
    instance_id: Mapped[int | None] = mapped_column(sa.ForeignKey("process_instance.id"))
    task_id: Mapped[str | None] = mapped_column(sa.String(36))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[object | None] = mapped_column(UTCDateTime)


class Delegation(db.Model):
    """委托: the owner asked the delegate for an opinion; the task is with the delegate until
    answered, then back with the owner, who decides."""

    __tablename__ = "delegation"
    __table_args__ = (sa.Index("ix_delegation_task_open", "task_id", "answered_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[str] = mapped_column(sa.String(36))
    owner: Mapped[str] = mapped_column(sa.String(120))
    delegate: Mapped[str] = mapped_column(sa.String(120))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[object | None] = mapped_column(UTCDateTime)
    opinion: Mapped[str | None] = mapped_column(sa.Text)


class HeldDecision(db.Model):
    """后加签: the owner's submitted form, held until every after-signer has signed; then the
    engine task is completed with it, as the owner. Dropped when a signer disagrees."""

    __tablename__ = "held_decision"

    task_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    actor: Mapped[str] = mapped_column(sa.String(120))
    data: Mapped[dict] = mapped_column(SensitiveJSON, default=dict)  # personal data as SM4 tokens
    at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
