"""The risk signals of the platform's own projects (issue 9), read from the platform's tables.

`current_signals` is what the deterministic rules read (one project, one day);
`weekly_history` is the same project as a History of the exchange format, so the delay model
scores platform projects exactly as imported ones. Both reuse the figures of their domains
(schedule formulas 1, 2 and 6, funds' "paid", the tickets' responsible unit, the inbox's
working-day overdue count) instead of computing them again.

Definitions (dates are Asia/Shanghai; "the moment" of a day D is the last instant of D, or
now when D is today: what is known at the end of that day):
- planned progress: formula 2 of backend/schedule/service.py over the latest baseline; a
  WBS without any baseline uses its current plan the same way. None without a WBS (0 in the
  weekly history: the exchange format has no null).
- actual progress: formula 1 (形象进度). For a past week, each leaf's percent is that of its
  last progress report (WbsProgress) recorded by the week's moment, 0 before the first.
- overdue milestone: a WBS item marked milestone whose current planned end is before D and
  whose progress is below 100 % (formula 6); days are calendar days since its planned end.
- payment milestone planned date: the latest current planned end of the WBS items linked to
  it (WbsItem.payment_milestone_id); a milestone without a linked item has no date, is never
  overdue and is not in planned_paid. Overdue: dated before D and not in state "paid".
- planned_paid(week) = Σ amounts of the payment milestones dated by the week's end;
  actual_paid(week) = Σ disbursed payments (funds' `paid`) disbursed by the week's moment.
- overdue step: an open inbox task of one of the project's processes (business key = the
  project code) with due_at <= the moment, outside ticket processes and outside the
  risk_response processes, labelled by its title; and an open ticket whose deadline passed,
  labelled by its number, except the tickets a risk warning dispatched (source "risk"): a
  warning's own remedy running late must not raise a warning about itself (the ticket's own
  escalation handles it). Working days past are the inbox's (backend.tasks.service.days_left,
  negated).
- open ticket at a moment: created by then and not closed by then; overdue: open and its
  deadline <= the moment.
- check-in gap: None unless the project has a site or a contract (it is being built); days
  from the last check-in on or before D, else from the later of the planned start and the
  first contract's signing date; never negative.
- workforce(week): the rounded mean headcount of that week's daily logs, carried forward
  from the last week that had logs (0 before the first log).
- material shortage day: a daily log with at least one shortage row (the site's "shortage"
  flag); bad-weather day: a daily log whose weather is one that stops or slows outdoor work
  (BAD_WEATHER: rain, heavy rain, snow, strong wind, frost, heat).
- actual_end: only for a project in status "completed": the latest actual end of its WBS
  leaves, else the day its row last changed.
- weeks: Monday to Sunday, from the Monday of the planned start (or of the first check-in or
  daily log when earlier, but not before the format's bound of 92 days before the plan) to
  the week of as_of; none before the project starts. contractor: the unit name of the
  tickets' responsible contract (tickets.service.responsible_unit); without a contract the
  placeholder NO_CONTRACTOR ("未签约"), since the exchange format wants a non-empty name (the
  owner unit's name would give the owner a contractor's record in the model's features).
"""

from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace

import sqlalchemy as sa

from backend.contracts.models import Contract, Payment, PaymentMilestone
from backend.db import utcnow
from backend.org.models import Unit
from backend.projects.models import Project
from backend.risk.history import MAX_TEXT, WEEKS_BEFORE_START, History, Week
from backend.schedule import service as schedule
from backend.schedule.models import WbsItem, WbsProgress
from backend.site.models import ProjectSite, SiteCheckin, SiteLog, SiteLogShortage
from backend.tasks.service import days_left
from backend.tickets.models import Ticket
from backend.tickets.service import responsible_unit
from backend.workdays.service import end_of_day, get_calendar, local_date
from backend.workflow.models import HumanTask

