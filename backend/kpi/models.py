"""Tables of the KPI reports (issue 10, "Reports"); the evaluation scheme's table lives in
evaluation.py."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import UTCDateTime, utcnow
from backend.extensions import db

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STATUSES = (QUEUED, RUNNING, DONE, FAILED)
OPEN_STATUSES = (QUEUED, RUNNING)  # a second request for the same report joins these
TRIGGERS = ("scheduled", "manual")


class KpiReport(db.Model):
    """One quarterly or annual performance report of a region: requested, generated in the
    background (reports.py), its PDF and XLSX in the file store and deposited as evidence."""

    __tablename__ = "kpi_report"
    __table_args__ = (
        sa.Index("ix_kpi_report_region_period", "region_code", "period_key"),
        # One open (queued or running) report per region and period: two requests at the same
        # instant cannot both queue one (request_report joins the winner).
        sa.Index(
            "uq_kpi_report_open",
            "region_code",
            "period_key",
            unique=True,
            postgresql_where=sa.text("status IN ('queued', 'running')"),
            sqlite_where=sa.text("status IN ('queued', 'running')"),
        ),
        sa.CheckConstraint(sa.text("status IN ('queued', 'running', 'done', 'failed')"), name="status"),
        sa.CheckConstraint(sa.text("trigger IN ('scheduled', 'manual')"), name="trigger"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Not a foreign key: a request naming an unknown region is kept, and fails with its reason.
    region_code: Mapped[str] = mapped_column(sa.String(12))
    period_key: Mapped[str] = mapped_column(sa.String(10))  # "2026" or "2026Q3"
    status: Mapped[str] = mapped_column(sa.String(10), default=QUEUED)
    trigger: Mapped[str] = mapped_column(sa.String(10), default="manual")
    requested_by: Mapped[str | None] = mapped_column(sa.String(60))  # None: the scheduler
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(sa.Text)  # Chinese, shown to the person
    title: Mapped[str | None] = mapped_column(sa.String(200))  # set when generated
    pdf_sha256: Mapped[str | None] = mapped_column(sa.ForeignKey("stored_file.sha256"))
    xlsx_sha256: Mapped[str | None] = mapped_column(sa.ForeignKey("stored_file.sha256"))
    pdf_evidence_id: Mapped[int | None] = mapped_column(sa.ForeignKey("evidence_record.id"))
    xlsx_evidence_id: Mapped[int | None] = mapped_column(sa.ForeignKey("evidence_record.id"))
    seconds: Mapped[float | None] = mapped_column(sa.Float)  # generation time
