"""The funds ledger (资金): annual plan, monthly investment completed, allocations, and the rates.

Keyword-only functions over a session; they flush, never commit. Messages are Chinese.

Definitions (issue 10's KPIs reuse them; amounts are Decimal yuan, rates are percentages
rounded half-up to 2 places, None when the denominator is missing or zero):

- annual plan(P, Y)      = Σ BudgetLine.amount of P for year Y (all funding sources)
- completed(P, Y)        = Σ current InvestmentReport.amount of P in year Y
  (current: the latest version of each month; superseded versions are history only)
- completed to date(P)   = Σ current InvestmentReport.amount of P, all months
- 年度投资完成率(P, Y)     = completed(P, Y) / annual plan(P, Y) × 100
- 累计投资完成率(P)        = completed to date(P) / Project.total_investment × 100
- allocated(P)           = Σ Allocation.amount of P (资金下达, imported from the finance system)
- paid(P)                = Σ Payment.amount of P's contracts with state "disbursed"
  (the milestone_payment process's confirmed disbursements)
- 资金拨付率(P)            = paid(P) / allocated(P) × 100

A monthly report may not be for a month after the current Asia/Shanghai month.
"""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from backend.contracts.models import BudgetLine, Contract, Payment
from backend.db import utcnow
from backend.funds.models import Allocation, InvestmentReport
from backend.projects.models import Project
from backend.workdays.service import local_date

CENT = Decimal("0.01")