WATCHED_STATES = ("approved", "in_construction")
NO_CONTRACTOR = "未签约"  # the contractor of a history without a contract (see the docstring)
RISK_PROCESS = "risk_response"  # backend/risk/warnings.py PROCESS_KEY
BAD_WEATHER = frozenset({"rain", "heavy_rain", "snow", "wind", "frost", "heat"})
HUNDRED = Decimal("100")
ZERO = Decimal(0)
CENT = Decimal("0.01")
_INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True)
class ProjectSignals:
    """One platform project on one day; the rules read only this."""

    project_id: int
    project_code: str
    as_of: date  # Beijing date
    planned_progress: float | None  # 0..1 weighted plan of the WBS at as_of; None without a WBS
    actual_progress: float | None  # 0..1 physical progress (形象进度); None without a WBS
    overdue_milestones: tuple[tuple[str, int], ...]  # (name, calendar days past planned end)
    days_since_checkin: int | None  # None when the project is not being built (no site, no contract)
    overdue_payments: tuple[tuple[str, int], ...]  # (label, days past its planned date), unpaid
    overdue_steps: tuple[tuple[str, int], ...]  # (step title or ticket number, working days past)
    open_tickets: int
    overdue_tickets: int
    responsible_unit_id: int | None  # the contract's contractor, else the owner unit


def projects_under_watch(*, session) -> list[Project]:
    """Approved projects not finished: approved or under construction."""
    return list(
        session.scalars(sa.select(Project).where(Project.status.in_(WATCHED_STATES)).order_by(Project.id))
    )


def _moment(day: date) -> datetime:
    """The last instant of `day` (Beijing), or now when that is still ahead."""
    return min(end_of_day(day) - _INSTANT, utcnow())


def _fraction(percent: Decimal) -> float:
    return min(max(float(percent) / 100.0, 0.0), 1.0)


# --- the plan ---------------------------------------------------------------------------------


def _plan(session, project_id: int, items: list[WbsItem]):
    """The latest baseline, or the current plan shaped like one (schedule.planned_progress
    reads only .items with item_id, parent_item_id, planned_start, planned_end, weight)."""
    baseline = schedule.baseline_of(session=session, project_id=project_id)
    if baseline is not None and baseline.items:
        return baseline
    rows = [
        SimpleNamespace(
            item_id=i.id,
            parent_item_id=i.parent_id,
            planned_start=i.planned_start,
            planned_end=i.planned_end,
            weight=i.weight,
        )
        for i in items
    ]
    return SimpleNamespace(items=rows)


def _milestone_dates(items: list[WbsItem]) -> dict[int, date]:
    dates: dict[int, date] = {}
    for item in items:
        if item.payment_milestone_id is not None:
            known = dates.get(item.payment_milestone_id)
            dates[item.payment_milestone_id] = max(known, item.planned_end) if known else item.planned_end
    return dates


def _payment_milestones(session, project_id: int) -> list[tuple[PaymentMilestone, Contract]]:
    return list(
        session.execute(
            sa.select(PaymentMilestone, Contract)
            .join(Contract, PaymentMilestone.contract_id == Contract.id)
            .where(Contract.project_id == project_id)
            .order_by(Contract.id, PaymentMilestone.seq)
        ).all()
    )


# --- current signals --------------------------------------------------------------------------


