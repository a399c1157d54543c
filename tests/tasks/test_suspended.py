"""挂起 (cockpit suspend) stops every task operation of the instance, not only completion:
签收, 转办, 委托, 加签, 退回, 撤回 ... are refused with one Chinese message; drafts may be saved.
A real process run (tests/workflow/bpmn/three_steps.bpmn: submit → review → approve)."""

import pytest
import sqlalchemy as sa

from backend.tasks import add_sign, drafts, service
from backend.tasks.models import Delegation, TaskAction, TaskCopy
from backend.workflow import service as workflow
from backend.workflow.errors import InstanceSuspended
from backend.workflow.models import Event, HumanTask, ProcessInstance
from tests.workflow.conftest import deployed  # noqa: F401  (fixture)

from .test_views import flow, html, open_task, person, signed_in, submit  # noqa: F401  (fixtures)

SUSPENDED = "流程实例已挂起, 暂不能办理; 请联系运维人员恢复后再试"


@pytest.fixture()
def people(world):
    return {
        name: world.user(name, department=world.fgw)
        for name in ("applicant", "li", "wang", "zhao", "sun", "head")
    }


def _open(session, instance_id):
    return list(
        session.scalars(
            sa.select(HumanTask).filter_by(instance_id=instance_id, state="open", parent_task_id=None)
        )
    )


@pytest.fixture()
def review(session, deployed, people):  # noqa: F811
    """The `review` step of a fresh instance, still unclaimed in fgw.reviewer's queue."""
    instance = workflow.start_instance(
        session=session, process_key="three_steps", data={"applicant": "applicant"}
    )
    (submit_task,) = _open(session, instance.id)
    workflow.complete_task(
        session=session, task_id=submit_task.id, data={"approved": True}, actor="applicant"
    )
    (task,) = _open(session, instance.id)
    assert task.element_id == "review" and task.candidate_group == "fgw.reviewer"
    session.commit()
    return task


def _suspend(session, instance_id):
    workflow.suspend_instance(session=session, instance_id=instance_id, actor="ops", reason="数据核查")
    session.commit()


def _resume(session, instance_id):
    workflow.resume_instance(session=session, instance_id=instance_id, actor="ops", reason="核查完毕")
    session.commit()


def _submit_id(session, instance_id):
    return session.scalar(
        sa.select(HumanTask.id).filter_by(instance_id=instance_id, element_id="submit", state="completed")
    )


# Every operation on li's claimed review step, each as (name, call(session, people, task)).
OPERATIONS = [
    ("unclaim", lambda s, p, t: service.unclaim(session=s, user=p["li"], task_id=t.id)),
    (
        "transfer",
        lambda s, p, t: service.transfer(session=s, user=p["li"], task_id=t.id, to="wang", reason="请办理"),
    ),
    (
        "delegate",
        lambda s, p, t: service.delegate(session=s, user=p["li"], task_id=t.id, to="wang", reason="请提意见"),
    ),
    ("cc", lambda s, p, t: service.cc(session=s, user=p["li"], task_id=t.id, to=["wang"])),
    ("urge", lambda s, p, t: service.urge(session=s, user=p["applicant"], task_id=t.id, reason="请尽快")),
    (
        "add_sign",
        lambda s, p, t: add_sign.add_signers(
            session=s, user=p["li"], task_id=t.id, usernames=["wang"], position="before", reason="请会签"
        ),
    ),
    (
        "submit",
        lambda s, p, t: add_sign.submit(session=s, user=p["li"], task_id=t.id, data={"approved": True}),
    ),
    (
        "complete",
        lambda s, p, t: workflow.complete_task(session=s, task_id=t.id, data={"approved": True}, actor="li"),
    ),
    (
        "return",
        lambda s, p, t: workflow.return_task(
            session=s, task_id=t.id, to_task_id=_submit_id(s, t.instance_id), actor="li", reason="材料不全"
        ),
    ),
]


@pytest.mark.parametrize("operation", [op for _name, op in OPERATIONS], ids=[n for n, _op in OPERATIONS])
def test_a_suspended_instance_refuses_the_operation_and_allows_it_after_resume(
    session, people, review, operation
):
    service.claim(session=session, user=people["li"], task_id=review.id)
    session.commit()
    _suspend(session, review.instance_id)
    actions_before = session.scalar(sa.select(sa.func.count()).select_from(TaskAction))
    events_before = session.scalar(sa.select(sa.func.count()).select_from(Event))

    with pytest.raises(InstanceSuspended) as refused:
        operation(session, people, review)
    assert str(refused.value) == SUSPENDED
    session.rollback()
    session.expire_all()
    # Nothing moved: same holder, same open step, no log or history row.
    assert [(t.element_id, t.assignee) for t in _open(session, review.instance_id)] == [("review", "li")]
    assert session.scalar(sa.select(sa.func.count()).select_from(TaskAction)) == actions_before
    assert session.scalar(sa.select(sa.func.count()).select_from(Event)) == events_before
    assert not session.scalars(sa.select(HumanTask).filter_by(parent_task_id=review.id)).all()

    # Resumed, the same operation goes through: the refusal was the suspension, nothing else.
    _resume(session, review.instance_id)
    operation(session, people, session.get(HumanTask, review.id))
    session.commit()


