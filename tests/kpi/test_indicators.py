"""Each indicator on hand-made records, the expected figure worked out in a comment. Period
2026 (or a quarter of it); "now" is 2026-07-15 12:00 Beijing, so 期末 (the cut) is 2026-07-15."""

from datetime import date
from decimal import Decimal

from backend.approvals.models import ApprovalOpinion
from backend.contracts.models import BudgetLine, Contract, Payment, PaymentMilestone
from backend.funds.models import Allocation, InvestmentReport
from backend.kpi import service
from backend.publicpage.models import PublicFeedback
from backend.risk.models import RiskWarning
from backend.schedule.models import WbsItem
from backend.tickets.models import Ticket
from tests.kpi.conftest import ALL, NOW, bj

TODAY = date(2026, 7, 15)


def figure(session, code, period="2026", region=None):
    area = service.overview(
        session=session, scope=ALL, region=region, period=service.parse_period(period, today=TODAY), now=NOW
    )
    return area.values[code]


def report(session, project, year, month, amount, version=1, superseded=False):
    session.add(
        InvestmentReport(
            project_id=project.id,
            year=year,
            month=month,
            version=version,
            amount=Decimal(amount),
            reported_by="owner",
            superseded_at=bj(2026, 7, 1, 9, 0) if superseded else None,
        )
    )
    session.flush()


def test_investment_year_and_total(session, world):
    p = world.project("330106", total_investment="2000.00")
    session.add_all(
        [
            BudgetLine(project_id=p.id, year=2026, source="中央预算内资金", amount=Decimal("600.00")),
            BudgetLine(project_id=p.id, year=2026, source="企业自筹", amount=Decimal("400.00")),
            BudgetLine(project_id=p.id, year=2025, source="企业自筹", amount=Decimal("9000.00")),
        ]
    )
    report(session, p, 2026, 3, "100.00", version=1, superseded=True)  # corrected: history only
    report(session, p, 2026, 3, "150.00", version=2)
    report(session, p, 2026, 6, "250.00")
    report(session, p, 2025, 12, "999.00")
    # Not yet approved: neither its total nor its reports count in 总投资完成率.
    q = world.project("330106", status="applying", total_investment="5000.00")
    report(session, q, 2026, 1, "100.00")

    # 2026: (150 + 250 + q's 100) / (600 + 400) = 500 / 1000 = 50%
    value = figure(session, "investment_year")
    assert (value.numerator, value.denominator) == (Decimal("500.00"), Decimal("1000.00"))
    assert value.value == Decimal("50.0000") and value.display == "50.0%"
    # 2026Q1: reports of January to March: (150 + 100) / 1000 = 25%
    assert figure(session, "investment_year", "2026Q1").display == "25.0%"
    # total, to the end of 2026, approved-and-beyond projects only: (999 + 150 + 250) / 2000 = 69.95%
    total = figure(session, "investment_total")
    assert (total.numerator, total.denominator) == (Decimal("1399.00"), Decimal("2000.00"))
    assert total.value == Decimal("69.9500") and total.display == "70.0%"
    # to the end of 2025: 999 / 2000 = 49.95%
    assert figure(session, "investment_total", "2025").value == Decimal("49.9500")


def _payment(session, world, project, number, amount, state, at=None):
    contract = Contract(
        number=f"HT-{number}",
        name="施工合同",
        project_id=project.id,
        party_a_unit_id=world.unit.id,
        party_b_unit_id=world.unit.id,
        amount=Decimal("100000.00"),
    )
    session.add(contract)
    session.flush()
    milestone = PaymentMilestone(contract_id=contract.id, seq=1, name="预付款", amount=Decimal(amount))
    session.add(milestone)
    session.flush()
    session.add(
        Payment(
            number=number,
            contract_id=contract.id,
            milestone_id=milestone.id,
            amount=Decimal(amount),
            state=state,
            disbursed_at=at,
        )
    )
    session.flush()