class FundsError(ValueError):
    """A refused funds action; `errors` maps a field to a Chinese message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(errors.values()))


class AllocationConflict(FundsError):
    """The document number was imported before with different content."""


def rate(numerator: Decimal, denominator: Decimal | None) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(CENT, rounding=ROUND_HALF_UP)


def _money(value) -> Decimal:
    return Decimal(value or 0).quantize(CENT)


# --- monthly reports ---------------------------------------------------------------------------


def current_reports(*, session, project: Project, year: int | None = None) -> list[InvestmentReport]:
    query = sa.select(InvestmentReport).where(
        InvestmentReport.project_id == project.id, InvestmentReport.superseded_at.is_(None)
    )
    if year is not None:
        query = query.where(InvestmentReport.year == year)
    return list(session.scalars(query.order_by(InvestmentReport.year, InvestmentReport.month)))


def report_history(*, session, project: Project) -> list[InvestmentReport]:
    """Every version, newest month first, newest version first."""
    return list(
        session.scalars(
            sa.select(InvestmentReport)
            .where(InvestmentReport.project_id == project.id)
            .order_by(
                InvestmentReport.year.desc(), InvestmentReport.month.desc(), InvestmentReport.version.desc()
            )
        )
    )


def report_month(
    *,
    session,
    project: Project,
    year: int,
    month: int,
    amount,
    reported_by: str,
    note: str = "",
    today: date | None = None,
) -> InvestmentReport:
    """Record the investment completed in a month; a second report of the month is a correction:
    a new version, the previous one kept as superseded."""
    errors: dict[str, str] = {}
    today = today or local_date(utcnow())
    if not 1 <= month <= 12:
        errors["month"] = "月份须在 1 到 12 之间"
    elif (year, month) > (today.year, today.month):
        errors["month"] = "不能填报未来月份的完成投资"
    try:
        value = Decimal(str(amount))
        if not value.is_finite():
            raise ValueError
    except (ValueError, ArithmeticError):
        errors["amount"] = "金额须为数字"
    else:
        if value < 0:
            errors["amount"] = "金额不能为负数"
        elif value != value.quantize(CENT):
            errors["amount"] = "金额最多保留两位小数 (元)"
    if errors:
        raise FundsError(errors)
    # One report of a project at a time: two corrections of a month at once would both read the
    # same current version and collide on the next one (PostgreSQL: row lock; SQLite: one writer).
    session.execute(sa.select(Project.id).where(Project.id == project.id).with_for_update())
    previous = session.scalars(
        sa.select(InvestmentReport).where(
            InvestmentReport.project_id == project.id,
            InvestmentReport.year == year,
            InvestmentReport.month == month,
            InvestmentReport.superseded_at.is_(None),
        )
    ).first()
    now = utcnow()
    if previous is not None:
        previous.superseded_at = now
    row = InvestmentReport(
        project_id=project.id,
        year=year,
        month=month,
        version=previous.version + 1 if previous else 1,
        amount=value.quantize(CENT),
        note=note or "",
        reported_by=reported_by,
        reported_at=now,
    )
    session.add(row)
    session.flush()
    return row


# --- allocations -------------------------------------------------------------------------------


def import_allocation(
    *,
    session,
    project: Project,
    document_number: str,
    year: int,
    source: str,
    amount: Decimal,
    allocated_on: date,
    imported_by: str,
    note: str = "",
) -> tuple[Allocation, bool]:
    """(row, created). The same document again is no new row; the same number with other
    content is refused (the finance system corrects a document with a new number)."""
    found = session.scalars(
        sa.select(Allocation).where(Allocation.document_number == document_number)
    ).first()
    amount = _money(amount)
    if found is not None:
        same = (
            found.project_id == project.id
            and found.year == year
            and found.source == source
            and _money(found.amount) == amount
            and found.allocated_on == allocated_on
        )
        if not same:
            raise AllocationConflict({"document_number": f"单据号 {document_number} 已导入, 内容不一致"})
        return found, False
    row = Allocation(
        document_number=document_number,
        project_id=project.id,
        year=year,
        source=source,
        amount=amount,
        allocated_on=allocated_on,
        note=note or "",
        imported_by=imported_by,
    )
    session.add(row)
    session.flush()
    return row, True


def allocations(*, session, project: Project) -> list[Allocation]:
    return list(
        session.scalars(
            sa.select(Allocation)
            .where(Allocation.project_id == project.id)
            .order_by(Allocation.allocated_on.desc(), Allocation.id.desc())
        )
    )


# --- the figures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    year: int
    annual_plan: Decimal
    completed_year: Decimal
    completed_total: Decimal
    total_investment: Decimal
    allocated: Decimal
    paid: Decimal
    year_completion_rate: Decimal | None
    total_completion_rate: Decimal | None
    disbursement_rate: Decimal | None


def annual_plan(*, session, project: Project, year: int) -> Decimal:
    total = session.scalar(
        sa.select(sa.func.sum(BudgetLine.amount)).where(
            BudgetLine.project_id == project.id, BudgetLine.year == year
        )
    )
    return _money(total)


def budget_lines(*, session, project: Project) -> list[BudgetLine]:
    return list(
        session.scalars(
            sa.select(BudgetLine)
            .where(BudgetLine.project_id == project.id)
            .order_by(BudgetLine.year.desc(), BudgetLine.source)
        )
    )


def completed(*, session, project: Project, year: int | None = None) -> Decimal:
    query = sa.select(sa.func.sum(InvestmentReport.amount)).where(
        InvestmentReport.project_id == project.id, InvestmentReport.superseded_at.is_(None)
    )
    if year is not None:
        query = query.where(InvestmentReport.year == year)
    return _money(session.scalar(query))


def allocated(*, session, project: Project) -> Decimal:
    return _money(
        session.scalar(sa.select(sa.func.sum(Allocation.amount)).where(Allocation.project_id == project.id))
    )


def paid(*, session, project: Project) -> Decimal:
    return _money(
        session.scalar(
            sa.select(sa.func.sum(Payment.amount))
            .join(Contract, Payment.contract_id == Contract.id)
            .where(Contract.project_id == project.id, Payment.state == "disbursed")
        )
    )


def figures(*, session, project: Project, year: int) -> Figures:
    plan = annual_plan(session=session, project=project, year=year)
    done_year = completed(session=session, project=project, year=year)
    done_total = completed(session=session, project=project)
    total_investment = _money(project.total_investment)
    given = allocated(session=session, project=project)
    out = paid(session=session, project=project)
    return Figures(
        year=year,
        annual_plan=plan,
        completed_year=done_year,
        completed_total=done_total,
        total_investment=total_investment,
        allocated=given,
        paid=out,
        year_completion_rate=rate(done_year, plan),
        total_completion_rate=rate(done_total, total_investment),
        disbursement_rate=rate(out, given),
    )
