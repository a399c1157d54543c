import json
from decimal import Decimal

import pytest
import sqlalchemy as sa

from backend.workflow import service
from backend.workflow.errors import TaskAlreadyHandled
from backend.workflow.host import host_context, load_run
from backend.workflow.models import Event, HumanTask, ProcessInstance


def _open_tasks(session, instance_id):
    return session.scalars(
        sa.select(HumanTask).filter_by(instance_id=instance_id, state="open").order_by(HumanTask.element_id)
    ).all()


def test_parallel_review_runs_to_completion_with_projections(session, deployed):
    instance = service.start_instance(
        session=session,
        process_key="parallel_review",
        data={"project": "P1"},
        business_key="2025-330100-48-01-000001",
        started_by="alice",
    )
    session.commit()
    tasks = _open_tasks(session, instance.id)
    assert [(t.element_id, t.candidate_group, t.form) for t in tasks] == [
        ("review_cz", "财政", "review.json"),
        ("review_fg", "发改", "review.json"),
    ]
    fg = next(t for t in tasks if t.element_id == "review_fg")
    assert fg.due_at is not None and fg.business_key == "2025-330100-48-01-000001"

    service.complete_task(session=session, task_id=fg.id, data={"approved": True}, actor="bob")
    session.commit()
    assert [t.element_id for t in _open_tasks(session, instance.id)] == ["review_cz"]
    cz = _open_tasks(session, instance.id)[0]
    service.complete_task(
        session=session, task_id=cz.id, data={"approved": True, "opinion": "同意"}, actor="carol"
    )
    session.commit()

    instance = session.get(ProcessInstance, instance.id)
    assert instance.state == "completed" and instance.completed_at is not None
    run = load_run(host_context(session), instance)
    assert run.data["outcome"] == "approved"
    assert run.data["total"] == Decimal("100.35")
    kinds = session.scalars(sa.select(Event.kind).filter_by(instance_id=instance.id).order_by(Event.id)).all()
    assert kinds[0] == "started" and kinds[-1] == "completed"
    assert kinds.count("task.completed") == 2 and kinds.count("task.ready") == 2
    done = session.scalar(
        sa.select(Event).filter_by(instance_id=instance.id, kind="task.completed", actor="carol")
    )
    assert done.detail["data"] == {"approved": True, "opinion": "同意"}


def test_serialized_state_round_trips(session, deployed):
    instance = service.start_instance(
        session=session, process_key="parallel_review", data={"amount": Decimal("1.10")}
    )
    session.commit()
    ctx = host_context(session)
    run = load_run(ctx, instance)
    dumped = run.dump()
    assert "task_specs" not in dumped  # the spec is stored once per version, not per instance
    again = load_run(ctx, instance)
    assert json.loads(again.dump()) == json.loads(dumped)
    assert {t.element_id for t in again.ready_user_tasks()} == {"review_fg", "review_cz"}
    assert again.ready_user_tasks()[0].data["amount"] == Decimal("1.10")


def test_second_completion_of_same_task_is_refused(session, deployed):
    instance = service.start_instance(session=session, process_key="parallel_review")
    session.commit()
    task = _open_tasks(session, instance.id)[0]
    service.complete_task(session=session, task_id=task.id, data={"approved": True}, actor="bob")
    session.commit()
    with pytest.raises(TaskAlreadyHandled) as excinfo:
        service.complete_task(session=session, task_id=task.id, data={"approved": False}, actor="eve")
    assert "已被处理" in str(excinfo.value)
    session.rollback()
    completed = session.get(HumanTask, task.id)
    assert completed.completed_by == "bob"


def test_running_instances_keep_their_version(session, deployed):
    from backend.workflow.deploy import deploy_files, read_directory

    from .conftest import BPMN_DIR, FORMS_DIR

    old = service.start_instance(session=session, process_key="parallel_review")
    session.commit()
    files = read_directory(BPMN_DIR)
    files["parallel_review.bpmn"] = files["parallel_review.bpmn"].replace(
        '"approved" if approved', '"ok" if approved'
    )
    deploy_files(session=session, files=files, forms_dir=FORMS_DIR, deployed_by="test")
    session.commit()
    new = service.start_instance(session=session, process_key="parallel_review")
    session.commit()
    assert new.definition.version == 2 and old.definition.version == 1
    for instance in (old, new):
        for task in _open_tasks(session, instance.id):
            service.complete_task(session=session, task_id=task.id, data={"approved": True}, actor="x")
            session.commit()
    ctx = host_context(session)
    assert load_run(ctx, session.get(ProcessInstance, old.id)).data["outcome"] == "approved"
    assert load_run(ctx, session.get(ProcessInstance, new.id)).data["outcome"] == "ok"


def test_runaway_script_becomes_incident_not_a_hang(session, deployed):
    instance = service.start_instance(session=session, process_key="runaway")
    session.commit()
    assert instance.state == "incident"
    incident = instance_incident(session, instance.id)
    assert incident.element_id == "spin" and incident.error_type == "SandboxTimeout"


def instance_incident(session, instance_id):
    from backend.workflow.models import Incident

    return session.scalar(sa.select(Incident).filter_by(instance_id=instance_id, state="open"))


def test_live_run_is_dropped_on_rollback_and_refreshed_when_stale(session, deployed):
    from backend.workflow import live_runs

    instance = service.start_instance(session=session, process_key="parallel_review")
    session.commit()
    first, second = _open_tasks(session, instance.id)
    # A completion that rolls back must leave no trace, in the database or in memory.
    service.complete_task(session=session, task_id=first.id, data={"approved": False}, actor="bob")
    session.rollback()
    assert live_runs.take(instance.id, session.get(ProcessInstance, instance.id).lock_version) is None
    session.rollback()
    assert [t.element_id for t in _open_tasks(session, instance.id)] == ["review_cz", "review_fg"]

    service.complete_task(session=session, task_id=first.id, data={"approved": True}, actor="bob")
    session.commit()
    # Another process writes the instance (here: the same completion replayed from stored
    # state): the kept run is stale by lock_version and must not be used.
    row = session.get(ProcessInstance, instance.id)
    session.execute(
        sa.update(ProcessInstance)
        .where(ProcessInstance.id == instance.id)
        .values(lock_version=row.lock_version + 1)
    )
    session.commit()
    service.complete_task(session=session, task_id=second.id, data={"approved": True}, actor="carol")
    session.commit()
    done = session.get(ProcessInstance, instance.id)
    assert done.state == "completed"
    assert load_run(host_context(session), done).data["outcome"] == "approved"
