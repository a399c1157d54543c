"""Drill-down parts add up at every level, the data scope holds, periods parse, and the trace
rows of every figure sum to its parts."""

from datetime import date
from decimal import Decimal

import pytest

from backend.approvals.models import ApprovalOpinion
from backend.authz.scope import scope_of
from backend.contracts.models import BudgetLine
from backend.funds.models import Allocation, InvestmentReport
from backend.kpi import service
from backend.kpi.catalogue import CATALOGUE
from backend.org.models import User
from backend.projects.models import ProjectCompletion
from backend.publicpage.models import PublicFeedback
from backend.risk.models import RiskWarning
from backend.schedule.models import WbsItem
from backend.tickets.models import Ticket
from tests.kpi.conftest import ALL, NOW, bj

TODAY = date(2026, 7, 15)
YEAR = service.parse_period("2026", today=TODAY)
CODES = [indicator.code for indicator in CATALOGUE]


def _records(session, project, n: int) -> None:
    """A little of everything on `project`, varied by n so regions differ."""
    session.add_all(
        [
            BudgetLine(project_id=project.id, year=2026, source="企业自筹", amount=Decimal(100 * n)),
            InvestmentReport(
                project_id=project.id, year=2026, month=n % 6 + 1, amount=Decimal(37 * n), reported_by="o"
            ),
            Allocation(
                document_number=f"XD-{project.id}",
                project_id=project.id,
                year=2026,
                source="企业自筹",
                amount=Decimal(50 * n),
                allocated_on=date(2026, 2, 1),
                imported_by="fin",
            ),
            WbsItem(
                project_id=project.id,
                code="1",
                name="土建",
                planned_start=date(2026, 1, 1),
                planned_end=date(2026, 3, n),
            ),
            ApprovalOpinion(
                project_id=project.id,
                step="review_fgw",
                department="fgw" if n % 2 else "cz",
                decision="approved",
                decided_at=bj(2026, 2, n, 10, 0),
                due_at=bj(2026, 2, 10, 18, 0),
                working_days_used=n,
                overdue=n % 3 == 0,
            ),
            Ticket(
                number=f"ZG-{project.id}",
                project_id=project.id,
                source="inspection",
                category="quality",
                severity="general",
                description="问题",
                deadline=bj(2026, 4, 1, 18, 0),
                status="closed",
                outcome="passed",
                closed_at=bj(2026, 3, 20 + n % 20, 10, 0),
                rounds=1 + n % 2,
            ),
            RiskWarning(
                project_id=project.id,
                cause="c",
                source="rule",
                grade=("red", "orange", "yellow")[n % 3],
                status="open",
                title="预警",
                raised_at=bj(2026, 5, 1, 9, 0),
            ),
            PublicFeedback(
                project_id=project.id,
                rating=1 + n % 5,
                status="approved",
                ip_hash="x",
                created_at=bj(2026, 6, 1, 9, 0),
            ),
        ]
    )
    if project.status == "completed":  # 投资效益比: n=2 accepted in June, n=4 after the cut (August)
        session.add(
            ProjectCompletion(
                project_id=project.id,
                accepted_on=date(2026, 4 + n, n),
                conclusion="passed",
                annual_benefit=Decimal(30 * n),
                new_jobs=n,
                annual_tax=Decimal(n),
            )
        )
    session.flush()


@pytest.fixture()
def filled(session, world):
    projects = {}
    for n, region in enumerate(("330106", "330106", "330108", "330203", "330100"), start=1):
        projects[n] = world.project(
            region,
            planned_start=date(2026, 1, n),
            planned_end=date(2026, 6, n),
            status=("completed", "approved")[n % 2],
            industry=("交通", "水利")[n % 2],
        )
        _records(session, projects[n], n)
    world.project("330108", status="draft")  # counted nowhere
    session.commit()
    return projects


def _add_up(parent, kids):
    for code in CODES:
        for part in ("numerator", "denominator"):
            whole = getattr(parent.values[code], part)
            summed = sum((getattr(kid.values[code], part) or Decimal(0)) for kid in kids)
            assert (whole or Decimal(0)) == summed, (parent.code, code, part)
    assert parent.project_count == sum(kid.project_count for kid in kids)


