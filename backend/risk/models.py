"""Imported project histories (the training and back-test data of the delay model).

The weeks are one JSON column, not a week table: a history is always written and read whole
(import replaces it, training loads it), nothing queries single weeks, and a province's
10,000 projects × ~150 weeks would otherwise be 1.5 M rows read back row by row. The
platform's own live weekly signals come from its own tables, not from here.
"""

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import JSONType, UTCDateTime, utcnow
from backend.extensions import db


class RiskHistory(db.Model):
    """One project's history as imported from `source` (a file, a generator, the platform);
    (source, project_id) is unique so importing the same file twice changes nothing."""

    __tablename__ = "risk_history"
    __table_args__ = (sa.UniqueConstraint("source", "project_id", name="uq_risk_history_source_project"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(64))
    project_id: Mapped[str] = mapped_column(sa.String(100))
    industry: Mapped[str] = mapped_column(sa.String(100))
    region_code: Mapped[str] = mapped_column(sa.String(12))
    contractor: Mapped[str] = mapped_column(sa.String(100), index=True)
    total_investment: Mapped[Decimal] = mapped_column(sa.Numeric(18, 2))
    planned_start: Mapped[date] = mapped_column(sa.Date)
    planned_end: Mapped[date] = mapped_column(sa.Date)
    actual_end: Mapped[date | None] = mapped_column(sa.Date)
    # The exchange format's "weeks" list exactly as dump_line writes it (money as strings).
    weeks: Mapped[list] = mapped_column(JSONType)
    # SHA-256 of the history's canonical line: an unchanged re-import is detected without
    # comparing the weeks.
    content_sha256: Mapped[str] = mapped_column(sa.String(64))
    imported_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)


# --- warnings on the platform's own projects -----------------------------------------------

GRADES = {"red": "红色", "orange": "橙色", "yellow": "黄色"}
# open: raised, nothing dispatched (yellow, or dispatch pending); dispatched: a risk_response
# process runs; cleared: the cause is gone but its ticket is not verified yet; closed: done.
WARNING_STATES = {"open": "待处置", "dispatched": "处置中", "cleared": "已消除待核验", "closed": "已关闭"}


class RiskWarning(db.Model):
    """One cause of risk on one project, from a rule or the model, from raised to closed.
    `open_key` is "<project_id>:<cause>" while the warning is not closed and NULL after: the
    unique constraint on it allows one live warning per project and cause (no duplicate
    dispatch) on SQLite and PostgreSQL alike, and any number of closed ones."""

    __tablename__ = "risk_warning"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("project.id"), index=True)
    cause: Mapped[str] = mapped_column(sa.String(40))  # a rule code, or "model_delay"
    source: Mapped[str] = mapped_column(sa.String(10))  # rule | model
    grade: Mapped[str] = mapped_column(sa.String(10))  # red | orange | yellow (the highest reached)
    current_grade: Mapped[str | None] = mapped_column(sa.String(10))  # None once the cause cleared
    status: Mapped[str] = mapped_column(sa.String(12), default="open")
    open_key: Mapped[str | None] = mapped_column(sa.String(60), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))  # plain Chinese, e.g. 里程碑"主体封顶"逾期 12 天
    # The values behind it: measured value, threshold, model probability and factors.
    detail: Mapped[dict] = mapped_column(JSONType, default=dict)
    probability: Mapped[float | None] = mapped_column(sa.Float)
    model_version: Mapped[int | None] = mapped_column(sa.Integer)
    instance_id: Mapped[int | None] = mapped_column(sa.ForeignKey("process_instance.id"))
    ticket_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ticket.id"))
    # Each change as {"at", "event", "grade", "by", "note"}: the warning's own history.
    history: Mapped[list] = mapped_column(JSONType, default=list)
    raised_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    evaluated_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[object | None] = mapped_column(UTCDateTime)
    cleared_at: Mapped[object | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[object | None] = mapped_column(UTCDateTime)


class RiskScore(db.Model):
    """The model's probability for a project in a week (the trend on the project's page)."""

    __tablename__ = "risk_score"
    __table_args__ = (sa.UniqueConstraint("project_id", "week_start", name="uq_risk_score_project_week"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("project.id"), index=True)
    week_start: Mapped[date] = mapped_column(sa.Date)
    probability: Mapped[float] = mapped_column(sa.Float)
    grade: Mapped[str | None] = mapped_column(sa.String(10))
    model_version: Mapped[int] = mapped_column(sa.Integer)
    factors: Mapped[list] = mapped_column(JSONType, default=list)  # explain.py's top factors
    computed_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)


class RiskSetting(db.Model):
    """A threshold changed by an administrator (rule limits, grade cut-offs); absent keys take
    the defaults of backend/risk/rules.py."""

    __tablename__ = "risk_setting"

    key: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(40))  # a decimal number as text
    updated_by: Mapped[str | None] = mapped_column(sa.String(60))
    updated_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
