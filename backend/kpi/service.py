"""The figures of the indicator catalogue (catalogue.py), their drill-down province → city →
county → project, monthly trends, breakdowns and the records behind each figure.

How a figure is computed: every indicator is a numerator and a denominator, each a SUM/COUNT
over its records grouped in SQL (by the project's region, by project, by industry, by approval
department), never a loop over projects. A region's parts are the sums of the parts of the
division codes under it, so a parent's numerator and denominator are exactly the sums of its
children's (a project sitting directly on a city's code is a child of that city at the
project level). The rate is formed only at the end. Only projects in the person's data scope
(backend.authz.scope.project_clause) count.

Periods are Beijing calendar dates; UTC times are compared with the Beijing midnights that
bound the period. "期末" (the cut) is the period's last day, or today when the period is not
over yet. Keyword-only functions; nothing here writes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from backend.approvals.models import ApprovalOpinion
from backend.authz.scope import Scope, project_clause
from backend.contracts.models import BudgetLine, Contract, Payment
from backend.db import utcnow
from backend.funds.models import Allocation, InvestmentReport
from backend.kpi import snapshot
from backend.kpi.catalogue import ACTIVE_STATUSES, BY_CODE, CATALOGUE
from backend.org.models import Department, Region
from backend.projects.models import Project, ProjectCompletion
from backend.publicpage.models import PublicFeedback
from backend.risk.models import RiskWarning
from backend.schedule.models import WbsItem
from backend.tickets.models import Ticket

SHANGHAI = ZoneInfo("Asia/Shanghai")
STARTED_STATUSES = ("in_construction", "completed")
EXPERT_DEPARTMENT = "expert"
EXPERT_LABEL = "专家评审"
# Approval KPIs are the only ones with a department; the others have no value per department.
DEPARTMENT_CODES = ("approval_on_time", "approval_mean_days")
WARNING_GRADES = {"warnings_red": "red", "warnings_orange": "orange", "warnings_yellow": "yellow"}
GRADE_LABELS = {"red": "红色", "orange": "橙色", "yellow": "黄色"}
BREAKDOWNS = ("industry", "department")
_PLACES = Decimal("0.0001")
_CENTS, _TENTHS = Decimal("0.01"), Decimal("0.1")


class KpiInputError(ValueError):
    """A bad argument (period, region, indicator); str(e) is the Chinese message."""


# --- periods -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    kind: str  # "year" | "quarter" | "month"
    start: date  # first day, Beijing calendar
    end: date  # first day after the period
    label: str
    key: str

    @property
    def months(self) -> list[Period]:
        """The months of the period, in order."""
        out, day = [], self.start
        while day < self.end:
            out.append(_month(day.year, day.month))
            day = _next_month(day)
        return out


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _month(year: int, month: int) -> Period:
    start = date(year, month, 1)
    return Period("month", start, _next_month(start), f"{year}年{month}月", f"{year}-{month:02d}")


_YEAR = re.compile(r"(\d{4})")
_QUARTER = re.compile(r"(\d{4})[Qq]([1-4])")
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
YEARS = range(2000, 2101)
PERIOD_FORMAT = "期间应写作年（如 2026）、季度（如 2026Q3）或月份（如 2026-07）"


def parse_period(text: str | None, *, today: date) -> Period:
    """ "2026", "2026Q3", "2026-07"; None or "" = the current year (of `today`)."""
    text = (text or "").strip()
    if not text:
        text = str(today.year)
    if match := _YEAR.fullmatch(text):
        year = _year(match.group(1))
        return Period("year", date(year, 1, 1), date(year + 1, 1, 1), f"{year}年", str(year))
    if match := _QUARTER.fullmatch(text):
        year, quarter = _year(match.group(1)), int(match.group(2))
        start = date(year, 3 * quarter - 2, 1)
        end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
        return Period("quarter", start, end, f"{year}年第{quarter}季度", f"{year}Q{quarter}")
    if match := _MONTH.fullmatch(text):
        year, month = _year(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise KpiInputError(PERIOD_FORMAT)
        return _month(year, month)
    raise KpiInputError(PERIOD_FORMAT)


def _year(text: str) -> int:
    year = int(text)
    if year not in YEARS:
        raise KpiInputError(f"年份应在 {YEARS.start} 至 {YEARS.stop - 1} 之间")
    return year


def _midnight_utc(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=SHANGHAI).astimezone(UTC)


@dataclass(frozen=True)
class _Window:
    """A period with the instants and dates the queries compare against."""

    period: Period
    now: datetime
    start_utc: datetime
    end_utc: datetime  # the period's end instant
    due_until_utc: datetime  # min(end, now): deadlines up to here have passed
    cut: date  # 期末: the period's last day, or today if earlier

    @property
    def year(self) -> int:
        return self.period.start.year

    @property
    def last_month(self) -> tuple[int, int]:
        """(year, month) of the period's last month."""
        last = self.period.end - timedelta(days=1)
        return last.year, last.month


def _window(period: Period, now: datetime | None) -> _Window:
    now = now or utcnow()
    today = now.astimezone(SHANGHAI).date()
    end_utc = _midnight_utc(period.end)
    return _Window(
        period=period,
        now=now,
        start_utc=_midnight_utc(period.start),
        end_utc=end_utc,
        due_until_utc=min(end_utc, now),
        cut=min(period.end - timedelta(days=1), today),
    )


# --- values ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Value:
    code: str
    value: Decimal | None
    numerator: Decimal | None
    denominator: Decimal | None
    display: str


def make_value(code: str, numerator, denominator) -> Value:
    """The figure of `code` from its parts (None parts count as 0; benefit_ratio has none)."""
    indicator = BY_CODE[code]
    num = Decimal(numerator or 0)
    if indicator.unit == "个":
        return Value(code, num, num, None, f"{int(num)}个")
    den = Decimal(denominator or 0)
    if not den:
        return Value(code, None, num, den, "—")
    value = num / den * (100 if indicator.unit == "%" else 1)
    value = value.quantize(_PLACES, ROUND_HALF_UP)
    # 投资效益比 (倍) is usually well below 1: two places, like 满意度.
    shown = value.quantize(_CENTS if indicator.unit in ("分", "倍") else _TENTHS, ROUND_HALF_UP)
    return Value(code, value, num, den, f"{shown}{indicator.unit}")


