"""Warnings on the platform's own projects (issue 9): the rules and the model are evaluated once a
day and reconciled with the live RiskWarning rows; an orange or red warning dispatches one
`risk_response` process (processes/risk_response.bpmn) that sends a rectification ticket or a
coordination task and closes the warning once its cause cleared and its ticket is verified.

A warning is one cause on one project from raised to closed. While it is not closed its
`open_key` is "<project id>:<cause>", unique in the table: two evaluations at once cannot raise
two warnings for the same cause, so neither can they dispatch twice.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import click
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from backend import jobs
from backend.risk import rules
from backend.risk.cli import risk_cli
from backend.risk.models import RiskScore, RiskWarning
from backend.workflow import service as workflow

log = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
PROCESS_KEY = "risk_response"
RECHECK_MESSAGE = "risk_recheck"  # the risk_response process waits for it (business key)
SYSTEM_ACTOR = "risk"

CAUSES: dict[str, str] = {
    "milestone_overdue": "里程碑逾期",
    "no_checkin": "现场长期未打卡",
    "payment_overdue": "付款逾期",
    "step_overdue": "办理超时",
    "progress_lag": "进度滞后",
    "model_delay": "模型预测延期",
}
# Problems on site go to the responsible unit as a rectification ticket; delays of payments and
# approvals are the departments' own: a coordination task (协调督办) to the department's group.
TICKET_CAUSES = {"milestone_overdue", "no_checkin", "progress_lag"}
COORDINATION_GROUPS = {
    "payment_overdue": "cz.finance",  # 财政 资金拨付
    "step_overdue": "fgw.reviewer",  # 发改 审批/督办
    "model_delay": "fgw.reviewer",  # an orange prediction: 发改 checks with the unit first
}
TICKET_CATEGORIES = {"payment_overdue": "funds"}  # others: schedule
TICKET_SEVERITIES = {"red": "major", "orange": "general"}
RANK = {None: 0, "yellow": 1, "orange": 2, "red": 3}
_MODEL_UNSET = object()


def beijing_date(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def open_key(project_id: int, cause: str) -> str:
    return f"{project_id}:{cause}"


def dispatch_mode(cause: str, grade: str | None) -> str:
    """ "ticket" or "coordination" (see TICKET_CAUSES)."""
    if cause in TICKET_CAUSES or (cause == "model_delay" and grade == "red"):
        return "ticket"
    return "coordination"


def _event(
    warning: RiskWarning, now: datetime, event: str, *, by: str = SYSTEM_ACTOR, note: str = ""
) -> None:
    entry = {"at": now.isoformat(), "event": event, "grade": warning.current_grade, "by": by, "note": note}
    warning.history = [*(warning.history or []), entry]  # a new list: JSON columns track assignment


# --- the model ------------------------------------------------------------------------------


def load_model():
    """The latest trained model, or None when there is none (the rules still run)."""
    from backend.risk import model as risk_model

    loader = getattr(risk_model, "load_latest", None)
    try:
        return loader() if loader else risk_model.load()
    except risk_model.RiskModelError:
        return None
    except Exception:  # a broken model file must not stop the rules
        log.exception("risk model could not be loaded")
        return None


def _model_finding(
    session, project, as_of: date, limits, model, now: datetime, history=None
) -> rules.Finding | None:
    """Score the project's weekly history, upsert this week's RiskScore, and grade it."""
    from backend.risk.explain import explain_histories

    if history is None:
        from backend.risk.signals import weekly_history

        history = weekly_history(session=session, project=project, as_of=as_of)
    if history is None or not history.weeks:
        return None
    probability = float(model.score([history])[0])
    factors = explain_histories(model, [history])[0]
    grade = rules.model_grade(probability, limits)
    week_start = as_of - timedelta(days=as_of.weekday())
    score = session.scalar(sa.select(RiskScore).filter_by(project_id=project.id, week_start=week_start))
    if score is None:
        score = RiskScore(project_id=project.id, week_start=week_start)
        session.add(score)
    score.probability, score.grade, score.model_version = probability, grade, model.version
    score.factors, score.computed_at = factors, now
    if grade is None:
        return None
    percent = round(probability * 100)
    top = "、".join(f.get("text") or f.get("label") or str(f) for f in factors[:2] if isinstance(f, dict))
    title = f"模型预测逾期超过 30 天的概率为 {percent}%" + (f" (主要因素: {top})" if top else "")
    return rules.Finding(
        "model_delay",
        grade,
        title[:200],
        {
            "probability": round(probability, 4),
            "model_version": model.version,
            "factors": factors,
            "levels": {g: str(limits[k]) for g, k in rules.MODEL_KEYS.items()},
        },
    )


# --- evaluation -----------------------------------------------------------------------------


def evaluate_project(
    *,
    session,
    project,
    as_of: date,
    now: datetime,
    model=_MODEL_UNSET,
    limits=None,
    counts=None,
    signals=None,
    history=None,
) -> list[RiskWarning]:
    """Evaluate one project and reconcile: raise, re-grade, clear; dispatch orange/red once.
    Returns the project's live (not closed) warnings after it. `signals` (a ProjectSignals),
    `history` (the weeks the model scores) and `model` default to the platform's current ones."""
    counts = counts if counts is not None else _zero_counts()
    limits = limits or rules.settings(session=session)
    if signals is None:
        from backend.risk.signals import current_signals

        signals = current_signals(session=session, project=project, as_of=as_of)
    findings = rules.evaluate(signals, limits)
    if model is _MODEL_UNSET:
        model = load_model()
    if model is not None:
        found = _model_finding(session, project, as_of, limits, model, now, history)
        if found is not None:
            findings.append(found)

    live = {w.cause: w for w in _live(session, project.id)}
    firing = set()
    for finding in findings:
        firing.add(finding.cause)
        warning = live.get(finding.cause)
        if warning is None:
            warning, created = _raise(session, project, finding, now)
            counts["raised" if created else "updated"] += 1
            live[finding.cause] = warning
        else:
            _update(warning, finding, now)
            counts["updated"] += 1
        warning.evaluated_at = now
        if RANK[warning.current_grade] >= RANK["orange"] and _claim_dispatch(session, warning, now):
            _dispatch(session, project, warning)
            counts["dispatched"] += 1
        elif _ticket_done(session, warning):
            # Handled, yet the cause persists at an evaluation after it: the process re-checks
            # now (a new round) rather than at its next daily timer.
            _notify(session, project)

    for cause, warning in live.items():
        if cause in firing:
            continue
        warning.evaluated_at = now
        if warning.current_grade is None:
            continue
        warning.current_grade, warning.cleared_at = None, now
        _event(warning, now, "cleared", note="预警原因已消除")
        counts["cleared"] += 1
        if warning.instance_id is None:
            # Never dispatched (yellow): nothing to verify, it closes with its cause.
            close_warning(session=session, warning=warning, now=now, note="未派单的预警随原因消除关闭")
            counts["closed"] += 1
        else:
            warning.status = "cleared"
            _notify(session, project)
    session.flush()
    return [w for w in live.values() if w.status != "closed"]


