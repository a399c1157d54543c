"""Performance evaluation (绩效评价, issue 10): a scheme of weighted indicators, each with a
scoring rule turning its value into 0..100 points, scores of projects and of responsible units
(建设单位) for a year or a quarter, and a ranking.

Rule: full marks at or beyond `full`, zero at or beyond `zero`, linear between; `full > zero`
means higher is better, `full < zero` lower is better. A project's score is
Σ weight × points ÷ Σ weight over the indicators that have a value for it (the weights are
renormalised over those), provided those carry at least half the scheme's weight (else no score:
数据不足, not ranked). A unit's score is the mean of its projects' scores weighted by their
total investment. Schemes are versioned rows (one active); saving adds a version, the old ones
stay as the record of how past scores were computed. Keyword-only functions; nothing here
commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.authz.scope import project_clause
from backend.db import JSONType, UTCDateTime, utcnow
from backend.extensions import db
from backend.kpi import service
from backend.kpi.catalogue import BY_CODE
from backend.org.models import Region, Unit
from backend.org.service import descendant_codes
from backend.projects.models import Project

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
KINDS = ("year", "quarter")
OF = ("project", "unit")


class EvaluationScheme(db.Model):
    """One saved version of the scheme; exactly one row is active (none: the built-in default)."""

    __tablename__ = "kpi_evaluation_scheme"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    items: Mapped[list] = mapped_column(JSONType)  # [{"code", "weight", "full", "zero"}] as text
    created_by: Mapped[str | None] = mapped_column(sa.String(60))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=False)


@dataclass(frozen=True)
class Rule:
    code: str
    weight: Decimal
    full: Decimal  # value at or beyond which the points are 100
    zero: Decimal  # value at or beyond which the points are 0

    @property
    def higher_better(self) -> bool:
        return self.full > self.zero

    def points(self, value: Decimal) -> Decimal:
        """0..100, two places."""
        span = self.full - self.zero
        share = (Decimal(value) - self.zero) / span  # negative span flips lower-better
        share = min(Decimal(1), max(Decimal(0), share))
        return (share * HUNDRED).quantize(CENT, ROUND_HALF_UP)

    def describe(self) -> str:
        unit = BY_CODE[self.code].unit
        sign = "≥" if self.higher_better else "≤"
        worse = "≤" if self.higher_better else "≥"
        return f"{sign}{plain(self.full)}{unit} 满分，{worse}{plain(self.zero)}{unit} 零分，之间线性"


@dataclass(frozen=True)
class Scheme:
    id: int | None  # None: the built-in default
    name: str
    rules: tuple[Rule, ...]
    created_by: str | None = None
    created_at: datetime | None = None


def plain(number: Decimal) -> str:
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# The built-in scheme: the indicators with data today (benefit_ratio has none and is left out).
DEFAULT_ITEMS = (
    ("investment_year", "25", "100", "0"),
    ("disbursement", "15", "100", "0"),
    ("schedule_deviation", "20", "0", "30"),
    ("start_rate", "5", "100", "0"),
    ("completion_rate", "5", "100", "0"),
    ("approval_on_time", "10", "100", "60"),
    ("ticket_on_time", "5", "100", "0"),
    ("ticket_first_pass", "5", "100", "0"),
    ("warnings_red", "5", "0", "3"),
    ("satisfaction", "5", "5", "1"),
)
DEFAULT_NAME = "内置默认方案"


def default_scheme() -> Scheme:
    rules = tuple(Rule(c, Decimal(w), Decimal(f), Decimal(z)) for c, w, f, z in DEFAULT_ITEMS)
    return Scheme(None, DEFAULT_NAME, rules)


def _from_row(row: EvaluationScheme) -> Scheme:
    rules = tuple(
        Rule(i["code"], Decimal(i["weight"]), Decimal(i["full"]), Decimal(i["zero"])) for i in row.items
    )
    return Scheme(row.id, row.name, rules, row.created_by, row.created_at)


def active_scheme(*, session) -> Scheme:
    row = session.scalars(
        sa.select(EvaluationScheme)
        .where(EvaluationScheme.active.is_(True))
        .order_by(EvaluationScheme.id.desc())
    ).first()
    return _from_row(row) if row else default_scheme()


def versions(*, session) -> list[Scheme]:
    """Every saved version, newest first."""
    rows = session.scalars(sa.select(EvaluationScheme).order_by(EvaluationScheme.id.desc())).all()
    return [_from_row(row) for row in rows]


def scheme_by_id(*, session, scheme_id: int | None) -> Scheme:
    if scheme_id is None:
        return active_scheme(session=session)
    row = session.get(EvaluationScheme, scheme_id)
    if row is None:
        raise service.KpiInputError("没有这个评价方案版本")
    return _from_row(row)


class SchemeError(ValueError):
    """errors: {field: Chinese message}; fields are "name" and "<code>.weight|full|zero"."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("；".join(errors.values()))
        self.errors = errors


