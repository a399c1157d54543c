from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
import time_machine

from backend.org.models import User
from backend.tasks import service
from backend.tasks.errors import (
    AlreadyClaimed,
    DelegationPending,
    InvalidTarget,
    NoPendingDelegation,
    NotAssignee,
    NotCandidate,
    NotInGroupQueue,
    NotInvolved,
    ReasonRequired,
    TaskNotOpen,
    UnknownUser,
    UrgedTooSoon,
)
from backend.tasks.models import Delegation, Notification, TaskAction, TaskCopy
from backend.workflow.errors import TaskNotFound
from backend.workflow.models import HumanTask
from tests.concurrency import race

from .conftest import NOW


def actions(session, task_id):
    return [
        (a.action, a.actor, a.target_user, a.reason)
        for a in session.scalars(sa.select(TaskAction).filter_by(task_id=task_id).order_by(TaskAction.id))
    ]


def notifications(session, user=None):
    query = sa.select(Notification).order_by(Notification.id)
    if user:
        query = query.filter_by(user=user)
    return [(n.user, n.kind, n.task_id) for n in session.scalars(query)]


@pytest.fixture()
def people(world):
    return {
        "li": world.user("li", department=world.fgw),
        "wang": world.user("wang", department=world.fgw),
        "zhao": world.user("zhao", department=world.cz),
        "head": world.user("head", department=world.fgw, roles=("head",)),
        "gone": world.user("gone", department=world.fgw, active=False),
    }


# --- claim / unclaim -------------------------------------------------------------------------


def test_claim_takes_a_group_task_and_logs_it(world, session, people):
    task = world.task(group="fgw.reviewer")
    service.claim(session=session, user=people["li"], task_id=task.id, now=NOW)
    assert task.assignee == "li"
    assert actions(session, task.id) == [("claim", "li", None, None)]
    assert service.tab_counts(session=session, user=people["wang"])["group"] == 0


def test_claim_refusals(world, session, people):
    task = world.task(group="fgw.reviewer")
    with pytest.raises(NotCandidate, match="候选组"):
        service.claim(session=session, user=people["zhao"], task_id=task.id)
    service.claim(session=session, user=people["li"], task_id=task.id)
    with pytest.raises(AlreadyClaimed, match="已被 li 签收"):
        service.claim(session=session, user=people["wang"], task_id=task.id)
    closed = world.task(state="completed")
    with pytest.raises(TaskNotOpen, match="已被处理"):
        service.claim(session=session, user=people["li"], task_id=closed.id)
    with pytest.raises(TaskNotFound):
        service.claim(session=session, user=people["li"], task_id="missing")
    assert [a[0] for a in actions(session, task.id)] == ["claim"]


