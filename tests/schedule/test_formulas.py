"""Each formula of backend/schedule/service.py on a hand-made breakdown, numbers worked out here.

March 2026 has no holidays: Mon 2 – Fri 6, 9–13, 16–20, 23–27 are the working weeks.

    1   土建   weight 3   03-02 … 03-27 (W = 20)
    1.1        weight 1   03-02 … 03-06 (W = 5)
    1.2        weight 3   03-09 … 03-20 (W = 10)
    2   安装   weight 1   03-02 … 03-27 (W = 20)
    2.1        weight 1   03-16 … 03-27 (W = 10)
"""

from datetime import date
from decimal import Decimal

import pytest

from backend.schedule import service
from backend.workdays.service import get_calendar

D = date


def make(session, project, code, start, end, weight):
    return service.create_item(
        session=session,
        project_id=project.id,
        code=code,
        name=f"任务{code}",
        planned_start=start,
        planned_end=end,
        weight=Decimal(weight),
        by="planner",
    )


@pytest.fixture()
def wbs(session, project):
    items = {
        "1": make(session, project, "1", D(2026, 3, 2), D(2026, 3, 27), "3"),
        "1.1": make(session, project, "1.1", D(2026, 3, 2), D(2026, 3, 6), "1"),
        "1.2": make(session, project, "1.2", D(2026, 3, 9), D(2026, 3, 20), "3"),
        "2": make(session, project, "2", D(2026, 3, 2), D(2026, 3, 27), "1"),
        "2.1": make(session, project, "2.1", D(2026, 3, 16), D(2026, 3, 27), "1"),
    }
    service.create_baseline(session=session, project_id=project.id, by="planner")
    return items


def report(session, wbs, code, percent, started):
    service.record_progress(session=session, item=wbs[code], percent=percent, by="site", actual_start=started)


@pytest.fixture()
def progressed(session, wbs):
    report(session, wbs, "1.1", 100, D(2026, 3, 2))
    report(session, wbs, "1.2", 40, D(2026, 3, 9))
    report(session, wbs, "2.1", 10, D(2026, 3, 12))
    return wbs


def test_physical_progress_is_the_weighted_roll_up(session, project, progressed):
    progress = service.item_progress(service.items_of(session=session, project_id=project.id))
    # P(1) = (1·100 + 3·40) / 4 = 55; P(2) = 10; P = (3·55 + 1·10) / 4 = 43.75
    assert progress[progressed["1"].id] == Decimal("55.00")
    assert progress[progressed["2"].id] == Decimal("10.00")
    assert progress[None] == Decimal("43.75")


def test_zero_weights_fall_back_to_the_mean(session, project, progressed):
    for code in ("1.1", "1.2"):
        service.update_item(session=session, item=progressed[code], weight=Decimal("0"))
    progress = service.item_progress(service.items_of(session=session, project_id=project.id))
    assert progress[progressed["1"].id] == Decimal("70.00")  # (100 + 40) / 2


def test_planned_progress_is_linear_over_working_days(session, project, wbs):
    baseline = service.baseline_of(session=session, project_id=project.id)
    planned = service.planned_progress(session=session, baseline=baseline, at=D(2026, 3, 13))
    # 1.1 ended → 100; 1.2: W(03-09, 03-13) / W(03-09, 03-20) = 5/10 → 50; 2.1 not started → 0
    assert planned[wbs["1.1"].id] == Decimal("100.00")
    assert planned[wbs["1.2"].id] == Decimal("50.00")
    assert planned[wbs["2.1"].id] == Decimal("0.00")
    # PV(1) = (100 + 3·50) / 4 = 62.5; PV = (3·62.5 + 0) / 4 = 46.875 → 46.88
    assert planned[wbs["1"].id] == Decimal("62.50")
    assert planned[None] == Decimal("46.88")
    # A weekend adds nothing: Saturday 14 and Sunday 15 give the same as Friday 13.
    assert service.planned_progress(session=session, baseline=baseline, at=D(2026, 3, 15))[None] == Decimal(
        "46.88"
    )


def test_planned_progress_counts_the_official_calendar(session, project):
    # 09-28 … 10-13: 国庆 1–7 October off, Saturday 10 October worked.
    # Working days: 28, 29, 30 Sep; 8, 9, 10, 12, 13 Oct = 8. By 10-09: 28, 29, 30, 8, 9 = 5.
    # PV = 5/8 = 62.5 (weekends-only counting would give 10/12 = 83.33).
    make(session, project, "1", D(2026, 9, 28), D(2026, 10, 13), "1")
    baseline = service.create_baseline(session=session, project_id=project.id, by="planner")
    calendar = get_calendar(session=session)
    assert service.working_days(calendar, D(2026, 9, 28), D(2026, 10, 13)) == 8
    assert service.planned_progress(session=session, baseline=baseline, at=D(2026, 10, 9))[None] == Decimal(
        "62.50"
    )


