# ruff: noqa: F811  (fixtures imported from w_fixtures / tests.authz.conftest are requested by name)
"""Operational gaps of the warnings (session 19): a risk_response instance that ended without
closing its warning (cancelled in the cockpit) puts the warning back to open and it is
dispatched again, without a second ticket while the first is open; an instance in incident is
shown on the project's page and never re-dispatched; a warning's own ticket or coordination
task running late is not an "办理超时" cause; a project without a contract exports as "未签约"
and the import reads it back; the coordination time limit is the setting coordination_days."""

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine

from backend import jobs
from backend.projects.models import Project
from backend.risk import rules, signals, warnings
from backend.risk.history import dump_line, parse_line
from backend.risk.models import RiskHistory
from backend.tickets import service as tickets
from backend.tickets.models import Ticket
from backend.workdays.service import seed_from_chinese_calendar
from backend.workflow import service as workflow
from backend.workflow.deploy import deploy_files
from backend.workflow.models import Event, HumanTask, Incident, ProcessInstance
from tests.authz.conftest import HZ_PROJECT
from tests.authz.conftest import world as authz_world  # noqa: F401  (fixture)
from tests.concurrency import race
from tests.risk.w_fixtures import (  # noqa: F401  (fixtures)
    FORMS,
    MONDAY,
    PROCESSES,
    all_warnings,
    evaluate_at,
    quiet,
    risk_tickets,
    run_scheduler_at,
    utc,
    world,
)

DAY = timedelta(days=1)
PHOTO = "c" * 64
ORANGE_MILESTONE = {"overdue_milestones": (("主体结构封顶", 20),)}
ORANGE_PAYMENT = {"overdue_payments": (("进度款第3期", 20),)}


def _instances(session) -> list[ProcessInstance]:
    session.expire_all()
    return list(
        session.scalars(
            sa.select(ProcessInstance).filter_by(process_key="risk_response").order_by(ProcessInstance.id)
        )
    )


def _cancel(session, instance_id: int, moment) -> None:
    """What the cockpit's 取消 button does (cockpit/views.py cancel)."""
    with time_machine.travel(moment, tick=False):
        workflow.cancel_instance(
            session=session, instance_id=instance_id, actor="ops", reason="误派, 重新派单"
        )
        session.commit()
        jobs.drain()
    session.expire_all()


def _open_task(session, instance_id: int, element: str) -> HumanTask | None:
    return session.scalar(
        sa.select(HumanTask).filter_by(instance_id=instance_id, element_id=element, state="open")
    )


def _deploy(session, *names) -> None:
    deploy_files(
        session=session,
        files={n: (PROCESSES / n).read_text(encoding="utf-8") for n in names},
        forms_dir=FORMS,
        deployed_by="test",
    )
    session.commit()


# --- 1. an ended process puts its warning back to open -----------------------------------------


def test_the_daily_run_notices_a_cancelled_process(session, world):
    evaluate_at(session, world.project, MONDAY, **ORANGE_PAYMENT)
    [warning] = all_warnings(session)
    first = warning.instance_id
    assert warning.status == "dispatched"
    _cancel(session, first, MONDAY + timedelta(hours=2))
    assert session.get(ProcessInstance, first).state == "cancelled"

    with time_machine.travel(MONDAY + DAY, tick=False):
        counts = warnings.evaluate_all(session=session, now=MONDAY + DAY, projects=[world.project])
        session.commit()
        jobs.drain()
    assert counts["reopened"] == 1
    [warning] = all_warnings(session)
    # The real signals of this bare project fire nothing: the cause has cleared and the process
    # that would have verified it is gone, so the warning closes instead of waiting forever.
    assert (warning.status, warning.open_key, warning.instance_id) == ("closed", None, None)
    assert [e["event"] for e in warning.history][-3:] == ["reopened", "cleared", "closed"]
    assert warning.history[-3]["instance"] == first


def test_the_cause_still_there_is_dispatched_again_once(session, world):
    evaluate_at(session, world.project, MONDAY, **ORANGE_PAYMENT)
    [warning] = all_warnings(session)
    first = warning.instance_id
    _cancel(session, first, MONDAY + timedelta(hours=2))

    evaluate_at(session, world.project, MONDAY + DAY, **ORANGE_PAYMENT)
    [warning] = all_warnings(session)
    assert warning.status == "dispatched" and warning.instance_id not in (None, first)
    assert warning.dispatched_at == MONDAY + DAY
    assert [e["event"] for e in warning.history] == [
        "raised",
        "coordination",
        "reopened",
        "coordination",
    ]
    assert "已取消" in warning.history[2]["note"]
    instances = _instances(session)
    assert [i.state for i in instances] == ["cancelled", "running"]
    assert _open_task(session, warning.instance_id, "coordinate") is not None

    # Later evaluations while the new process runs dispatch nothing more.
    evaluate_at(session, world.project, MONDAY + 2 * DAY, **ORANGE_PAYMENT)
    assert len(_instances(session)) == 2


