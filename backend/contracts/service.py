"""Contracts, their payment schedules, milestone acceptance, payment requests and budget.

Rules kept here (the `milestone_payment` diagram calls them through operations.py):

- Money is Decimal yuan with two places. Amounts with more places, and floats, are refused,
  never rounded: a contract amount is exact.
- Payment schedule: each milestone has either a percentage of the contract amount or an
  amount, and its release conditions. The schedule may add up to **at most** the contract
  amount. A schedule adding up to exactly the amount is *complete*; a shorter one leaves the
  rest unscheduled (recorded in `clauses["unscheduled_amount"]`, payable only once a
  supplementary agreement schedules it). Percentages become amounts with ROUND_HALF_UP to
  the fen; in a complete schedule the last milestone given as a percentage takes the
  rounding remainder, so the amounts add up to the contract amount exactly.
- Milestones open in order: the first when the contract is created, each next one when the
  previous one's disbursement is confirmed. Opening a milestone starts its
  `milestone_payment` instance (business key: the project code).
- Over-payment is impossible: a payment request is created only while holding the
  contract's row lock (PostgreSQL SELECT ... FOR UPDATE; on SQLite the unit of work began
  with BEGIN IMMEDIATE) and the project's budget lines of the year, after summing what is
  already requested or paid; the database allows one payment per milestone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import sqlalchemy as sa

from backend import jobs
from backend.contracts.budget_system import BudgetSystem, PaymentRequest, budget_system
from backend.contracts.errors import (
    ContractNotFound,
    ContractNumberTaken,
    InvalidAmount,
    InvalidContract,
    InvalidDisbursement,
    MilestoneNotFound,
    MilestoneStateError,
    PaymentAlreadyRequested,
    PaymentNotFound,
    PaymentStateError,
    ProjectNotFound,
)
from backend.contracts.models import BudgetLine, Contract, Payment, PaymentMilestone
from backend.db import utcnow
from backend.org.models import Unit
from backend.projects.models import Project
from backend.tickets.models import BLOCKING_SEVERITIES, Ticket
from backend.workdays.service import local_date
from backend.workflow import registry
from backend.workflow import service as workflow
from backend.workflow.models import ProcessInstance

PROCESS_KEY = "milestone_payment"
RELEASE_CONDITIONS_CHANGED = "release_conditions_changed"

# The conditions a milestone's payment may be released under, in the order they are checked.
RELEASE_CONDITIONS = {
    "acceptance_passed": "验收通过",
    "no_open_major_ticket": "项目无未关闭的重大及以上整改工单",
    "within_contract": "累计付款不超过合同金额",
    "within_budget": "不超过项目本年度可用预算",
}
# Never optional: no schedule may opt out of the contract ceiling.
ALWAYS_CHECKED = ("within_contract",)
# Payments that count against the contract and the budget: everything not returned.
DRAWING_STATES = ("requested", "approved", "submitted", "disbursed")
# Contracts are signed for approved projects only.
CONTRACTABLE_PROJECT_STATES = ("approved", "in_construction")
SEVERITY_LABELS = {"general": "一般", "major": "重大", "critical": "特别重大"}

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


# --- money ------------------------------------------------------------------------------


def to_money(value, *, field: str = "金额") -> Decimal:
    """Exact yuan with at most two places (str, int or Decimal); floats and fractions of a fen are refused."""
    amount = _exact_decimal(value, field)
    if amount != amount.quantize(CENT):
        raise InvalidAmount(field, value)
    return amount.quantize(CENT)


def _exact_decimal(value, field: str) -> Decimal:
    if isinstance(value, bool | float) or not isinstance(value, str | int | Decimal):
        raise InvalidAmount(field, value)
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        raise InvalidAmount(field, value) from None
    if not amount.is_finite():
        raise InvalidAmount(field, value)
    return amount


def _yuan(amount: Decimal) -> str:
    return f"{amount:,.2f}"


# --- the payment schedule -----------------------------------------------------------------


@dataclass(frozen=True)
class ScheduledMilestone:
    name: str
    amount: Decimal
    percentage: Decimal | None
    release_conditions: list[str]


@dataclass(frozen=True)
class Schedule:
    milestones: list[ScheduledMilestone]
    total: Decimal
    complete: bool


def plan_schedule(amount: Decimal, milestones: list[dict]) -> Schedule:
    """Turn `[{name, percentage | amount, release_conditions}]` into exact amounts, or raise
    InvalidContract listing every problem. See the module docstring for the rules."""
    problems: list[str] = []
    if not milestones:
        raise InvalidContract(["付款计划至少需要一个里程碑"])
    rows: list[dict] = []
    for index, milestone in enumerate(milestones, start=1):
        label = f"第 {index} 个里程碑"
        name = str(milestone.get("name") or "").strip()
        if not name:
            problems.append(f"{label}缺少名称")
        elif len(name) > 120:
            problems.append(f"{label}名称过长 (最多 120 字)")
        conditions, unknown = _release_conditions(milestone.get("release_conditions"))
        if unknown:
            problems.append(
                f"{label}有未知的付款条件: {', '.join(unknown)} (可选: {', '.join(RELEASE_CONDITIONS)})"
            )
        has_percentage = milestone.get("percentage") is not None
        has_amount = milestone.get("amount") is not None
        if has_percentage == has_amount:
            problems.append(f"{label}须指定付款比例或付款金额之一")
            continue
        row = {"name": name, "conditions": conditions, "percentage": None}
        try:
            if has_percentage:
                percentage = _exact_decimal(milestone["percentage"], f"{label}付款比例")
                if percentage != percentage.quantize(CENT) or not 0 < percentage <= HUNDRED:
                    raise InvalidAmount(f"{label}付款比例", milestone["percentage"])
                row["percentage"] = percentage.quantize(CENT)
                row["exact"] = amount * percentage / HUNDRED
                row["amount"] = row["exact"].quantize(CENT, rounding=ROUND_HALF_UP)
            else:
                row["amount"] = row["exact"] = to_money(milestone["amount"], field=f"{label}付款")
                if row["amount"] <= 0:
                    raise InvalidAmount(f"{label}付款", milestone["amount"])
        except InvalidAmount as exc:
            problems.append(str(exc))
            continue
        rows.append(row)
    if problems:
        raise InvalidContract(problems)

    exact_total = sum((r["exact"] for r in rows), Decimal(0))
    if exact_total > amount:
        percent = (exact_total / amount * HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)
        raise InvalidContract(
            [f"付款计划合计 {_yuan(exact_total)} 元 ({percent}%) 超过合同金额 {_yuan(amount)} 元"]
        )
    complete = exact_total == amount
    with_percentage = [r for r in rows if r["percentage"] is not None]
    if complete and with_percentage:
        last = with_percentage[-1]
        last["amount"] = amount - sum((r["amount"] for r in rows if r is not last), Decimal(0))
    for index, row in enumerate(rows, start=1):
        if row["amount"] <= 0:
            problems.append(f"第 {index} 个里程碑按比例折算后金额为 {_yuan(row['amount'])} 元, 须大于 0")
    total = sum((r["amount"] for r in rows), Decimal(0))
    if total > amount:  # rounding half-up of a partial schedule can cross the ceiling
        problems.append(f"付款计划按比例折算后合计 {_yuan(total)} 元, 超过合同金额 {_yuan(amount)} 元")
    if problems:
        raise InvalidContract(problems)
    return Schedule(
        milestones=[
            ScheduledMilestone(r["name"], r["amount"], r["percentage"], r["conditions"]) for r in rows
        ],
        total=total,
        complete=complete,
    )


def _release_conditions(given) -> tuple[list[str], list[str]]:
    """The milestone's conditions in checking order (default: all), and the unknown ones."""
    if given is None:
        return list(RELEASE_CONDITIONS), []
    codes = [given] if isinstance(given, str) else list(given)
    unknown = [str(c) for c in codes if c not in RELEASE_CONDITIONS]
    wanted = set(codes) | set(ALWAYS_CHECKED)
    return [c for c in RELEASE_CONDITIONS if c in wanted], unknown


