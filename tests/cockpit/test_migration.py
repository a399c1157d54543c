"""迁移到新版本: dry run and migration of running instances (workflow/migration.py, the engine's
ProcessRun.plan_migration / migrate) and the cockpit pages around them."""

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine
from flask import g

from backend.workdays.service import seed_from_chinese_calendar
from backend.workflow import migration, service
from backend.workflow.deploy import deploy_files
from backend.workflow.errors import ReasonRequired
from backend.workflow.migration import MigrationNotAllowed
from backend.workflow.models import (
    Event,
    HumanTask,
    Incident,
    MessageWait,
    ProcessDefinition,
    ProcessInstance,
    Timer,
)
from tests.cockpit.conftest import signed_in

HERE = Path(__file__).parent
FILES = HERE / "bpmn" / "migration"
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # a Monday


@pytest.fixture()
def deploy(session):
    seed_from_chinese_calendar(session=session)

    def deploy(name: str) -> ProcessDefinition:
        # Each version is its own file: deployed one after the other, they become v1, v2, ...
        text = (FILES / name).read_text(encoding="utf-8")
        result = deploy_files(
            session=session, files={name: text}, forms_dir=HERE / "forms", deployed_by="designer1"
        )
        session.commit()
        return result.created[0]

    return deploy


def _open(session, instance_id, element_id=None):
    query = sa.select(HumanTask).filter_by(instance_id=instance_id, state="open").order_by(HumanTask.id)
    if element_id:
        query = query.filter_by(element_id=element_id)
    return list(session.scalars(query))


def _complete(session, task, data=None):
    service.complete_task(session=session, task_id=task.id, data=data or {"approved": True}, actor="li")
    session.commit()


def _fresh(session, instance_id):
    session.expire_all()
    return session.get(ProcessInstance, instance_id)


def _row(rows, instance_id):
    return next(r for r in rows if r.instance_id == instance_id)


def _start(session, key, business_key=None, **data):
    instance = service.start_instance(session=session, process_key=key, data=data, business_key=business_key)
    session.commit()
    return instance


def test_dry_run_lists_who_can_move_and_why_not_and_changes_nothing(session, deploy):
    v1 = deploy("migr_flow_v1.bpmn")
    at_a = _start(session, "migr_flow", "XM-A")
    at_b = _start(session, "migr_flow", "XM-B")
    _complete(session, _open(session, at_b.id)[0])
    done = _start(session, "migr_flow", "XM-DONE")
    _complete(session, _open(session, done.id)[0])
    _complete(session, _open(session, done.id)[0])
    assert _fresh(session, done.id).state == "completed"
    deploy("migr_flow_v2.bpmn")
    v3 = deploy("migr_flow_v3.bpmn")  # step_b removed
    before = {
        i.id: (i.state_json, i.definition_id, i.lock_version)
        for i in session.scalars(sa.select(ProcessInstance))
    }
    events = session.scalar(sa.select(sa.func.count()).select_from(Event))

    rows = migration.plan(session=session, from_definition_id=v1.id, to_definition_id=v3.id)

    assert [r.instance_id for r in rows] == [at_a.id, at_b.id]  # the completed one is not a candidate
    a = _row(rows, at_a.id)
    assert a.can_move and a.active_elements == [("step_a", "填报")] and a.business_key == "XM-A"
    assert a.changed_elements == ["step_a"]  # its name and time limit changed
    b = _row(rows, at_b.id)
    assert not b.can_move
    assert [(r.element_id, r.element_name) for r in b.reasons] == [("step_b", "审核")]
    assert "step_b" in str(b.reasons[0].message) and "不存在" in str(b.reasons[0].message)

    session.expire_all()
    after = {
        i.id: (i.state_json, i.definition_id, i.lock_version)
        for i in session.scalars(sa.select(ProcessInstance))
    }
    assert after == before
    assert session.scalar(sa.select(sa.func.count()).select_from(Event)) == events

    # Asked for by id, a completed instance is reported, not moved.
    [asked] = migration.plan(
        session=session, from_definition_id=v1.id, to_definition_id=v3.id, instance_ids=[done.id]
    )
    assert not asked.can_move and "已完成" in str(asked.reasons[0].message)