def current_signals(*, session, project: Project, as_of: date) -> ProjectSignals:
    moment = _moment(as_of)
    items = schedule.items_of(session=session, project_id=project.id)
    planned = actual = None
    overdue_milestones: list[tuple[str, int]] = []
    if items:
        plan = _plan(session, project.id, items)
        planned = _fraction(schedule.planned_progress(session=session, baseline=plan, at=as_of)[None])
        actual = _fraction(schedule.item_progress(items)[None])
        overdue_milestones = [
            (item.name, (as_of - item.planned_end).days)
            for item in schedule.overdue_items(items, as_of)
            if item.is_milestone
        ]

    dates = _milestone_dates(items)
    overdue_payments = [
        (f"{contract.number} {milestone.name}", (as_of - dates[milestone.id]).days)
        for milestone, contract in _payment_milestones(session, project.id)
        if milestone.state != "paid" and milestone.id in dates and dates[milestone.id] < as_of
    ]

    tickets = list(
        session.scalars(
            sa.select(Ticket)
            .where(Ticket.project_id == project.id, Ticket.status != "closed")
            .order_by(Ticket.deadline, Ticket.id)
        )
    )
    late_tickets = [t for t in tickets if t.overdue or t.deadline <= moment]
    late_steps = [t for t in late_tickets if t.source != "risk"]
    calendar = get_calendar(session=session)
    steps = [
        (task.title or task.element_id, -days_left(calendar=calendar, due_at=task.due_at, now=moment))
        for task in session.scalars(
            sa.select(HumanTask)
            .where(
                HumanTask.business_key == project.code,
                HumanTask.state == "open",
                HumanTask.due_at.is_not(None),
                HumanTask.due_at <= moment,
                HumanTask.process_key != RISK_PROCESS,
                HumanTask.instance_id.not_in(
                    sa.select(Ticket.instance_id).where(
                        Ticket.project_id == project.id, Ticket.instance_id.is_not(None)
                    )
                ),
            )
            .order_by(HumanTask.due_at, HumanTask.id)
        )
    ]
    steps += [
        (t.number, max(-days_left(calendar=calendar, due_at=t.deadline, now=moment), 1)) for t in late_steps
    ]

    unit_id, _basis = responsible_unit(session=session, project_id=project.id)
    return ProjectSignals(
        project_id=project.id,
        project_code=project.code,
        as_of=as_of,
        planned_progress=planned,
        actual_progress=actual,
        overdue_milestones=tuple(overdue_milestones),
        days_since_checkin=_days_since_checkin(session, project, as_of, moment),
        overdue_payments=tuple(overdue_payments),
        overdue_steps=tuple(steps),
        open_tickets=len(tickets),
        overdue_tickets=len(late_tickets),
        responsible_unit_id=unit_id,
    )


def _days_since_checkin(session, project: Project, as_of: date, moment: datetime) -> int | None:
    has_site = session.scalar(sa.select(ProjectSite.id).where(ProjectSite.project_id == project.id))
    signed = session.execute(
        sa.select(sa.func.count(Contract.id), sa.func.min(Contract.signed_on)).where(
            Contract.project_id == project.id
        )
    ).one()
    if has_site is None and not signed[0]:
        return None
    last = session.scalar(
        sa.select(sa.func.max(SiteCheckin.checked_in_at)).where(
            SiteCheckin.project_id == project.id, SiteCheckin.checked_in_at <= moment
        )
    )
    if last is not None:
        since = local_date(last)
    else:
        since = max(d for d in (project.planned_start, signed[1]) if d is not None)
    return max((as_of - since).days, 0)


# --- weekly history ---------------------------------------------------------------------------


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


