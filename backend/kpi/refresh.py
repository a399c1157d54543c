"""Refreshing the cockpit's stored figures (snapshot.py) in the background.

A scheduler tick hook checks, at most once a minute, which tracked periods are due and enqueues
one job per period (the idempotency key names the period and its refresh slot, so several
schedulers enqueue it once). Tracked: this year and the PERIOD_YEARS - 1 before it, with their
quarters and months (what the cockpit's picker offers). The job computes in its call-out phase,
outside the outbox row's write transaction (a province takes seconds; on SQLite a write lock that
long would hold up every request that writes), then stores the new snapshot and deletes the
older ones of the period in one short write.
"""

from __future__ import annotations

import logging
import time as clock
from collections import defaultdict
from datetime import datetime
from decimal import Decimal

import click
import sqlalchemy as sa

from backend import jobs
from backend.approvals.models import ApprovalOpinion
from backend.db import begin_unit_of_work, utcnow
from backend.kpi import service
from backend.kpi.catalogue import CATALOGUE
from backend.kpi.cli import kpi_cli
from backend.kpi.snapshot import (
    DEPARTMENT,
    INDUSTRY,
    PROJECT_KINDS,
    PROJECTS,
    TOTAL,
    KpiSnapshot,
    KpiSnapshotPart,
    KpiSnapshotProject,
    interval_of,
    intervals,
    pack,
)
from backend.projects.models import Project

log = logging.getLogger(__name__)

JOB = "kpi.snapshot"
PERIOD_YEARS = 4  # the cockpit's picker: this year and the three before
CHECK_EVERY_SECONDS = 60
_SEP = "\x1f"  # between the region code and the industry / department in one group key
_PLACES = Decimal("0.000001")
_last_check = {"at": float("-inf")}


def tracked_periods(today) -> list[service.Period]:
    """Every period the cockpit offers: years, their quarters and months, newest year first."""
    out = []
    for year in range(today.year, today.year - PERIOD_YEARS, -1):
        out.append(service.parse_period(str(year), today=today))
        out += [service.parse_period(f"{year}Q{q}", today=today) for q in range(1, 5)]
        out += [service.parse_period(f"{year}-{m:02d}", today=today) for m in range(1, 13)]
    return out


def _today(now: datetime):
    return now.astimezone(service.SHANGHAI).date()