def test_two_concurrent_claims_one_wins(app, world, session, people):
    task_id = world.task(group="fgw.reviewer").id
    # Committed and nothing touched after: a refresh here would hold SQLite's write lock.
    session.commit()

    def claim_as(username):
        def action(s):
            user = s.scalar(sa.select(User).filter_by(username=username))
            return service.claim(session=s, user=user, task_id=task_id).assignee

        return action

    outcomes = race(app, [claim_as("li"), claim_as("wang")])
    winners = [o for o in outcomes if isinstance(o, str)]
    losers = [o for o in outcomes if isinstance(o, AlreadyClaimed)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert session.get(HumanTask, task_id).assignee == winners[0]
    assert [a[1] for a in actions(session, task_id)] == winners


def test_unclaim_only_by_the_assignee_and_only_for_group_tasks(world, session, people):
    task = world.task(group="fgw.reviewer", assignee="li")
    with pytest.raises(NotAssignee, match="当前办理人为 li"):
        service.unclaim(session=session, user=people["wang"], task_id=task.id)
    service.unclaim(session=session, user=people["li"], task_id=task.id, reason="出差")
    assert task.assignee is None
    assert actions(session, task.id) == [("unclaim", "li", None, "出差")]
    # The rest of the group hears it is back (not the one who gave it back, nor the head).
    assert notifications(session) == [("wang", "new_task", task.id)]
    direct = world.task(group=None, assignee="li")
    with pytest.raises(NotInGroupQueue):
        service.unclaim(session=session, user=people["li"], task_id=direct.id)


# --- transfer ---------------------------------------------------------------------------------


def test_transfer_hands_the_task_over_and_notifies(world, session, people):
    task = world.task(assignee="li")
    service.transfer(session=session, user=people["li"], task_id=task.id, to="zhao", reason="属财政职责")
    assert task.assignee == "zhao"
    assert actions(session, task.id) == [("transfer", "li", "zhao", "属财政职责")]
    assert notifications(session) == [("zhao", "transferred", task.id)]
    assert service.can_complete(session=session, user=people["zhao"], task=task)
    with pytest.raises(NotAssignee):
        service.can_complete(session=session, user=people["li"], task=task)


def test_transfer_refusals(world, session, people):
    task = world.task(assignee="li")
    with pytest.raises(NotAssignee):
        service.transfer(session=session, user=people["wang"], task_id=task.id, to="zhao", reason="x")
    with pytest.raises(ReasonRequired, match="理由"):
        service.transfer(session=session, user=people["li"], task_id=task.id, to="zhao", reason="  ")
    with pytest.raises(UnknownUser):
        service.transfer(session=session, user=people["li"], task_id=task.id, to="nobody", reason="x")
    with pytest.raises(UnknownUser):
        service.transfer(session=session, user=people["li"], task_id=task.id, to="gone", reason="x")
    with pytest.raises(InvalidTarget):
        service.transfer(session=session, user=people["li"], task_id=task.id, to="li", reason="x")
    assert task.assignee == "li"
    assert actions(session, task.id) == [] and notifications(session) == []


# --- delegate ---------------------------------------------------------------------------------


def test_delegation_round_trip(world, session, people):
    task = world.task(assignee="li")
    service.delegate(session=session, user=people["li"], task_id=task.id, to="wang", reason="请核对投资估算")
    assert task.assignee == "wang"
    # Nobody decides while the opinion is pending; the delegate cannot pass it on either.
    with pytest.raises(DelegationPending, match="委托 wang"):
        service.can_complete(session=session, user=people["wang"], task=task)
    with pytest.raises(NotAssignee):
        service.can_complete(session=session, user=people["li"], task=task)
    with pytest.raises(DelegationPending):
        service.transfer(session=session, user=people["wang"], task_id=task.id, to="zhao", reason="x")
    with pytest.raises(NoPendingDelegation):
        service.answer_delegation(session=session, user=people["zhao"], task_id=task.id, opinion="同意")
    with pytest.raises(ReasonRequired):
        service.answer_delegation(session=session, user=people["wang"], task_id=task.id, opinion="")

    service.answer_delegation(session=session, user=people["wang"], task_id=task.id, opinion="估算合理")
    assert task.assignee == "li"
    delegation = session.scalar(sa.select(Delegation))
    assert (delegation.owner, delegation.delegate, delegation.opinion) == ("li", "wang", "估算合理")
    assert delegation.answered_at is not None
    assert service.can_complete(session=session, user=people["li"], task=task)
    assert actions(session, task.id) == [
        ("delegate", "li", "wang", "请核对投资估算"),
        ("delegate_return", "wang", "li", "估算合理"),
    ]
    assert notifications(session) == [("wang", "delegated", task.id), ("li", "returned", task.id)]
    with pytest.raises(NoPendingDelegation):
        service.answer_delegation(session=session, user=people["wang"], task_id=task.id, opinion="again")


def test_delegate_refusals(world, session, people):
    task = world.task(assignee="li")
    with pytest.raises(NotAssignee):
        service.delegate(session=session, user=people["wang"], task_id=task.id, to="zhao", reason="x")
    with pytest.raises(ReasonRequired):
        service.delegate(session=session, user=people["li"], task_id=task.id, to="zhao", reason="")
    with pytest.raises(InvalidTarget):
        service.delegate(session=session, user=people["li"], task_id=task.id, to="li", reason="x")
    assert session.scalar(sa.select(sa.func.count()).select_from(Delegation)) == 0


# --- cc ---------------------------------------------------------------------------------------


def test_cc_copies_for_information_only(world, session, people):
    task = world.task(assignee="li")
    service.cc(
        session=session, user=people["li"], task_id=task.id, to=["wang", "zhao", "wang"], note="供参阅"
    )
    assert sorted(c.to_user for c in session.scalars(sa.select(TaskCopy))) == ["wang", "zhao"]
    assert notifications(session) == [("wang", "cc", task.id), ("zhao", "cc", task.id)]
    assert [a[:3] for a in actions(session, task.id)] == [("cc", "li", "wang"), ("cc", "li", "zhao")]
    page = service.copied_to_me(session=session, user=people["wang"])
    assert [r.task.id for r in page.rows] == [task.id]
    with pytest.raises(NotAssignee):  # a copy gives no right to act
        service.can_complete(session=session, user=people["wang"], task=task)


def test_cc_refusals(world, session, people):
    task = world.task(assignee="li")
    with pytest.raises(NotAssignee):
        service.cc(session=session, user=people["wang"], task_id=task.id, to=["zhao"])
    with pytest.raises(UnknownUser):
        service.cc(session=session, user=people["li"], task_id=task.id, to=["zhao", "nobody"])
    with pytest.raises(UnknownUser):
        service.cc(session=session, user=people["li"], task_id=task.id, to=[])
    assert session.scalar(sa.select(sa.func.count()).select_from(TaskCopy)) == 0


# --- urge -------------------------------------------------------------------------------------

WEDNESDAY = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # 10:00 Shanghai


def test_urge_once_per_working_day(world, session, people):
    task = world.task(instance=world.instance(started_by="zhao"), assignee="li")
    with time_machine.travel(WEDNESDAY, tick=False) as clock:
        service.urge(session=session, user=people["zhao"], task_id=task.id, reason="项目急需开工")
        assert notifications(session) == [("li", "urged", task.id)]
        clock.move_to(datetime(2026, 11, 18, 15, 59, tzinfo=UTC))  # 23:59 the same day
        with pytest.raises(UrgedTooSoon, match="2026-11-18 10:00") as refused:
            service.urge(session=session, user=people["zhao"], task_id=task.id)
        assert refused.value.data["last_at"] == WEDNESDAY
        clock.move_to(datetime(2026, 11, 18, 16, 1, tzinfo=UTC))  # 00:01 Thursday in Shanghai
        service.urge(session=session, user=people["zhao"], task_id=task.id)
        # Friday's urge holds over the weekend: next one on Monday.
        clock.move_to(datetime(2026, 11, 20, 2, 0, tzinfo=UTC))
        service.urge(session=session, user=people["zhao"], task_id=task.id)
        clock.move_to(datetime(2026, 11, 22, 2, 0, tzinfo=UTC))  # Sunday
        with pytest.raises(UrgedTooSoon):
            service.urge(session=session, user=people["zhao"], task_id=task.id)
        clock.move_to(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))  # Monday
        service.urge(session=session, user=people["zhao"], task_id=task.id)
    assert [a[0] for a in actions(session, task.id)] == ["urge"] * 4
    assert len(notifications(session, "li")) == 4


