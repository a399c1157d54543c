"""Every version of every form: a deployed process keeps the ids of the versions it was
deployed with, so a running instance shows and validates the form it started with."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import UTCDateTime, utcnow
from backend.extensions import db


class FormVersion(db.Model):
    """One stored form schema; never changed once written (ids are in-process cache keys)."""

    __tablename__ = "form_version"
    __table_args__ = (
        sa.UniqueConstraint("name", "version", name="uq_form_version_name_version"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), index=True)
    version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(sa.String(64))  # sha256 of the canonical JSON
    # Plain JSON, not JSONB: PostgreSQL's jsonb reorders keys, and the order of `properties`
    # is the order of the fields on the form.
    schema: Mapped[dict] = mapped_column(sa.JSON())
    source: Mapped[str] = mapped_column(sa.String(10))  # file | editor
    saved_by: Mapped[str | None] = mapped_column(sa.String(120))
    saved_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
