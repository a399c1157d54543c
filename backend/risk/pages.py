"""What the risk pages show (issue 9): reads over RiskWarning / RiskScore and the model cards.
Keyword-only functions over a session; nothing here writes except through rules.save_settings.
The views (views.py) add the person's data scope as a WHERE clause over Project."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from backend.org.errors import RegionNotFound
from backend.org.service import descendant_codes
from backend.projects.models import Project
from backend.risk.models import GRADES, WARNING_STATES, RiskScore, RiskWarning

LIVE_STATES = ("open", "dispatched", "cleared")
GRADE_ORDER = {"red": 0, "orange": 1, "yellow": 2}


def causes() -> dict[str, str]:
    """Cause code → Chinese name."""
    from backend.risk.warnings import CAUSES

    return dict(CAUSES)


@dataclass(frozen=True)
class WarningFilter:
    grade: str | None = None
    status: str | None = None
    cause: str | None = None
    region: str | None = None

    @classmethod
    def parse(cls, args) -> WarningFilter:
        """Unknown values are dropped (a hand-edited URL shows everything, not an error)."""
        grade = args.get("grade") or None
        status = args.get("status") or None
        cause = (args.get("cause") or "").strip()[:40] or None
        region = (args.get("region") or "").strip()
        return cls(
            grade=grade if grade in GRADES else None,
            status=status if status in LIVE_STATES else None,
            cause=cause,
            region=region if region.isdigit() and len(region) == 6 else None,
        )

    def as_args(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v}


# A live warning shows its current grade; once its cause cleared (current_grade None), the
# highest it reached.
current_or_highest = sa.func.coalesce(RiskWarning.current_grade, RiskWarning.grade)


def shown_grade(warning: RiskWarning) -> str:
    return warning.current_grade or warning.grade


def _ordered(query):
    grade_rank = sa.case(
        *((current_or_highest == g, rank) for g, rank in GRADE_ORDER.items()), else_=len(GRADE_ORDER)
    )
    return query.order_by(grade_rank, RiskWarning.raised_at.desc(), RiskWarning.id.desc())


def live_warnings(*, session, visible, filters: WarningFilter, limit: int | None = None):
    """(RiskWarning, Project) pairs of the live warnings on visible projects, red first, newest
    first within a grade. `visible`: a WHERE clause over Project (the person's scope)."""
    query = (
        sa.select(RiskWarning, Project)
        .join(Project, Project.id == RiskWarning.project_id)
        .where(visible, RiskWarning.status.in_(LIVE_STATES))
    )
    if filters.grade:
        query = query.where(current_or_highest == filters.grade)
    if filters.status:
        query = query.where(RiskWarning.status == filters.status)
    if filters.cause:
        query = query.where(RiskWarning.cause == filters.cause)
    if filters.region:
        try:
            codes = descendant_codes(session=session, code=filters.region)
        except RegionNotFound:
            codes = set()
        query = query.where(Project.region_code.in_(sorted(codes)))
    query = _ordered(query)
    if limit is not None:
        query = query.limit(limit)
    return session.execute(query).all()


def grade_counts(*, session, visible) -> dict[str, int]:
    """Live warnings on visible projects per grade (every grade present, 0 when none)."""
    rows = session.execute(
        sa.select(current_or_highest, sa.func.count())
        .join(Project, Project.id == RiskWarning.project_id)
        .where(visible, RiskWarning.status.in_(LIVE_STATES))
        .group_by(current_or_highest)
    ).all()
    found = dict(rows)
    return {g: int(found.get(g, 0)) for g in GRADES}


def live_causes(*, session, visible) -> list[str]:
    """The causes of the visible live warnings (the cause filter's choices)."""
    return list(
        session.scalars(
            sa.select(RiskWarning.cause)
            .join(Project, Project.id == RiskWarning.project_id)
            .where(visible, RiskWarning.status.in_(LIVE_STATES))
            .distinct()
            .order_by(RiskWarning.cause)
        )
    )


def project_warnings(*, session, project_id: int) -> tuple[list[RiskWarning], list[RiskWarning]]:
    """(live, closed) warnings of one project: live red first, closed newest first."""
    live = session.scalars(
        _ordered(
            sa.select(RiskWarning).where(
                RiskWarning.project_id == project_id, RiskWarning.status.in_(LIVE_STATES)
            )
        )
    ).all()
    closed = session.scalars(
        sa.select(RiskWarning)
        .where(RiskWarning.project_id == project_id, RiskWarning.status == "closed")
        .order_by(RiskWarning.closed_at.desc(), RiskWarning.id.desc())
    ).all()
    return list(live), list(closed)


def tickets_of(*, session, warnings) -> dict:
    """ticket id → Ticket of the warnings that dispatched one."""
    from backend.tickets.models import Ticket

    ids = {w.ticket_id for w in warnings if w.ticket_id}
    if not ids:
        return {}
    return {t.id: t for t in session.scalars(sa.select(Ticket).where(Ticket.id.in_(ids)))}


def instances_of(*, session, warnings) -> dict:
    """instance id → ProcessInstance of the warnings' risk_response processes."""
    from backend.workflow.models import ProcessInstance

    ids = {w.instance_id for w in warnings if w.instance_id}
    if not ids:
        return {}
    return {i.id: i for i in session.scalars(sa.select(ProcessInstance).where(ProcessInstance.id.in_(ids)))}


def score_trend(*, session, project_id: int, weeks: int = 26) -> list[RiskScore]:
    """The model's weekly probabilities of the project, oldest first (the last `weeks`)."""
    rows = session.scalars(
        sa.select(RiskScore)
        .where(RiskScore.project_id == project_id)
        .order_by(RiskScore.week_start.desc())
        .limit(weeks)
    ).all()
    return list(reversed(rows))


@dataclass(frozen=True)
class Sparkline:
    """An SVG polyline of probabilities 0..1 (drawn server-side: no script, no inline style)."""

    width: int
    height: int
    points: str
    last_x: float
    last_y: float
    thresholds: tuple[tuple[str, float], ...]  # (grade, y) guide lines


def sparkline(
    probabilities: list[float], limits: dict[str, float], *, width: int = 300, height: int = 60
) -> Sparkline | None:
    if not probabilities:
        return None
    pad = 4
    n = len(probabilities)
    step = (width - 2 * pad) / max(n - 1, 1)

    def y(p: float) -> float:
        return round(height - pad - max(0.0, min(1.0, p)) * (height - 2 * pad), 1)

    xs = [round(pad + i * step, 1) for i in range(n)]
    ys = [y(p) for p in probabilities]
    return Sparkline(
        width=width,
        height=height,
        points=" ".join(f"{x},{yy}" for x, yy in zip(xs, ys, strict=True)),
        last_x=xs[-1],
        last_y=ys[-1],
        thresholds=tuple((g, y(float(limits[g]))) for g in ("red", "orange", "yellow") if g in limits),
    )


def model_limits(*, session) -> dict[str, float]:
    """The grade cut-offs of the model's probability (the thresholds settings)."""
    from backend.risk import rules

    values = rules.settings(session=session)
    return {g: float(values[key]) for g, key in rules.MODEL_KEYS.items()}


def model_cards(*, directory=None) -> list[dict]:
    """Every saved model version's card (model-vN.json), newest first; a version whose card is
    unreadable is listed with the error."""
    from backend.risk.model import _FILE, model_dir

    d = model_dir(directory)
    if not d.is_dir():
        return []
    cards = []
    for path in d.iterdir():
        m = _FILE.match(path.name)
        if not m:
            continue
        version = int(m.group(1))
        card_path = path.with_suffix(".json")
        try:
            card = json.loads(card_path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            card = {"error": str(exc)}
        card.setdefault("version", version)
        try:
            card["_trained_at"] = datetime.fromisoformat(card["trained_at"])
        except (KeyError, TypeError, ValueError):
            card["_trained_at"] = None
        card["_late_share"] = (
            round(card["n_late"] / card["n_projects"], 3)
            if card.get("n_projects") and "n_late" in card
            else None
        )
        cards.append(card)
    return sorted(cards, key=lambda c: -int(c["version"]))


def states() -> dict[str, str]:
    return dict(WARNING_STATES)


def week_label(week_start: date) -> str:
    return week_start.strftime("%m-%d")