def test_a_reopened_warning_takes_over_its_open_ticket_instead_of_a_second_one(session, world):
    evaluate_at(session, world.project, MONDAY, **ORANGE_MILESTONE)
    [ticket] = risk_tickets(session)
    [warning] = all_warnings(session)
    _cancel(session, warning.instance_id, MONDAY + timedelta(hours=2))

    evaluate_at(session, world.project, MONDAY + DAY, **ORANGE_MILESTONE)
    [warning] = all_warnings(session)
    assert warning.status == "dispatched" and len(_instances(session)) == 2
    assert [t.id for t in risk_tickets(session)] == [ticket.id]  # still the one ticket
    assert warning.ticket_id == ticket.id

    # The new process closes the warning when that ticket is verified and the cause cleared.
    evaluate_at(session, world.project, MONDAY + 2 * DAY)  # cleared
    for element, call, kwargs in (
        ("rectify", tickets.submit_rectification, {"description": "已抢工", "photos": [PHOTO]}),
        ("verify", tickets.verify_rectification, {"passed": True, "opinion": ""}),
    ):
        with time_machine.travel(MONDAY + 3 * DAY, tick=False):
            task = _open_task(session, ticket.instance_id, element)
            call(session=session, task_id=task.id, actor="inspector", **kwargs)
            session.commit()
            jobs.drain()
        session.expire_all()
    [warning] = all_warnings(session)
    assert warning.status == "closed"
    assert [i.state for i in _instances(session)] == ["cancelled", "completed"]


def test_a_process_cancelled_after_the_cause_cleared_closes_the_warning(session, world):
    evaluate_at(session, world.project, MONDAY, **ORANGE_MILESTONE)
    evaluate_at(session, world.project, MONDAY + DAY)  # cleared, waiting for the ticket
    [warning] = all_warnings(session)
    assert warning.status == "cleared"
    _cancel(session, warning.instance_id, MONDAY + DAY + timedelta(hours=2))

    evaluate_at(session, world.project, MONDAY + 2 * DAY)
    [warning] = all_warnings(session)
    assert (warning.status, warning.open_key) == ("closed", None)
    assert warning.history[-1]["note"] == "处置流程已终止, 预警随原因消除关闭"
    assert len(_instances(session)) == 1


def test_two_evaluations_noticing_the_same_cancelled_process_dispatch_once(app, session, world):
    evaluate_at(session, world.project, MONDAY, **ORANGE_PAYMENT)
    [warning] = all_warnings(session)
    _cancel(session, warning.instance_id, MONDAY + timedelta(hours=2))
    project_id = world.project.id
    session.rollback()

    def evaluate(s):
        project = s.get(Project, project_id)
        with time_machine.travel(MONDAY + DAY, tick=False):
            return warnings.evaluate_project(
                session=s,
                project=project,
                as_of=(MONDAY + DAY).date(),
                now=MONDAY + DAY,
                model=None,
                signals=replace(quiet(project, (MONDAY + DAY).date()), **ORANGE_PAYMENT),
            )

    outcomes = race(app, [evaluate, evaluate])
    assert any(not isinstance(o, Exception) for o in outcomes), outcomes
    assert [i.state for i in _instances(session)] == ["cancelled", "running"]
    [warning] = all_warnings(session)
    assert [e["event"] for e in warning.history].count("reopened") == 1


# --- 1b. an instance in incident: shown, not re-dispatched -------------------------------------


@pytest.fixture()
def broken(authz_world, session):
    """HZ's orange milestone warning whose risk_response instance is in incident: the
    rectification diagram is not deployed, so risk.dispatch cannot raise the ticket (after its
    retries: a real incident, as a deployment mistake makes one in production)."""
    seed_from_chinese_calendar(session=session, first_year=2025, last_year=2027)
    _deploy(session, "risk_response.bpmn")
    project = session.scalar(sa.select(Project).filter_by(code=HZ_PROJECT))
    evaluate_at(session, project, MONDAY, **ORANGE_MILESTONE)
    [warning] = all_warnings(session)
    assert session.get(ProcessInstance, warning.instance_id).state == "incident"
    return authz_world, project, warning.instance_id