def test_disbursement_counts_to_the_period_end_in_beijing_time(session, world):
    p = world.project("330106")
    for number, amount, on in (("XD-1", "800.00", date(2026, 3, 1)), ("XD-2", "200.00", date(2026, 9, 1))):
        session.add(
            Allocation(
                document_number=number,
                project_id=p.id,
                year=2026,
                source="中央预算内资金",
                amount=Decimal(amount),
                allocated_on=on,
                imported_by="fin",
            )
        )
    _payment(session, world, p, "FK-1", "300.00", "disbursed", bj(2026, 3, 31, 23, 30))
    _payment(session, world, p, "FK-2", "200.00", "disbursed", bj(2026, 4, 1, 0, 30))  # UTC: 31 March
    _payment(session, world, p, "FK-3", "100.00", "requested")
    # 2026: (300 + 200) / (800 + 200) = 50%
    assert figure(session, "disbursement").display == "50.0%"
    # 2026Q1 (to 31 March, Beijing): 300 / 800 = 37.5%; FK-2 was paid on 1 April Beijing time
    value = figure(session, "disbursement", "2026Q1")
    assert (value.numerator, value.denominator, value.display) == (
        Decimal("300.00"),
        Decimal("800.00"),
        "37.5%",
    )


def _wbs(session, project, code, start, end, actual_end=None, parent=None, actual_start=None):
    item = WbsItem(
        project_id=project.id,
        parent_id=parent.id if parent else None,
        code=code,
        name=f"任务{code}",
        planned_start=start,
        planned_end=end,
        actual_start=actual_start,
        actual_end=actual_end,
    )
    session.add(item)
    session.flush()
    return item


def test_schedule_deviation(session, world):
    p = world.project("330106")
    top = _wbs(session, p, "1", date(2026, 1, 1), date(2026, 12, 31))
    _wbs(session, p, "1.1", date(2026, 1, 1), date(2026, 1, 10), date(2026, 1, 15), top)  # 5 late / 10
    _wbs(session, p, "1.2", date(2026, 2, 1), date(2026, 2, 10), date(2026, 2, 8), top)  # early: 0 / 10
    _wbs(session, p, "1.3", date(2026, 7, 1), date(2026, 7, 10), None, top)  # open: 15 Jul − 10 Jul = 5 / 10
    _wbs(session, p, "1.4", date(2026, 7, 1), date(2026, 8, 31), None, top)  # not due yet
    _wbs(session, p, "1.5", date(2026, 3, 1), date(2026, 3, 20), date(2026, 4, 10), top)  # 21 late / 20
    # 2026 (cut 15 July): (5 + 0 + 5 + 21) / (10 + 10 + 10 + 20) = 31 / 50 = 62%; "1" is no leaf
    value = figure(session, "schedule_deviation")
    assert (value.numerator, value.denominator, value.display) == (Decimal(31), Decimal(50), "62.0%")
    # 2026Q1 (cut 31 March): 1.5 was still open then: 31 Mar − 20 Mar = 11; (5 + 0 + 11) / 40 = 40%
    value = figure(session, "schedule_deviation", "2026Q1")
    assert (value.numerator, value.denominator, value.display) == (Decimal(16), Decimal(40), "40.0%")


def test_start_and_completion_rates(session, world):
    a = world.project("330106", status="in_construction", planned_start=date(2026, 3, 1))
    b = world.project("330106", status="approved", planned_start=date(2026, 5, 1))
    _wbs(session, b, "1", date(2026, 5, 1), date(2026, 9, 1), actual_start=date(2026, 5, 10))
    world.project("330106", status="approved", planned_start=date(2026, 6, 1))  # not started
    world.project("330106", status="approved", planned_start=date(2026, 9, 1))  # after the cut
    world.project("330106", status="applying", planned_start=date(2026, 2, 1))  # not approved
    world.project("330106", status="approved", planned_start=date(2025, 12, 1))  # 2025
    assert a and b
    # planned to start in 2026 by 15 July: a, b, c; started: a (status), b (WBS actual start): 2/3
    value = figure(session, "start_rate")
    assert (value.numerator, value.denominator, value.display) == (Decimal(2), Decimal(3), "66.7%")


