"""The audit log (issue 7): one row per security event or business action, each the data of one
leaf of the "audit" ledger. Append-only: nothing updates these rows; deletion only after the
retention period (`service.purge`, and on PostgreSQL the trigger in `ddl.py`)."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import JSONType, UTCDateTime, utcnow
from backend.extensions import db

RESULTS = ("success", "failure", "denied")


class AuditRecord(db.Model):
    __tablename__ = "audit_record"
    __table_args__ = (
        sa.Index("ix_audit_record_at", "at"),
        sa.Index("ix_audit_record_username_at", "username", "at"),
        sa.Index("ix_audit_record_action_at", "action", "at"),
        sa.Index("ix_audit_record_object", "object_type", "object_id"),
        sa.CheckConstraint(sa.text("result IN ('success', 'failure', 'denied')"), name="audit_result"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # No foreign key: the record outlives the account.
    user_id: Mapped[int | None] = mapped_column(sa.Integer)
    username: Mapped[str | None] = mapped_column(sa.String(120))
    source_addr: Mapped[str | None] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(80))
    object_type: Mapped[str | None] = mapped_column(sa.String(60))
    object_id: Mapped[str | None] = mapped_column(sa.String(120))
    result: Mapped[str] = mapped_column(sa.String(16))
    detail: Mapped[dict] = mapped_column(JSONType, default=dict)
    # Its leaf in the "audit" ledger.
    leaf_index: Mapped[int] = mapped_column(sa.BigInteger, unique=True)