def test_an_instance_in_incident_is_noted_once_and_not_dispatched_again(session, broken):
    _people, project, instance_id = broken
    for day in (1, 2):
        evaluate_at(session, project, MONDAY + day * DAY, **ORANGE_MILESTONE)
    [warning] = all_warnings(session)
    assert (warning.status, warning.instance_id) == ("dispatched", instance_id)
    assert len(_instances(session)) == 1 and risk_tickets(session) == []
    events = [e for e in warning.history if e["event"] == "instance_incident"]
    assert len(events) == 1 and events[0]["instance"] == instance_id
    assert "处置流程异常" in events[0]["note"]

    # An operator repairs it (deploys the missing diagram, retries the incident): noted once.
    _deploy(session, "rectification.bpmn")
    with time_machine.travel(MONDAY + 2 * DAY + timedelta(hours=1), tick=False):
        incident = session.scalar(sa.select(Incident).filter_by(instance_id=instance_id, state="open"))
        workflow.retry_incident(session=session, incident_id=incident.id, actor="ops")
        session.commit()
        jobs.drain()
    assert session.get(ProcessInstance, instance_id).state == "running"
    assert len(risk_tickets(session)) == 1
    for day in (3, 4):
        evaluate_at(session, project, MONDAY + day * DAY, **ORANGE_MILESTONE)
    [warning] = all_warnings(session)
    assert [e["event"] for e in warning.history].count("instance_recovered") == 1
    assert len(_instances(session)) == 1 and len(risk_tickets(session)) == 1


def test_the_project_page_shows_the_broken_process(app, broken):
    people, _project, instance_id = broken
    link = f'href="/cockpit/instances/{instance_id}"'
    html = people.client(app, "operator").get(f"/projects/{HZ_PROJECT}/risk").get_data(as_text=True)
    assert f'data-instance-incident="{instance_id}"' in html and "处置流程异常" in html
    badge = html.split(f'data-instance-incident="{instance_id}"', 1)[1].split("</span>", 1)[0]
    assert link in badge  # operators go straight to the cockpit instance
    html = people.client(app, "reviewer").get(f"/projects/{HZ_PROJECT}/risk").get_data(as_text=True)
    badge = html.split(f'data-instance-incident="{instance_id}"', 1)[1].split("</span>", 1)[0]
    assert "处置流程异常" in badge and link not in badge


def test_a_running_process_shows_no_alarm(app, authz_world, session):
    seed_from_chinese_calendar(session=session, first_year=2025, last_year=2027)
    _deploy(session, "rectification.bpmn", "risk_response.bpmn")
    project = session.scalar(sa.select(Project).filter_by(code=HZ_PROJECT))
    evaluate_at(session, project, MONDAY, **ORANGE_MILESTONE)
    html = authz_world.client(app, "operator").get(f"/projects/{HZ_PROJECT}/risk").get_data(as_text=True)
    assert "data-warning" in html
    assert "data-instance-incident" not in html and "处置流程异常" not in html


# --- 2. a warning's own remedy is not an overdue step ------------------------------------------


def test_an_overdue_risk_ticket_or_coordination_task_is_not_an_overdue_step(session, world):
    project = world.project
    evaluate_at(session, project, MONDAY, **ORANGE_MILESTONE)  # a risk ticket, due in 10 working days
    evaluate_at(session, project, MONDAY, **ORANGE_PAYMENT)  # a coordination task, due in 3
    [risk_ticket] = risk_tickets(session)
    with time_machine.travel(MONDAY, tick=False):
        inspection = tickets.raise_ticket(
            session=session,
            project_id=project.id,
            source="inspection",
            category="quality",
            severity="general",
            description="钢筋保护层厚度不足",
            evidence=[],
            deadline=date(2026, 3, 4),
            raised_by="inspector",
        )
        session.commit()
        jobs.drain()
    late = MONDAY + 30 * DAY  # every deadline above has passed
    with time_machine.travel(late, tick=False):
        found = signals.current_signals(session=session, project=project, as_of=warnings.beijing_date(late))
    session.expire_all()
    assert session.get(Ticket, risk_ticket.id).status != "closed"
    assert _open_task(session, all_warnings(session)[1].instance_id, "coordinate") is not None
    labels = [label for label, _days in found.overdue_steps]
    assert labels == [inspection.number]  # neither the risk ticket nor 协调督办
    assert found.overdue_tickets == 2  # the count of late tickets keeps every ticket


# --- 3. a project without a contract exports and imports -----------------------------------