def test_completion_rate(session, world):
    world.project("330106", status="completed", planned_end=date(2026, 6, 30))
    world.project("330106", status="in_construction", planned_end=date(2026, 5, 31))
    world.project("330106", status="completed", planned_end=date(2026, 10, 31))  # after the cut
    # planned to finish in 2026 by 15 July: 2; completed: 1 → 50%
    value = figure(session, "completion_rate")
    assert (value.numerator, value.denominator, value.display) == (Decimal(1), Decimal(2), "50.0%")


def test_completion_counts_by_the_acceptance_date(session, world):
    """A project accepted (竣工验收) after a period's cut was not completed in that period."""
    world.project("330106", status="completed", planned_end=date(2026, 2, 28), actual_end=date(2026, 3, 20))
    world.project("330106", status="completed", planned_end=date(2026, 3, 15), actual_end=date(2026, 3, 10))
    world.project("330106", status="completed", planned_end=date(2026, 1, 31))  # no date: by status
    # 2026-02 (cut 28 Feb): planned in February: the first; accepted only on 20 March → 0/1
    value = figure(session, "completion_rate", "2026-02")
    assert (value.numerator, value.denominator) == (Decimal(0), Decimal(1))
    # 2026Q1 (cut 31 March): all three planned and all accepted by then → 3/3
    value = figure(session, "completion_rate", "2026Q1")
    assert (value.numerator, value.denominator) == (Decimal(3), Decimal(3))
    # The trend's months are each month alone: Jan 1/1, Feb 0/1 (accepted 20 Mar), Mar 1/1.
    points = service.trend(
        session=session,
        scope=ALL,
        region=None,
        code="completion_rate",
        period=service.parse_period("2026Q1", today=TODAY),
        now=NOW,
    )
    assert [(v.numerator, v.denominator) for _, v in points] == [(1, 1), (0, 1), (1, 1)]


def _opinion(session, project, department, decided, *, due=True, overdue=False, used=None):
    session.add(
        ApprovalOpinion(
            project_id=project.id,
            step=f"review_{department}",
            department=department,
            decision="approved",
            decided_at=decided,
            due_at=bj(2026, 1, 1, 0, 0) if due else None,
            working_days_used=used,
            overdue=overdue,
        )
    )
    session.flush()


def _approvals(session, world):
    p = world.project("330106", status="applying")
    _opinion(session, p, "fgw", bj(2026, 3, 1, 10, 0), used=3)
    _opinion(session, p, "fgw", bj(2026, 3, 2, 10, 0), overdue=True, used=8)
    _opinion(session, p, "cz", bj(2026, 3, 3, 10, 0), used=2)
    _opinion(session, p, "expert", bj(2026, 3, 4, 10, 0), due=False, used=5)  # no time limit
    _opinion(session, p, None, bj(2026, 3, 5, 10, 0), used=1)  # the applicant's own step
    _opinion(session, p, "fgw", bj(2025, 12, 31, 23, 0), used=9)  # 2025 in Beijing
    return p


def test_approval_on_time_and_mean_days(session, world):
    _approvals(session, world)
    # steps with a limit decided in 2026: fgw, fgw (overdue), cz → 2 / 3
    value = figure(session, "approval_on_time")
    assert (value.numerator, value.denominator, value.display) == (Decimal(2), Decimal(3), "66.7%")
    # working days of the departments' steps (expert included): (3 + 8 + 2 + 5) / 4 = 4.5
    value = figure(session, "approval_mean_days")
    assert (value.numerator, value.denominator, value.display) == (Decimal(18), Decimal(4), "4.5天")


def test_approval_per_department(session, world):
    _approvals(session, world)
    rows = service.breakdown(
        session=session,
        scope=ALL,
        region=None,
        period=service.parse_period("2026", today=TODAY),
        by="department",
        now=NOW,
    )
    got = {name: (v["approval_on_time"].display, v["approval_mean_days"].display) for name, v in rows}
    # fgw: 1 of 2 on time, (3 + 8) / 2 = 5.5; cz: 1/1, 2; expert: no limits, 5
    assert got == {
        "省发展和改革委员会": ("50.0%", "5.5天"),
        "省财政厅": ("100.0%", "2.0天"),
        "专家评审": ("—", "5.0天"),
    }
    assert all(v["investment_year"].value is None for _, v in rows)


