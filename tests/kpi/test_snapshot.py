"""The cockpit's stored figures (backend/kpi/snapshot.py, refresh.py): answered from a snapshot,
every figure equals the one computed live at the snapshot's instant; a stale snapshot, a county,
a project or a scope that is not whole regions is computed live; the background job stores one
snapshot per period and replaces the older one."""

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
import time_machine

from backend import jobs
from backend.authz.scope import Scope
from backend.funds.models import InvestmentReport
from backend.jobs.models import OutboxJob
from backend.kpi import refresh, service
from backend.kpi.catalogue import CATALOGUE
from backend.kpi.snapshot import KpiSnapshot, KpiSnapshotPart, KpiSnapshotProject
from tests.kpi.conftest import ALL, NOW
from tests.kpi.test_drill_scope_trace import TODAY, YEAR, filled  # noqa: F401  (fixture)

CODES = [indicator.code for indicator in CATALOGUE]


@pytest.fixture()
def snapshots_on(app):
    before = app.config["KPI_SNAPSHOT_INTERVAL"], app.config["KPI_SNAPSHOT_ENDED_INTERVAL"]
    app.config["KPI_SNAPSHOT_INTERVAL"], app.config["KPI_SNAPSHOT_ENDED_INTERVAL"] = 600, 3600
    refresh._last_check["at"] = float("-inf")
    yield
    app.config["KPI_SNAPSHOT_INTERVAL"], app.config["KPI_SNAPSHOT_ENDED_INTERVAL"] = before


def _stored_year(session) -> None:
    """Snapshots of 2026 and of its months, computed at NOW."""
    for period in (YEAR, *YEAR.months):
        refresh.refresh(session=session, period=period, now=NOW)
    session.commit()


def _same(stored, live) -> None:
    assert (stored.code, stored.project_count) == (live.code, live.project_count)
    for code in CODES:
        a, b = stored.values[code], live.values[code]
        assert (a.numerator, a.denominator, a.display) == (b.numerator, b.denominator, b.display), code


def test_figures_from_the_snapshot_equal_the_live_ones(session, filled, snapshots_on):  # noqa: F811
    _stored_year(session)
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        for region in (None, "330100"):
            args = {"session": session, "scope": ALL, "region": region, "period": YEAR}
            area = service.overview(**args)
            assert area.as_of == NOW  # from the snapshot
            _same(area, service.overview(**args, now=NOW))
            stored_kids = service.children(**args)
            live_kids = service.children(**args, now=NOW)
            assert [k.code for k in stored_kids] == [k.code for k in live_kids]
            for a, b in zip(stored_kids, live_kids, strict=True):
                _same(a, b)
            for code in ("investment_year", "approval_on_time", "ticket_first_pass", "warnings_red"):
                assert service.trend(**args, code=code) == service.trend(**args, code=code, now=NOW)
                assert service.figure(**args, code=code) == service.figure(**args, code=code, now=NOW)
            for by in service.BREAKDOWNS:
                assert service.breakdown(**args, by=by) == service.breakdown(**args, by=by, now=NOW)
    # A figure worked out by hand: projects 1–5 budget 100·n, so the province's 2026 budget is 1500.
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        province = service.overview(session=session, scope=ALL, region=None, period=YEAR)
    assert province.values["investment_year"].denominator == Decimal(1500)


def test_what_is_computed_live(session, filled, world, snapshots_on):  # noqa: F811
    _stored_year(session)
    args = {"session": session, "region": None, "period": YEAR}
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        # A county: its projects are listed under it and must add up to it exactly.
        assert service.overview(**args | {"region": "330106"}, scope=ALL).as_of is None
        # A person who sees their unit's projects only: the per-region parts are not theirs.
        own_unit = Scope(
            all=False, regions=frozenset(), unit_id=world.unit.id, username="o", whole_tree=False
        )
        assert service.overview(**args | {"region": "330100"}, scope=own_unit).as_of is None
        # A city person sees all of their city: answered from the snapshot.
        city = Scope(
            all=False,
            regions=frozenset({"330100", "330106", "330108"}),
            unit_id=None,
            username="c",
            whole_tree=False,
        )
        assert service.overview(**args | {"region": "330100"}, scope=city).as_of == NOW
    # Three intervals later the snapshot of the running year is stale: live again.
    with time_machine.travel(NOW + timedelta(seconds=3 * 600 + 1), tick=False):
        assert service.overview(**args, scope=ALL).as_of is None
    # A trend needs every month stored; with one missing it is computed live.
    session.execute(sa.delete(KpiSnapshot).where(KpiSnapshot.period_key == "2026-03"))
    session.commit()
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        live = service.trend(**args, scope=ALL, code="investment_year", now=NOW)
        assert service.trend(**args, scope=ALL, code="investment_year") == live