# --- contracts ----------------------------------------------------------------------------


def create_contract(
    *,
    session,
    project_id: int,
    number: str,
    name: str,
    party_a_unit_id: int,
    party_b_unit_id: int,
    supervisor_unit_id: int | None,
    amount,
    milestones: list[dict],
    signed_on: date | str | None,
    clauses: dict | None = None,
    created_by: str | None = None,
) -> Contract:
    """Record a signed contract with its payment schedule; the first milestone opens (and its
    `milestone_payment` instance starts), the others stay locked."""
    project = session.get(Project, project_id)
    if project is None:
        raise ProjectNotFound(project_id)
    problems: list[str] = []
    number = str(number or "").strip()
    name = str(name or "").strip()
    if not number:
        problems.append("缺少合同编号")
    elif len(number) > 40:
        problems.append("合同编号过长 (最多 40 字符)")
    if not name:
        problems.append("缺少合同名称")
    if project.status not in CONTRACTABLE_PROJECT_STATES:
        problems.append(f"项目尚未批复 (当前状态: {project.status}), 不能签订付款合同")
    problems.extend(_party_problems(session, party_a_unit_id, party_b_unit_id, supervisor_unit_id))
    try:
        signed_on = date.fromisoformat(signed_on) if isinstance(signed_on, str) else signed_on
    except ValueError:
        problems.append(f"签订日期无效: {signed_on}")
    schedule = None
    try:
        contract_amount = to_money(amount, field="合同")
        if contract_amount <= 0:
            raise InvalidAmount("合同", amount)
    except InvalidAmount as exc:
        problems.append(str(exc))
    else:
        try:
            schedule = plan_schedule(contract_amount, milestones or [])
        except InvalidContract as exc:
            problems.extend(exc.problems)
    if problems:
        raise InvalidContract(problems)
    if session.scalar(sa.select(Contract.id).filter_by(number=number)) is not None:
        raise ContractNumberTaken(number)

    contract = Contract(
        number=number,
        name=name,
        project_id=project.id,
        party_a_unit_id=party_a_unit_id,
        party_b_unit_id=party_b_unit_id,
        supervisor_unit_id=supervisor_unit_id,
        amount=contract_amount,
        signed_on=signed_on,
        clauses={
            **(clauses or {}),
            "schedule_complete": schedule.complete,
            "unscheduled_amount": str(contract_amount - schedule.total),
        },
        created_at=utcnow(),
    )
    session.add(contract)
    session.flush()
    for seq, planned in enumerate(schedule.milestones, start=1):
        session.add(
            PaymentMilestone(
                contract_id=contract.id,
                seq=seq,
                name=planned.name,
                percentage=planned.percentage,
                amount=planned.amount,
                release_conditions=planned.release_conditions,
                state="locked",
                blocked_reasons=[],
                acceptance_history=[],
            )
        )
    session.flush()
    session.refresh(contract, ["milestones"])
    open_milestone(session=session, milestone=contract.milestones[0], started_by=created_by)
    return contract