def _zero_counts() -> dict:
    return {"projects": 0, "raised": 0, "updated": 0, "cleared": 0, "closed": 0, "dispatched": 0, "failed": 0}


def _live(session, project_id: int) -> list[RiskWarning]:
    return list(
        session.scalars(
            sa.select(RiskWarning)
            .where(RiskWarning.project_id == project_id, RiskWarning.open_key.is_not(None))
            .order_by(RiskWarning.id)
        )
    )


def _raise(session, project, finding: rules.Finding, now: datetime) -> tuple[RiskWarning, bool]:
    """Insert the warning in a savepoint; if a concurrent evaluation raised it first, the unique
    open_key refuses ours and theirs is updated instead."""
    warning = RiskWarning(
        project_id=project.id,
        cause=finding.cause,
        source="model" if finding.cause == "model_delay" else "rule",
        grade=finding.grade,
        current_grade=finding.grade,
        status="open",
        open_key=open_key(project.id, finding.cause),
        title=finding.title[:200],
        detail=finding.detail,
        probability=finding.detail.get("probability"),
        model_version=finding.detail.get("model_version"),
        history=[],
        raised_at=now,
        evaluated_at=now,
    )
    _event(warning, now, "raised", note=finding.title[:200])
    try:
        with session.begin_nested():
            session.add(warning)
            session.flush()
        return warning, True
    except IntegrityError:
        existing = session.scalar(
            sa.select(RiskWarning).filter_by(open_key=open_key(project.id, finding.cause))
        )
        if existing is None:
            raise
        _update(existing, finding, now)
        return existing, False


def _update(warning: RiskWarning, finding: rules.Finding, now: datetime) -> None:
    before = warning.current_grade
    warning.current_grade = finding.grade
    if RANK[finding.grade] > RANK[warning.grade]:
        warning.grade = finding.grade
    warning.title, warning.detail = finding.title[:200], finding.detail
    if finding.cause == "model_delay":
        warning.probability = finding.detail.get("probability")
        warning.model_version = finding.detail.get("model_version")
    if before is None:
        warning.cleared_at = None
        if warning.status == "cleared":
            warning.status = "dispatched"
        _event(warning, now, "recurred", note="预警原因再次出现")
    elif before != finding.grade:
        _event(
            warning, now, "regraded", note=f"{rules_grade_name(before)} → {rules_grade_name(finding.grade)}"
        )


def rules_grade_name(grade: str | None) -> str:
    from backend.risk.models import GRADES

    return GRADES.get(grade, "无")