class _PlannedCurve:
    """Formula 2 at many dates, with schedule's own roll-up: the leaves' W(start, d) come from
    one prefix count of working days instead of a walk over the calendar per leaf and date, and
    a subtree whose leaves have all not started (or all ended) by d is rolled up once for that
    state and reused, the same Decimal every time (tests compare with schedule.planned_progress)."""

    def __init__(self, calendar, plan, last: date):
        rows = plan.items
        self.rows = {r.item_id: (r.planned_start, r.planned_end) for r in rows}
        self.children: dict = defaultdict(list)
        for r in rows:
            self.children[r.parent_item_id].append(r.item_id)
        self.weights = {r.item_id: r.weight for r in rows}
        self.span: dict = {}  # node -> (earliest leaf start, latest leaf end)
        self._span(None)
        self.cache: dict = {}
        self.totals: dict = {}  # leaf -> W(start, end)
        self.first = min(start for start, _end in self.rows.values())
        end = max(last, max(end for _start, end in self.rows.values()))
        self.count = [0]
        day = self.first
        while day <= end:
            self.count.append(self.count[-1] + (1 if calendar.is_workday(day) else 0))
            day += timedelta(days=1)

    def _span(self, node):
        kids = self.children.get(node)
        if not kids:
            self.span[node] = self.rows[node]
        else:
            spans = [self._span(k) for k in kids]
            self.span[node] = (min(s for s, _ in spans), max(e for _, e in spans))
        return self.span[node]

    def _w(self, start: date, end: date) -> int:
        if end < start:
            return 0
        return self.count[(end - self.first).days + 1] - self.count[(start - self.first).days]

    def _leaf(self, node, day: date) -> Decimal:
        start, end = self.span[node]
        if day < start:
            return ZERO
        if day >= end:
            return HUNDRED
        total = self.totals.get(node)
        if total is None:
            total = self.totals[node] = self._w(start, end)
        return HUNDRED if total == 0 else HUNDRED * self._w(start, day) / total

    def at(self, day: date) -> Decimal:
        active: dict = {}  # the tree cut at the subtrees that are constant on `day`
        constant: dict = {}
        stack = [None]
        while stack:
            node = stack.pop()
            kids = self.children.get(node, [])
            active[node] = kids
            for k in kids:
                start, end = self.span[k]
                if self.children.get(k) and start <= day < end:
                    stack.append(k)
                elif self.children.get(k):
                    state = day >= end
                    if (k, state) not in self.cache:
                        self.cache[k, state] = schedule._roll_up(
                            self.children, self.weights, lambda n: self._leaf(n, day), k
                        )
                    constant[k] = self.cache[k, state]

        def leaf(node):
            return constant[node] if node in constant else self._leaf(node, day)

        return schedule._roll_up(active, self.weights, leaf, None).quantize(CENT, ROUND_HALF_UP)


def _weeks_span(project: Project, as_of: date, first_data: list[date]) -> list[date]:
    start = project.planned_start
    early = [d for d in first_data if d is not None]
    if early:
        start = max(min(start, *early), project.planned_start - WEEKS_BEFORE_START)
    mondays = []
    week = _monday(start)
    if week < project.planned_start - WEEKS_BEFORE_START:  # the exchange format's bound
        week += timedelta(days=7)
    while week <= as_of:
        mondays.append(week)
        week += timedelta(days=7)
    return mondays


