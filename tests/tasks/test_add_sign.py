"""加签 on a real process run (tests/workflow/bpmn/three_steps.bpmn: submit → review → approve)."""

import pytest
import sqlalchemy as sa

from backend.tasks import add_sign, drafts, service
from backend.tasks.errors import (
    AlreadySigner,
    DecisionHeld,
    InvalidSignPosition,
    InvalidTarget,
    NotASigner,
    NotAssignee,
    ReasonRequired,
    SignersPending,
    SignOnly,
)
from backend.tasks.models import HeldDecision, Notification, TaskAction
from backend.workflow import service as workflow
from backend.workflow.errors import NotAnEngineTask
from backend.workflow.models import Event, HumanTask, ProcessInstance
from tests.concurrency import race
from tests.workflow.conftest import deployed  # noqa: F401  (fixture)


@pytest.fixture()
def people(world):
    return {
        name: world.user(name, department=world.fgw)
        for name in ("applicant", "li", "wang", "zhao", "sun", "head")
    }


@pytest.fixture()
def review(session, deployed, people):  # noqa: F811
    """The `review` step of a fresh instance, held by li."""
    instance = workflow.start_instance(
        session=session, process_key="three_steps", data={"applicant": "applicant"}
    )
    (submit,) = _open(session, instance.id)
    workflow.complete_task(session=session, task_id=submit.id, data={"approved": True}, actor="applicant")
    (task,) = _open(session, instance.id)
    assert task.element_id == "review"
    task.assignee = "li"
    session.commit()
    return task


def _open(session, instance_id):
    return list(
        session.scalars(
            sa.select(HumanTask).filter_by(instance_id=instance_id, state="open", parent_task_id=None)
        )
    )


def _signers(session, task):
    return {s.assignee: s for s in add_sign.signers_of(session=session, task_id=task.id)}


def _steps(session, instance_id):
    return [t.element_id for t in _open(session, instance_id)]


def test_before_signers_sign_first_then_the_holder_decides(session, people, review):
    rows = add_sign.add_signers(
        session=session,
        user=people["li"],
        task_id=review.id,
        usernames=["wang", "zhao"],
        position="before",
        reason="请会签",
    )
    assert [(r.assignee, r.state, r.form) for r in rows] == [
        ("wang", "open", "task_add_sign.json"),
        ("zhao", "open", "task_add_sign.json"),
    ]
    # The signers find it in their own inbox; the engine knows nothing of it.
    page = service.my_tasks(session=session, user=people["wang"])
    assert [r.task.id for r in page.rows] == [rows[0].id]
    with pytest.raises(SignersPending, match="wang、zhao"):
        add_sign.submit(session=session, user=people["li"], task_id=review.id, data={"approved": True})

    add_sign.sign(
        session=session, user=people["wang"], task_id=rows[0].id, data={"approved": True, "opinion": "同意"}
    )
    with pytest.raises(SignersPending, match="zhao"):
        service.can_complete(session=session, user=people["li"], task=review)
    # zhao has not signed: li takes the request back.
    add_sign.remove_signer(
        session=session, user=people["li"], task_id=review.id, signer_task_id=rows[1].id, reason="不必了"
    )
    assert (rows[1].state, rows[1].outcome) == ("cancelled", "removed")
    assert service.my_tasks(session=session, user=people["zhao"]).rows == []

    assert (
        add_sign.submit(session=session, user=people["li"], task_id=review.id, data={"approved": True})
        == "completed"
    )
    session.commit()
    assert _steps(session, review.instance_id) == ["approve"]
    assert session.get(HumanTask, review.id).completed_by == "li"
    logged = [
        (a.action, a.target_user)
        for a in session.scalars(sa.select(TaskAction).filter_by(task_id=review.id).order_by(TaskAction.id))
    ]
    assert logged == [("add_sign", "wang"), ("add_sign", "zhao"), ("sign", None), ("remove_signer", "zhao")]
    # (new_task notes of the workflow's own steps aside)
    notes = [
        (n.user, n.kind)
        for n in session.scalars(
            sa.select(Notification).where(Notification.kind != "new_task").order_by(Notification.id)
        )
    ]
    # Asked, then told it was taken back; li removed zhao himself: nothing to tell him.
    assert notes == [("wang", "add_sign"), ("zhao", "add_sign"), ("zhao", "add_sign")]


