"""The rates of backend/funds/service.py on hand-made figures, worked out here."""

from datetime import date
from decimal import Decimal

import pytest

from backend.funds import service
from backend.funds.models import InvestmentReport

from .conftest import add_budget, add_payment, make_project

TODAY = date(2026, 3, 15)


def report(session, project, year, month, amount):
    return service.report_month(
        session=session,
        project=project,
        year=year,
        month=month,
        amount=amount,
        reported_by="applicant",
        today=TODAY,
    )


def test_investment_completion_rates(session, project):
    # Plan 2026: 600 + 400 = 1000 (the 2025 line is another year).
    add_budget(session, project, 2026, "中央预算内", "600.00")
    add_budget(session, project, 2026, "地方配套", "400.00")
    add_budget(session, project, 2025, "中央预算内", "500.00")
    report(session, project, 2025, 12, "300")
    report(session, project, 2026, 1, "100.00")
    report(session, project, 2026, 2, "150.00")
    report(session, project, 2026, 2, "200.00")  # correction: 200 counts, 150 is history
    report(session, project, 2026, 3, "50.33")

    figures = service.figures(session=session, project=project, year=2026)

    # Year: 100 + 200 + 50.33 = 350.33; 350.33 / 1000 = 35.033 % → 35.03
    assert figures.annual_plan == Decimal("1000.00")
    assert figures.completed_year == Decimal("350.33")
    assert figures.year_completion_rate == Decimal("35.03")
    # Total: 300 + 350.33 = 650.33 of 2000; 32.5165 % → 32.52 (half up)
    assert figures.completed_total == Decimal("650.33")
    assert figures.total_completion_rate == Decimal("32.52")
    # 2025: 300 / 500 = 60 %
    assert service.figures(session=session, project=project, year=2025).year_completion_rate == Decimal(
        "60.00"
    )


def test_disbursement_rate(session, org, project):
    from backend.funds.models import Allocation  # noqa: F401

    service.import_allocation(
        session=session,
        project=project,
        document_number="CZ-1",
        year=2026,
        source="中央预算内",
        amount=Decimal("800.00"),
        allocated_on=date(2026, 1, 10),
        imported_by="fin",
    )
    service.import_allocation(
        session=session,
        project=project,
        document_number="CZ-2",
        year=2026,
        source="地方配套",
        amount=Decimal("200.00"),
        allocated_on=date(2026, 2, 10),
        imported_by="fin",
    )
    add_payment(session, org, project, "P1", "300.00", "disbursed")
    add_payment(session, org, project, "P2", "150.50", "disbursed")
    add_payment(session, org, project, "P3", "100.00", "requested")  # not paid yet
    other = make_project(session, org, "2026-330106-48-01-000888", "330106")
    add_payment(session, org, other, "P4", "999.00", "disbursed")  # another project's

    figures = service.figures(session=session, project=project, year=2026)

    # Paid 300 + 150.50 = 450.50 of 800 + 200 = 1000 allocated → 45.05 %
    assert figures.allocated == Decimal("1000.00")
    assert figures.paid == Decimal("450.50")
    assert figures.disbursement_rate == Decimal("45.05")


def test_no_denominator_is_no_rate(session, project):
    report(session, project, 2026, 1, "10")
    figures = service.figures(session=session, project=project, year=2026)
    assert figures.year_completion_rate is None  # no plan for 2026
    assert figures.disbursement_rate is None  # nothing allocated
    assert figures.total_completion_rate == Decimal("0.50")  # 10 / 2000


def test_correction_keeps_history(session, project):
    first = report(session, project, 2026, 2, "150")
    second = report(session, project, 2026, 2, "200")
    history = service.report_history(session=session, project=project)
    assert [(r.version, r.amount, r.superseded_at is None) for r in history] == [
        (2, Decimal("200.00"), True),
        (1, Decimal("150.00"), False),
    ]
    assert first.superseded_at is not None and second.version == 2
    assert [r.id for r in service.current_reports(session=session, project=project)] == [second.id]


@pytest.mark.parametrize(
    ("year", "month", "amount", "field"),
    [
        (2026, 4, "10", "month"),  # after the current month (March 2026)
        (2027, 1, "10", "month"),
        (2026, 13, "10", "month"),
        (2026, 3, "-1", "amount"),
        (2026, 3, "1.005", "amount"),
        (2026, 3, "abc", "amount"),
        (2026, 3, "NaN", "amount"),
    ],
)
def test_bad_reports_are_refused(session, project, year, month, amount, field):
    with pytest.raises(service.FundsError) as refused:
        report(session, project, year, month, amount)
    assert field in refused.value.errors
    assert session.query(InvestmentReport).count() == 0


def test_current_month_is_accepted(session, project):
    assert report(session, project, 2026, 3, "0").amount == Decimal("0.00")