def _party_problems(session, party_a: int, party_b: int, supervisor: int | None) -> list[str]:
    problems = []
    wanted = {"甲方 (建设单位)": party_a, "乙方 (施工单位)": party_b}
    if supervisor is not None:
        wanted["监理单位"] = supervisor
    ids = [v for v in wanted.values() if v is not None]
    found = set(session.scalars(sa.select(Unit.id).where(Unit.id.in_(ids))).all()) if ids else set()
    for role, unit_id in wanted.items():
        if unit_id is None:
            problems.append(f"缺少{role}")
        elif unit_id not in found:
            problems.append(f"{role}不存在: {unit_id}")
    if party_a is not None and party_a == party_b:
        problems.append("甲方与乙方不能是同一单位")
    if supervisor is not None and supervisor in (party_a, party_b):
        problems.append("监理单位须独立于甲方和乙方")
    return problems


def get_contract(*, session, contract_id: int) -> Contract:
    contract = session.get(Contract, contract_id)
    if contract is None:
        raise ContractNotFound(contract_id)
    return contract


def committed_amount(*, session, contract_id: int, excluding_milestone_id: int | None = None) -> Decimal:
    """What the contract has already paid or has requested (returned requests do not count)."""
    query = sa.select(sa.func.coalesce(sa.func.sum(Payment.amount), 0)).where(
        Payment.contract_id == contract_id, Payment.state.in_(DRAWING_STATES)
    )
    if excluding_milestone_id is not None:
        query = query.where(Payment.milestone_id != excluding_milestone_id)
    return Decimal(session.scalar(query)).quantize(CENT)


# --- milestones and acceptance ------------------------------------------------------------