def test_claim_is_refused_while_suspended(session, people, review):
    _suspend(session, review.instance_id)
    with pytest.raises(InstanceSuspended, match="已挂起"):
        service.claim(session=session, user=people["li"], task_id=review.id)
    session.rollback()
    session.expire_all()
    assert session.get(HumanTask, review.id).assignee is None
    _resume(session, review.instance_id)
    assert service.claim(session=session, user=people["li"], task_id=review.id).assignee == "li"


def test_withdraw_is_refused_while_suspended(session, people, review):
    submit_id = _submit_id(session, review.instance_id)
    _suspend(session, review.instance_id)
    with pytest.raises(InstanceSuspended, match="已挂起"):
        workflow.withdraw_task(session=session, task_id=submit_id, actor="applicant", reason="补充材料")
    session.rollback()
    session.expire_all()
    assert [t.element_id for t in _open(session, review.instance_id)] == ["review"]

    _resume(session, review.instance_id)
    workflow.withdraw_task(session=session, task_id=submit_id, actor="applicant", reason="补充材料")
    session.commit()
    session.expire_all()
    assert [(t.element_id, t.assignee) for t in _open(session, review.instance_id)] == [
        ("submit", "applicant")
    ]


def test_signers_and_delegates_cannot_answer_while_suspended(session, people, review):
    service.claim(session=session, user=people["li"], task_id=review.id)
    (signer,) = add_sign.add_signers(
        session=session,
        user=people["li"],
        task_id=review.id,
        usernames=["wang"],
        position="before",
        reason="会签",
    )
    service.delegate(session=session, user=people["li"], task_id=review.id, to="zhao", reason="请提意见")
    session.commit()
    _suspend(session, review.instance_id)

    for refused in (
        lambda: add_sign.sign(
            session=session, user=people["wang"], task_id=signer.id, data={"approved": True}
        ),
        lambda: add_sign.remove_signer(
            session=session, user=people["li"], task_id=review.id, signer_task_id=signer.id
        ),
        lambda: service.answer_delegation(
            session=session, user=people["zhao"], task_id=review.id, opinion="同意"
        ),
    ):
        with pytest.raises(InstanceSuspended):
            refused()
        session.rollback()
    session.expire_all()
    assert session.get(HumanTask, signer.id).state == "open"
    assert session.scalar(sa.select(Delegation.answered_at).filter_by(task_id=review.id)) is None
    assert session.scalar(sa.select(sa.func.count()).select_from(TaskCopy)) == 0


def test_a_draft_can_still_be_saved_while_suspended(session, people, review):
    service.claim(session=session, user=people["li"], task_id=review.id)
    session.commit()
    _suspend(session, review.instance_id)
    drafts.save_draft(session=session, task_id=review.id, user="li", data={"opinion": "草拟中"})
    session.commit()
    assert drafts.get_draft(session=session, task_id=review.id, user="li").data == {"opinion": "草拟中"}


# --- the task page -------------------------------------------------------------------------


def test_the_task_page_says_suspended_and_offers_only_the_draft(app, session, flow):  # noqa: F811
    submit(app, session, flow)
    review = open_task(session, flow, "review")
    li = signed_in(app, "li")
    unclaimed = html(li.get(f"/tasks/{review.id}"))
    assert f'action="/tasks/{review.id}/claim"' in unclaimed  # offered while running

    _suspend(session, flow.id)
    page = html(li.get(f"/tasks/{review.id}"))
    assert 'id="instance-suspended"' in page and "流程已挂起" in page
    assert "/claim" not in page  # no 签收 either
    refused = li.post(f"/tasks/{review.id}/claim", follow_redirects=True)
    assert SUSPENDED in html(refused)

    _resume(session, flow.id)
    li.post(f"/tasks/{review.id}/claim")
    running = html(li.get(f"/tasks/{review.id}"))
    assert 'id="operations"' in running and ">提交</button>" in running
    assert 'id="instance-suspended"' not in running

    _suspend(session, flow.id)
    page = html(li.get(f"/tasks/{review.id}"))
    assert 'id="instance-suspended"' in page
    assert 'id="operations"' not in page and "/unclaim" not in page and "/return" not in page
    assert ">提交</button>" not in page and "保存草稿" in page  # the form stays, for a draft

    saved = li.post(f"/tasks/{review.id}", data={"_draft": "1", "approved": "true", "opinion": "草拟意见"})
    assert saved.status_code == 302
    assert drafts.get_draft(session=session, task_id=review.id, user="li").data["opinion"] == "草拟意见"
    completed = li.post(
        f"/tasks/{review.id}", data={"approved": "true", "opinion": "同意通过"}, follow_redirects=True
    )
    assert SUSPENDED in html(completed)
    session.expire_all()
    assert session.get(HumanTask, review.id).state == "open"
    assert session.get(ProcessInstance, flow.id).state == "suspended"


def test_the_withdraw_button_is_hidden_while_suspended(app, session, flow):  # noqa: F811
    done = submit(app, session, flow)
    applicant = signed_in(app, "applicant")
    assert 'id="op-withdraw"' in html(applicant.get(f"/tasks/{done.id}"))
    _suspend(session, flow.id)
    page = html(applicant.get(f"/tasks/{done.id}"))
    assert 'id="instance-suspended"' in page and 'id="op-withdraw"' not in page
    refused = applicant.post(f"/tasks/{done.id}/withdraw", data={"reason": "补充"}, follow_redirects=True)
    assert SUSPENDED in html(refused)
