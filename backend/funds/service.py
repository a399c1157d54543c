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

from backend import jobs
from backend.contracts.models import BudgetLine, Contract, Payment
from backend.contracts.service import DRAWING_STATES, RELEASE_CONDITIONS_CHANGED, hold_payment_checks
from backend.db import utcnow
from backend.funds.models import Allocation, InvestmentReport
from backend.projects.models import Project
from backend.workdays.service import local_date

CENT = Decimal("0.01")


class FundsError(ValueError):
    """A refused funds action; `errors` maps a field to a Chinese message."""

    def __init__(self, errors: dict[str, str], params: dict[str, dict] | None = None):
        # `errors` are message ids ("%(name)s" placeholders filled from `params[field]`), so a
        # view can translate them; `messages` are the Chinese texts filled in.
        self.errors = errors
        self.params = params or {}
        self.messages = {
            field: text % self.params[field] if field in self.params else text
            for field, text in errors.items()
        }
        super().__init__("; ".join(self.messages.values()))


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


# --- the annual plan (年度计划投资与资金来源) -----------------------------------------------------
# Budget lines are what payments draw on (backend.contracts): a change waits for the project's
# payment checks in flight (contracts, then its budget lines, locked in that order as
# request_payment takes them), may not cut a line below what payments already draw on it, and
# tells blocked payments to check again when money was added.

YEARS = range(2000, 2101)


@dataclass(frozen=True)
class LineChange:
    line: BudgetLine
    op: str  # create | update | delete
    before: dict | None
    after: dict | None


def _line_state(line: BudgetLine) -> dict:
    return {"year": line.year, "source": line.source, "amount": str(_money(line.amount))}


def _parse_line(year, source, amount) -> tuple[int | None, str, Decimal | None]:
    errors: dict[str, str] = {}
    parsed_year = None
    text = str(year if year is not None else "").strip()
    if not text.isdigit() or int(text) not in YEARS:
        errors["year"] = "年度须为 2000 到 2100 之间的年份"
    else:
        parsed_year = int(text)
    source = str(source or "").strip()
    if not source:
        errors["source"] = "请填写资金来源"
    elif len(source) > 60:
        errors["source"] = "资金来源最多 60 个字"
    value = None
    try:
        value = Decimal(str(amount if amount is not None else "").strip().replace(",", ""))
        if not value.is_finite():
            raise ValueError
    except (ValueError, ArithmeticError):
        errors["amount"] = "金额须为数字"
        value = None
    else:
        if value <= 0:
            errors["amount"] = "金额须大于零"
        elif value != value.quantize(CENT):
            errors["amount"] = "金额最多保留两位小数 (元)"
        elif value >= Decimal("1e16"):
            errors["amount"] = "金额过大"
    if errors:
        raise FundsError(errors)
    return parsed_year, source, value.quantize(CENT)


def _lock_plan(session, project: Project) -> list[BudgetLine]:
    hold_payment_checks(session=session, project_id=project.id)
    return list(
        session.scalars(
            sa.select(BudgetLine)
            .where(BudgetLine.project_id == project.id)
            .order_by(BudgetLine.id)
            .execution_options(populate_existing=True)
            .with_for_update(of=BudgetLine)
        )
    )


def drawn_on_lines(*, session, line_ids: list[int]) -> dict[int, Decimal]:
    """Line id → what payments (not returned) draw on it."""
    if not line_ids:
        return {}
    rows = session.execute(
        sa.select(Payment.budget_line_id, sa.func.sum(Payment.amount))
        .where(Payment.budget_line_id.in_(line_ids), Payment.state.in_(DRAWING_STATES))
        .group_by(Payment.budget_line_id)
    ).all()
    return {line_id: _money(total) for line_id, total in rows}


def _used_by_payments(session, line_id: int) -> bool:
    return session.scalar(sa.select(Payment.id).where(Payment.budget_line_id == line_id).limit(1)) is not None


def _budget_changed(session, project: Project, line: BudgetLine, added: Decimal) -> None:
    """Blocked payments of the project check their conditions again (as contracts.add_budget)."""
    jobs.enqueue(
        session=session,
        actor="workflow.deliver_message",
        payload={
            "name": RELEASE_CONDITIONS_CHANGED,
            "payload": {
                "reason": "budget_added",
                "project_code": project.code,
                "year": line.year,
                "source": line.source,
                "amount": str(added),
            },
            "business_key": project.code,
            "sender": None,
        },
    )


def save_budget_line(
    *, session, project: Project, year, source, amount, line_id: int | None = None
) -> LineChange:
    """Add a line (line_id None) or change one: year, funding source and amount. One line per
    project, year and source; a line payments draw on keeps its year and source, and its amount
    may not fall below what they draw."""
    year, source, value = _parse_line(year, source, amount)
    lines = _lock_plan(session, project)
    line = None
    if line_id is not None:
        line = next((row for row in lines if row.id == line_id), None)
        if line is None:
            raise FundsError({"_form": "该计划行不存在或已被删除"})
    if any(row.year == year and row.source == source and row is not line for row in lines):
        raise FundsError(
            {"source": "%(year)s 年度已有资金来源“%(source)s”的计划, 请修改该行"},
            {"source": {"year": year, "source": source}},
        )
    before = _line_state(line) if line is not None else None
    if line is not None:
        drawn = drawn_on_lines(session=session, line_ids=[line.id]).get(line.id, Decimal("0.00"))
        if (year, source) != (line.year, line.source) and _used_by_payments(session, line.id):
            raise FundsError({"source": "该计划行已有支付记录, 年度和资金来源不能修改"})
        if value < drawn:
            raise FundsError(
                {"amount": "金额不能低于已支用的 %(drawn)s 元"}, {"amount": {"drawn": f"{drawn:,.2f}"}}
            )
        added = value - _money(line.amount) if (year, source) == (line.year, line.source) else value
        line.year, line.source, line.amount = year, source, value
        op = "update"
    else:
        line = BudgetLine(project_id=project.id, year=year, source=source, amount=value)
        session.add(line)
        added = value
        op = "create"
    session.flush()
    if added > 0:
        _budget_changed(session, project, line, added)
    return LineChange(line=line, op=op, before=before, after=_line_state(line))


def remove_budget_line(*, session, project: Project, line_id: int) -> LineChange:
    """Remove a line no payment was ever drawn on (a drawn line keeps the payments' history)."""
    lines = _lock_plan(session, project)
    line = next((row for row in lines if row.id == line_id), None)
    if line is None:
        raise FundsError({"_form": "该计划行不存在或已被删除"})
    if _used_by_payments(session, line.id):
        raise FundsError({"_form": "该计划行已有支付记录, 不能删除"})
    before = _line_state(line)
    session.delete(line)
    session.flush()
    return LineChange(line=line, op="delete", before=before, after=None)
