"""退回 (return to an earlier step) and 撤回 (withdraw while the next person has not acted)."""

import pytest
import sqlalchemy as sa

from backend.workflow import service
from backend.workflow.errors import CannotReturn, CannotWithdraw, ReasonRequired
from backend.workflow.host import host_context, load_run
from backend.workflow.models import Event, HumanTask, ProcessInstance


def _open(session, instance_id):
    return session.scalars(sa.select(HumanTask).filter_by(instance_id=instance_id, state="open")).all()


def _complete(session, instance_id, element, actor, **data):
    (task,) = [t for t in _open(session, instance_id) if t.element_id == element]
    service.complete_task(session=session, task_id=task.id, data={"approved": True, **data}, actor=actor)
    session.commit()
    return task.id


def _start(session):
    instance = service.start_instance(
        session=session, process_key="three_steps", data={"applicant": "applicant"}
    )
    session.commit()
    return instance


def test_return_to_the_applicant_with_reasons_then_flow_continues(session, deployed):
    instance = _start(session)
    submit_id = _complete(session, instance.id, "submit", "applicant", opinion="v1")
    review_id = _complete(session, instance.id, "review", "li")
    (approve,) = _open(session, instance.id)
    steps = service.returnable_steps(session=session, task_id=approve.id)
    assert [s.element_id for s in steps] == ["review", "submit"]  # nearest first

    with pytest.raises(ReasonRequired):
        service.return_task(
            session=session, task_id=approve.id, to_task_id=submit_id, actor="wang", reason=" "
        )
    session.rollback()
    service.return_task(
        session=session, task_id=approve.id, to_task_id=submit_id, actor="wang", reason="材料不全"
    )
    session.commit()

    (again,) = _open(session, instance.id)
    assert (again.id, again.element_id, again.assignee) == (submit_id, "submit", "applicant")
    assert session.get(HumanTask, approve.id).outcome == "returned"
    run = load_run(host_context(session), session.get(ProcessInstance, instance.id))
    assert run.ready_user_tasks()[0].data["returned"]["reason"] == "材料不全"
    returned = session.scalar(sa.select(Event).filter_by(instance_id=instance.id, kind="task.returned"))
    assert (returned.actor, returned.detail["to_element"]) == ("wang", "submit")
    # History keeps round one: both review completions will be there.
    _complete(session, instance.id, "submit", "applicant", opinion="v2")
    _complete(session, instance.id, "review", "li")
    _complete(session, instance.id, "approve", "wang")
    assert session.get(ProcessInstance, instance.id).state == "completed"
    completed = session.scalars(
        sa.select(Event.element_id)
        .filter_by(instance_id=instance.id, kind="task.completed")
        .order_by(Event.id)
    ).all()
    assert completed == ["submit", "review", "submit", "review", "approve"]
    assert review_id in session.scalars(sa.select(Event.task_id).filter_by(kind="task.completed")).all()


def test_cannot_return_to_a_step_that_is_not_earlier(session, deployed):
    instance = _start(session)
    _complete(session, instance.id, "submit", "applicant")
    (review,) = _open(session, instance.id)
    with pytest.raises(CannotReturn):
        service.return_task(session=session, task_id=review.id, to_task_id=review.id, actor="li", reason="x")


def test_withdraw_until_the_next_person_acts(session, deployed):
    instance = _start(session)
    submit_id = _complete(session, instance.id, "submit", "applicant")
    with pytest.raises(CannotWithdraw):
        service.withdraw_task(session=session, task_id=submit_id, actor="someone_else", reason="改一下")
    session.rollback()
    service.withdraw_task(session=session, task_id=submit_id, actor="applicant", reason="补充附件")
    session.commit()
    (back,) = _open(session, instance.id)
    assert (back.id, back.assignee) == (submit_id, "applicant")
    assert session.scalar(
        sa.select(HumanTask).filter_by(instance_id=instance.id, element_id="review")
    ).state == ("cancelled")

    _complete(session, instance.id, "submit", "applicant")
    _complete(session, instance.id, "review", "li")
    with pytest.raises(CannotWithdraw):  # the reviewer has acted: too late for the applicant
        service.withdraw_task(session=session, task_id=submit_id, actor="applicant", reason="再改")


def test_questions_of_one_session_restore_the_workflow_once(session, deployed, monkeypatch):
    from backend.workflow import host

    instance = _start(session)
    submit_id = _complete(session, instance.id, "submit", "applicant", opinion="v1")
    (review,) = _open(session, instance.id)
    restores = []
    real_restore = host.ProcessRun.restore
    monkeypatch.setattr(
        host.ProcessRun, "restore", lambda *a, **k: restores.append(1) or real_restore(*a, **k)
    )
    host.live_runs.clear()  # as in another worker process: nothing kept in memory

    assert service.task_data(session=session, task_id=review.id)["opinion"] == "v1"
    assert [s.id for s in service.returnable_steps(session=session, task_id=review.id)] == [submit_id]
    assert len(restores) == 1
    # A change moves the version on: the next question sees the new state, not the memo.
    _complete(session, instance.id, "review", "li", opinion="v2")
    (approve,) = _open(session, instance.id)
    assert service.task_data(session=session, task_id=approve.id)["opinion"] == "v2"