def open_milestone(*, session, milestone: PaymentMilestone, started_by: str | None = None) -> ProcessInstance:
    """Unlock a milestone and start its `milestone_payment` instance."""
    if milestone.state != "locked":
        raise MilestoneStateError(milestone.id, milestone.state, "解锁")
    contract = milestone.contract
    project = contract.project
    milestone.state = "open"
    milestone.opened_at = utcnow()
    instance = workflow.start_instance(
        session=session,
        process_key=PROCESS_KEY,
        business_key=project.code,
        started_by=started_by,
        data={
            "project_id": project.id,
            "project_code": project.code,
            "contract_id": contract.id,
            "contract_number": contract.number,
            "milestone_id": milestone.id,
            "milestone_seq": milestone.seq,
            "milestone_name": milestone.name,
            "milestone_amount": str(milestone.amount),
            "owner_unit_id": project.owner_unit_id,
            "contractor_unit_id": contract.party_b_unit_id,
            "supervisor_unit_id": contract.supervisor_unit_id,
        },
    )
    milestone.instance_id = instance.id
    session.flush()
    return instance


def get_milestone(*, session, milestone_id: int) -> PaymentMilestone:
    milestone = session.get(PaymentMilestone, milestone_id)
    if milestone is None:
        raise MilestoneNotFound(milestone_id)
    return milestone


def begin_acceptance(*, session, milestone_id: int) -> PaymentMilestone:
    """The contractor asked for acceptance (申请验收)."""
    milestone = get_milestone(session=session, milestone_id=milestone_id)
    if milestone.state != "open":
        raise MilestoneStateError(milestone.id, milestone.state, "申请验收")
    milestone.state = "accepting"
    session.flush()
    return milestone


def reject_acceptance(
    *, session, milestone_id: int, step: str, opinion: str | None, now: datetime | None = None
) -> PaymentMilestone:
    """The supervisor or the owner did not pass the acceptance: the milestone is open again and
    the contractor may ask for acceptance once the defects are put right."""
    milestone = get_milestone(session=session, milestone_id=milestone_id)
    if milestone.state != "accepting":
        raise MilestoneStateError(milestone.id, milestone.state, "退回验收")
    milestone.state = "open"
    _add_acceptance_round(milestone, step, passed=False, opinion=opinion, now=now or utcnow())
    session.flush()
    return milestone


def record_acceptance(
    *,
    session,
    milestone_id: int,
    supervisor_opinion: str | None,
    owner_opinion: str | None,
    now: datetime | None = None,
) -> PaymentMilestone:
    """Both the supervisor and then the owner passed the acceptance (验收通过)."""
    milestone = get_milestone(session=session, milestone_id=milestone_id)
    if milestone.state != "accepting":
        raise MilestoneStateError(milestone.id, milestone.state, "确认验收")
    now = now or utcnow()
    _add_acceptance_round(milestone, "supervisor", passed=True, opinion=supervisor_opinion, now=now)
    _add_acceptance_round(milestone, "owner", passed=True, opinion=owner_opinion, now=now)
    milestone.accepted_at = now
    session.flush()
    return milestone


def _add_acceptance_round(milestone, step: str, *, passed: bool, opinion, now: datetime) -> None:
    # A new list: JSON columns are not mutation-tracked.
    milestone.acceptance_history = [
        *(milestone.acceptance_history or []),
        {"step": step, "passed": passed, "opinion": str(opinion or ""), "at": now.isoformat()},
    ]


# --- release conditions and the payment request ---------------------------------------------


@dataclass
class ReleaseCheck:
    met: bool
    failed: list[str] = field(default_factory=list)  # condition codes
    reasons: list[str] = field(default_factory=list)  # why, in Chinese
    payment: Payment | None = None

    def to_json(self) -> dict:
        return {
            "met": self.met,
            "failed": self.failed,
            "reasons": self.reasons,
            "payment_number": self.payment.number if self.payment else None,
            "amount": str(self.payment.amount) if self.payment else None,
        }