def test_migrated_instance_keeps_its_task_and_follows_the_new_path(session, deploy):
    with time_machine.travel(T0, tick=False) as clock:
        v1 = deploy("migr_flow_v1.bpmn")
        instance = _start(session, "migr_flow", "XM-1", amount=5)
        [task] = _open(session, instance.id)
        assert task.title == "填报" and task.properties["timeLimitWorkingDays"] == "3"
        due = task.due_at
        clock.shift(timedelta(days=1))
        v2 = deploy("migr_flow_v2.bpmn")

        result = migration.migrate(
            session=session,
            from_definition_id=v1.id,
            to_definition_id=v2.id,
            actor="ops",
            reason="新增复核环节",
        )
        session.commit()

    assert [m.instance_id for m in result.moved] == [instance.id] and not result.refused
    instance = _fresh(session, instance.id)
    assert instance.definition_id == v2.id and instance.state == "running"
    [same] = _open(session, instance.id)
    # The inbox link (task id) and the running time limit stay; what the step is called comes from v2.
    assert same.id == task.id and same.due_at == due
    assert same.title == "填报申报材料" and same.properties["timeLimitWorkingDays"] == "5"

    event = session.scalar(sa.select(Event).filter_by(instance_id=instance.id, kind="instance.migrated"))
    assert event.actor == "ops"
    assert event.detail["reason"] == "新增复核环节"
    assert (event.detail["from_version"], event.detail["to_version"]) == (1, 2)
    assert event.detail["active_elements"] == ["step_a"]

    _complete(session, same)
    assert [t.element_id for t in _open(session, instance.id)] == ["step_b"]
    _complete(session, _open(session, instance.id)[0])
    # v1 ended after step_b; v2 goes on to step_c.
    assert [t.element_id for t in _open(session, instance.id)] == ["step_c"]
    assert _open(session, instance.id)[0].title == "复核"
    _complete(session, _open(session, instance.id)[0])
    assert _fresh(session, instance.id).state == "completed"
    # The variables of the start survived the move.
    assert service.instance_variables(session=session, instance_id=instance.id)["amount"] == 5


def test_migration_moves_who_can_and_reports_who_cannot(session, deploy):
    v1 = deploy("migr_flow_v1.bpmn")
    at_a = _start(session, "migr_flow", "XM-A")
    at_b = _start(session, "migr_flow", "XM-B")
    _complete(session, _open(session, at_b.id)[0])
    b_before = _fresh(session, at_b.id).state_json
    deploy("migr_flow_v2.bpmn")
    v3 = deploy("migr_flow_v3.bpmn")

    result = migration.migrate(
        session=session, from_definition_id=v1.id, to_definition_id=v3.id, actor="ops", reason="去掉审核"
    )
    session.commit()

    assert [m.instance_id for m in result.moved] == [at_a.id]
    [refused] = result.refused
    assert refused.instance_id == at_b.id and refused.reasons[0].element_id == "step_b"
    assert _fresh(session, at_b.id).definition_id == v1.id
    assert _fresh(session, at_b.id).state_json == b_before
    assert session.scalar(sa.select(Event).filter_by(instance_id=at_b.id, kind="instance.migrated")) is None
    # The moved one: step_b (removed in v3) is skipped, step_c follows.
    _complete(session, _open(session, at_a.id)[0])
    assert [t.element_id for t in _open(session, at_a.id)] == ["step_c"]


def test_a_completed_step_that_the_new_version_removed_blocks_the_move(session, deploy):
    deploy("migr_flow_v1.bpmn")
    v2 = deploy("migr_flow_v2.bpmn")
    instance = _start(session, "migr_flow")
    _complete(session, _open(session, instance.id)[0])
    _complete(session, _open(session, instance.id)[0])
    assert [t.element_id for t in _open(session, instance.id)] == ["step_c"]
    v3 = deploy("migr_flow_v3.bpmn")  # step_b, which this instance has done, is gone

    [row] = migration.plan(session=session, from_definition_id=v2.id, to_definition_id=v3.id)

    assert not row.can_move
    assert [(r.element_id, r.element_name) for r in row.reasons] == [("step_b", "审核")]
    assert "已删除" in str(row.reasons[0].message)


def test_only_a_newer_version_of_the_same_process_with_a_reason(session, deploy):
    v1 = deploy("migr_flow_v1.bpmn")
    v2 = deploy("migr_flow_v2.bpmn")
    other = deploy("migr_sign_v1.bpmn")
    _start(session, "migr_flow")
    with pytest.raises(MigrationNotAllowed, match="新"):
        migration.plan(session=session, from_definition_id=v2.id, to_definition_id=v1.id)
    with pytest.raises(MigrationNotAllowed, match="同一流程"):
        migration.plan(session=session, from_definition_id=v1.id, to_definition_id=other.id)
    with pytest.raises(ReasonRequired):
        migration.migrate(
            session=session, from_definition_id=v1.id, to_definition_id=v2.id, actor="ops", reason=" "
        )