# --- where the records are ---------------------------------------------------------------------


def _day_diff(session, later, earlier):
    """Days from `earlier` to `later` (dates), as an integer expression on either database."""
    if session.get_bind().dialect.name == "sqlite":
        return sa.cast(sa.func.julianday(later) - sa.func.julianday(earlier), sa.Integer)
    return later - earlier


def _is_leaf():
    child = aliased(WbsItem)
    return ~sa.exists().where(child.parent_id == WbsItem.id)


def _deviation(session, cut: date):
    """(delay days, planned days, whether due) of a leaf WBS item at the cut (期末)."""
    cut = sa.literal(cut, sa.Date)
    finished = sa.and_(WbsItem.actual_end.is_not(None), WbsItem.actual_end <= cut)
    delay = sa.case(
        (
            sa.and_(finished, WbsItem.actual_end > WbsItem.planned_end),
            _day_diff(session, WbsItem.actual_end, WbsItem.planned_end),
        ),
        (finished, 0),
        else_=_day_diff(session, cut, WbsItem.planned_end),
    )
    planned = _day_diff(session, WbsItem.planned_end, WbsItem.planned_start) + 1
    return delay, planned, WbsItem.planned_end < cut


def _started(cut):
    """Started by the cut (开工率): the actual start of the 开工申报, or a WBS item's actual start,
    not after the cut; a project in construction with no actual start (put there before 开工申报
    existed) counts by its status."""
    return sa.or_(
        Project.actual_start <= cut,
        sa.and_(Project.actual_start.is_(None), Project.status.in_(STARTED_STATUSES)),
        sa.exists().where(WbsItem.project_id == Project.id, WbsItem.actual_start <= cut),
    )


def _completed(cut):
    """Completed by the cut (竣工率): accepted (合格) on or before it; a project completed with no
    acceptance date (before 竣工验收 existed) counts by its status."""
    return sa.and_(
        Project.status == "completed", sa.or_(Project.actual_end.is_(None), Project.actual_end <= cut)
    )


def _benefit_records(w: _Window) -> list:
    """投资效益比's records: the passed (合格) acceptances dated in the period, up to the cut."""
    return [
        ProjectCompletion.conclusion == "passed",
        ProjectCompletion.accepted_on >= w.period.start,
        ProjectCompletion.accepted_on <= w.cut,
    ]


def _statements(session, code: str, w: _Window, key, where: list):
    """[(targets, select)] for `code`: each select gives rows (key, amount, amount, ...) (no key
    when `key` is None), `targets` names each amount as (indicator code, 0 numerator | 1
    denominator). A numerator and denominator over the same records come from one scan. `key`
    is a column (Project.region_code, Project.id, Project.industry, ApprovalOpinion.department)
    or None; `where` the clauses over Project."""

    def grouped(amounts: dict, *clauses, joined=None):
        targets = tuple(amounts)
        columns = list(amounts.values()) if key is None else [key, *amounts.values()]
        query = sa.select(*columns)
        if joined is not None:
            query = query.select_from(joined[0]).join(Project, joined[1])
        query = query.where(*where, *clauses)
        return targets, (query if key is None else query.group_by(key))

    def count_if(condition):
        return sa.func.sum(sa.case((condition, 1), else_=0))

    num, den = (code, 0), (code, 1)
    year, (last_year, last_month) = w.year, w.last_month
    report = (InvestmentReport, InvestmentReport.project_id == Project.id)
    if code == "investment_year":
        return [
            grouped(
                {num: sa.func.sum(InvestmentReport.amount)},
                InvestmentReport.superseded_at.is_(None),
                InvestmentReport.year == year,
                InvestmentReport.month <= last_month,
                joined=report,
            ),
            grouped(
                {den: sa.func.sum(BudgetLine.amount)},
                BudgetLine.year == year,
                joined=(BudgetLine, BudgetLine.project_id == Project.id),
            ),
        ]
    if code == "investment_total":
        active = Project.status.in_(ACTIVE_STATUSES)
        return [
            grouped(
                {num: sa.func.sum(InvestmentReport.amount)},
                active,
                InvestmentReport.superseded_at.is_(None),
                sa.or_(
                    InvestmentReport.year < last_year,
                    sa.and_(InvestmentReport.year == last_year, InvestmentReport.month <= last_month),
                ),
                joined=report,
            ),
            grouped({den: sa.func.sum(Project.total_investment)}, active),
        ]
    if code == "disbursement":
        return [
            grouped(
                {num: sa.func.sum(Payment.amount)},
                Payment.state == "disbursed",
                Payment.disbursed_at < w.end_utc,
                joined=(
                    sa.join(Payment, Contract, Payment.contract_id == Contract.id),
                    Contract.project_id == Project.id,
                ),
            ),
            grouped(
                {den: sa.func.sum(Allocation.amount)},
                Allocation.allocated_on < w.period.end,
                joined=(Allocation, Allocation.project_id == Project.id),
            ),
        ]
    if code == "schedule_deviation":
        delay, planned, due = _deviation(session, w.cut)
        return [
            grouped(
                {num: sa.func.sum(delay), den: sa.func.sum(planned)},
                due,
                _is_leaf(),
                joined=(WbsItem, WbsItem.project_id == Project.id),
            )
        ]
    if code == "start_rate":
        started = _started(w.cut)
        return [
            grouped(
                {num: count_if(started), den: sa.func.count(Project.id)},
                Project.status.in_(ACTIVE_STATUSES),
                Project.planned_start >= w.period.start,
                Project.planned_start <= w.cut,
            )
        ]
    if code == "completion_rate":
        return [
            grouped(
                {num: count_if(_completed(w.cut)), den: sa.func.count(Project.id)},
                Project.status.in_(ACTIVE_STATUSES),
                Project.planned_end >= w.period.start,
                Project.planned_end <= w.cut,
            )
        ]
    if code in ("approval_on_time", "approval_mean_days"):
        # Both from one scan: on time among the steps with a limit; days among the timed ones.
        limited = ApprovalOpinion.due_at.is_not(None)
        timed = ApprovalOpinion.working_days_used.is_not(None)
        return [
            grouped(
                {
                    ("approval_on_time", 0): count_if(
                        sa.and_(limited, ApprovalOpinion.overdue.is_(sa.false()))
                    ),
                    ("approval_on_time", 1): count_if(limited),
                    ("approval_mean_days", 0): sa.func.sum(ApprovalOpinion.working_days_used),
                    ("approval_mean_days", 1): count_if(timed),
                },
                ApprovalOpinion.department.is_not(None),
                ApprovalOpinion.decided_at >= w.start_utc,
                ApprovalOpinion.decided_at < w.end_utc,
                joined=(ApprovalOpinion, ApprovalOpinion.project_id == Project.id),
            )
        ]
    if code == "ticket_on_time":
        return [
            grouped(
                {
                    num: count_if(sa.and_(Ticket.outcome == "passed", Ticket.closed_at <= Ticket.deadline)),
                    den: sa.func.count(Ticket.id),
                },
                Ticket.deadline >= w.start_utc,
                Ticket.deadline < w.due_until_utc,
                sa.or_(Ticket.outcome.is_(None), Ticket.outcome != "cancelled"),
                joined=(Ticket, Ticket.project_id == Project.id),
            )
        ]
    if code == "ticket_first_pass":
        return [
            grouped(
                {num: count_if(Ticket.rounds == 1), den: sa.func.count(Ticket.id)},
                Ticket.outcome == "passed",
                Ticket.closed_at >= w.start_utc,
                Ticket.closed_at < w.end_utc,
                joined=(Ticket, Ticket.project_id == Project.id),
            )
        ]
    if code in WARNING_GRADES:
        # The three grades from one scan.
        return [
            grouped(
                {(c, 0): count_if(RiskWarning.grade == grade) for c, grade in WARNING_GRADES.items()},
                RiskWarning.raised_at >= w.start_utc,
                RiskWarning.raised_at < w.end_utc,
                joined=(RiskWarning, RiskWarning.project_id == Project.id),
            )
        ]
    if code == "satisfaction":
        return [
            grouped(
                {num: sa.func.sum(PublicFeedback.rating), den: sa.func.count(PublicFeedback.id)},
                PublicFeedback.status == "approved",
                PublicFeedback.created_at >= w.start_utc,
                PublicFeedback.created_at < w.end_utc,
                joined=(PublicFeedback, PublicFeedback.project_id == Project.id),
            )
        ]
    if code == "benefit_ratio":
        # Σ 年均经济效益 ÷ Σ 总投资 of the same projects, from one scan.
        return [
            grouped(
                {
                    num: sa.func.sum(ProjectCompletion.annual_benefit),
                    den: sa.func.sum(Project.total_investment),
                },
                *_benefit_records(w),
                joined=(ProjectCompletion, ProjectCompletion.project_id == Project.id),
            )
        ]
    raise KpiInputError(f"没有这个指标: {code}")