def request_payment(*, session, milestone_id: int, now: datetime | None = None) -> ReleaseCheck:
    """Check the release conditions of an accepted milestone under the contract's lock.

    Met: a payment request is created (or a returned one renewed) and the milestone is
    'requested'. Not met: the milestone is 'blocked' with the reasons, to be checked again
    when they change. A milestone that already has a live request is refused.
    """
    now = now or utcnow()
    contract_id = session.scalar(sa.select(PaymentMilestone.contract_id).filter_by(id=milestone_id))
    if contract_id is None:
        raise MilestoneNotFound(milestone_id)
    contract = _lock_contract(session, contract_id)
    # Re-read under the lock: a concurrent request may have committed while we waited.
    milestone = session.scalar(
        sa.select(PaymentMilestone).filter_by(id=milestone_id).execution_options(populate_existing=True)
    )
    payment = session.scalar(
        sa.select(Payment).filter_by(milestone_id=milestone_id).execution_options(populate_existing=True)
    )
    if payment is not None and payment.state != "rejected":
        raise PaymentAlreadyRequested(milestone_id, payment.number)
    if milestone.state not in ("accepting", "blocked"):
        raise MilestoneStateError(milestone.id, milestone.state, "申请付款")

    year = local_date(now).year
    conditions = set(milestone.release_conditions or RELEASE_CONDITIONS) | set(ALWAYS_CHECKED)
    check = ReleaseCheck(met=True)

    def fail(code: str, reason: str) -> None:
        check.met = False
        check.failed.append(code)
        check.reasons.append(reason)

    if "acceptance_passed" in conditions and milestone.accepted_at is None:
        fail("acceptance_passed", "里程碑尚未通过监理和建设单位验收")
    if "no_open_major_ticket" in conditions:
        tickets = session.execute(
            sa.select(Ticket.number, Ticket.severity)
            .where(
                Ticket.project_id == contract.project_id,
                Ticket.severity.in_(BLOCKING_SEVERITIES),
                Ticket.status != "closed",
            )
            .order_by(Ticket.id)
        ).all()
        if tickets:
            listed = ", ".join(f"{n} ({SEVERITY_LABELS.get(s, s)})" for n, s in tickets)
            fail("no_open_major_ticket", f"项目有未关闭的重大及以上整改工单: {listed}")
    committed = committed_amount(
        session=session, contract_id=contract.id, excluding_milestone_id=milestone.id
    )
    if committed + milestone.amount > contract.amount:
        fail(
            "within_contract",
            f"累计付款将超过合同金额: 合同金额 {_yuan(contract.amount)} 元, 已申请及已付 {_yuan(committed)} 元, "
            f"本次 {_yuan(milestone.amount)} 元",
        )
    line = None
    if "within_budget" in conditions:
        line, reason = _budget_line_for(session, contract.project_id, year, milestone)
        if line is None:
            fail("within_budget", reason)

    if not check.met:
        milestone.state = "blocked"
        milestone.blocked_reasons = list(check.reasons)
        session.flush()
        return check

    if payment is None:
        payment = Payment(
            number=payment_number(milestone, year), contract_id=contract.id, milestone_id=milestone.id
        )
        session.add(payment)
    payment.amount = milestone.amount
    payment.budget_line_id = line.id if line is not None else None
    payment.year = year
    payment.state = "requested"
    payment.requested_at = now
    payment.approved_at = payment.submitted_at = None
    payment.finance_opinion = payment.reference = None
    milestone.state = "requested"
    milestone.blocked_reasons = []
    session.flush()
    check.payment = payment
    return check


def payment_number(milestone: PaymentMilestone, year: int) -> str:
    """FK-<year>-<milestone id>: unique because a milestone has at most one payment."""
    return f"FK-{year}-{milestone.id:08d}"


def _lock_contract(session, contract_id: int) -> Contract:
    contract = session.scalar(
        sa.select(Contract)
        .filter_by(id=contract_id)
        .execution_options(populate_existing=True)
        .with_for_update(of=Contract)
    )
    if contract is None:
        raise ContractNotFound(contract_id)
    return contract


def _budget_line_for(session, project_id: int, year: int, milestone: PaymentMilestone):
    """The budget line of the year with the most money available, if it covers the payment.

    A payment draws on one funding source. The lines are locked (in id order, so two
    contracts of one project never deadlock) before what is drawn on them is summed.
    """
    lines = session.scalars(
        sa.select(BudgetLine)
        .filter_by(project_id=project_id, year=year)
        .order_by(BudgetLine.id)
        .execution_options(populate_existing=True)
        .with_for_update(of=BudgetLine)
    ).all()
    if not lines:
        return None, f"项目 {year} 年度未安排预算, 本次需付 {_yuan(milestone.amount)} 元"
    drawn = _drawn_by_line(session, [line.id for line in lines], excluding_milestone_id=milestone.id)
    available = {line.id: line.amount - drawn.get(line.id, Decimal(0)) for line in lines}
    best = max(lines, key=lambda line: (available[line.id], -line.id))
    if available[best.id] >= milestone.amount:
        return best, None
    total = sum(available.values(), Decimal(0))
    return None, (
        f"项目 {year} 年度可用预算不足: 可用合计 {_yuan(total)} 元 (单一资金来源最多 {_yuan(available[best.id])} 元, "
        f"{best.source}), 本次需付 {_yuan(milestone.amount)} 元"
    )


