"""投资效益比 on hand-made acceptances (figure, drill-down, trend, trace), and 开工率 / 竣工率 after
开工申报 and 竣工验收 made through backend.projects.completion. "now" is 2026-07-15 12:00
Beijing, so 期末 (the cut) of 2026 is 2026-07-15."""

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from backend.kpi import service
from backend.org.models import Department, User
from backend.projects import completion
from backend.projects.models import ProjectCompletion
from tests.kpi.conftest import ALL, NOW, bj

TODAY = date(2026, 7, 15)


def period(text):
    return service.parse_period(text, today=TODAY)


def overview(session, code, text="2026", region=None):
    return service.overview(session=session, scope=ALL, region=region, period=period(text), now=NOW).values[
        code
    ]


def accepted(session, project, on, benefit, conclusion="passed"):
    session.add(
        ProjectCompletion(
            project_id=project.id,
            accepted_on=on,
            conclusion=conclusion,
            annual_benefit=Decimal(benefit),
            new_jobs=1,
            annual_tax=Decimal("1.00"),
        )
    )
    session.flush()


@pytest.fixture()
def benefits(session, world):
    made = {
        # 西湖区: passed in March: 300 / 2000
        "a": world.project("330106", status="completed", total_investment="2000.00"),
        # 滨江区: passed at the end of June: 250 / 1000
        "b": world.project("330108", status="completed", total_investment="1000.00"),
        # 海曙区 (宁波): passed after the cut (1 August): not in 2026 yet
        "c": world.project("330203", status="completed", total_investment="4000.00"),
        # 西湖区: failed (不合格): never counted, whatever its benefit
        "d": world.project("330106", status="in_construction", total_investment="500.00"),
        # 海曙区: passed on the last day of 2025
        "e": world.project("330203", status="completed", total_investment="1000.00"),
    }
    accepted(session, made["a"], date(2026, 3, 10), "300.00")
    accepted(session, made["b"], date(2026, 6, 30), "250.00")
    accepted(session, made["c"], date(2026, 8, 1), "900.00")
    accepted(session, made["d"], date(2026, 5, 5), "999.00", conclusion="failed")
    accepted(session, made["e"], date(2025, 12, 31), "80.00")
    session.commit()
    return made


def test_benefit_ratio_of_the_period_up_to_the_cut(session, benefits):
    # 2026 to 15 July: a and b: (300 + 250) / (2000 + 1000) = 550 / 3000 = 0.18333… → 0.1833, shown 0.18倍
    value = overview(session, "benefit_ratio")
    assert (value.numerator, value.denominator) == (Decimal("550.00"), Decimal("3000.00"))
    assert (value.value, value.display) == (Decimal("0.1833"), "0.18倍")
    # Q1: a only: 300 / 2000 = 0.15; Q2: b only: 250 / 1000 = 0.25; Q3 to the cut: nothing
    assert overview(session, "benefit_ratio", "2026Q1").display == "0.15倍"
    assert overview(session, "benefit_ratio", "2026Q2").display == "0.25倍"
    q3 = overview(session, "benefit_ratio", "2026Q3")
    assert (q3.value, q3.numerator, q3.display) == (None, Decimal(0), "—")
    # 2025: e: 80 / 1000 = 0.08
    assert overview(session, "benefit_ratio", "2025").value == Decimal("0.0800")
    # A period over when "now" is later: the end of 2026 seen from 2027 would count c too, but
    # the cut is today (15 July 2026): 2026-08 is still empty.
    assert overview(session, "benefit_ratio", "2026-08").numerator == Decimal(0)