def test_waiting_timer_and_time_limit_keep_their_due_times(session, deploy):
    with time_machine.travel(T0, tick=False) as clock:
        v1 = deploy("migr_wait_v1.bpmn")
        at_review = _start(session, "migr_wait", "XM-W1")
        waiting = _start(session, "migr_wait", "XM-W2")
        _complete(session, _open(session, waiting.id)[0])
        assert session.scalar(sa.select(MessageWait).filter_by(instance_id=waiting.id)) is not None
        service.suspend_instance(session=session, instance_id=waiting.id, actor="ops", reason="核查")
        session.commit()
        [task] = _open(session, at_review.id)
        timer_due = session.get(Timer, at_review.id).due_at
        engine_timers = service.inspect_instance(session=session, instance_id=at_review.id)["timers"]
        clock.shift(timedelta(days=1))
        v2 = deploy("migr_wait_v2.bpmn")  # time limit 5 days, boundary timer 10 working days, archive step

        result = migration.migrate(
            session=session, from_definition_id=v1.id, to_definition_id=v2.id, actor="ops", reason="加归档"
        )
        session.commit()
        assert sorted(m.instance_id for m in result.moved) == sorted([at_review.id, waiting.id])

        # Running time limits are kept, not restarted by the move.
        [same] = _open(session, at_review.id)
        assert (same.id, same.due_at) == (task.id, task.due_at)
        assert session.get(Timer, at_review.id).due_at == timer_due
        assert service.inspect_instance(session=session, instance_id=at_review.id)["timers"] == engine_timers
        # Suspended stays suspended; its message wait is still there.
        assert _fresh(session, waiting.id).state == "suspended"
        assert session.scalar(sa.select(MessageWait).filter_by(instance_id=waiting.id)).name == "migr_go"

        # The old deadline fires at its old due time (v2's own limit would be 10 working days).
        clock.move_to(timer_due + timedelta(minutes=1))
        assert service.fire_timers(session=session, instance_id=at_review.id) is True
        session.commit()
        assert [t.element_id for t in _open(session, at_review.id)] == ["escalated"]

    service.resume_instance(session=session, instance_id=waiting.id, actor="ops", reason="好了")
    session.commit()
    delivered = service.correlate_message(session=session, name="migr_go", business_key="XM-W2")
    session.commit()
    assert delivered.delivered_to == [waiting.id]
    assert [t.element_id for t in _open(session, waiting.id)] == ["archive"]  # v2's new step


def test_instance_inside_a_multi_instance_step_migrates(session, deploy):
    v1 = deploy("migr_sign_v1.bpmn")
    instance = _start(session, "migr_sign", "XM-S", experts=["zhang", "wang", "li"])
    rows = _open(session, instance.id)
    assert sorted(r.assignee for r in rows) == ["li", "wang", "zhang"]
    _complete(session, next(r for r in rows if r.assignee == "zhang"))
    before = {r.id: (r.assignee, r.item, r.due_at) for r in _open(session, instance.id)}
    v2 = deploy("migr_sign_v2.bpmn")  # a summary step after the countersign

    [row] = migration.plan(session=session, from_definition_id=v1.id, to_definition_id=v2.id)
    assert row.can_move and row.active_elements == [("countersign", "会签")]
    result = migration.migrate(
        session=session, from_definition_id=v1.id, to_definition_id=v2.id, actor="ops", reason="加汇总"
    )
    session.commit()

    assert [m.instance_id for m in result.moved] == [instance.id]
    assert {r.id: (r.assignee, r.item, r.due_at) for r in _open(session, instance.id)} == before
    for row in _open(session, instance.id):
        _complete(session, row, {"approved": False})
    [summary] = _open(session, instance.id)
    assert summary.element_id == "summary"
    votes = service.instance_variables(session=session, instance_id=instance.id)["votes"]
    assert [v["approved"] for v in votes] == [True, False, False]  # each child kept its place