def test_planned_progress_uses_the_baseline_not_the_current_plan(session, project, wbs):
    service.update_item(session=session, item=wbs["1.2"], planned_end=D(2026, 3, 27))
    first = service.baseline_of(session=session, project_id=project.id)
    assert service.planned_progress(session=session, baseline=first, at=D(2026, 3, 13))[
        wbs["1.2"].id
    ] == Decimal("50.00")
    second = service.create_baseline(session=session, project_id=project.id, by="planner", reason="工期调整")
    # New baseline: W(03-09, 03-13) / W(03-09, 03-27) = 5/15 = 33.33
    assert service.planned_progress(session=session, baseline=second, at=D(2026, 3, 13))[
        wbs["1.2"].id
    ] == Decimal("33.33")


def test_deviation_and_forecast(session, project, progressed):
    s = service.summary(session=session, project_id=project.id, at=D(2026, 3, 13))
    # SD = 43.75 − 46.88 = −3.13 points
    assert s.deviation == Decimal("-3.13")
    fc = s.forecast
    # S = 03-02 (earliest actual start); W(03-02, 03-13) = 10; rate = 43.75 / 10 = 4.375 per day;
    # remaining = ceil(56.25 / 4.375) = ceil(12.86) = 13 working days after Fri 03-13:
    # 16–20 (5), 23–27 (10), 30, 31 Mar, 1 Apr (13) → 2026-04-01.
    assert fc.start == D(2026, 3, 2)
    assert fc.end == D(2026, 4, 1)
    # planned W(03-02, 03-27) = 20; forecast W(03-02, 04-01) = 23; 工期偏差率 = 3/20 = 0.15
    assert (fc.planned_days, fc.forecast_days) == (20, 23)
    assert fc.deviation_rate == Decimal("0.1500")


def test_forecast_when_done_or_not_started(session, project, wbs):
    s = service.summary(session=session, project_id=project.id, at=D(2026, 3, 13))
    assert s.forecast.end is None and s.forecast.deviation_rate is None  # P = 0: no rate yet
    for code, end in (("1.1", D(2026, 3, 6)), ("1.2", D(2026, 3, 20)), ("2.1", D(2026, 3, 24))):
        service.record_progress(
            session=session,
            item=wbs[code],
            percent=100,
            by="site",
            actual_start=D(2026, 3, 2),
            actual_end=end,
        )
    s = service.summary(session=session, project_id=project.id, at=D(2026, 4, 10))
    # Done: the latest actual end 03-24; W(03-02, 03-24) = 17; (17 − 20) / 20 = −0.15 (early)
    assert s.forecast.end == D(2026, 3, 24)
    assert s.forecast.deviation_rate == Decimal("-0.1500")


def test_overdue_items(session, project, progressed):
    items = service.items_of(session=session, project_id=project.id)
    # 03-23: 1.2 (ended 03-20, 40 %) is overdue; 1.1 ended 03-06 but is 100 %; 1, 2, 2.1 end 03-27.
    assert [i.code for i in service.overdue_items(items, D(2026, 3, 23))] == ["1.2"]
    # 03-30: everything not complete is overdue; the parent 1 too (55 %).
    assert [i.code for i in service.overdue_items(items, D(2026, 3, 30))] == ["1", "1.2", "2", "2.1"]


def test_critical_items_follow_the_longest_path(session, project, wbs):
    items = service.items_of(session=session, project_id=project.id)
    ids = {i.id: i.code for i in items}

    def critical():
        deps = service.dependencies_of(session=session, project_id=project.id)
        return sorted(ids[i] for i in service.critical_items(session=session, items=items, dependencies=deps))

    # No dependencies: the longest "paths" are the single items 1 and 2 (20 days each, a tie).
    assert critical() == ["1", "2"]
    service.add_dependency(session=session, predecessor=wbs["1.1"], successor=wbs["1.2"])
    # 1.1 → 1.2 = 5 + 10 = 15 < 20: still 1 and 2.
    assert critical() == ["1", "2"]
    service.add_dependency(session=session, predecessor=wbs["1.2"], successor=wbs["2.1"])
    # 1.1 → 1.2 → 2.1 = 5 + 10 + 10 = 25 > 20: that chain alone.
    assert critical() == ["1.1", "1.2", "2.1"]
