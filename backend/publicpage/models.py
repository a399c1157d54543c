"""Tables of the public progress page (项目进度查询): the per-project switch, photos chosen for
publication and citizens' feedback. Times are UTC."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import UTCDateTime, utcnow
from backend.extensions import db


class ProjectPublication(db.Model):
    """The publication switch of one project. No row = the default (enabled: every project in a
    public state has a page, issue 8). `version` goes up on every change that the page shows
    (switch, photos, moderation): it is part of the page cache's key, so every worker sees the
    change at once."""

    __tablename__ = "project_publication"

    project_id: Mapped[int] = mapped_column(sa.ForeignKey("project.id"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=0)
    updated_by: Mapped[str | None] = mapped_column(sa.String(60))
    updated_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PublicPhoto(db.Model):
    """A photo chosen for the public page. `original_sha256` (the upload, may carry EXIF/GPS)
    stays private; only `published_sha256` (re-encoded by Pillow, no metadata) is served."""

    __tablename__ = "public_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("project.id"), index=True)
    original_sha256: Mapped[str] = mapped_column(sa.ForeignKey("stored_file.sha256"))
    published_sha256: Mapped[str] = mapped_column(sa.ForeignKey("stored_file.sha256"), index=True)
    caption: Mapped[str] = mapped_column(sa.String(200), default="")
    position: Mapped[int] = mapped_column(default=0)
    published: Mapped[bool] = mapped_column(default=True)
    width: Mapped[int] = mapped_column(default=0)
    height: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[str | None] = mapped_column(sa.String(60))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    unpublished_at: Mapped[object | None] = mapped_column(UTCDateTime)


class PublicFeedback(db.Model):
    """A citizen's rating (1–5) and comment; shown only once approved. No name, no contact:
    the address is kept only as a salted hash (rate limits, spotting floods)."""

    __tablename__ = "public_feedback"
    __table_args__ = (
        sa.Index("ix_public_feedback_project_status", "project_id", "status"),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="ck_public_feedback_rating"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("project.id"))
    rating: Mapped[int] = mapped_column(sa.SmallInteger)
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    # pending | approved | rejected
    status: Mapped[str] = mapped_column(sa.String(10), default="pending")
    ip_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    moderated_by: Mapped[str | None] = mapped_column(sa.String(60))
    moderated_at: Mapped[object | None] = mapped_column(UTCDateTime)
    reject_reason: Mapped[str | None] = mapped_column(sa.String(200))