def _drawn_by_line(session, line_ids: list[int], *, excluding_milestone_id: int | None = None) -> dict:
    query = (
        sa.select(Payment.budget_line_id, sa.func.sum(Payment.amount))
        .where(Payment.budget_line_id.in_(line_ids), Payment.state.in_(DRAWING_STATES))
        .group_by(Payment.budget_line_id)
    )
    if excluding_milestone_id is not None:
        query = query.where(Payment.milestone_id != excluding_milestone_id)
    return {line_id: Decimal(total) for line_id, total in session.execute(query).all()}


# --- finance approval, the budget system, disbursement --------------------------------------


def get_payment(*, session, number: str, lock: bool = False) -> Payment:
    query = sa.select(Payment).filter_by(number=str(number))
    if lock:
        query = query.execution_options(populate_existing=True).with_for_update(of=Payment)
    payment = session.scalar(query)
    if payment is None:
        raise PaymentNotFound(number)
    return payment


def submit_payment(
    *,
    session,
    number: str,
    opinion: str | None = None,
    system: BudgetSystem | None = None,
    now: datetime | None = None,
) -> Payment:
    """Finance approved (财政审核通过): hand the request to the budget system."""
    now = now or utcnow()
    payment = get_payment(session=session, number=number, lock=True)
    # 'approved': an earlier attempt was approved but the budget system failed; retry it.
    if payment.state not in ("requested", "approved"):
        raise PaymentStateError(payment.number, payment.state, "提交预算系统")
    payment.state = "approved"
    payment.approved_at = payment.approved_at or now
    payment.finance_opinion = opinion
    session.flush()
    contract, milestone, line = payment.contract, payment.milestone, payment.budget_line
    payee = session.get(Unit, contract.party_b_unit_id)
    request = PaymentRequest(
        payment_number=payment.number,
        amount=payment.amount,
        project_code=contract.project.code,
        project_name=contract.project.name,
        contract_number=contract.number,
        contract_name=contract.name,
        milestone_name=milestone.name,
        payee_name=payee.name,
        payee_credit_code=payee.credit_code,
        budget_year=line.year if line is not None else payment.year,
        budget_source=line.source if line is not None else "",
        approved_at=payment.approved_at,
        finance_opinion=opinion,
    )
    reference = (system or budget_system()).submit_payment(request)
    payment.state = "submitted"
    payment.submitted_at = now
    payment.reference = str(reference)[:200]
    session.flush()
    return payment


def return_payment(*, session, number: str, opinion: str | None, now: datetime | None = None) -> Payment:
    """Finance returned the request (财政审核退回): the milestone is blocked until the owner resubmits."""
    payment = get_payment(session=session, number=number, lock=True)
    if payment.state != "requested":
        raise PaymentStateError(payment.number, payment.state, "退回")
    payment.state = "rejected"
    payment.finance_opinion = opinion
    milestone = payment.milestone
    milestone.state = "blocked"
    milestone.blocked_reasons = [f"财政资金拨付审核退回: {opinion or '未说明理由'}"]
    session.flush()
    return payment