def _number(text) -> Decimal | None:
    try:
        number = Decimal(str(text).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def save_scheme(*, session, name: str, items: dict[str, dict[str, str]], by: str) -> EvaluationScheme:
    """A new active version from {code: {"weight", "full", "zero"}} (texts). A blank or zero
    weight leaves the indicator out. Raises SchemeError with a message per field."""
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = "请填写方案名称"
    elif len(name) > 100:
        errors["name"] = "方案名称不能超过 100 个字"
    stored, total = [], Decimal(0)
    for code, fields in items.items():
        if code not in BY_CODE:
            errors[f"{code}.weight"] = f"没有这个指标: {code}"
            continue
        weight_text = (fields.get("weight") or "").strip()
        if not weight_text:
            continue
        weight = _number(weight_text)
        if weight is None:
            errors[f"{code}.weight"] = "权重应为数字"
            continue
        if weight < 0:
            errors[f"{code}.weight"] = "权重不能为负数"
            continue
        numbers = {}
        for field, label in (("full", "满分值"), ("zero", "零分值")):
            number = _number(fields.get(field) or "")
            if number is None:
                errors[f"{code}.{field}"] = f"{label}应为数字"
            numbers[field] = number
        if None in numbers.values():
            continue
        if numbers["full"] == numbers["zero"]:
            errors[f"{code}.zero"] = "满分值与零分值不能相同"
            continue
        if weight == 0:
            continue
        total += weight
        stored.append(
            {
                "code": code,
                "weight": plain(weight),
                "full": plain(numbers["full"]),
                "zero": plain(numbers["zero"]),
            }
        )
    if not errors and total <= 0:
        errors["weights"] = "至少一个指标的权重应大于 0"
    if errors:
        raise SchemeError(errors)
    session.execute(sa.update(EvaluationScheme).values(active=False))
    row = EvaluationScheme(name=name, items=stored, created_by=by, active=True, created_at=utcnow())
    session.add(row)
    session.flush()
    return row


# --- scoring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One indicator of one project's score."""

    rule: Rule
    value: service.Value
    points: Decimal | None  # None: no value, left out
    weighted: Decimal | None  # weight × points


@dataclass(frozen=True)
class Scored:
    key: int  # project id or unit id
    code: str  # project code, or the unit's name (ties are broken by it)
    name: str
    score: Decimal | None
    project_count: int
    lines: tuple[Line, ...] = ()
    weight_sum: Decimal = Decimal(0)
    weighted_sum: Decimal = Decimal(0)
    investment: Decimal = Decimal(0)
    members: tuple[Scored, ...] = ()  # a unit's projects
    owner_unit_id: int | None = None  # a project's 建设单位


CHUNK = 900  # ids per IN list (SQLite's bound-parameter limit is far above, older builds 999)


def _project_rows(session, ids: list[int]) -> list:
    rows = []
    for i in range(0, len(ids), CHUNK):
        rows += session.execute(
            sa.select(
                Project.id, Project.code, Project.name, Project.total_investment, Project.owner_unit_id
            ).where(Project.id.in_(ids[i : i + CHUNK]))
        ).all()
    return rows


def check_period(period: service.Period) -> None:
    if period.kind not in KINDS:
        raise service.KpiInputError("绩效评价按季度或年度计分，请选择年或季度")


# A project is scored only when the indicators with a value carry at least this share of the
# scheme's weight: renormalising over one lucky indicator (say no red warning) would put a project
# with no investment or approval data at the top of the ranking.
MIN_COVERAGE = Decimal("0.5")


def score_values(
    scheme: Scheme, values: dict[str, service.Value], total: Decimal | None = None
) -> tuple[Decimal | None, list[Line], Decimal, Decimal]:
    """(score, lines, Σ weight counted, Σ weight × points): indicators without a value are left
    out and the weights renormalised over the rest; no score below MIN_COVERAGE. `total`: the
    scheme's Σ weight, when the caller scores many projects."""
    lines, weights, weighted = [], Decimal(0), Decimal(0)
    for rule in scheme.rules:
        value = values.get(rule.code) or service.make_value(rule.code, None, None)
        if value.value is None:
            lines.append(Line(rule, value, None, None))
            continue
        points = rule.points(value.value)
        line = Line(rule, value, points, rule.weight * points)
        lines.append(line)
        weights += rule.weight
        weighted += line.weighted
    if total is None:
        total = sum((rule.weight for rule in scheme.rules), Decimal(0))
    covered = weights > 0 and weights >= total * MIN_COVERAGE
    score = (weighted / weights).quantize(CENT, ROUND_HALF_UP) if covered else None
    return score, lines, weights, weighted


def scheme_codes(scheme: Scheme) -> tuple[str, ...]:
    """The indicators a scheme scores (the only ones computed for it)."""
    return tuple(rule.code for rule in scheme.rules)


def _rank_key(item: Scored):
    return (item.score is None, -(item.score or 0), item.code)


def score_projects(*, session, scope, region, period, scheme: Scheme, now=None) -> list[Scored]:
    """Every project of the region in the scope, ranked (descending score, ties by code)."""
    check_period(period)
    values = service.project_values(
        session=session, scope=scope, region=region, period=period, now=now, codes=scheme_codes(scheme)
    )
    return sorted(_score_each(session, scheme, values), key=_rank_key)


def _score_each(session, scheme: Scheme, values: dict[int, dict[str, service.Value]]) -> list[Scored]:
    if not values:
        return []
    out = []
    total = sum((rule.weight for rule in scheme.rules), Decimal(0))
    for project_id, code, name, investment, owner in _project_rows(session, list(values)):
        score, lines, weights, weighted = score_values(scheme, values[project_id], total)
        out.append(
            Scored(
                project_id,
                code,
                name,
                score,
                1,
                tuple(lines),
                weights,
                weighted,
                Decimal(investment or 0),
                owner_unit_id=owner,
            )
        )
    return out


def score_units(*, session, scope, region, period, scheme: Scheme, now=None) -> list[Scored]:
    """Responsible units (Project.owner_unit): the mean of their scored projects' scores weighted
    by total investment (a plain mean when their investment sums to 0)."""
    projects = score_projects(
        session=session, scope=scope, region=region, period=period, scheme=scheme, now=now
    )
    owners = {p.key: p.owner_unit_id for p in projects}
    names = dict(
        session.execute(sa.select(Unit.id, Unit.name).where(Unit.id.in_(set(owners.values())))).all()
    )
    grouped: dict[int, list[Scored]] = {}
    for project in projects:
        grouped.setdefault(owners[project.key], []).append(project)
    out = []
    for unit_id, members in grouped.items():
        out.append(unit_score(unit_id, names.get(unit_id, str(unit_id)), members))
    return sorted(out, key=_rank_key)


def unit_score(unit_id: int, name: str, members: list[Scored]) -> Scored:
    scored = [m for m in members if m.score is not None]
    investment = sum((m.investment for m in scored), Decimal(0))
    if not scored:
        score = None
    elif investment > 0:
        score = sum((m.investment * m.score for m in scored), Decimal(0)) / investment
    else:
        score = sum((m.score for m in scored), Decimal(0)) / len(scored)
    score = None if score is None else score.quantize(CENT, ROUND_HALF_UP)
    return Scored(unit_id, name, name, score, len(members), investment=investment, members=tuple(members))


def ranked(items: list[Scored]) -> list[tuple[int, Scored]]:
    """(rank, item) in the order given (ties already broken by code); no score, no rank (0)."""
    return [(position if item.score is not None else 0, item) for position, item in enumerate(items, 1)]


# --- the scheme version a period is scored with ------------------------------------------------

DEFAULT_CHOICE = "default"  # ?scheme=default: the built-in scheme, explicitly


def period_end_utc(period: service.Period) -> datetime:
    """The moment the period ends: midnight (Beijing) of its first day after."""
    return datetime.combine(period.end, time(0), tzinfo=service.SHANGHAI).astimezone(UTC)


def scheme_at(*, session, moment: datetime) -> Scheme:
    """The version in force at `moment`. Saving a version makes it the active one and retires
    the others, so its created_at is when it took effect: the last one saved before `moment`
    (none: the built-in default)."""
    row = session.scalars(
        sa.select(EvaluationScheme)
        .where(EvaluationScheme.created_at < moment)
        .order_by(EvaluationScheme.created_at.desc(), EvaluationScheme.id.desc())
    ).first()
    return _from_row(row) if row else default_scheme()


def scheme_for_period(*, session, period: service.Period) -> Scheme:
    """A past period keeps the scheme it was run under; a running one takes the active version."""
    return scheme_at(session=session, moment=period_end_utc(period))


def chosen_scheme(*, session, period: service.Period, choice: str | None) -> Scheme:
    """`choice` from ?scheme=: blank → the version in force at the period's end, "default" →
    the built-in scheme, "<id>" → that saved version (KpiInputError when there is none)."""
    choice = (choice or "").strip()
    if not choice:
        return scheme_for_period(session=session, period=period)
    if choice == DEFAULT_CHOICE:
        return default_scheme()
    if not choice.isdigit():
        raise service.KpiInputError("没有这个评价方案版本")
    return scheme_by_id(session=session, scheme_id=int(choice))


# --- one project's or one unit's score, without ranking everything -----------------------------

OUT_OF_RANGE = "该项目或建设单位不在所选范围内"
# A unit's projects are scored project by project (a set of statements each, ~17 ms on
# bench/evaluation.py's database) unless the region's grouped statements (one set for all its
# projects, ~0.2-0.3 ms a project) are cheaper: when the unit has more than 1 in DIRECT_RATIO
# of the region's projects.
DIRECT_RATIO = 50


def _region_codes(session, region: str | None) -> set[str] | None:
    """The region and every one under it; None when no narrowing applies (no region chosen,
    or a top-level region, which holds every project)."""
    if not region or region.startswith("p"):
        return None
    row = session.get(Region, region)
    if row is None:
        raise service.KpiInputError(f"没有这个行政区划: {region}")
    if row.parent_code is None:
        return None
    return descendant_codes(session=session, code=region)


def score_project(*, session, scope, region, period, scheme: Scheme, project_id: int, now=None) -> Scored:
    """One project's score, from its own figures (not the region's ranking). KpiInputError when
    it is a draft, out of the scope or outside `region`."""
    check_period(period)
    codes = _region_codes(session, region)
    place = session.scalar(sa.select(Project.region_code).where(Project.id == project_id))
    if place is None or (codes is not None and place not in codes):
        raise service.KpiInputError(OUT_OF_RANGE)
    values = service.project_values(
        session=session,
        scope=scope,
        region=f"p{project_id}",
        period=period,
        now=now,
        codes=scheme_codes(scheme),
    )
    if project_id not in values:  # a draft: never evaluated
        raise service.KpiInputError(OUT_OF_RANGE)
    return _score_each(session, scheme, values)[0]


def score_unit(*, session, scope, region, period, scheme: Scheme, unit_id: int, now=None) -> Scored:
    """One 建设单位's score over its projects of `region` in the scope, as score_units() gives it."""
    check_period(period)
    where = [Project.owner_unit_id == unit_id, Project.status != "draft", project_clause(scope)]
    codes = _region_codes(session, region)
    if codes is not None:
        where.append(Project.region_code.in_(sorted(codes)))
    ids = session.scalars(sa.select(Project.id).where(*where)).all()
    if not ids:
        raise service.KpiInputError(OUT_OF_RANGE)
    in_region = session.scalar(sa.select(sa.func.count()).select_from(Project).where(*where[1:]))
    if len(ids) * DIRECT_RATIO <= in_region:
        values = {}
        for project_id in ids:
            values.update(
                service.project_values(
                    session=session,
                    scope=scope,
                    region=f"p{project_id}",
                    period=period,
                    now=now,
                    codes=scheme_codes(scheme),
                )
            )
    else:
        every = service.project_values(
            session=session, scope=scope, region=region, period=period, now=now, codes=scheme_codes(scheme)
        )
        values = {i: every[i] for i in ids if i in every}
    members = sorted(_score_each(session, scheme, values), key=_rank_key)
    name = session.scalar(sa.select(Unit.name).where(Unit.id == unit_id)) or str(unit_id)
    return unit_score(unit_id, name, members)


# --- the region picker ---------------------------------------------------------------------------


def current_region(*, session, scope, region: str | None) -> Region | None:
    """The chosen region's row, or (none chosen) the top of what the scope sees, as the cockpit
    picks it; None when there is no region table."""
    if region:
        return session.get(Region, region)
    rows = session.execute(sa.select(Region.code, Region.parent_code)).all()
    bound = (
        scope.within
        if scope.within is not None
        else (None if scope.all or not scope.regions else scope.regions)
    )
    if bound is None:
        tops = sorted(code for code, parent in rows if parent is None)
    else:
        parents = dict(rows)
        tops = sorted(code for code in bound if code in parents and parents[code] not in bound)
    return session.get(Region, tops[0]) if tops else None


def child_regions(*, session, scope, code: str) -> list[tuple[str, str]]:
    """(code, name) of the regions right under `code` that the scope may choose."""
    rows = session.execute(
        sa.select(Region.code, Region.name).where(Region.parent_code == code).order_by(Region.code)
    ).all()
    return [
        (c, n)
        for c, n in rows
        if (scope.within is None or c in scope.within)
        and (scope.all or not scope.regions or c in scope.regions)
    ]
