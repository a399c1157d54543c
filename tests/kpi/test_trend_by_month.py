"""trend() computes the months of a period in one statement per indicator; each point must be
exactly the figure of that month computed alone (overview with the month as the period).
figure() (one indicator of one area) must give overview()'s value."""

from datetime import date
from decimal import Decimal

import pytest

from backend.funds.models import Allocation, InvestmentReport
from backend.kpi import service
from backend.schedule.models import WbsItem
from tests.kpi.conftest import ALL, NOW, bj
from tests.kpi.test_drill_scope_trace import CODES, TODAY, filled  # noqa: F401
from tests.kpi.test_indicators import _payment


@pytest.fixture()
def spread(session, world, filled):  # noqa: F811
    """Records on both sides of month ends and of the period's start, for the running totals."""
    p = filled[1]
    for year, month, amount in ((2025, 11, "70.00"), (2025, 12, "30.00"), (2026, 7, "11.00"), (2026, 9, "5")):
        session.add(
            InvestmentReport(project_id=p.id, year=year, month=month, amount=Decimal(amount), reported_by="o")
        )
    for number, on in (("XD-a", date(2025, 12, 31)), ("XD-b", date(2026, 4, 1)), ("XD-c", date(2026, 8, 31))):
        session.add(
            Allocation(
                document_number=number,
                project_id=p.id,
                year=2026,
                source="企业自筹",
                amount=Decimal("40.00"),
                allocated_on=on,
                imported_by="fin",
            )
        )
    _payment(session, world, p, "FK-a", "25.00", "disbursed", bj(2025, 12, 20, 9, 0))
    _payment(session, world, p, "FK-b", "15.00", "disbursed", bj(2026, 4, 1, 0, 30))  # UTC: 31 March
    _payment(session, world, p, "FK-c", "10.00", "disbursed", bj(2026, 6, 30, 23, 59))
    for code, end, actual_start, actual_end in (
        ("2", date(2026, 4, 10), date(2026, 2, 1), date(2026, 5, 20)),
        ("3", date(2026, 5, 31), date(2026, 3, 3), None),
        ("4", date(2026, 6, 15), None, date(2026, 6, 1)),
    ):
        session.add(
            WbsItem(
                project_id=filled[2].id,
                code=code,
                name="安装",
                planned_start=date(2026, 2, 1),
                planned_end=end,
                actual_start=actual_start,
                actual_end=actual_end,
            )
        )
    session.commit()
    return filled


@pytest.mark.parametrize("period", ["2026", "2026Q2", "2026Q3", "2026-03"])
@pytest.mark.parametrize("region", [None, "330100", "330106", "first project"])
def test_each_point_is_the_month_computed_alone(session, spread, period, region):
    if region == "first project":
        region = f"p{spread[1].id}"
    period = service.parse_period(period, today=TODAY)
    seen = set()
    for code in CODES:
        points = service.trend(session=session, scope=ALL, region=region, code=code, period=period, now=NOW)
        assert [key for key, _ in points] == [m.key for m in period.months]
        for month, (_, value) in zip(period.months, points, strict=True):
            alone = service.overview(session=session, scope=ALL, region=region, period=month, now=NOW)
            assert value == alone.values[code], (code, month.key)
            if value.numerator:
                seen.add(code)
    if region is None and period.key == "2026":
        # The fixture gives every indicator something to count somewhere.
        assert seen == set(CODES)


@pytest.mark.parametrize("period", ["2026", "2026Q1"])
@pytest.mark.parametrize("region", [None, "330200", "330108", "first project"])
def test_figure_is_the_overview_value(session, spread, period, region):
    """figure() (the trace page's one number) gives what overview() shows for that indicator."""
    if region == "first project":
        region = f"p{spread[1].id}"
    period = service.parse_period(period, today=TODAY)
    area = service.overview(session=session, scope=ALL, region=region, period=period, now=NOW)
    for code in CODES:
        value = service.figure(session=session, scope=ALL, region=region, period=period, code=code, now=NOW)
        assert value == area.values[code], code
    assert service.area_name(session=session, scope=ALL, region=region) == area.name
    with pytest.raises(service.KpiInputError):
        service.figure(session=session, scope=ALL, region=region, period=period, code="nope")