def test_a_project_without_a_contract_exports_as_unsigned_and_imports_back(app, session, world, tmp_path):
    project = world.project
    project.status = "in_construction"
    session.commit()
    h = signals.weekly_history(session=session, project=project, as_of=MONDAY.date())
    assert h.contractor == "未签约" == signals.NO_CONTRACTOR
    assert parse_line(dump_line(h)) == h

    out = Path(tmp_path) / "platform.jsonl"
    runner = app.test_cli_runner()
    with time_machine.travel(MONDAY, tick=False):
        result = runner.invoke(args=["risk", "export", str(out)])
    assert result.exit_code == 0, result.output
    assert "exported=1 skipped=0 refused=0" in result.output
    [line] = out.read_text("utf-8").splitlines()
    assert parse_line(line) == h

    result = runner.invoke(args=["risk", "import", str(out), "--source", "platform-export"])
    assert result.exit_code == 0, result.output
    assert "loaded=1 created=1" in result.output and "rejected=0" in result.output
    stored = session.scalar(sa.select(RiskHistory).filter_by(source="platform-export"))
    assert (stored.project_id, stored.contractor) == (project.code, "未签约")


# --- 4. the coordination time limit is a setting ------------------------------------------


def test_coordination_days_is_validated(session):
    assert rules.settings(session=session)["coordination_days"] == 3
    for bad in ("0", "2.5", "61", "-1", "abc", "NaN"):
        with pytest.raises(rules.RiskSettingsError) as caught:
            rules.save_settings(session=session, values={"coordination_days": bad}, by="head")
        assert set(caught.value.errors) == {"coordination_days"}, bad
    assert rules.save_settings(session=session, values={"coordination_days": "5"}, by="head")[
        "coordination_days"
    ] == Decimal("5")
    assert rules.coordination_days(rules.settings(session=session)) == 5


def test_the_coordination_task_takes_its_time_limit_from_the_setting(session, world):
    rules.save_settings(session=session, values={"coordination_days": "5"}, by="head")
    session.commit()
    evaluate_at(session, world.project, MONDAY, **ORANGE_PAYMENT)
    [warning] = all_warnings(session)
    assert (
        workflow.instance_variables(session=session, instance_id=warning.instance_id)["coordination_days"]
        == 5
    )
    task = _open_task(session, warning.instance_id, "coordinate")
    # 5 working days from Monday 2 March: the end of Monday 9 March in Beijing.
    assert task.due_at == utc(2026, 3, 9, 16, 0)

    run_scheduler_at(session, utc(2026, 3, 5, 16, 1))  # the old 3-day limit: nothing yet
    task = session.get(HumanTask, task.id)
    assert task.reminded_at is None and task.escalated_at is None
    run_scheduler_at(session, utc(2026, 3, 6, 16, 1))  # one working day before (Friday): reminded
    task = session.get(HumanTask, task.id)
    assert task.reminded_at is not None and task.escalated_at is None
    run_scheduler_at(session, utc(2026, 3, 9, 15, 59))
    assert session.get(HumanTask, task.id).escalated_at is None
    run_scheduler_at(session, utc(2026, 3, 9, 16, 1))
    assert session.get(HumanTask, task.id).escalated_at is not None
    escalation = session.scalar(
        sa.select(Event).filter_by(instance_id=warning.instance_id, kind="task.escalated")
    )
    assert escalation.detail["escalated_to"] == "fgw.head"


def test_a_one_day_coordination_limit_reminds_at_the_end_of_today(session, world):
    rules.save_settings(session=session, values={"coordination_days": "1"}, by="head")
    session.commit()
    evaluate_at(session, world.project, MONDAY, **ORANGE_PAYMENT)
    [warning] = all_warnings(session)
    task = _open_task(session, warning.instance_id, "coordinate")
    assert task.due_at == utc(2026, 3, 3, 16, 0)  # the end of Tuesday
    run_scheduler_at(session, utc(2026, 3, 2, 16, 1))
    task = session.get(HumanTask, task.id)
    assert task.reminded_at is not None and task.escalated_at is None
    run_scheduler_at(session, utc(2026, 3, 3, 16, 1))
    assert session.get(HumanTask, task.id).escalated_at is not None
    assert session.get(ProcessInstance, warning.instance_id).state == "running"


def test_the_settings_page_has_the_coordination_limit(app, authz_world, session):
    client = authz_world.client(app, "head")
    html = client.get("/risk/settings").get_data(as_text=True)
    assert 'name="coordination_days"' in html and "协调督办办理时限 (工作日)" in html
    values = {key: format(default, "f") for key, (default, _label) in rules.DEFAULTS.items()}
    response = client.post("/risk/settings", data={**values, "coordination_days": "0"})
    assert response.status_code == 400
    assert 'data-error="coordination_days">须为 1 至 60 之间的整数 (工作日)' in response.get_data(
        as_text=True
    )
    response = client.post("/risk/settings", data={**values, "coordination_days": "4"})
    assert response.status_code == 302
    session.expire_all()
    assert rules.settings(session=session)["coordination_days"] == 4