# Indicators computed by the same statement as another (one scan gives both).
_SAME_SCAN = {
    "approval_mean_days": "approval_on_time",
    "warnings_orange": "warnings_red",
    "warnings_yellow": "warnings_red",
}


def _parts(session, codes, w: _Window, key, where) -> dict:
    """{group key: {code: [numerator, denominator]}} ("all" as the key when key is None)."""
    out: dict = defaultdict(lambda: defaultdict(lambda: [Decimal(0), Decimal(0)]))
    scans = []
    for code in codes:
        first = _SAME_SCAN.get(code, code)
        if first not in scans:
            scans.append(first)
    for code in scans:
        for targets, statement in _statements(session, code, w, key, where):
            for row in session.execute(statement):
                group, amounts = ("all", row) if key is None else (row[0], row[1:])
                for (target, index), amount in zip(targets, amounts, strict=True):
                    out[group][target][index] += Decimal(amount or 0)
    return out


def _values(parts: dict | None, codes=None) -> dict[str, Value]:
    """{code: Value} of every indicator, or of `codes`."""
    parts = parts or {}
    wanted = codes if codes is not None else [indicator.code for indicator in CATALOGUE]
    return {code: make_value(code, *parts.get(code, (0, 0))) for code in wanted}


# --- regions and the scope ---------------------------------------------------------------------


@dataclass(frozen=True)
class Area:
    code: str
    name: str
    level: str  # province | city | county | project
    project_count: int
    values: dict[str, Value]
    url: str | None
    as_of: datetime | None = None  # figures from a stored snapshot computed then; None: live


@dataclass
class _Tree:
    nodes: dict  # code -> (name, level, parent_code)
    children: dict  # code -> [child codes], sorted

    def subtree(self, code: str) -> set[str]:
        out, stack = set(), [code]
        while stack:
            node = stack.pop()
            out.add(node)
            stack.extend(self.children.get(node, ()))
        return out

    @property
    def roots(self) -> list[str]:
        return sorted(code for code, (_, _, parent) in self.nodes.items() if parent is None)


def _tree(session) -> _Tree:
    nodes, children = {}, defaultdict(list)
    for code, name, level, parent in session.execute(
        sa.select(Region.code, Region.name, Region.level, Region.parent_code)
    ):
        nodes[code] = (name, level, parent)
        if parent is not None:
            children[parent].append(code)
    for kids in children.values():
        kids.sort()
    return _Tree(nodes, dict(children))


@dataclass(frozen=True)
class _Target:
    """What a query is about: a region (its subtree) or one project ("p<id>")."""

    code: str
    name: str
    level: str
    where: tuple  # clauses over Project: scope and place
    project: Project | None = None


def _visible(scope: Scope, code: str) -> bool:
    if scope.within is not None and code not in scope.within:
        return False
    if scope.all or not scope.regions:
        # No region of their own: the unit's projects only, whatever region is chosen.
        return True
    return code in scope.regions


def _top(scope: Scope, tree: _Tree) -> str:
    bound = (
        scope.within
        if scope.within is not None
        else (None if scope.all or not scope.regions else scope.regions)
    )
    if bound is None:
        if not tree.roots:
            raise KpiInputError("尚未建立行政区划")
        return tree.roots[0]
    tops = sorted(code for code in bound if tree.nodes.get(code, (None, None, None))[2] not in bound)
    if not tops:
        raise KpiInputError("您的数据范围内没有行政区划")
    return tops[0]