def test_regions_add_up_and_the_trend_and_trace_match(session, benefits):
    # 杭州 has a and b (0.18倍); 宁波 has only c (after the cut) and e (2025): nothing in 2026.
    assert overview(session, "benefit_ratio", region="330100").display == "0.18倍"
    assert overview(session, "benefit_ratio", region="330200").display == "—"
    assert overview(session, "benefit_ratio", region="330106").numerator == Decimal("300.00")

    points = dict(
        service.trend(
            session=session, scope=ALL, region=None, code="benefit_ratio", period=period("2026"), now=NOW
        )
    )
    assert (points["2026-03"].numerator, points["2026-03"].denominator) == (Decimal(300), Decimal(2000))
    assert (points["2026-06"].numerator, points["2026-06"].denominator) == (Decimal(250), Decimal(1000))
    assert points["2026-05"].numerator == 0  # d failed
    assert points["2026-08"].numerator == 0  # c is after the cut
    assert sum(p.numerator for p in points.values()) == Decimal(550)
    assert sum(p.denominator for p in points.values()) == Decimal(3000)

    rows = service.trace(
        session=session, scope=ALL, region=None, period=period("2026"), code="benefit_ratio", now=NOW
    )
    assert [(r.url, r.numerator, r.denominator) for r in rows] == [
        (f"/projects/{benefits['a'].code}/acceptance", Decimal(300), Decimal(2000)),
        (f"/projects/{benefits['b'].code}/acceptance", Decimal(250), Decimal(1000)),
    ]
    assert "2026-03-10" in rows[0].note


@pytest.fixture()
def people(session, world):
    fgw = session.scalar(sa.select(Department).filter_by(code="fgw"))
    session.add_all(
        [
            User(username="applicant", display_name="申报人", unit_id=world.unit.id, roles=["owner"]),
            User(username="fgw_head", display_name="发改负责人", department_id=fgw.id, roles=["head"]),
        ]
    )
    session.flush()
    return {u.username: u for u in session.scalars(sa.select(User))}


def test_start_and_completion_rates_follow_the_reports(session, world, people):
    approved = {"status": "approved", "approved_at": bj(2026, 1, 10, 9, 0)}
    p1 = world.project(
        "330106",
        planned_start=date(2026, 3, 1),
        planned_end=date(2026, 6, 30),
        total_investment="1000.00",
        **approved,
    )
    p2 = world.project("330106", planned_start=date(2026, 4, 1), planned_end=date(2026, 5, 31), **approved)
    p3 = world.project("330106", planned_start=date(2026, 5, 1), **approved)
    p4 = world.project("330106", planned_start=date(2026, 2, 1), **approved)
    assert p2
    for project, day in ((p1, "2026-03-05"), (p3, "2026-06-10"), (p4, "2026-04-10")):
        completion.report_start(
            session=session, project=project, actor=people["applicant"], actual_start=day, today=TODAY
        )
    # 2026 to 15 July: planned p1, p2, p3, p4; started p1, p3, p4: 3 / 4 = 75%
    value = overview(session, "start_rate")
    assert (value.numerator, value.denominator, value.display) == (Decimal(3), Decimal(4), "75.0%")
    # 2026Q1 (cut 31 March): planned p1 and p4; p4 started only on 10 April: 1 / 2 = 50%
    value = overview(session, "start_rate", "2026Q1")
    assert (value.numerator, value.denominator, value.display) == (Decimal(1), Decimal(2), "50.0%")

    completion.record_acceptance(
        session=session,
        project=p1,
        actor=people["fgw_head"],
        accepted_on="2026-06-20",
        conclusion="passed",
        annual_benefit="120.00",
        new_jobs="5",
        annual_tax="10.00",
        today=TODAY,
    )
    # 竣工率: planned to finish in 2026 by the cut: p1 (30 June), p2 (31 May); completed p1: 50%
    value = overview(session, "completion_rate")
    assert (value.numerator, value.denominator, value.display) == (Decimal(1), Decimal(2), "50.0%")
    # 投资效益比: 120 / 1000 = 0.12
    assert overview(session, "benefit_ratio").display == "0.12倍"
    # Trace rows of 开工率 sum to its parts.
    rows = service.trace(
        session=session, scope=ALL, region=None, period=period("2026Q1"), code="start_rate", now=NOW
    )
    assert sorted((r.label.split()[0], r.numerator) for r in rows) == sorted(
        [(p1.code, Decimal(1)), (p4.code, Decimal(0))]
    )