def due_periods(*, session, now: datetime) -> list[tuple[service.Period, int]]:
    """[(period, its refresh slot)] of the tracked periods whose newest snapshot is older than
    their interval (or missing)."""
    today = _today(now)
    newest = dict(
        session.execute(
            sa.select(KpiSnapshot.period_key, sa.func.max(KpiSnapshot.as_of)).group_by(KpiSnapshot.period_key)
        ).all()
    )
    out = []
    for period in tracked_periods(today):
        interval = interval_of(period.end, today)
        if not interval:
            return []
        last = newest.get(period.key)
        if last is None or (now - last).total_seconds() >= interval:
            out.append((period, int(now.timestamp() // interval)))
    return out


def schedule_refresh(*, session, now: datetime | None = None) -> int:
    """Scheduler tick hook: enqueue the due periods (checked at most once a minute per process)."""
    if not intervals()[0]:
        return 0
    moment = clock.monotonic()
    if now is None and moment - _last_check["at"] < CHECK_EVERY_SECONDS:
        return 0
    _last_check["at"] = moment
    now = now or utcnow()
    count = 0
    for period, slot in due_periods(session=session, now=now):
        row = jobs.enqueue(
            session=session,
            actor=JOB,
            payload={"period": period.key},
            idempotency_key=f"{JOB}:{period.key}:{slot}",
        )
        count += row is not None
    return count


def _text(amount) -> str:
    """Exactly as computed (so "777.00" stays "777.00"), cut to 6 places (SQLite's float sums
    come back as long binary expansions)."""
    amount = Decimal(amount or 0)
    return str(amount.quantize(_PLACES) if amount.as_tuple().exponent < -6 else amount)


def compute(*, session, period: service.Period, now: datetime) -> tuple[list[dict], list[dict]]:
    """(part rows, project rows) of `period` at `now` (all projects, no scope: readers apply
    theirs by choosing region codes). Zero parts are left out: absent reads as 0. Project rows
    only for years and quarters (what the performance evaluation scores)."""
    w = service._window(period, now)
    codes = [indicator.code for indicator in CATALOGUE]
    by_industry = service._parts(session, codes, w, Project.region_code + _SEP + Project.industry, [])
    counts = service._project_counts(session, Project.region_code + _SEP + Project.industry, [])
    department = sa.func.coalesce(ApprovalOpinion.department, "")
    by_department = service._parts(
        session, service.DEPARTMENT_CODES, w, Project.region_code + _SEP + department, []
    )
    tree = service._tree(session)
    rows: list[dict] = []
    totals: dict = defaultdict(lambda: defaultdict(lambda: [Decimal(0), Decimal(0)]))
    # Breakdown rows are stored per region of the tree for its whole subtree (a page reads one
    # region's few rows instead of summing thousands); totals per region code (the drill-down
    # sums them itself, and needs each code's own for the projects placed on a city's code).
    rolled: dict = defaultdict(lambda: [Decimal(0), Decimal(0)])

    def ancestors(region: str):
        while region is not None and region in tree.nodes:
            yield region
            region = tree.nodes[region][2]

    def roll(dim: str, region: str, value: str, code: str, num, den) -> None:
        for node in ancestors(region):
            rolled[node, dim, value, code][0] += num
            rolled[node, dim, value, code][1] += den

    def add(region: str, dim: str, value: str, code: str, num, den) -> None:
        if num or den:
            rows.append(
                {
                    "region_code": region,
                    "dim": dim,
                    "dim_value": value,
                    "code": code,
                    "numerator": _text(num),
                    "denominator": _text(den),
                }
            )

    for key, group in by_industry.items():
        region, industry = key.split(_SEP, 1)
        for code, (num, den) in group.items():
            roll(INDUSTRY, region, industry, code, num, den)
            totals[region][code][0] += num
            totals[region][code][1] += den
    for key, count in counts.items():
        region, industry = key.split(_SEP, 1)
        roll(INDUSTRY, region, industry, PROJECTS, count, 0)
        totals[region][PROJECTS][0] += count
    for region, group in totals.items():
        for code, (num, den) in group.items():
            add(region, TOTAL, "", code, num, den)
    for key, group in by_department.items():
        region, dept = key.split(_SEP, 1)
        for code, (num, den) in group.items():
            roll(DEPARTMENT, region, dept, code, num, den)
    for (node, dim, value, code), (num, den) in rolled.items():
        add(node, dim, value, code, num, den)
    projects = []
    if period.kind in PROJECT_KINDS:
        counted = [Project.status != "draft"]
        by_project = service._parts(session, codes, w, Project.id, counted)
        for project_id, region in session.execute(sa.select(Project.id, Project.region_code).where(*counted)):
            parts = {
                code: (_text(n), _text(d))
                for code, (n, d) in by_project.get(project_id, {}).items()
                if n or d
            }
            projects.append({"project_id": project_id, "region_code": region, "parts": pack(parts)})
    return rows, projects


def store(
    *, session, period_key: str, as_of: datetime, seconds: float, rows: list[dict], projects: list[dict]
) -> int:
    """Save a snapshot and drop the older ones of its period; returns the new id."""
    snapshot = KpiSnapshot(
        period_key=period_key, as_of=as_of, seconds=Decimal(f"{seconds:.3f}"), part_count=len(rows)
    )
    session.add(snapshot)
    session.flush()
    if rows:
        session.execute(sa.insert(KpiSnapshotPart), [{"snapshot_id": snapshot.id, **row} for row in rows])
    if projects:
        session.execute(
            sa.insert(KpiSnapshotProject), [{"snapshot_id": snapshot.id, **row} for row in projects]
        )
    older = sa.select(KpiSnapshot.id).where(
        KpiSnapshot.period_key == period_key, KpiSnapshot.id < snapshot.id
    )
    session.execute(sa.delete(KpiSnapshotPart).where(KpiSnapshotPart.snapshot_id.in_(older)))
    session.execute(sa.delete(KpiSnapshotProject).where(KpiSnapshotProject.snapshot_id.in_(older)))
    session.execute(sa.delete(KpiSnapshot).where(KpiSnapshot.id.in_(older)))
    return snapshot.id


def refresh(*, session, period: service.Period, now: datetime | None = None) -> int:
    """Compute and store `period` now, in the caller's transaction (the CLI, tests)."""
    now = now or utcnow()
    started = clock.perf_counter()
    rows, projects = compute(session=session, period=period, now=now)
    return store(
        session=session,
        period_key=period.key,
        as_of=now,
        seconds=clock.perf_counter() - started,
        rows=rows,
        projects=projects,
    )


def _plan(payload: dict):
    return payload  # nothing to prepare under the row's lock


def _compute(plan: dict):
    """Call-out phase: read in a read-only transaction (no write lock held on SQLite)."""
    from backend.extensions import db

    now = utcnow()
    period = service.parse_period(plan["period"], today=_today(now))
    begin_unit_of_work(read_only=True)
    try:
        started = clock.perf_counter()
        rows, projects = compute(session=db.session, period=period, now=now)
        return {"as_of": now, "seconds": clock.perf_counter() - started, "rows": rows, "projects": projects}
    finally:
        db.session.rollback()
        begin_unit_of_work(read_only=False)


def _record(payload: dict, plan: dict, result: dict) -> None:
    from backend.extensions import db

    store(
        session=db.session,
        period_key=payload["period"],
        as_of=result["as_of"],
        seconds=result["seconds"],
        rows=result["rows"],
        projects=result["projects"],
    )
    log.info(
        "kpi.snapshot",
        extra={"period": payload["period"], "parts": len(result["rows"]), "seconds": result["seconds"]},
    )


jobs.job(JOB, max_retries=2, call_out=_compute, record=_record)(_plan)


@kpi_cli.command("snapshot")
@click.option(
    "--period", "periods", multiple=True, help="2026, 2026Q3 or 2026-07; default: every due period."
)
def snapshot_command(periods):
    """Recompute the cockpit's stored figures now and print the time each period took."""
    from backend.extensions import db

    now = utcnow()
    chosen = (
        [service.parse_period(p, today=_today(now)) for p in periods]
        if periods
        else [p for p, _ in due_periods(session=db.session, now=now)]
    )
    for period in chosen:
        started = clock.perf_counter()
        refresh(session=db.session, period=period, now=now)
        db.session.commit()
        click.echo(f"{period.key}\t{clock.perf_counter() - started:.2f} s")