def test_the_holder_is_told_when_the_last_before_signer_has_signed(session, people, review):
    (row,) = add_sign.add_signers(
        session=session,
        user=people["li"],
        task_id=review.id,
        usernames=["wang"],
        position="before",
        reason="请会签",
    )
    add_sign.sign(
        session=session, user=people["wang"], task_id=row.id, data={"approved": False, "opinion": "不妥"}
    )
    note = session.scalar(sa.select(Notification).filter_by(user="li").where(Notification.kind != "new_task"))
    assert (note.kind, note.task_id) == ("add_sign", review.id)
    assert service.can_complete(session=session, user=people["li"], task=review)


def test_after_signers_make_the_decision_take_effect(session, people, review):
    (row,) = add_sign.add_signers(
        session=session,
        user=people["li"],
        task_id=review.id,
        usernames=["wang"],
        position="after",
        reason="请复核",
    )
    assert row.state == "waiting"
    assert service.my_tasks(session=session, user=people["wang"]).rows == []  # not yet
    assert service.can_complete(session=session, user=people["li"], task=review)

    decision = {"approved": True, "opinion": "建议通过"}
    assert add_sign.submit(session=session, user=people["li"], task_id=review.id, data=decision) == "held"
    session.commit()
    assert row.state == "open"
    assert _steps(session, review.instance_id) == ["review"]  # the engine has not moved
    with pytest.raises(DecisionHeld, match="wang"):
        service.can_complete(session=session, user=people["li"], task=review)
    with pytest.raises(DecisionHeld):
        add_sign.add_signers(
            session=session,
            user=people["li"],
            task_id=review.id,
            usernames=["zhao"],
            position="after",
            reason="再加一位",
        )

    add_sign.sign(session=session, user=people["wang"], task_id=row.id, data={"approved": True})
    session.commit()
    done = session.get(HumanTask, review.id)
    assert (done.state, done.completed_by) == ("completed", "li")
    assert _steps(session, review.instance_id) == ["approve"]
    completed = session.scalar(sa.select(Event).filter_by(task_id=review.id, kind="task.completed"))
    assert (completed.actor, completed.detail["data"]) == ("li", decision)
    assert session.get(HeldDecision, review.id) is None


def test_an_after_signer_disagreeing_gives_the_task_back_with_the_form_kept(session, people, review):
    wang, zhao = add_sign.add_signers(
        session=session,
        user=people["li"],
        task_id=review.id,
        usernames=["wang", "zhao"],
        position="after",
        reason="请复核",
    )
    add_sign.submit(
        session=session, user=people["li"], task_id=review.id, data={"approved": True, "opinion": "通过"}
    )
    add_sign.sign(
        session=session,
        user=people["wang"],
        task_id=wang.id,
        data={"approved": False, "opinion": "投资估算偏高"},
    )
    session.commit()

    assert session.get(HumanTask, review.id).state == "open"
    assert session.get(HeldDecision, review.id) is None
    assert (zhao.state, zhao.outcome) == ("cancelled", "withdrawn")
    draft = drafts.get_draft(session=session, task_id=review.id, user="li")
    assert draft.data == {"approved": True, "opinion": "通过"}
    note = session.scalar(sa.select(Notification).filter_by(user="li", kind="returned"))
    assert "投资估算偏高" in note.title
    # li decides again; no after-signer is waiting now, so it completes.
    assert (
        add_sign.submit(
            session=session, user=people["li"], task_id=review.id, data={"approved": False, "opinion": "改"}
        )
        == "completed"
    )