def weekly_history(*, session, project: Project, as_of: date) -> History:
    """The project's weeks (Monday to Sunday, the last one up to as_of) from its planned start
    (or its first check-in or daily log, if earlier) to as_of, in the exchange format's shape."""
    pid = project.id
    items = schedule.items_of(session=session, project_id=pid)
    progress_rows = session.execute(
        sa.select(WbsProgress.item_id, WbsProgress.percent, WbsProgress.recorded_at)
        .join(WbsItem, WbsProgress.item_id == WbsItem.id)
        .where(WbsItem.project_id == pid)
        .order_by(WbsProgress.recorded_at, WbsProgress.id)
    ).all()
    checkins = sorted(
        local_date(at)
        for at in session.scalars(sa.select(SiteCheckin.checked_in_at).where(SiteCheckin.project_id == pid))
    )
    short = sa.exists().where(SiteLogShortage.log_id == SiteLog.id)
    logs = session.execute(
        sa.select(SiteLog.log_date, SiteLog.headcount, SiteLog.weather, short)
        .where(SiteLog.project_id == pid)
        .order_by(SiteLog.log_date)
    ).all()
    tickets = session.execute(
        sa.select(Ticket.created_at, Ticket.closed_at, Ticket.deadline).where(Ticket.project_id == pid)
    ).all()
    milestones = _payment_milestones(session, pid)
    dates = _milestone_dates(items)
    planned_payments = sorted((dates[m.id], m.amount) for m, _c in milestones if m.id in dates)
    disbursed = session.execute(
        sa.select(Payment.disbursed_at, Payment.amount)
        .join(Contract, Payment.contract_id == Contract.id)
        .where(Contract.project_id == pid, Payment.state == "disbursed")
    ).all()

    mondays = _weeks_span(
        project, as_of, [checkins[0] if checkins else None, logs[0].log_date if logs else None]
    )
    curve = None
    if items:
        curve = _PlannedCurve(get_calendar(session=session), _plan(session, pid, items), as_of)
    # Formula 1 at each week's moment: each leaf at its last report by then, rolled up as
    # schedule.item_progress does for the project (recomputed only in weeks with reports).
    percents = {item.id: Decimal(0) for item in items}
    tree: dict = defaultdict(list)
    for item in items:
        tree[item.parent_id].append(item.id)
    weights = {item.id: item.weight for item in items}
    progress_at = 0
    logs_at = 0
    workforce = 0
    actual = 0.0
    weeks = []
    for monday in mondays:
        end = min(monday + timedelta(days=6), as_of)
        moment = _moment(end)
        planned = 0.0
        if curve is not None:
            planned = _fraction(curve.at(end))
            reported = progress_at
            while progress_at < len(progress_rows) and progress_rows[progress_at].recorded_at <= moment:
                row = progress_rows[progress_at]
                percents[row.item_id] = row.percent
                progress_at += 1
            if progress_at > reported:
                total = schedule._roll_up(tree, weights, percents.__getitem__, None)
                actual = _fraction(total.quantize(CENT, ROUND_HALF_UP))
        week_logs = []
        while logs_at < len(logs) and logs[logs_at].log_date <= end:
            if logs[logs_at].log_date >= monday:
                week_logs.append(logs[logs_at])
            logs_at += 1
        if week_logs:
            mean = Decimal(sum(log.headcount for log in week_logs)) / len(week_logs)
            workforce = int(mean.quantize(Decimal(1), ROUND_HALF_UP))
        open_now = [
            deadline
            for created, closed, deadline in tickets
            if created <= moment and (closed is None or closed > moment)
        ]
        weeks.append(
            Week(
                week_start=monday,
                planned_progress=planned,
                actual_progress=actual,
                planned_paid=sum((a for d, a in planned_payments if d <= end), Decimal(0)).quantize(CENT),
                actual_paid=sum(
                    (a for at, a in disbursed if at is not None and at <= moment), Decimal(0)
                ).quantize(CENT),
                open_tickets=len(open_now),
                overdue_tickets=sum(1 for deadline in open_now if deadline <= moment),
                checkins=bisect_right(checkins, end) - bisect_left(checkins, monday),
                workforce=workforce,
                material_shortage_days=sum(1 for log in week_logs if log[3]),
                bad_weather_days=sum(1 for log in week_logs if log.weather in BAD_WEATHER),
            )
        )

    unit_id, basis = responsible_unit(session=session, project_id=pid)
    contractor = NO_CONTRACTOR
    if basis == "contract":
        name = session.scalar(sa.select(Unit.name).where(Unit.id == unit_id))
        contractor = (name or "").strip()[:MAX_TEXT].strip() or NO_CONTRACTOR
    return History(
        project_id=project.code,
        industry=project.industry,
        region_code=project.region_code,
        contractor=contractor,
        total_investment=Decimal(project.total_investment).quantize(CENT),
        planned_start=project.planned_start,
        planned_end=project.planned_end,
        actual_end=_actual_end(project, items),
        weeks=tuple(weeks),
    )


def _actual_end(project: Project, items: list[WbsItem]) -> date | None:
    if project.status != "completed":
        return None
    parents = {item.parent_id for item in items}
    ends = [item.actual_end for item in items if item.id not in parents and item.actual_end]
    if ends:
        return max(ends)
    return local_date(project.updated_at) if project.updated_at else None
