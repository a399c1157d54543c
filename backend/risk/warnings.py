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
# A risk_response instance in one of these states will never close its warning: the warning goes
# back to open so that it is dispatched again (cancelled in the cockpit; completed without
# passing through risk.close, e.g. terminated). An instance in "incident" is kept: an operator
# repairs it (a new instance beside it could dispatch a second ticket for the same cause).
ENDED_STATES = {"cancelled": "已取消", "completed": "已结束"}
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
    warning: RiskWarning,
    now: datetime,
    event: str,
    *,
    by: str = SYSTEM_ACTOR,
    note: str = "",
    instance: int | None = None,
) -> None:
    entry = {"at": now.isoformat(), "event": event, "grade": warning.current_grade, "by": by, "note": note}
    if instance is not None:
        entry["instance"] = instance
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
    _reconcile_instances(session, list(live.values()), now, counts)
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
            _dispatch(session, project, warning, limits)
            counts["dispatched"] += 1
        elif _ticket_done(session, warning):
            # Handled, yet the cause persists at an evaluation after it: the process re-checks
            # now (a new round) rather than at its next daily timer.
            _notify(session, project)

    for cause, warning in live.items():
        if cause in firing:
            continue
        warning.evaluated_at = now
        if warning.current_grade is not None:
            warning.current_grade, warning.cleared_at = None, now
            _event(warning, now, "cleared", note="预警原因已消除")
            counts["cleared"] += 1
        elif warning.instance_id is not None or warning.status == "closed":
            continue  # cleared before, its process verifies it
        if warning.instance_id is None:
            # Never dispatched (yellow), or its process ended without closing it (reopened
            # above): nothing verifies it any more, it closes with its cause.
            reopened = any(e.get("event") == "reopened" for e in warning.history or [])
            note = "处置流程已终止, 预警随原因消除关闭" if reopened else "未派单的预警随原因消除关闭"
            close_warning(session=session, warning=warning, now=now, note=note)
            counts["closed"] += 1
        else:
            warning.status = "cleared"
            _notify(session, project)
    session.flush()
    return [w for w in live.values() if w.status != "closed"]


def _zero_counts() -> dict:
    return {
        "projects": 0,
        "raised": 0,
        "updated": 0,
        "cleared": 0,
        "closed": 0,
        "dispatched": 0,
        "reopened": 0,
        "incidents": 0,
        "failed": 0,
    }


def _reconcile_instances(session, live: list[RiskWarning], now: datetime, counts: dict) -> None:
    """Look at the risk_response instance of each dispatched live warning: one that ended without
    closing its warning (ENDED_STATES) puts the warning back to open, to be dispatched again; one
    in incident is noted in the warning's history (once per spell) and left to an operator."""
    from backend.workflow.models import ProcessInstance

    ids = {w.instance_id for w in live if w.instance_id is not None}
    if not ids:
        return
    states = dict(
        session.execute(
            sa.select(ProcessInstance.id, ProcessInstance.state).where(ProcessInstance.id.in_(ids))
        ).all()
    )
    for warning in live:
        if warning.instance_id is None:
            continue
        state = states.get(warning.instance_id)
        if state in ENDED_STATES or state is None:
            if _reopen(session, warning, state, now):
                counts["reopened"] += 1
            continue
        last = next(
            (
                e["event"]
                for e in reversed(warning.history or [])
                if e.get("instance") == warning.instance_id
                and e.get("event") in ("instance_incident", "instance_recovered")
            ),
            None,
        )
        if state == "incident":
            counts["incidents"] += 1
            if last != "instance_incident":
                _event(
                    warning,
                    now,
                    "instance_incident",
                    note=f"处置流程异常 (实例 #{warning.instance_id}), 待运维人员修复",
                    instance=warning.instance_id,
                )
        elif last == "instance_incident":
            _event(
                warning,
                now,
                "instance_recovered",
                note=f"处置流程已恢复 (实例 #{warning.instance_id})",
                instance=warning.instance_id,
            )


def _reopen(session, warning: RiskWarning, state: str | None, now: datetime) -> bool:
    """Compare-and-set on instance_id (of two evaluations noticing the same ended instance, one
    reopens, so only one dispatches again). The ticket stays linked: while it is open, the next
    round's risk.dispatch takes it over instead of raising a second one."""
    ended = warning.instance_id
    won = session.execute(
        sa.update(RiskWarning)
        .where(RiskWarning.id == warning.id, RiskWarning.instance_id == ended)
        .values(instance_id=None, dispatched_at=None, status="open")
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        session.refresh(warning)
        return False
    warning.instance_id, warning.dispatched_at, warning.status = None, None, "open"
    how = ENDED_STATES.get(state, "已不存在")
    _event(warning, now, "reopened", note=f"处置流程{how} (实例 #{ended}), 预警恢复待处置", instance=ended)
    return True


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


def _dispatch(session, project, warning: RiskWarning, limits) -> None:
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
            # The coordination task's time limit (working days): its due time and timers.
            "coordination_days": rules.coordination_days(limits),
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


@risk_cli.command("export")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--which",
    type=click.Choice(["all", "watched", "completed"]),
    default="all",
    show_default=True,
    help="watched: approved or under construction; completed: finished; all: both.",
)
def export_command(file, which):
    """Write the platform's projects as histories of the exchange format, one JSON line each (what
    `risk import` reads back). A project with no week yet (not started) is skipped; a history
    the import would refuse is reported and left out."""
    from backend.db import utcnow
    from backend.extensions import db
    from backend.projects.models import Project
    from backend.risk.history import HistoryError, dump_line, parse_line, write_jsonl
    from backend.risk.signals import WATCHED_STATES, weekly_history

    states = {"watched": WATCHED_STATES, "completed": ("completed",)}.get(
        which, (*WATCHED_STATES, "completed")
    )
    as_of = beijing_date(utcnow())
    histories, skipped, refused = [], 0, 0
    for project in db.session.scalars(
        sa.select(Project).where(Project.status.in_(states)).order_by(Project.id)
    ):
        h = weekly_history(session=db.session, project=project, as_of=as_of)
        if h is None or not h.weeks:
            skipped += 1
            continue
        try:
            parse_line(dump_line(h))
        except HistoryError as exc:
            click.echo(f"{project.code}: {exc}", err=True)
            refused += 1
            continue
        histories.append(h)
    db.session.rollback()  # read only
    count = write_jsonl(file, histories)
    click.echo(f"exported={count} skipped={skipped} refused={refused} file={file}")