def test_a_new_record_shows_after_the_next_refresh(session, filled, snapshots_on):  # noqa: F811
    _stored_year(session)
    project = filled[1]
    session.add(
        InvestmentReport(project_id=project.id, year=2026, month=3, amount=Decimal("12.34"), reported_by="o")
    )
    session.commit()
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        before = service.overview(session=session, scope=ALL, region=None, period=YEAR)
        live = service.overview(session=session, scope=ALL, region=None, period=YEAR, now=NOW)
        assert live.values["investment_year"].numerator == before.values[
            "investment_year"
        ].numerator + Decimal("12.34")
        refresh.refresh(session=session, period=YEAR, now=NOW + timedelta(minutes=5))
        session.commit()
        after = service.overview(session=session, scope=ALL, region=None, period=YEAR)
    assert after.as_of == NOW + timedelta(minutes=5)
    assert after.values["investment_year"].numerator == live.values["investment_year"].numerator
    # One snapshot per period: the older one of 2026 and its parts are gone.
    assert session.scalar(sa.select(sa.func.count()).where(KpiSnapshot.period_key == "2026")) == 1
    ids = set(session.scalars(sa.select(KpiSnapshot.id)))
    assert set(session.scalars(sa.select(KpiSnapshotPart.snapshot_id).distinct())) <= ids


def test_the_tick_enqueues_each_due_period_once_and_the_job_stores_it(session, filled, snapshots_on):  # noqa: F811
    with time_machine.travel(NOW, tick=False):
        count = refresh.schedule_refresh(session=session, now=NOW)
        session.commit()
        # This year and three before, each with 4 quarters and 12 months.
        assert count == 4 * 17
        assert refresh.schedule_refresh(session=session, now=NOW) == 0  # same slot: once
        session.commit()
        job_id = session.scalar(
            sa.select(OutboxJob.id).where(OutboxJob.idempotency_key.like("kpi.snapshot:2026:%"))
        )
        assert jobs.run_job_now(job_id) == "done"
        session.expire_all()
        stored = session.scalars(sa.select(KpiSnapshot).where(KpiSnapshot.period_key == "2026")).one()
        assert stored.as_of == NOW and stored.part_count > 0
        assert service.overview(session=session, scope=ALL, region=None, period=YEAR).as_of == NOW
        # Stored and fresh: 2026 is no longer due; the other periods still are.
        due = {p.key for p, _ in refresh.due_periods(session=session, now=NOW)}
    assert "2026" not in due and "2026-07" in due and len(due) == 4 * 17 - 1


def test_snapshots_off(session, filled):  # noqa: F811
    _stored_year(session)  # even when stored, interval 0 means live
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        assert service.overview(session=session, scope=ALL, region=None, period=YEAR).as_of is None
        assert refresh.schedule_refresh(session=session, now=NOW) == 0


def test_every_projects_values_from_a_year_or_quarter_snapshot(session, filled, snapshots_on):  # noqa: F811
    """What the performance evaluation scores: each project's values, equal to the live ones,
    for a city and a county alike; a month snapshot holds no projects."""
    quarter = service.parse_period("2026Q1", today=TODAY)
    for period in (YEAR, quarter):
        refresh.refresh(session=session, period=period, now=NOW)
    session.commit()
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        for period in (YEAR, quarter):
            for region in (None, "330100", "330106"):
                args = {"session": session, "scope": ALL, "region": region, "period": period}
                stored = service.project_values(**args)
                live = service.project_values(**args, now=NOW)
                assert stored == live and len(live) == {None: 5, "330100": 4, "330106": 2}[region]
    # The stored rows are the ones used: drop them and the projects are missing.
    session.execute(sa.delete(KpiSnapshotProject))
    session.commit()
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        assert service.project_values(session=session, scope=ALL, region=None, period=YEAR) == {}
