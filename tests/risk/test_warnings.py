# ruff: noqa: F811  (the `world` fixture is imported from w_fixtures and requested by name)
"""Reconciling evaluations with the live warnings (backend/risk/warnings.py): raise, re-grade
(grade keeps the highest reached), clear, recur; the model's warning and weekly score; the
daily schedule, the job and `flask risk evaluate`."""

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
import time_machine

from backend import jobs
from backend.jobs.models import OutboxJob
from backend.risk import model as risk_model
from backend.risk import rules, warnings
from backend.risk.explain import explain_histories
from backend.risk.models import RiskScore, RiskWarning
from tests.risk.w_fixtures import (  # noqa: F401  (fixtures)
    MONDAY,
    all_warnings,
    evaluate_at,
    quiet,
    risk_tickets,
    utc,
    world,
)

DAY = timedelta(days=1)


def test_raise_regrade_clear_and_recur(session, world):
    project = world.project
    evaluate_at(session, project, MONDAY, planned_progress=0.50, actual_progress=0.44)  # 6 points
    [warning] = all_warnings(session)
    assert (warning.cause, warning.source, warning.grade, warning.current_grade, warning.status) == (
        "progress_lag",
        "rule",
        "yellow",
        "yellow",
        "open",
    )
    assert warning.open_key == f"{project.id}:progress_lag"
    assert warning.title == "实际进度落后计划 6.0 个百分点 (计划 50.0%, 实际 44.0%)"
    assert warning.detail["value"] == 6.0 and warning.detail["levels"]["yellow"] == "5"

    evaluate_at(session, project, MONDAY + DAY, planned_progress=0.60, actual_progress=0.35)  # 25: red
    evaluate_at(session, project, MONDAY + 2 * DAY, planned_progress=0.60, actual_progress=0.48)  # 12: orange
    [warning] = all_warnings(session)
    assert (warning.grade, warning.current_grade) == ("red", "orange")  # the highest reached stays
    assert warning.status == "dispatched" and len(risk_tickets(session)) == 1  # dispatched once, at red

    evaluate_at(session, project, MONDAY + 3 * DAY)  # caught up
    [warning] = all_warnings(session)
    assert (warning.current_grade, warning.status, warning.cleared_at) == (None, "cleared", MONDAY + 3 * DAY)

    evaluate_at(session, project, MONDAY + 4 * DAY, planned_progress=0.62, actual_progress=0.55)  # 7: again
    [warning] = all_warnings(session)
    assert (warning.grade, warning.current_grade, warning.status, warning.cleared_at) == (
        "red",
        "yellow",
        "dispatched",
        None,
    )
    assert [(e["event"], e["grade"]) for e in warning.history] == [
        ("raised", "yellow"),
        ("regraded", "red"),
        ("ticket", "red"),
        ("regraded", "orange"),
        ("cleared", None),
        ("recurred", "yellow"),
    ]
    assert len(risk_tickets(session)) == 1


def test_each_cause_is_its_own_warning_and_a_closed_one_frees_its_key(session, world):
    project = world.project
    evaluate_at(session, project, MONDAY, days_since_checkin=8, overdue_steps=(("发改委审查", 1),))
    assert sorted(w.cause for w in all_warnings(session)) == ["no_checkin", "step_overdue"]
    evaluate_at(session, project, MONDAY + DAY, overdue_steps=(("发改委审查", 2),))  # checked in
    closed, live = sorted(all_warnings(session), key=lambda w: w.status)
    assert (closed.cause, closed.status, closed.open_key) == ("no_checkin", "closed", None)
    assert (live.cause, live.status) == ("step_overdue", "open")
    evaluate_at(session, project, MONDAY + 2 * DAY, days_since_checkin=9)  # a new no_checkin warning
    rows = all_warnings(session)
    assert [(w.cause, w.status) for w in rows] == [
        ("no_checkin", "closed"),
        ("step_overdue", "closed"),
        ("no_checkin", "open"),
    ]
    listed = warnings.warnings_of(session=session, project_id=project.id)
    assert [w.id for w in listed][0] == rows[2].id  # live first
    assert [
        w.id for w in warnings.warnings_of(session=session, project_id=project.id, include_closed=False)
    ] == [rows[2].id]


def test_thresholds_come_from_the_settings(session, world):
    rules.save_settings(session=session, values={"no_checkin_days": "3"}, by="fgw_head")
    session.commit()
    evaluate_at(session, world.project, MONDAY, days_since_checkin=3)
    [warning] = all_warnings(session)
    assert warning.cause == "no_checkin" and warning.detail["levels"]["yellow"] == "3"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from tests.risk.test_model import make_set

    model = risk_model.train(make_set(40, seed=3), seed=0)
    risk_model.save(model, tmp_path_factory.mktemp("risk-model"))  # gives it its version
    return model