def test_urge_needs_involvement_or_the_departments_head(world, session, people):
    task = world.task(group="fgw.reviewer")
    with pytest.raises(NotInvolved, match="催办"):
        service.urge(session=session, user=people["zhao"], task_id=task.id, now=WEDNESDAY)
    # The head of the candidate department may; an unclaimed task notifies its whole group.
    service.urge(session=session, user=people["head"], task_id=task.id, now=WEDNESDAY)
    assert sorted(n[0] for n in notifications(session)) == ["li", "wang"]
    # Someone who acted on another task of the same instance is involved too.
    instance = world.instance(started_by="someone")
    other = world.task(instance=instance, assignee="li")
    later = world.task(instance=instance, group="cz.reviewer")
    service.transfer(session=session, user=people["li"], task_id=other.id, to="wang", reason="调整分工")
    service.urge(session=session, user=people["li"], task_id=later.id, now=WEDNESDAY)
    assert ("zhao", "urged", later.id) in notifications(session)


def test_urging_a_closed_task_is_refused(world, session, people):
    task = world.task(instance=world.instance(started_by="zhao"), state="completed")
    with pytest.raises(TaskNotOpen):
        service.urge(session=session, user=people["zhao"], task_id=task.id, now=WEDNESDAY)


# --- notifications ----------------------------------------------------------------------------


def test_notifications_unread_and_mark_read(world, session, people):
    task = world.task(assignee="li")
    created = service.notify(
        session=session, users=["li", "li", "wang", None], kind="new_task", title="新任务", task_id=task.id
    )
    assert [n.user for n in created] == ["li", "wang"]
    assert created[0].link == f"/tasks/{task.id}"
    unread = service.unread_notifications(session=session, user=people["li"])
    assert [n.id for n in unread] == [created[0].id]
    # Someone else's notification is not mine to mark.
    assert (
        service.mark_read(session=session, user=people["li"], notification_ids=[n.id for n in created]) == 1
    )
    session.expire_all()
    assert service.unread_notifications(session=session, user=people["li"]) == []
    assert len(service.unread_notifications(session=session, user=people["wang"])) == 1


def test_can_complete_refuses_a_closed_task(world, session, people):
    task = world.task(assignee="li", state="cancelled")
    with pytest.raises(TaskNotOpen):
        service.can_complete(session=session, user=people["li"], task=task)