def test_removing_the_last_pending_after_signer_lets_the_held_decision_through(session, people, review):
    wang, zhao = add_sign.add_signers(
        session=session,
        user=people["li"],
        task_id=review.id,
        usernames=["wang", "zhao"],
        position="after",
        reason="请复核",
    )
    add_sign.submit(session=session, user=people["li"], task_id=review.id, data={"approved": True})
    add_sign.sign(session=session, user=people["wang"], task_id=wang.id, data={"approved": True})
    add_sign.remove_signer(session=session, user=people["li"], task_id=review.id, signer_task_id=zhao.id)
    session.commit()
    assert _steps(session, review.instance_id) == ["approve"]


def test_refusals(session, people, review):
    def add(user="li", names=("wang",), position="before", reason="请会签"):
        return add_sign.add_signers(
            session=session,
            user=people[user],
            task_id=review.id,
            usernames=list(names),
            position=position,
            reason=reason,
        )

    with pytest.raises(NotAssignee):
        add(user="wang", names=["zhao"])
    with pytest.raises(ReasonRequired):
        add(reason="  ")
    with pytest.raises(InvalidTarget):
        add(names=["li"])
    with pytest.raises(InvalidSignPosition):
        add(position="sideways")
    (row,) = add()
    with pytest.raises(AlreadySigner):
        add(position="after")
    # A signer's step is signed, nothing else.
    with pytest.raises(SignOnly):
        service.transfer(session=session, user=people["wang"], task_id=row.id, to="zhao", reason="忙")
    with pytest.raises(SignOnly):
        add_sign.add_signers(
            session=session,
            user=people["wang"],
            task_id=row.id,
            usernames=["zhao"],
            position="before",
            reason="x",
        )
    with pytest.raises(NotAnEngineTask):
        workflow.complete_task(session=session, task_id=row.id, data={"approved": True}, actor="wang")
    with pytest.raises(NotAssignee):
        add_sign.sign(session=session, user=people["zhao"], task_id=row.id, data={"approved": True})
    add_sign.sign(session=session, user=people["wang"], task_id=row.id, data={"approved": True})
    with pytest.raises(NotASigner):
        add_sign.remove_signer(session=session, user=people["li"], task_id=review.id, signer_task_id=row.id)
    with pytest.raises(NotAssignee):
        add_sign.remove_signer(session=session, user=people["wang"], task_id=review.id, signer_task_id=row.id)


def test_signers_are_withdrawn_when_the_task_is_returned(session, people, review):
    (row,) = add_sign.add_signers(
        session=session,
        user=people["li"],
        task_id=review.id,
        usernames=["wang"],
        position="before",
        reason="请会签",
    )
    (submit_id,) = [t.id for t in workflow.returnable_steps(session=session, task_id=review.id)]
    workflow.return_task(
        session=session, task_id=review.id, to_task_id=submit_id, actor="li", reason="材料不全"
    )
    session.commit()
    assert session.get(HumanTask, row.id).state == "cancelled"
    assert service.my_tasks(session=session, user=people["wang"]).rows == []
    assert _steps(session, review.instance_id) == ["submit"]


@pytest.mark.parametrize("repeat", range(2))
def test_two_last_after_signers_signing_at_once_complete_the_task_once(app, session, people, review, repeat):
    wang, zhao = add_sign.add_signers(
        session=session,
        user=people["li"],
        task_id=review.id,
        usernames=["wang", "zhao"],
        position="after",
        reason="请复核",
    )
    add_sign.submit(session=session, user=people["li"], task_id=review.id, data={"approved": True})
    ids, instance_id = {"wang": wang.id, "zhao": zhao.id}, review.instance_id
    session.commit()  # and touch no row after it: a reload would hold SQLite's write lock

    def signing(name):
        def action(s):
            from backend.org.models import User

            user = s.scalar(sa.select(User).filter_by(username=name))
            return add_sign.sign(session=s, user=user, task_id=ids[name], data={"approved": True}).id

        return action

    outcomes = race(app, [signing("wang"), signing("zhao")])
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    session.expire_all()
    assert _steps(session, instance_id) == ["approve"]
    completed = session.scalars(sa.select(Event).filter_by(instance_id=instance_id, kind="task.completed"))
    assert [e.element_id for e in completed] == ["submit", "review"]
    assert session.get(ProcessInstance, instance_id).state == "running"