def test_instance_with_an_incident_migrates_and_is_retried_on_the_new_version(session, deploy, budget):
    v1 = deploy("migr_service_v1.bpmn")
    budget.failures_left = 1
    instance = _start(session, "migr_service", "XM-I", amount="3")
    assert _fresh(session, instance.id).state == "incident"
    [incident] = session.scalars(sa.select(Incident).filter_by(instance_id=instance.id)).all()
    v2 = deploy("migr_service_v2.bpmn")  # an archive step after the call

    [row] = migration.plan(session=session, from_definition_id=v1.id, to_definition_id=v2.id)
    assert row.can_move and row.active_elements == [("call_budget", "调用预算系统")]
    migration.migrate(
        session=session, from_definition_id=v1.id, to_definition_id=v2.id, actor="ops", reason="加归档"
    )
    session.commit()
    assert _fresh(session, instance.id).state == "incident"  # the incident stays open

    service.retry_incident(session=session, incident_id=incident.id, actor="ops")
    session.commit()
    assert _fresh(session, instance.id).state == "running"
    assert [t.element_id for t in _open(session, instance.id)] == ["archive"]


# -- the cockpit pages ---------------------------------------------------------------------------
@pytest.fixture()
def flow(session, deploy, users):
    v1 = deploy("migr_flow_v1.bpmn")
    at_a = _start(session, "migr_flow", "XM-A")
    at_b = _start(session, "migr_flow", "XM-B")
    _complete(session, _open(session, at_b.id)[0])
    deploy("migr_flow_v2.bpmn")
    v3 = deploy("migr_flow_v3.bpmn")
    return {"v1": v1, "v3": v3, "at_a": at_a.id, "at_b": at_b.id}


def test_operator_dry_runs_then_migrates_through_the_pages(app, session, flow):
    client = signed_in(app, "ops")
    listed = client.get("/cockpit/instances?process_key=migr_flow&version=1").get_data(as_text=True)
    assert "/cockpit/migrate?" in listed and "data-migrate-link" in listed

    page = client.get("/cockpit/migrate?key=migr_flow&from=1&to=3")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'data-plan-instance="{flow["at_a"]}" data-can-move="yes"' in html
    assert f'data-plan-instance="{flow["at_b"]}" data-can-move="no"' in html
    assert 'data-reason="step_b"' in html
    assert re.search(rf'name="instance_ids" value="{flow["at_b"]}"', html) is None  # refused: no box
    assert _fresh(session, flow["at_a"]).definition_id == flow["v1"].id  # a dry run only
    client.get("/lang/en")
    g.pop("_flask_babel", None)  # the tests' shared app context keeps the locale of the last request
    g.pop("_i18n_translations", None)
    english = client.get("/cockpit/migrate?key=migr_flow&from=1&to=3")
    assert "The current step 「审核」(step_b) does not exist in the new version" in unescape(
        english.get_data(as_text=True)
    )
    client.get("/lang/zh")
    g.pop("_flask_babel", None)
    g.pop("_i18n_translations", None)

    empty = client.post(
        "/cockpit/migrate",
        data={"key": "migr_flow", "from": "1", "to": "3", "reason": "r"},
        follow_redirects=True,
    )
    assert "请选择要迁移的流程实例" in empty.get_data(as_text=True)

    done = client.post(
        "/cockpit/migrate",
        data={
            "key": "migr_flow",
            "from": "1",
            "to": "3",
            "reason": "去掉审核",
            "instance_ids": [str(flow["at_a"]), str(flow["at_b"])],
        },
    )
    html = done.get_data(as_text=True)
    assert done.status_code == 200
    assert f'data-moved="{flow["at_a"]}"' in html and f'data-refused="{flow["at_b"]}"' in html
    assert _fresh(session, flow["at_a"]).definition_id == flow["v3"].id
    assert _fresh(session, flow["at_b"]).definition_id == flow["v1"].id
    event = session.scalar(sa.select(Event).filter_by(instance_id=flow["at_a"], kind="instance.migrated"))
    assert event.actor == "ops" and event.detail["reason"] == "去掉审核"