def _target(session, scope: Scope, region: str | None, tree: _Tree) -> _Target:
    region = (region or "").strip() or _top(scope, tree)
    scoped = project_clause(scope)
    if region.startswith("p") and region[1:].isdigit():
        project = session.get(Project, int(region[1:]))
        if project is None or not session.scalar(
            sa.select(sa.literal(True)).where(Project.id == project.id, scoped)
        ):
            raise KpiInputError("该项目不存在或不在您的数据范围内")
        return _Target(region, project.name, "project", (scoped, Project.id == project.id), project)
    if region not in tree.nodes:
        raise KpiInputError(f"没有这个行政区划: {region}")
    if not _visible(scope, region):
        raise KpiInputError("所选行政区划不在您的数据范围内")
    name, level, parent = tree.nodes[region]
    where = [scoped]
    if not (parent is None and len(tree.roots) == 1):  # the only root holds every project
        where.append(Project.region_code.in_(sorted(tree.subtree(region))))
    return _Target(region, name, level, tuple(where))


def _project_counts(session, key, where) -> dict:
    query = sa.select(key, sa.func.count(Project.id)).where(*where, Project.status != "draft").group_by(key)
    return dict(session.execute(query).all())


def _project_url(code: str) -> str:
    return f"/projects/{code}"


def _project_area(project_id, code, name, parts, counted: bool) -> Area:
    return Area(f"p{project_id}", name, "project", int(counted), _values(parts), _project_url(code))


def _stored(session, scope: Scope, tree: _Tree, target: _Target, periods, now, *, county: bool = False):
    """The usable snapshots (snapshot.py) of `periods` for a region with regions under it, or
    None: then the figures are computed live. A county (no regions under it) is computed live
    so that its projects, listed below it, add up to it exactly; it reads few records (unless
    `county`: the per-project rows are exact there too)."""
    if now is not None or target.level == "project":
        return None
    if not county and not tree.children.get(target.code):
        return None
    if not snapshot.covers(scope, tree.subtree(target.code)):
        return None
    moment = utcnow()
    today = moment.astimezone(SHANGHAI).date()
    found = [snapshot.usable(session=session, period=p, now=moment, today=today) for p in periods]
    return None if any(f is None for f in found) else found


def _stored_parts(session, found, tree: _Tree, target: _Target, dim=snapshot.TOTAL, code=None) -> dict:
    """{(snapshot id, dim value): {code: [num, den]}} of the target's subtree: the totals summed
    over its region codes, a breakdown's rows read as stored for it."""
    ids = [f.id for f in found]
    if dim != snapshot.TOTAL:
        rows = snapshot.parts(session=session, snapshot_ids=ids, dim=dim, code=code, region=target.code)
        return {(sid, value): group for (sid, _, value), group in rows.items()}
    regions = tree.subtree(target.code)
    out: dict = defaultdict(lambda: defaultdict(lambda: [Decimal(0), Decimal(0)]))
    rows = snapshot.parts(session=session, snapshot_ids=ids, dim=dim, code=code)
    for (sid, region, value), group in rows.items():
        if region in regions:
            for part_code, (num, den) in group.items():
                out[sid, value][part_code][0] += num
                out[sid, value][part_code][1] += den
    return out


def _projects_on(session, codes, w: _Window, here: list):
    """({project id: parts}, [(id, code, name, status)] in code order) of the projects `here`."""
    by_project = _parts(session, codes, w, Project.id, here)
    rows = session.execute(
        sa.select(Project.id, Project.code, Project.name, Project.status).where(*here).order_by(Project.code)
    ).all()
    return by_project, rows


def _drill(session, scope: Scope, region: str | None, period: Period, now) -> tuple[Area, list[Area]]:
    tree = _tree(session)
    target = _target(session, scope, region, tree)
    w = _window(period, now)
    codes = [indicator.code for indicator in CATALOGUE]
    if target.level == "project":
        parts = _parts(session, codes, w, None, list(target.where)).get("all")
        p = target.project
        area = _project_area(p.id, p.code, p.name, parts, p.status != "draft")
        return area, []
    where = list(target.where)
    stored = _stored(session, scope, tree, target, [period], now)
    leaf = not tree.children.get(target.code)
    by_project, projects = None, None
    if stored:
        rows = snapshot.parts(session=session, snapshot_ids=[stored[0].id])
        by_region = {group: parts for (_, group, _), parts in rows.items()}
        counts = {group: int(parts.pop(snapshot.PROJECTS, [0])[0]) for group, parts in by_region.items()}
    elif leaf:
        # A county: its projects' parts, once; the county's are their sums (half the statements).
        by_project, projects = _projects_on(session, codes, w, [*where, Project.region_code == target.code])
        total: dict = defaultdict(lambda: [Decimal(0), Decimal(0)])
        for group in by_project.values():
            for code, (num, den) in group.items():
                total[code][0] += num
                total[code][1] += den
        by_region = {target.code: total} if by_project else {}
        counts = {target.code: sum(status != "draft" for _, _, _, status in projects)}
    else:
        by_region = _parts(session, codes, w, Project.region_code, where)
        counts = _project_counts(session, Project.region_code, where)
    as_of = stored[0].as_of if stored else None

    def summed(codes_in: set[str]):
        total: dict = defaultdict(lambda: [Decimal(0), Decimal(0)])
        for group in codes_in & by_region.keys():
            for code, (num, den) in by_region[group].items():
                total[code][0] += num
                total[code][1] += den
        return total, sum(n for c, n in counts.items() if c in codes_in)

    parts, count = summed(tree.subtree(target.code))
    area = Area(target.code, target.name, target.level, count, _values(parts), None, as_of)
    children = []
    for child in tree.children.get(target.code, []):
        name, level, _ = tree.nodes[child]
        child_parts, child_count = summed(tree.subtree(child))
        children.append(Area(child, name, level, child_count, _values(child_parts), None, as_of))
    # Projects on the target's own code (all of a county's; any put directly on a city).
    if target.code in by_region or counts.get(target.code):
        if by_project is None:
            by_project, projects = _projects_on(
                session, codes, w, [*where, Project.region_code == target.code]
            )
        for project_id, code, name, status in projects:
            if status != "draft" or project_id in by_project:
                children.append(
                    _project_area(project_id, code, name, by_project.get(project_id), status != "draft")
                )
    return area, children