def _claim_dispatch(session, warning: RiskWarning, now: datetime) -> bool:
    """Compare-and-set on dispatched_at: of two evaluations racing on one warning, one wins."""
    if warning.instance_id is not None or warning.dispatched_at is not None:
        return False
    won = session.execute(
        sa.update(RiskWarning)
        .where(RiskWarning.id == warning.id, RiskWarning.dispatched_at.is_(None))
        .values(dispatched_at=now, status="dispatched")
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        session.refresh(warning)
        return False
    warning.dispatched_at, warning.status = now, "dispatched"
    return True


def _dispatch(session, project, warning: RiskWarning) -> None:
    mode = dispatch_mode(warning.cause, warning.current_grade)
    instance = workflow.start_instance(
        session=session,
        process_key=PROCESS_KEY,
        business_key=project.code,
        started_by=SYSTEM_ACTOR,
        data={
            "warning_id": warning.id,
            "project_id": project.id,
            "cause": warning.cause,
            "cause_name": CAUSES.get(warning.cause, warning.cause),
            "grade": warning.current_grade,
            "title": warning.title,
            "mode": mode,
            "coordination_group": COORDINATION_GROUPS.get(warning.cause, "fgw.reviewer"),
        },
    )
    warning.instance_id = instance.id


def _ticket_done(session, warning: RiskWarning) -> bool:
    from backend.tickets.models import Ticket

    if warning.instance_id is None or warning.ticket_id is None:
        return False
    ticket = session.get(Ticket, warning.ticket_id)
    return ticket is not None and ticket.status == "closed"


def _notify(session, project) -> None:
    """Ask the project's risk_response processes to re-check (after this transaction commits)."""
    jobs.enqueue(
        session=session,
        actor="workflow.deliver_message",
        payload={"name": RECHECK_MESSAGE, "payload": {"reason": "evaluated"}, "business_key": project.code},
    )


def close_warning(
    *, session, warning: RiskWarning, now: datetime, note: str = "", by: str = SYSTEM_ACTOR
) -> None:
    warning.status, warning.open_key, warning.closed_at = "closed", None, now
    _event(warning, now, "closed", by=by, note=note)


def evaluate_all(*, session, now: datetime, projects=None) -> dict:
    """Evaluate every project under watch (one savepoint each: a failing project is logged and
    counted, the others go on). Returns the counts."""
    from backend.risk.signals import projects_under_watch

    counts = _zero_counts()
    limits = rules.settings(session=session)
    model = load_model()
    as_of = beijing_date(now)
    for project in projects if projects is not None else projects_under_watch(session=session):
        try:
            with session.begin_nested():
                evaluate_project(
                    session=session,
                    project=project,
                    as_of=as_of,
                    now=now,
                    model=model,
                    limits=limits,
                    counts=counts,
                )
            counts["projects"] += 1
        except Exception:
            log.exception("risk evaluation failed", extra={"project": getattr(project, "code", None)})
            counts["failed"] += 1
    return counts


def warnings_of(*, session, project_id: int, include_closed=True) -> list[RiskWarning]:
    """A project's warnings, live first, newest first."""
    query = sa.select(RiskWarning).where(RiskWarning.project_id == project_id)
    if not include_closed:
        query = query.where(RiskWarning.status != "closed")
    return list(
        session.scalars(
            query.order_by(
                (RiskWarning.status == "closed"), RiskWarning.raised_at.desc(), RiskWarning.id.desc()
            )
        )
    )


# --- the daily run --------------------------------------------------------------------------

JOB = "risk.evaluate_all"


def schedule_daily(*, session, now: datetime | None = None) -> bool:
    """A scheduler tick hook: once a Beijing day, from RISK_EVALUATE_HOUR on, enqueue the
    evaluation (the idempotency key makes it once per day however many schedulers run)."""
    from flask import current_app

    from backend.db import utcnow

    now = now or utcnow()
    local = now.astimezone(SHANGHAI)
    if local.hour < int(current_app.config.get("RISK_EVALUATE_HOUR", 6)):
        return False
    row = jobs.enqueue(
        session=session, actor=JOB, payload={}, idempotency_key=f"{JOB}:{local.date().isoformat()}"
    )
    return row is not None


@jobs.job(JOB, max_retries=3)
def run_daily(payload: dict) -> None:
    from backend.db import utcnow
    from backend.extensions import db

    counts = evaluate_all(session=db.session, now=utcnow())
    log.info("risk.evaluated", extra=counts)


# --- demo -----------------------------------------------------------------------------------


def raise_demo_warnings(session) -> dict:
    """Demo step: evaluate the demo projects now (rules, and the model if one was trained)."""
    from backend.db import utcnow

    return evaluate_all(session=session, now=utcnow())


@risk_cli.command("evaluate")
def evaluate_command():
    """Evaluate every watched project now (the daily job does the same) and print the counts."""
    from backend.db import utcnow
    from backend.extensions import db

    counts = evaluate_all(session=db.session, now=utcnow())
    db.session.commit()
    click.echo(" ".join(f"{k}={v}" for k, v in counts.items()))