def test_migrate_one_instance_from_its_page(app, session, flow):
    client = signed_in(app, "boss")  # another operator
    html = client.get(f"/cockpit/instances/{flow['at_a']}").get_data(as_text=True)
    link = re.search(r'data-action="migrate" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    page = client.get(link).get_data(as_text=True)
    # Only this instance is planned (the newest version is the default target).
    assert re.findall(r'data-plan-instance="(\d+)"', page) == [str(flow["at_a"])]
    response = client.post(
        "/cockpit/migrate",
        data={
            "key": "migr_flow",
            "from": "1",
            "to": "3",
            "instance": str(flow["at_a"]),
            "reason": "单个迁移",
            "instance_ids": str(flow["at_a"]),
        },
    )
    assert f'data-moved="{flow["at_a"]}"' in response.get_data(as_text=True)
    assert _fresh(session, flow["at_a"]).definition_id == flow["v3"].id


def test_a_reason_is_required(app, session, flow):
    client = signed_in(app, "ops")
    response = client.post(
        "/cockpit/migrate",
        data={"key": "migr_flow", "from": "1", "to": "3", "reason": "", "instance_ids": str(flow["at_a"])},
        follow_redirects=True,
    )
    assert "请填写理由" in response.get_data(as_text=True)
    assert _fresh(session, flow["at_a"]).definition_id == flow["v1"].id


@pytest.mark.parametrize("username", ["designer1", "reviewer1"])
def test_only_operators_migrate(app, session, flow, username):
    client = signed_in(app, username)
    assert client.get("/cockpit/migrate?key=migr_flow&from=1&to=3").status_code == 403
    response = client.post(
        "/cockpit/migrate",
        data={"key": "migr_flow", "from": "1", "to": "3", "reason": "x", "instance_ids": str(flow["at_a"])},
    )
    assert response.status_code == 403
    assert _fresh(session, flow["at_a"]).definition_id == flow["v1"].id


# -- a real diagram: called process, parallel reviews, boundary timers, a countersign ----------
def test_project_approval_in_the_middle_of_a_review_round_migrates_and_finishes(session, org, approvals_flow):
    from backend.approvals.models import ApprovalDocument
    from tests.approvals.conftest import BPMN, FORMS

    flow = approvals_flow
    with time_machine.travel(datetime(2025, 11, 3, 2, 0, tzinfo=UTC), tick=False) as clock:
        flow.submit()
        flow.accept(experts=("expert1", "expert2", "expert3"))
        flow.review("fgw")
        flow.expert("expert1")
        clock.shift(timedelta(hours=2))
        v1 = flow.instance.definition
        before = {t.id: (t.element_id, t.assignee, t.due_at) for t in flow.open_tasks()}
        timers = service.inspect_instance(session=session, instance_id=flow.instance_id)["timers"]
        assert timers  # the review steps' reminder and escalation timers are waiting
        # v2: the same diagram with a step renamed (a new content hash, so a new version).
        text = BPMN.read_text(encoding="utf-8").replace('name="专家评审会签"', 'name="专家评审会签 (新)"', 1)
        deploy_files(session=session, files={BPMN.name: text}, forms_dir=FORMS, deployed_by="designer1")
        session.commit()
        v2 = service.latest_definition(session=session, process_key="project_approval")
        assert v2.version == v1.version + 1

        [row] = migration.plan(session=session, from_definition_id=v1.id, to_definition_id=v2.id)
        assert row.can_move, row.reasons
        result = migration.migrate(
            session=session, from_definition_id=v1.id, to_definition_id=v2.id, actor="ops", reason="改名"
        )
        session.commit()
        assert [m.instance_id for m in result.moved] == [flow.instance_id]
        assert flow.instance.definition_id == v2.id
        assert {t.id: (t.element_id, t.assignee, t.due_at) for t in flow.open_tasks()} == before
        assert service.inspect_instance(session=session, instance_id=flow.instance_id)["timers"] == timers
        assert {t.title for t in flow.open_tasks() if t.element_id == "expert_review"} == {
            "专家评审会签 (新)"
        }

        for department in ("cz", "zj", "zrzy", "sthj"):
            flow.review(department)
        flow.expert("expert2")

    assert flow.instance.state == "completed"
    assert session.scalar(sa.select(ApprovalDocument)) is not None


@pytest.fixture()
def approvals_flow(session, org):
    from tests.approvals.conftest import BPMN, FORMS, Flow

    seed_from_chinese_calendar(session=session, first_year=2024, last_year=2026)
    deploy_files(
        session=session, files={BPMN.name: BPMN.read_text(encoding="utf-8")}, forms_dir=FORMS, deployed_by="t"
    )
    session.commit()
    return Flow(session, org)


@pytest.fixture()
def org(session):
    from tests.projects.factories import make_org

    made = make_org(session)
    session.commit()
    return made


def test_an_active_step_whose_element_type_changed_is_refused(session, deploy):
    v1 = deploy("migr_flow_v1.bpmn")
    instance = _start(session, "migr_flow")
    typed = deploy("migr_flow_manual.bpmn")  # step_a is a manual task now

    [row] = migration.plan(session=session, from_definition_id=v1.id, to_definition_id=typed.id)

    assert row.instance_id == instance.id and not row.can_move
    assert [(r.element_id, r.element_name) for r in row.reasons] == [("step_a", "填报")]
    assert "类型" in str(row.reasons[0].message)