def _memo(session, scope, region, period, now):
    """overview() and children() of one request share one computation."""
    from flask import g, has_request_context

    if not has_request_context() or now is not None:
        return _drill(session, scope, region, period, now)
    cache = g.setdefault("_kpi_drill", {})
    key = (id(session), scope, region or "", period)
    if key not in cache:
        cache[key] = _drill(session, scope, region, period, now)
    return cache[key]


def overview(
    *, session, scope: Scope, region: str | None, period: Period, now: datetime | None = None
) -> Area:
    """The figures of `region` (None: the top of what the scope sees)."""
    return _memo(session, scope, region, period, now)[0]


def children(
    *, session, scope: Scope, region: str | None, period: Period, now: datetime | None = None
) -> list[Area]:
    """The next level down: cities, counties, then projects; their parts add up to the parent's."""
    return _memo(session, scope, region, period, now)[1]


def _check_code(code: str) -> None:
    if code not in BY_CODE:
        raise KpiInputError(f"没有这个指标: {code}")


# Columns an in-period indicator's records are placed in their month by (its statement for the
# whole period filters exactly the union of its monthly statements).
_MONTH_COLUMN = {
    "approval_on_time": ApprovalOpinion.decided_at,
    "ticket_on_time": Ticket.deadline,
    "ticket_first_pass": Ticket.closed_at,
    "warnings_red": RiskWarning.raised_at,
    "satisfaction": PublicFeedback.created_at,
    "benefit_ratio": ProjectCompletion.accepted_on,
}


def _month_index(column, ends, opening=None):
    """The index of the month `column` falls in (`ends`: each month's end, in order); values
    before `opening` (when given) get -1, the balance brought forward."""
    whens = [] if opening is None else [(column < opening, -1)]
    whens += [(column < end, i) for i, end in enumerate(ends)]
    return sa.case(*whens, else_=None)


def _trend_parts(session, code: str, period: Period, now, where) -> list[list[Decimal]]:
    """[numerator, denominator] per month of `period`, exactly as _parts() gives them for each
    month alone, but one statement per indicator (not one per month): records are grouped by
    their month, and running totals (investment, disbursement) accumulated here from the
    balance before the first month. schedule_deviation, whose delays depend on each month's
    cut, sums per cut in columns of one statement."""
    months = period.months
    out = [[Decimal(0), Decimal(0)] for _ in months]
    w = _window(period, now)
    windows = [_window(month, now) for month in months]
    first = _SAME_SCAN.get(code, code)

    def add(index: int, rows, running: bool = False):
        """Rows (month index, amount): into out[...][index]; -1 and earlier months carry on
        into later ones when `running`."""
        per = defaultdict(Decimal)
        for month, amount in rows:
            if month is not None:
                per[int(month)] += Decimal(amount or 0)
        carried = per.get(-1, Decimal(0))
        for i in range(len(months)):
            if running:
                carried += per.get(i, Decimal(0))
                out[i][index] += carried
            else:
                out[i][index] += per.get(i, Decimal(0))

    if first in _MONTH_COLUMN:
        column = _MONTH_COLUMN[first]
        is_date = isinstance(column.type, sa.Date)  # planned_end, accepted_on: Beijing dates
        ends = [m.end if is_date else _midnight_utc(m.end) for m in months]
        for targets, statement in _statements(session, first, w, _month_index(column, ends), where):
            for row in session.execute(statement):
                for (target, index), amount in zip(targets, row[1:], strict=True):
                    if target == code and row[0] is not None:
                        out[int(row[0])][index] += Decimal(amount or 0)
        return out
    if code in ("investment_year", "investment_total"):
        year, (_, last_month) = w.year, w.last_month
        report = InvestmentReport
        # The clauses of _statements() for the period's last month (the widest of its months).
        this_year = sa.and_(report.year == year, report.month <= last_month)
        clauses = (
            [report.superseded_at.is_(None), this_year]
            if code == "investment_year"
            else [
                report.superseded_at.is_(None),
                Project.status.in_(ACTIVE_STATUSES),
                sa.or_(report.year < year, this_year),
            ]
        )
        first_month = months[0].start.month
        # Reports of earlier years and of months before the period: the balance brought forward.
        month = sa.case(
            (report.year < year, -1), (report.month < first_month, -1), else_=report.month - first_month
        )
        add(
            0,
            session.execute(
                sa.select(month, sa.func.sum(report.amount))
                .select_from(report)
                .join(Project, report.project_id == Project.id)
                .where(*where, *clauses)
                .group_by(month)
            ),
            running=True,
        )
        if code == "investment_year":
            den = sa.select(sa.func.sum(BudgetLine.amount)).join(Project, BudgetLine.project_id == Project.id)
            den = den.where(*where, BudgetLine.year == year)
        else:
            den = sa.select(sa.func.sum(Project.total_investment)).where(
                *where, Project.status.in_(ACTIVE_STATUSES)
            )
        add(1, [(-1, session.scalar(den))], running=True)
        return out
    if code == "disbursement":
        paid = _month_index(Payment.disbursed_at, [x.end_utc for x in windows], opening=w.start_utc)
        add(
            0,
            session.execute(
                sa.select(paid, sa.func.sum(Payment.amount))
                .select_from(sa.join(Payment, Contract, Payment.contract_id == Contract.id))
                .join(Project, Contract.project_id == Project.id)
                .where(*where, Payment.state == "disbursed", Payment.disbursed_at < w.end_utc)
                .group_by(paid)
            ),
            running=True,
        )
        given = _month_index(Allocation.allocated_on, [m.end for m in months], opening=period.start)
        add(
            1,
            session.execute(
                sa.select(given, sa.func.sum(Allocation.amount))
                .join(Project, Allocation.project_id == Project.id)
                .where(*where, Allocation.allocated_on < period.end)
                .group_by(given)
            ),
            running=True,
        )
        return out
    if code == "schedule_deviation":
        cuts = sorted({x.cut for x in windows})  # months after today share today's cut
        columns = []
        for cut in cuts:
            delay, planned, due = _deviation(session, cut)
            columns += [sa.func.sum(sa.case((due, delay))), sa.func.sum(sa.case((due, planned)))]
        row = session.execute(
            sa.select(*columns)
            .select_from(WbsItem)
            .join(Project, WbsItem.project_id == Project.id)
            .where(*where, _deviation(session, cuts[-1])[2], _is_leaf())
        ).one()
        sums = {cut: (row[2 * k], row[2 * k + 1]) for k, cut in enumerate(cuts)}
        for i, x in enumerate(windows):
            num, den = sums[x.cut]
            out[i][0] += Decimal(num or 0)
            out[i][1] += Decimal(den or 0)
        return out
    if code in ("start_rate", "completion_rate"):
        # Started / completed by the cut of the month the planned date falls in.
        column = Project.planned_start if code == "start_rate" else Project.planned_end
        ends = [m.end for m in months]
        month = _month_index(column, ends)
        cut = sa.case(
            *[(column < end, sa.literal(x.cut, sa.Date)) for end, x in zip(ends, windows, strict=True)],
            else_=None,
        )
        done = _started(cut) if code == "start_rate" else _completed(cut)
        rows = session.execute(
            sa.select(month, sa.func.sum(sa.case((done, 1), else_=0)), sa.func.count(Project.id))
            .where(
                *where,
                Project.status.in_(ACTIVE_STATUSES),
                column >= period.start,
                column <= w.cut,
            )
            .group_by(month)
        )
        for i, num, den in rows:
            if i is not None:
                out[int(i)][0] += Decimal(num or 0)
                out[int(i)][1] += Decimal(den or 0)
        return out
    return out