def test_the_model_warns_and_scores_the_week(session, world, trained):
    from tests.risk.test_model import make_history

    project = world.project
    history = make_history("live", slow=0.1, weeks_total=60, shortage=0.1, seed=5)
    history = replace(history, actual_end=None, weeks=history.weeks[:30])
    probability = float(trained.score([history])[0])
    assert 0 < probability < 1
    # Levels around the model's probability for this history: yellow at it, orange above.
    level = (Decimal(str(probability)) - Decimal("0.0001")).quantize(Decimal("0.0001"))
    rules.save_settings(
        session=session, values={"model_red": "1", "model_orange": "1", "model_yellow": str(level)}, by="t"
    )
    session.commit()

    for moment in (MONDAY, MONDAY + DAY):  # twice in one week: one score row, updated
        with time_machine.travel(moment, tick=False):
            warnings.evaluate_project(
                session=session,
                project=project,
                as_of=warnings.beijing_date(moment),
                now=moment,
                model=trained,
                signals=quiet(project, warnings.beijing_date(moment)),
                history=history,
            )
            session.commit()
    [warning] = all_warnings(session)
    assert (warning.cause, warning.source, warning.grade) == ("model_delay", "model", "yellow")
    assert warning.probability == pytest.approx(probability, abs=1e-4)
    assert warning.model_version == trained.version
    assert warning.detail["factors"] == explain_histories(trained, [history])[0]
    assert warning.title.startswith(f"模型预测逾期超过 30 天的概率为 {round(probability * 100)}%")
    [score] = session.scalars(sa.select(RiskScore)).all()
    assert (score.project_id, score.week_start, score.grade) == (project.id, date(2026, 3, 2), "yellow")
    assert score.probability == pytest.approx(probability) and score.computed_at == MONDAY + DAY


def test_model_red_dispatches_a_ticket(session, world, trained):
    from tests.risk.test_model import make_history

    history = make_history("live", slow=0.1, weeks_total=60, shortage=0.1, seed=5)
    history = replace(history, actual_end=None, weeks=history.weeks[:30])
    rules.save_settings(
        session=session, values={"model_red": "0", "model_orange": "0", "model_yellow": "0"}, by="t"
    )
    session.commit()
    with time_machine.travel(MONDAY, tick=False):
        warnings.evaluate_project(
            session=session,
            project=world.project,
            as_of=MONDAY.date(),
            now=MONDAY,
            model=trained,
            signals=quiet(world.project, MONDAY.date()),
            history=history,
        )
        session.commit()
    [warning] = all_warnings(session)
    assert (warning.cause, warning.grade, warning.status) == ("model_delay", "red", "dispatched")
    [ticket] = risk_tickets(session)
    assert (ticket.severity, ticket.category) == ("major", "schedule")


def _evaluate_jobs(session) -> list[OutboxJob]:
    return list(session.scalars(sa.select(OutboxJob).filter_by(actor=warnings.JOB).order_by(OutboxJob.id)))


def test_the_daily_run_is_enqueued_once_a_beijing_day_from_its_hour(app, session, world, monkeypatch):
    monkeypatch.setitem(app.config, "RISK_EVALUATE_HOUR", 6)
    assert not warnings.schedule_daily(session=session, now=utc(2026, 3, 1, 21, 59))  # 05:59 Beijing
    assert warnings.schedule_daily(session=session, now=utc(2026, 3, 1, 22, 0))  # 06:00 on 2 March
    assert not warnings.schedule_daily(session=session, now=utc(2026, 3, 2, 9, 0))  # same Beijing day
    assert warnings.schedule_daily(session=session, now=utc(2026, 3, 2, 22, 30))  # 3 March
    session.commit()
    assert [j.idempotency_key for j in _evaluate_jobs(session)] == [
        "risk.evaluate_all:2026-03-02",
        "risk.evaluate_all:2026-03-03",
    ]


def test_the_job_and_the_command_evaluate_the_watched_projects(app, session, world, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "RISK_MODEL_DIR", str(tmp_path))  # no model: the rules only
    project = world.project
    project.status = "in_construction"
    session.commit()
    # Real signals: a watched project with no plan and no site yet fires nothing.
    with time_machine.travel(MONDAY, tick=False):
        warnings.schedule_daily(session=session, now=MONDAY)
        session.commit()
        jobs.drain()
    assert _evaluate_jobs(session)[0].state == "done"
    assert all_warnings(session) == []

    result = app.test_cli_runner().invoke(args=["risk", "evaluate"])
    assert result.exit_code == 0, result.output
    assert "projects=1" in result.output and "failed=0" in result.output


def test_a_failing_project_does_not_stop_the_others(session, world):
    counts = warnings.evaluate_all(session=session, now=MONDAY, projects=[world.project, object()])
    assert (counts["projects"], counts["failed"]) == (1, 1)
    assert session.scalar(sa.select(sa.func.count()).select_from(RiskWarning)) == 0