def _ticket(session, project, number, deadline, *, outcome=None, closed=None, rounds=1):
    session.add(
        Ticket(
            number=number,
            project_id=project.id,
            source="inspection",
            category="quality",
            severity="general",
            description="问题",
            deadline=deadline,
            status="closed" if outcome else "rectifying",
            outcome=outcome,
            closed_at=closed,
            rounds=rounds,
        )
    )
    session.flush()


def test_tickets(session, world):
    p = world.project("330106")
    _ticket(session, p, "ZG-1", bj(2026, 3, 1, 18, 0), outcome="passed", closed=bj(2026, 2, 20, 10, 0))
    _ticket(
        session, p, "ZG-2", bj(2026, 4, 1, 18, 0), outcome="passed", closed=bj(2026, 4, 5, 10, 0), rounds=2
    )
    _ticket(session, p, "ZG-3", bj(2026, 5, 1, 18, 0))  # open past its deadline
    _ticket(session, p, "ZG-4", bj(2026, 6, 1, 18, 0), outcome="cancelled", closed=bj(2026, 5, 1, 10, 0))
    _ticket(session, p, "ZG-5", bj(2026, 8, 1, 18, 0))  # not due yet on 15 July
    _ticket(session, p, "ZG-6", bj(2025, 12, 1, 18, 0), outcome="passed", closed=bj(2025, 12, 1, 10, 0))
    # due in 2026 by now, not cancelled: ZG-1, 2, 3; on time: ZG-1 → 1/3
    value = figure(session, "ticket_on_time")
    assert (value.numerator, value.denominator, value.display) == (Decimal(1), Decimal(3), "33.3%")
    # passed and closed in 2026: ZG-1 (1 round), ZG-2 (2 rounds) → 1/2
    value = figure(session, "ticket_first_pass")
    assert (value.numerator, value.denominator, value.display) == (Decimal(1), Decimal(2), "50.0%")


def test_warnings_by_grade(session, world):
    p = world.project("330106")
    for n, (grade, raised) in enumerate(
        (
            ("red", bj(2026, 2, 1, 9, 0)),
            ("red", bj(2026, 6, 1, 9, 0)),
            ("orange", bj(2026, 6, 2, 9, 0)),
            ("red", bj(2025, 6, 1, 9, 0)),
        )
    ):
        session.add(
            RiskWarning(
                project_id=p.id,
                cause=f"c{n}",
                source="rule",
                grade=grade,
                status="open",
                title="预警",
                raised_at=raised,
            )
        )
    session.flush()
    assert figure(session, "warnings_red").display == "2个"
    assert figure(session, "warnings_orange").value == Decimal(1)
    assert figure(session, "warnings_yellow").display == "0个"
    assert figure(session, "warnings_red", "2026-06").display == "1个"


def test_satisfaction(session, world):
    p = world.project("330106")
    for rating, status, at in (
        (5, "approved", bj(2026, 1, 5, 9, 0)),
        (4, "approved", bj(2026, 5, 5, 9, 0)),
        (3, "approved", bj(2026, 7, 1, 9, 0)),
        (1, "pending", bj(2026, 7, 1, 9, 0)),  # not moderated yet
        (1, "approved", bj(2025, 7, 1, 9, 0)),  # 2025
    ):
        session.add(PublicFeedback(project_id=p.id, rating=rating, status=status, ip_hash="x", created_at=at))
    session.flush()
    # (5 + 4 + 3) / 3 = 4
    value = figure(session, "satisfaction")
    assert (value.numerator, value.denominator, value.display) == (Decimal(12), Decimal(3), "4.00分")


def test_benefit_ratio_without_acceptances_is_a_dash(session, world):
    # No 竣工验收 recorded: nothing to divide (tests/kpi/test_benefit_ratio.py has the figures).
    world.project("330106")
    value = figure(session, "benefit_ratio")
    assert (value.value, value.numerator, value.denominator, value.display) == (None, 0, 0, "—")


def test_nothing_to_compute_from_is_a_dash(session, world):
    world.project("330106")
    value = figure(session, "approval_on_time")
    assert value.value is None and value.display == "—"