def figure(
    *,
    session,
    scope: Scope,
    region: str | None,
    period: Period,
    code: str,
    now: datetime | None = None,
) -> Value:
    """One indicator of one area, the same Value overview() gives for it, without computing
    the other indicators and the children (the trace page shows one figure)."""
    _check_code(code)
    tree = _tree(session)
    target = _target(session, scope, region, tree)
    if stored := _stored(session, scope, tree, target, [period], now):
        parts = _stored_parts(session, stored, tree, target, code=code)
        return make_value(code, *parts.get((stored[0].id, ""), {}).get(code, (0, 0)))
    w, where = _window(period, now), list(target.where)
    if target.level == "project" or session.get_bind().dialect.name != "sqlite":
        parts = _parts(session, [code], w, None, where).get("all") or {}
        return make_value(code, *parts.get(code, (0, 0)))
    # SQLite sums money as floats: per region code and added up here as _drill() does, so the
    # page shows the cockpit's last cent (PostgreSQL's numeric sums are exact in any order).
    by_region = _parts(session, [code], w, Project.region_code, where)
    num = den = Decimal(0)
    for group in tree.subtree(target.code) & by_region.keys():
        part = by_region[group].get(code, (0, 0))
        num, den = num + part[0], den + part[1]
    return make_value(code, num, den)


def area_name(*, session, scope: Scope, region: str | None) -> str:
    """The name of `region` (None: the top of the scope); KpiInputError as overview() gives."""
    return _target(session, scope, region, _tree(session)).name


def trend(
    *, session, scope: Scope, region: str | None, code: str, period: Period, now: datetime | None = None
) -> list[tuple[str, Value]]:
    """One point per month of the period: the figure as computed for that month alone."""
    _check_code(code)
    tree = _tree(session)
    target = _target(session, scope, region, tree)
    months = period.months
    if stored := _stored(session, scope, tree, target, months, now):
        summed = _stored_parts(session, stored, tree, target, code=code)
        parts = [summed.get((found.id, ""), {}).get(code, (0, 0)) for found in stored]
    else:
        parts = _trend_parts(session, code, period, now, list(target.where))
    return [(month.key, make_value(code, *part)) for month, part in zip(months, parts, strict=True)]


def breakdown(
    *, session, scope: Scope, region: str | None, period: Period, by: str, now: datetime | None = None
) -> list[tuple[str, dict[str, Value]]]:
    """The figures per industry, or per approval department (approval KPIs only; the others
    have value None there)."""
    if by not in BREAKDOWNS:
        raise KpiInputError("分组方式只能是行业（industry）或审批部门（department）")
    tree = _tree(session)
    target = _target(session, scope, region, tree)
    w = _window(period, now)
    where = list(target.where)
    stored = _stored(session, scope, tree, target, [period], now)
    if by == "industry":
        if stored:
            summed = _stored_parts(session, stored, tree, target, dim=snapshot.INDUSTRY)
            parts = {value: group for (_, value), group in summed.items()}
        else:
            parts = _parts(session, [i.code for i in CATALOGUE], w, Project.industry, where)
        return [(industry, _values(parts[industry])) for industry in sorted(parts)]
    if stored:
        summed = _stored_parts(session, stored, tree, target, dim=snapshot.DEPARTMENT)
        parts = {value or None: group for (_, value), group in summed.items()}
    else:
        parts = _parts(session, DEPARTMENT_CODES, w, ApprovalOpinion.department, where)
    names = dict(session.execute(sa.select(Department.code, Department.name)).all())
    names[EXPERT_DEPARTMENT] = EXPERT_LABEL
    none = {i.code: Value(i.code, None, None, None, "—") for i in CATALOGUE}
    out = []
    for department in sorted(parts):
        values = dict(none)
        for code in DEPARTMENT_CODES:
            values[code] = make_value(code, *parts[department].get(code, (0, 0)))
        out.append((names.get(department, department), values))
    return out


# --- trace -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TraceRow:
    label: str
    url: str | None
    numerator: Decimal | None
    denominator: Decimal | None
    note: str


def _fmt_utc(moment) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if moment else "—"


