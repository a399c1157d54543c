"""What was read from an uploaded document (one row per file: the same bytes are read once),
and how the applicant treated each value put into the form from it (to measure accuracy in
real use, not only on the test corpus)."""

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import JSONType, UTCDateTime, utcnow
from backend.extensions import db

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
STATES = (QUEUED, RUNNING, DONE, FAILED)
FINISHED = (DONE, FAILED)


class DocumentExtraction(db.Model):
    __tablename__ = "document_extraction"
    __table_args__ = (
        sa.CheckConstraint(sa.text("state IN ('queued', 'running', 'done', 'failed')"), name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique: a file uploaded again (by anyone, under any name) is not read again.
    file_sha256: Mapped[str] = mapped_column(sa.ForeignKey("stored_file.sha256"), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(40))  # proposal | feasibility | preliminary_design
    file_name: Mapped[str | None] = mapped_column(sa.String(255))  # as first uploaded
    requested_by: Mapped[str] = mapped_column(sa.String(120))
    state: Mapped[str] = mapped_column(sa.String(16), default=QUEUED)
    pages_done: Mapped[int] = mapped_column(default=0)
    pages_total: Mapped[int | None] = mapped_column()
    error_code: Mapped[str | None] = mapped_column(sa.String(40))
    error: Mapped[str | None] = mapped_column(sa.Text)  # Chinese, for the applicant
    # The values of the message's placeholders ({"done": 3, "total": 12, ...}): the message is
    # shown in the viewer's language from error_code and these (service.status).
    error_values: Mapped[dict | None] = mapped_column(JSONType)
    # Readings asked for: 1, then +1 per "重新识别" (each its own job idempotency key).
    attempts: Mapped[int] = mapped_column(default=1, server_default="1")
    # {field: {"value", "snippet", "page", "confidence"}}; amounts as strings of yuan.
    result: Mapped[dict | None] = mapped_column(JSONType)
    # "text" | "ocr" | "mixed": how the pages were read.
    method: Mapped[str | None] = mapped_column(sa.String(16))
    seconds: Mapped[Decimal | None] = mapped_column(sa.Numeric(10, 3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<DocumentExtraction {self.id} {self.file_sha256[:12]} {self.state}>"


class ExtractionCorrection(db.Model):
    """One form field filled from a document, as extracted and as finally submitted."""

    __tablename__ = "extraction_correction"

    id: Mapped[int] = mapped_column(primary_key=True)
    extraction_id: Mapped[int] = mapped_column(sa.ForeignKey("document_extraction.id"), index=True)
    field: Mapped[str] = mapped_column(sa.String(60))  # the form field, e.g. "total_investment"
    extracted: Mapped[str] = mapped_column(sa.Text)  # as put into the form
    submitted: Mapped[str | None] = mapped_column(sa.Text)
    accepted: Mapped[bool] = mapped_column()  # kept unchanged by the applicant
    project_code: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
