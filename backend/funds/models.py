"""The funds ledger's own rows. The annual plan is `backend.contracts.models.BudgetLine`
(project, year, funding source, amount): it already is "money planned for a project in a year
from one source", and payments draw on it, so a second table would drift from it."""

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import UTCDateTime, utcnow
from backend.extensions import db
from backend.projects.models import Money, Project


class InvestmentReport(db.Model):
    """月度完成投资: investment completed in one month. A correction is a new version; the
    older one stays (superseded_at set) as history. Only the current version counts."""

    __tablename__ = "investment_report"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "year", "month", "version", name="uq_investment_report_version"),
        sa.Index("ix_investment_report_project_current", "project_id", "superseded_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("project.id"))
    year: Mapped[int]
    month: Mapped[int]
    version: Mapped[int] = mapped_column(default=1)
    amount: Mapped[Decimal] = mapped_column(Money)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    reported_by: Mapped[str] = mapped_column(sa.String(60))
    reported_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    superseded_at: Mapped[object | None] = mapped_column(UTCDateTime)

    project: Mapped[Project] = relationship()


class Allocation(db.Model):
    """资金下达/拨付 imported from the finance system; its document number makes the import
    idempotent."""

    __tablename__ = "fund_allocation"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_number: Mapped[str] = mapped_column(sa.String(60), unique=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("project.id"), index=True)
    year: Mapped[int]
    source: Mapped[str] = mapped_column(sa.String(60))
    amount: Mapped[Decimal] = mapped_column(Money)
    allocated_on: Mapped[object] = mapped_column(sa.Date)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    imported_by: Mapped[str] = mapped_column(sa.String(60))
    imported_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)

    project: Mapped[Project] = relationship()