def trace(
    *,
    session,
    scope: Scope,
    region: str | None,
    period: Period,
    code: str,
    limit: int = 500,
    now: datetime | None = None,
) -> list[TraceRow]:
    """The records a figure was computed from, each with its part of the numerator and the
    denominator: up to `limit` rows, which then sum to the figure's parts."""
    _check_code(code)
    target = _target(session, scope, region, _tree(session))
    w = _window(period, now)
    where = list(target.where)
    head = (Project.code, Project.name)
    rows: list[TraceRow] = []

    def who(pcode, pname):
        return f"{pcode} {pname}"

    if code in ("investment_year", "investment_total"):
        year, (last_year, last_month) = w.year, w.last_month
        months = (
            sa.and_(InvestmentReport.year == year, InvestmentReport.month <= last_month)
            if code == "investment_year"
            else sa.and_(
                Project.status.in_(ACTIVE_STATUSES),
                sa.or_(
                    InvestmentReport.year < last_year,
                    sa.and_(InvestmentReport.year == last_year, InvestmentReport.month <= last_month),
                ),
            )
        )
        reports = session.execute(
            sa.select(*head, InvestmentReport.year, InvestmentReport.month, InvestmentReport.amount)
            .join(Project, InvestmentReport.project_id == Project.id)
            .where(*where, InvestmentReport.superseded_at.is_(None), months)
            .order_by(Project.code, InvestmentReport.year, InvestmentReport.month)
            .limit(limit)
        )
        for pcode, pname, y, m, amount in reports:
            rows.append(
                TraceRow(
                    f"{who(pcode, pname)} · {y}年{m}月投资月报",
                    f"/projects/{pcode}/funds",
                    Decimal(amount),
                    None,
                    "完成投资（元）",
                )
            )
        if code == "investment_year":
            plans = session.execute(
                sa.select(*head, BudgetLine.source, BudgetLine.amount)
                .join(Project, BudgetLine.project_id == Project.id)
                .where(*where, BudgetLine.year == year)
                .order_by(Project.code, BudgetLine.source)
                .limit(limit)
            )
            for pcode, pname, source, amount in plans:
                rows.append(
                    TraceRow(
                        f"{who(pcode, pname)} · {year}年计划投资（{source}）",
                        f"/projects/{pcode}/funds",
                        None,
                        Decimal(amount),
                        "年度计划投资（元）",
                    )
                )
        else:
            totals = session.execute(
                sa.select(*head, Project.total_investment)
                .where(*where, Project.status.in_(ACTIVE_STATUSES))
                .order_by(Project.code)
                .limit(limit)
            )
            for pcode, pname, amount in totals:
                rows.append(
                    TraceRow(
                        f"{who(pcode, pname)} · 总投资",
                        _project_url(pcode),
                        None,
                        Decimal(amount),
                        "总投资（元）",
                    )
                )
    elif code == "disbursement":
        paid = session.execute(
            sa.select(*head, Payment.number, Payment.amount, Payment.disbursed_at)
            .join(Contract, Payment.contract_id == Contract.id)
            .join(Project, Contract.project_id == Project.id)
            .where(*where, Payment.state == "disbursed", Payment.disbursed_at < w.end_utc)
            .order_by(Project.code, Payment.disbursed_at)
            .limit(limit)
        )
        for pcode, pname, number, amount, at in paid:
            rows.append(
                TraceRow(
                    f"{who(pcode, pname)} · 付款 {number}",
                    f"/projects/{pcode}/funds",
                    Decimal(amount),
                    None,
                    f"已拨付（{_fmt_utc(at)}）",
                )
            )
        given = session.execute(
            sa.select(*head, Allocation.document_number, Allocation.amount, Allocation.allocated_on)
            .join(Project, Allocation.project_id == Project.id)
            .where(*where, Allocation.allocated_on < w.period.end)
            .order_by(Project.code, Allocation.allocated_on)
            .limit(limit)
        )
        for pcode, pname, number, amount, on in given:
            rows.append(
                TraceRow(
                    f"{who(pcode, pname)} · 资金下达 {number}",
                    f"/projects/{pcode}/funds",
                    None,
                    Decimal(amount),
                    f"下达日期 {on.isoformat()}",
                )
            )
    elif code == "schedule_deviation":
        items = session.execute(
            sa.select(
                *head,
                WbsItem.code,
                WbsItem.name,
                WbsItem.planned_start,
                WbsItem.planned_end,
                WbsItem.actual_end,
            )
            .join(Project, WbsItem.project_id == Project.id)
            .where(*where, WbsItem.planned_end < w.cut, _is_leaf())
            .order_by(Project.code, WbsItem.code)
            .limit(limit)
        )
        for pcode, pname, icode, iname, start, end, actual_end in items:
            finished = actual_end is not None and actual_end <= w.cut
            delay = max((actual_end - end).days, 0) if finished else (w.cut - end).days
            note = f"计划完成 {end.isoformat()}，" + (
                f"实际完成 {actual_end.isoformat()}" if finished else f"至 {w.cut.isoformat()} 未完成"
            )
            rows.append(
                TraceRow(
                    f"{who(pcode, pname)} · 任务 {icode} {iname}",
                    f"/projects/{pcode}/schedule",
                    Decimal(delay),
                    Decimal((end - start).days + 1),
                    note,
                )
            )
    elif code in ("start_rate", "completion_rate"):
        column = Project.planned_start if code == "start_rate" else Project.planned_end
        done = _started(w.cut) if code == "start_rate" else _completed(w.cut)
        projects = session.execute(
            sa.select(*head, column, Project.status, done)
            .where(*where, Project.status.in_(ACTIVE_STATUSES), column >= w.period.start, column <= w.cut)
            .order_by(Project.code)
            .limit(limit)
        )
        word = ("计划开工", "已开工", "未开工") if code == "start_rate" else ("计划竣工", "已竣工", "未竣工")
        for pcode, pname, planned, _status, yes in projects:
            rows.append(
                TraceRow(
                    who(pcode, pname),
                    _project_url(pcode),
                    Decimal(1 if yes else 0),
                    Decimal(1),
                    f"{word[0]} {planned.isoformat()}，{word[1] if yes else word[2]}",
                )
            )
    elif code in ("approval_on_time", "approval_mean_days"):
        clauses = [
            ApprovalOpinion.department.is_not(None),
            ApprovalOpinion.decided_at >= w.start_utc,
            ApprovalOpinion.decided_at < w.end_utc,
        ]
        clauses.append(
            ApprovalOpinion.due_at.is_not(None)
            if code == "approval_on_time"
            else ApprovalOpinion.working_days_used.is_not(None)
        )
        names = dict(session.execute(sa.select(Department.code, Department.short_name)).all())
        names[EXPERT_DEPARTMENT] = EXPERT_LABEL
        opinions = session.execute(
            sa.select(
                *head,
                ApprovalOpinion.department,
                ApprovalOpinion.step,
                ApprovalOpinion.decided_at,
                ApprovalOpinion.due_at,
                ApprovalOpinion.overdue,
                ApprovalOpinion.working_days_used,
            )
            .join(Project, ApprovalOpinion.project_id == Project.id)
            .where(*where, *clauses)
            .order_by(ApprovalOpinion.decided_at, ApprovalOpinion.id)
            .limit(limit)
        )
        for pcode, pname, dept, step, decided, due, overdue, used in opinions:
            label = f"{who(pcode, pname)} · {names.get(dept, dept)} {step}"
            if code == "approval_on_time":
                rows.append(
                    TraceRow(
                        label,
                        f"/applications/{pcode}",
                        Decimal(0 if overdue else 1),
                        Decimal(1),
                        f"办结 {_fmt_utc(decided)}，时限 {_fmt_utc(due)}，{'逾期' if overdue else '按时'}",
                    )
                )
            else:
                rows.append(
                    TraceRow(
                        label, f"/applications/{pcode}", Decimal(used), Decimal(1), f"用时 {used} 个工作日"
                    )
                )
    elif code in ("ticket_on_time", "ticket_first_pass"):
        if code == "ticket_on_time":
            clauses = (
                Ticket.deadline >= w.start_utc,
                Ticket.deadline < w.due_until_utc,
                sa.or_(Ticket.outcome.is_(None), Ticket.outcome != "cancelled"),
            )
        else:
            clauses = (
                Ticket.outcome == "passed",
                Ticket.closed_at >= w.start_utc,
                Ticket.closed_at < w.end_utc,
            )
        tickets = session.execute(
            sa.select(*head, Ticket.number, Ticket.deadline, Ticket.closed_at, Ticket.outcome, Ticket.rounds)
            .join(Project, Ticket.project_id == Project.id)
            .where(*where, *clauses)
            .order_by(Ticket.number)
            .limit(limit)
        )
        for pcode, pname, number, deadline, closed, outcome, rounds in tickets:
            if code == "ticket_on_time":
                ok = outcome == "passed" and closed is not None and closed <= deadline
                note = f"期限 {_fmt_utc(deadline)}，关闭 {_fmt_utc(closed)}，{'按期' if ok else '未按期'}"
            else:
                ok = rounds == 1
                note = f"整改 {rounds} 轮后通过"
            rows.append(
                TraceRow(
                    f"{who(pcode, pname)} · 工单 {number}",
                    _project_url(pcode),
                    Decimal(int(ok)),
                    Decimal(1),
                    note,
                )
            )
    elif code in WARNING_GRADES:
        warnings = session.execute(
            sa.select(*head, RiskWarning.title, RiskWarning.raised_at, RiskWarning.status)
            .join(Project, RiskWarning.project_id == Project.id)
            .where(
                *where,
                RiskWarning.grade == WARNING_GRADES[code],
                RiskWarning.raised_at >= w.start_utc,
                RiskWarning.raised_at < w.end_utc,
            )
            .order_by(RiskWarning.raised_at, RiskWarning.id)
            .limit(limit)
        )
        for pcode, pname, title, raised, _status in warnings:
            rows.append(
                TraceRow(
                    f"{who(pcode, pname)} · {title}",
                    f"/projects/{pcode}/risk",
                    Decimal(1),
                    None,
                    f"{GRADE_LABELS[WARNING_GRADES[code]]}预警，发出于 {_fmt_utc(raised)}",
                )
            )
    elif code == "satisfaction":
        feedback = session.execute(
            sa.select(*head, PublicFeedback.rating, PublicFeedback.created_at)
            .join(Project, PublicFeedback.project_id == Project.id)
            .where(
                *where,
                PublicFeedback.status == "approved",
                PublicFeedback.created_at >= w.start_utc,
                PublicFeedback.created_at < w.end_utc,
            )
            .order_by(PublicFeedback.created_at, PublicFeedback.id)
            .limit(limit)
        )
        for pcode, pname, rating, at in feedback:
            rows.append(
                TraceRow(
                    f"{who(pcode, pname)} · 公众评价",
                    f"/projects/{pcode}/publication",
                    Decimal(rating),
                    Decimal(1),
                    f"{rating} 分，提交于 {_fmt_utc(at)}",
                )
            )
    elif code == "benefit_ratio":
        accepted = session.execute(
            sa.select(
                *head,
                ProjectCompletion.accepted_on,
                ProjectCompletion.annual_benefit,
                Project.total_investment,
            )
            .join(Project, ProjectCompletion.project_id == Project.id)
            .where(*where, *_benefit_records(w))
            .order_by(ProjectCompletion.accepted_on, Project.code)
            .limit(limit)
        )
        for pcode, pname, on, benefit, total in accepted:
            rows.append(
                TraceRow(
                    f"{who(pcode, pname)} · 竣工验收",
                    f"/projects/{pcode}/acceptance",
                    Decimal(benefit or 0),
                    Decimal(total),
                    f"{on.isoformat()} 验收合格；年均经济效益（元）÷ 总投资（元）",
                )
            )
    return rows[:limit]


# --- per project (performance evaluation, kpi/evaluation.py) -----------------------------------


def project_values(
    *,
    session,
    scope: Scope,
    region: str | None,
    period: Period,
    now: datetime | None = None,
    codes: tuple[str, ...] | None = None,
) -> dict[int, dict[str, Value]]:
    """{project id: {code: Value}} for every non-draft project of `region` in the scope: the
    drill-down's grouped statements keyed by project (one set of queries, not one per project).
    `codes`: only these indicators (what an evaluation scheme scores)."""
    tree = _tree(session)
    target = _target(session, scope, region, tree)
    if period.kind in snapshot.PROJECT_KINDS and (
        stored := _stored(session, scope, tree, target, [period], now, county=True)
    ):
        regions = tree.subtree(target.code)
        found = snapshot.project_parts(session=session, snapshot_id=stored[0].id, regions=regions)
        return {project_id: _values(parts, codes) for project_id, parts in found.items()}
    w = _window(period, now)
    where = [*target.where, Project.status != "draft"]
    parts = _parts(session, codes or [i.code for i in CATALOGUE], w, Project.id, where)
    ids = session.scalars(sa.select(Project.id).where(*where)).all()
    return {project_id: _values(parts.get(project_id), codes) for project_id in ids}