def test_parts_add_up_at_every_level(session, filled):
    def walk(region):
        area = service.overview(session=session, scope=ALL, region=region, period=YEAR, now=NOW)
        kids = service.children(session=session, scope=ALL, region=region, period=YEAR, now=NOW)
        _add_up(area, kids)
        for kid in kids:
            if kid.level != "project":
                walk(kid.code)
        return area, kids

    province, cities = walk(None)
    assert province.code == "330000" and province.project_count == 5
    assert [c.code for c in cities] == ["330100", "330200"]
    hangzhou = service.children(session=session, scope=ALL, region="330100", period=YEAR, now=NOW)
    # the counties, then the project put directly on the city's code
    assert [(a.level, a.code) for a in hangzhou] == [
        ("county", "330106"),
        ("county", "330108"),
        ("project", f"p{filled[5].id}"),
    ]
    xihu = service.children(session=session, scope=ALL, region="330106", period=YEAR, now=NOW)
    assert [a.code for a in xihu] == [f"p{filled[1].id}", f"p{filled[2].id}"]
    assert xihu[0].url == f"/projects/{filled[1].code}" and xihu[0].level == "project"
    # the sum over the whole province of one figure, worked out: budget 100 × (1+2+3+4+5) = 1500
    assert province.values["investment_year"].denominator == Decimal(1500)
    # a project is its own leaf
    leaf = service.overview(session=session, scope=ALL, region=f"p{filled[1].id}", period=YEAR, now=NOW)
    assert leaf.values["investment_year"].denominator == Decimal(100)
    assert service.children(session=session, scope=ALL, region=f"p{filled[1].id}", period=YEAR, now=NOW) == []


def test_industry_breakdown_adds_up_to_the_area(session, filled):
    rows = service.breakdown(session=session, scope=ALL, region=None, period=YEAR, by="industry", now=NOW)
    assert [name for name, _ in rows] == ["交通", "水利"]
    area = service.overview(session=session, scope=ALL, region=None, period=YEAR, now=NOW)
    for code in CODES:
        assert sum(values[code].numerator for _, values in rows) == area.values[code].numerator, code


def _user(session, username, region):
    user = User(username=username, display_name=username, roles=["leader"], region_code=region)
    session.add(user)
    session.flush()
    return user


def test_a_county_sees_its_county_only(session, filled):
    scope = scope_of(_user(session, "xihu_leader", "330106"), session=session)
    area = service.overview(session=session, scope=scope, region=None, period=YEAR, now=NOW)
    assert (area.code, area.level, area.project_count) == ("330106", "county", 2)
    # budget of projects 1 and 2 only: 100 + 200
    assert area.values["investment_year"].denominator == Decimal(300)
    kids = service.children(session=session, scope=scope, region=None, period=YEAR, now=NOW)
    assert {k.code for k in kids} == {f"p{filled[1].id}", f"p{filled[2].id}"}
    for region in ("330100", "330000", "330108", "330203", f"p{filled[3].id}", "999999"):
        with pytest.raises(service.KpiInputError):
            service.overview(session=session, scope=scope, region=region, period=YEAR, now=NOW)
    with pytest.raises(service.KpiInputError):
        service.trace(
            session=session, scope=scope, region="330203", period=YEAR, code="satisfaction", now=NOW
        )
    rows = service.trace(
        session=session, scope=scope, region=None, period=YEAR, code="investment_year", now=NOW
    )
    assert rows and all(filled[3].code not in row.label for row in rows)


def test_a_city_leader_starts_at_the_city(session, filled):
    scope = scope_of(_user(session, "hz", "330100"), session=session)
    area = service.overview(session=session, scope=scope, region=None, period=YEAR, now=NOW)
    assert (area.code, area.project_count) == ("330100", 4)
    assert (
        service.overview(session=session, scope=scope, region="330108", period=YEAR, now=NOW).project_count
        == 1
    )
    with pytest.raises(service.KpiInputError, match="数据范围"):
        service.overview(session=session, scope=scope, region="330200", period=YEAR, now=NOW)


