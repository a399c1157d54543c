"""Stored figures of the cockpit (KPI 快照): each indicator's numerator and denominator per
region code, per region code and industry, and per region code and approval department, for one
period, as computed at one instant (`as_of`).

Why: a province figure reads about a million records (10,000 projects, their reports, payments,
WBS items, opinions, tickets); computed on every request it takes 0.5–1.3 s. The parts of every
indicator add up over projects, so a region's parts are sums of the parts stored per region code
(at most a few thousand rows), and the cockpit answers from them. refresh.py recomputes the
tracked periods in the background: the periods still running every KPI_SNAPSHOT_INTERVAL
seconds, the ended ones every KPI_SNAPSHOT_ENDED_INTERVAL seconds (late corrections). A
snapshot older than three intervals is not used: the figure is computed live, as it is for an
explicit `now` (tests), a project, or a scope that is not whole regions (a unit's own projects).

Parts are stored as decimal strings: exact on SQLite too (its REAL sums lose cents at 10¹² yuan).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import UTCDateTime
from backend.extensions import db

# dim of a part row: "" the total of the projects on the region code; "industry" / "department"
# a breakdown of the region's whole subtree.
TOTAL, INDUSTRY, DEPARTMENT = "", "industry", "department"
PROJECTS = "_projects"  # the code of the row counting the region code's non-draft projects
STALE_INTERVALS = 3  # a snapshot older than this many refresh intervals is not used


class KpiSnapshot(db.Model):
    __tablename__ = "kpi_snapshot"

    id: Mapped[int] = mapped_column(primary_key=True)
    period_key: Mapped[str] = mapped_column(sa.String(10), index=True)  # 2026 | 2026Q3 | 2026-07
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)  # the `now` the figures are computed at
    seconds: Mapped[Decimal] = mapped_column(sa.Numeric(10, 3))  # how long the computation took
    part_count: Mapped[int] = mapped_column(sa.Integer)


class KpiSnapshotPart(db.Model):
    __tablename__ = "kpi_snapshot_part"

    snapshot_id: Mapped[int] = mapped_column(
        sa.ForeignKey("kpi_snapshot.id", ondelete="CASCADE"), primary_key=True
    )
    region_code: Mapped[str] = mapped_column(sa.String(12), primary_key=True)
    dim: Mapped[str] = mapped_column(sa.String(12), primary_key=True)
    dim_value: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    numerator: Mapped[str] = mapped_column(sa.String(48))
    denominator: Mapped[str] = mapped_column(sa.String(48))


class KpiSnapshotProject(db.Model):
    """Every non-draft project's parts in a year or quarter snapshot, one row per project (the
    performance evaluation scores each project: 10,000 rows to read, not 150,000)."""

    __tablename__ = "kpi_snapshot_project"

    snapshot_id: Mapped[int] = mapped_column(
        sa.ForeignKey("kpi_snapshot.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(sa.String(12))
    parts: Mapped[str] = mapped_column(sa.Text)  # JSON {code: [numerator, denominator]} as strings


PROJECT_KINDS = ("year", "quarter")  # the periods evaluated, whose snapshots hold every project


def pack(parts: dict) -> str:
    return json.dumps(
        {code: [str(num), str(den)] for code, (num, den) in parts.items()}, separators=(",", ":")
    )


def project_parts(*, session, snapshot_id: int, regions: set[str]) -> dict[int, dict]:
    """{project id: {code: [numerator, denominator]}} of the snapshot's projects in `regions`."""
    out = {}
    for project_id, region, packed in session.execute(
        sa.select(
            KpiSnapshotProject.project_id, KpiSnapshotProject.region_code, KpiSnapshotProject.parts
        ).where(KpiSnapshotProject.snapshot_id == snapshot_id)
    ):
        if region in regions:
            out[project_id] = {
                code: [Decimal(num), Decimal(den)] for code, (num, den) in json.loads(packed).items()
            }
    return out


def intervals() -> tuple[int, int]:
    """(seconds between refreshes of a running period, of an ended one); 0: snapshots off."""
    config = current_app.config if has_app_context() else {}
    return (
        int(config.get("KPI_SNAPSHOT_INTERVAL", 600)),
        int(config.get("KPI_SNAPSHOT_ENDED_INTERVAL", 3600)),
    )


def interval_of(period_end: date, today: date) -> int:
    running, ended = intervals()
    if not running:
        return 0
    return ended if period_end <= today else running


@dataclass(frozen=True)
class Found:
    id: int
    as_of: datetime


def usable(*, session, period, now: datetime, today: date) -> Found | None:
    """The newest snapshot of `period` young enough to answer from, or None."""
    interval = interval_of(period.end, today)
    if not interval:
        return None
    row = session.execute(
        sa.select(KpiSnapshot.id, KpiSnapshot.as_of)
        .where(KpiSnapshot.period_key == period.key)
        .order_by(KpiSnapshot.id.desc())
        .limit(1)
    ).first()
    if row is None or now - row.as_of > timedelta(seconds=interval * STALE_INTERVALS):
        return None
    return Found(row.id, row.as_of)


def covers(scope, regions: set[str]) -> bool:
    """Whether the scope sees every project of these region codes, and nothing else counts for
    them: then the stored per-region parts are exactly the scoped figures."""
    if scope.within is not None and not regions <= scope.within:
        return False
    return scope.all or regions <= scope.regions


def parts(
    *, session, snapshot_ids, dim: str = TOTAL, code: str | None = None, region: str | None = None
) -> dict:
    """{(snapshot id, region code, dim value): {code: [numerator, denominator]}}. Rows of dim
    TOTAL are each region code's own projects; rows of a breakdown (INDUSTRY, DEPARTMENT) are a
    region's whole subtree (read them for one `region`)."""
    query = sa.select(
        KpiSnapshotPart.snapshot_id,
        KpiSnapshotPart.region_code,
        KpiSnapshotPart.dim_value,
        KpiSnapshotPart.code,
        KpiSnapshotPart.numerator,
        KpiSnapshotPart.denominator,
    ).where(KpiSnapshotPart.snapshot_id.in_(list(snapshot_ids)), KpiSnapshotPart.dim == dim)
    if code is not None:
        query = query.where(KpiSnapshotPart.code == code)
    if region is not None:
        query = query.where(KpiSnapshotPart.region_code == region)
    out: dict = defaultdict(dict)
    for sid, region, value, part_code, num, den in session.execute(query):
        out[sid, region, value][part_code] = [Decimal(num), Decimal(den)]
    return out
