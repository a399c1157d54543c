"""A designer's unsaved work: one draft per BPMN file, named by the file's main process key."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import UTCDateTime, utcnow
from backend.extensions import db


class ProcessDraft(db.Model):
    __tablename__ = "process_draft"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    file_name: Mapped[str] = mapped_column(sa.String(255))
    xml: Mapped[str] = mapped_column(sa.Text)
    saved_by: Mapped[str | None] = mapped_column(sa.String(120))
    saved_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