@pytest.mark.parametrize("code", CODES)
def test_trace_rows_sum_to_the_figure(session, filled, code):
    for region in (None, "330100", "330106"):
        area = service.overview(session=session, scope=ALL, region=region, period=YEAR, now=NOW)
        rows = service.trace(session=session, scope=ALL, region=region, period=YEAR, code=code, now=NOW)
        value = area.values[code]
        assert rows or (region is not None and not value.numerator), (region, code)
        assert sum((r.numerator or 0) for r in rows) == value.numerator, (region, code)
        if value.denominator is not None:
            assert sum((r.denominator or 0) for r in rows) == value.denominator, (region, code)
        assert all(r.url and r.url.startswith("/") for r in rows)


def test_trace_limit(session, filled):
    rows = service.trace(
        session=session, scope=ALL, region=None, period=YEAR, code="investment_year", limit=3
    )
    assert len(rows) == 3


def test_trend_has_one_point_per_month(session, filled):
    points = service.trend(session=session, scope=ALL, region=None, code="warnings_red", period=YEAR, now=NOW)
    assert [key for key, _ in points] == [f"2026-{m:02d}" for m in range(1, 13)]
    # every warning was raised in May 2026; red ones: n = 3 (n % 3 == 0)
    assert {key: v.value for key, v in points if v.value} == {"2026-05": Decimal(1)}
    quarter = service.trend(
        session=session,
        scope=ALL,
        region="330100",
        code="satisfaction",
        period=service.parse_period("2026Q2", today=TODAY),
        now=NOW,
    )
    assert [key for key, _ in quarter] == ["2026-04", "2026-05", "2026-06"]
    # June: projects 1, 2, 3, 5 of 杭州 rated 2, 3, 4, 1 → 10 / 4 = 2.5
    assert quarter[2][1].display == "2.50分" and quarter[0][1].display == "—"
    with pytest.raises(service.KpiInputError):
        service.trend(session=session, scope=ALL, region=None, code="nope", period=YEAR)


def test_bad_breakdown(session, filled):
    with pytest.raises(service.KpiInputError):
        service.breakdown(session=session, scope=ALL, region=None, period=YEAR, by="city")


@pytest.mark.parametrize(
    ("text", "kind", "start", "end", "label", "key"),
    [
        (None, "year", date(2026, 1, 1), date(2027, 1, 1), "2026年", "2026"),
        ("", "year", date(2026, 1, 1), date(2027, 1, 1), "2026年", "2026"),
        ("2025", "year", date(2025, 1, 1), date(2026, 1, 1), "2025年", "2025"),
        ("2026Q3", "quarter", date(2026, 7, 1), date(2026, 10, 1), "2026年第3季度", "2026Q3"),
        ("2026q4", "quarter", date(2026, 10, 1), date(2027, 1, 1), "2026年第4季度", "2026Q4"),
        ("2026-07", "month", date(2026, 7, 1), date(2026, 8, 1), "2026年7月", "2026-07"),
        ("2026-12", "month", date(2026, 12, 1), date(2027, 1, 1), "2026年12月", "2026-12"),
        (" 2026-7 ", "month", date(2026, 7, 1), date(2026, 8, 1), "2026年7月", "2026-07"),
    ],
)
def test_parse_period_accepts(text, kind, start, end, label, key):
    period = service.parse_period(text, today=TODAY)
    assert (period.kind, period.start, period.end, period.label, period.key) == (kind, start, end, label, key)
    assert service.parse_period(period.key, today=TODAY) == period


@pytest.mark.parametrize(
    "text", ["2026Q5", "2026Q0", "2026-13", "2026-00", "26", "1999", "2101", "2026-07-01", "abc", "2026 Q3"]
)
def test_parse_period_rejects(text):
    with pytest.raises(service.KpiInputError):
        service.parse_period(text, today=TODAY)
