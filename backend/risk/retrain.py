"""Scheduled retraining of the delay model (issue 9).

The job `risk.retrain` trains on every stored finished history (all import sources) plus the
platform's own completed projects (signals.weekly_history, when that module is present) and
saves the next model version. A scheduler tick enqueues it once RISK_RETRAIN_DAYS (default 7;
0 turns it off) have passed since the newest model file, at most once a Beijing day; the model
page's button (views.py) enqueues it directly. Too little data is logged, not retried: it will
not improve until new histories arrive.
"""

from __future__ import annotations

import logging
import os
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from backend import jobs
from backend.risk.history import History
from backend.risk.store import load_histories

log = logging.getLogger(__name__)

JOB = "risk.retrain"
SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_RETRAIN_DAYS = 7


def retrain_days() -> float:
    from flask import current_app

    value = current_app.config.get(
        "RISK_RETRAIN_DAYS", os.environ.get("RISK_RETRAIN_DAYS", DEFAULT_RETRAIN_DAYS)
    )
    return float(value)


def platform_histories(*, session, as_of: date) -> list[History]:
    """The platform's completed projects with a contractor, as finished histories."""
    from backend.projects.models import Project
    from backend.risk.signals import NO_CONTRACTOR, weekly_history

    out = []
    for project in session.scalars(
        sa.select(Project).where(Project.status == "completed").order_by(Project.id)
    ):
        h = weekly_history(session=session, project=project, as_of=as_of)
        # A project without a contract has no contractor record to learn from ("未签约" would pool
        # unrelated projects into one pseudo-contractor).
        if h is not None and h.weeks and h.actual_end is not None and h.contractor != NO_CONTRACTOR:
            out.append(h)
    return out


def training_histories(*, session, as_of: date) -> list[History]:
    """Stored finished histories of every source, then the platform's own (ids made distinct)."""
    seen: set[str] = set()
    out = []
    for h in load_histories(session=session):
        if h.actual_end is not None and h.project_id not in seen:
            seen.add(h.project_id)
            out.append(h)
    for h in platform_histories(session=session, as_of=as_of):
        if h.project_id not in seen:
            seen.add(h.project_id)
            out.append(h)
    return out


def retrain(*, session, now: datetime, seed: int = 0, directory=None):
    """Train on training_histories and save the next version; returns the model.
    Raises model.RiskModelError when there is too little data."""
    from backend.risk.model import save, train

    histories = training_histories(session=session, as_of=now.astimezone(SHANGHAI).date())
    model = train(histories, seed=seed)
    save(model, directory)
    return model


def schedule_retrain(*, session, now: datetime | None = None) -> bool:
    """Scheduler tick hook: enqueue the retraining when the newest model is older than
    RISK_RETRAIN_DAYS (or there is none); the key makes it at most once a Beijing day."""
    from backend.db import utcnow
    from backend.risk.model import latest_version

    days = retrain_days()
    if days <= 0:
        return False
    now = now or utcnow()
    latest = latest_version()
    if latest is not None and now - latest[1] < timedelta(days=days):
        return False
    day = now.astimezone(SHANGHAI).date().isoformat()
    row = jobs.enqueue(
        session=session, actor=JOB, payload={"by": "scheduler"}, idempotency_key=f"{JOB}:auto:{day}"
    )
    return row is not None


@jobs.job(JOB, max_retries=1)
def run_retrain(payload: dict) -> None:
    from backend.db import utcnow
    from backend.extensions import db
    from backend.risk.model import RiskModelError

    try:
        model = retrain(session=db.session, now=utcnow())
    except RiskModelError as exc:
        log.warning("risk.retrain skipped: %s", exc)
        return
    log.info(
        "risk.retrained",
        extra={"version": model.version, "projects": model.card["n_projects"], "by": payload.get("by")},
    )