def confirm_disbursement(
    *,
    session,
    number: str,
    confirmation: dict,
    now: datetime | None = None,
    started_by: str | None = None,
) -> PaymentMilestone | None:
    """The budget system confirmed the disbursement: the payment is disbursed, the milestone
    paid, and the next milestone opens (its instance starts). Returns that next milestone."""
    now = now or utcnow()
    payment = get_payment(session=session, number=number, lock=True)
    if payment.state != "submitted":
        raise PaymentStateError(payment.number, payment.state, "确认拨付")
    confirmation = confirmation if isinstance(confirmation, dict) else {}
    voucher = str(confirmation.get("voucher") or "").strip()
    if not voucher:
        raise InvalidDisbursement(payment.number, "缺少拨付凭证号 (voucher)")
    if len(voucher) > 60:
        raise InvalidDisbursement(payment.number, "拨付凭证号过长 (最多 60 字符)")
    try:
        amount = to_money(confirmation.get("amount"), field="拨付")
    except InvalidAmount:
        raise InvalidDisbursement(payment.number, f"拨付金额无效: {confirmation.get('amount')!r}") from None
    if amount != payment.amount:
        raise InvalidDisbursement(
            payment.number, f"拨付金额 {_yuan(amount)} 元与申请金额 {_yuan(payment.amount)} 元不符"
        )
    payment.state = "disbursed"
    payment.disbursed_at = now
    payment.voucher = voucher
    milestone = payment.milestone
    milestone.state = "paid"
    milestone.paid_at = now
    milestone.blocked_reasons = []
    session.flush()
    registry.domain_event(session=session, kind="payment.released", data=_released_event(payment))
    following = session.scalar(
        sa.select(PaymentMilestone)
        .where(PaymentMilestone.contract_id == payment.contract_id, PaymentMilestone.seq > milestone.seq)
        .order_by(PaymentMilestone.seq)
        .limit(1)
    )
    if following is None or following.state != "locked":
        return None
    open_milestone(session=session, milestone=following, started_by=started_by)
    return following


def _released_event(payment: Payment) -> dict:
    return {
        "payment_number": payment.number,
        "amount": f"{payment.amount:.2f}",
        "voucher": payment.voucher,
        "contract_number": payment.contract.number,
        "project_code": payment.contract.project.code,
        "milestone": payment.milestone.name,
        "disbursed_at": payment.disbursed_at.isoformat(),
    }


# --- budget -------------------------------------------------------------------------------


def add_budget(*, session, project_id: int, year: int, source: str, amount) -> BudgetLine:
    """Add money to a project's budget of a year from one source (追加预算), and tell the
    project's blocked payments to check their conditions again (`release_conditions_changed`)."""
    project = session.get(Project, project_id)
    if project is None:
        raise ProjectNotFound(project_id)
    problems = []
    source = str(source or "").strip()
    if not source:
        problems.append("缺少资金来源")
    elif len(source) > 60:
        problems.append("资金来源名称过长 (最多 60 字)")
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        problems.append(f"预算年度无效: {year}")
    try:
        amount = to_money(amount, field="预算")
        if amount <= 0:
            raise InvalidAmount("预算", amount)
    except InvalidAmount as exc:
        problems.append(str(exc))
    if problems:
        raise InvalidContract(problems)
    hold_payment_checks(session=session, project_id=project.id)
    line = session.scalar(
        sa.select(BudgetLine)
        .filter_by(project_id=project.id, year=year, source=source)
        .execution_options(populate_existing=True)
        .with_for_update(of=BudgetLine)
    )
    if line is None:
        line = BudgetLine(project_id=project.id, year=year, source=source, amount=amount)
        session.add(line)
    else:
        line.amount = line.amount + amount
    session.flush()
    jobs.enqueue(
        session=session,
        actor="workflow.deliver_message",
        payload={
            "name": RELEASE_CONDITIONS_CHANGED,
            "payload": {
                "reason": "budget_added",
                "project_code": project.code,
                "year": year,
                "source": source,
                "amount": str(amount),
            },
            "business_key": project.code,
            "sender": None,
        },
    )
    return line


def hold_payment_checks(*, session, project_id: int) -> None:
    """Wait for the project's payment checks in flight and keep new ones out until commit.

    Call it before changing a release condition (budget, a ticket) and sending
    `release_conditions_changed`: a check then either sees the change or is already waiting
    when the message is delivered after the commit. Without it, on PostgreSQL a check that
    read the old state could start waiting just after the message found nobody waiting.
    Contracts in id order, as request_payment takes them (then budget lines): no deadlock.
    """
    session.execute(
        sa.select(Contract.id)
        .filter_by(project_id=project_id)
        .order_by(Contract.id)
        .with_for_update(of=Contract)
    ).all()


def budget_available(*, session, project_id: int, year: int) -> Decimal:
    """The project's budget of the year minus what payments draw on it."""
    lines = session.execute(
        sa.select(BudgetLine.id, BudgetLine.amount).filter_by(project_id=project_id, year=year)
    ).all()
    if not lines:
        return Decimal("0.00")
    drawn = _drawn_by_line(session, [line_id for line_id, _ in lines])
    return sum((amount - drawn.get(line_id, Decimal(0)) for line_id, amount in lines), Decimal("0.00"))
