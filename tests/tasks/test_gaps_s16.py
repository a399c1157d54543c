"""Reviewer-facing gaps (session 16): candidate groups shown by name, paged notifications,
已办 newest completion first, and 签收/办理 against a concurrent 挂起."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from backend.authz.models import Role
from backend.db import utcnow
from backend.extensions import db
from backend.org.groups import group_names
from backend.org.models import User
from backend.tasks import add_sign, service
from backend.tasks.errors import NotCandidate, TaskActionError
from backend.tasks.models import HeldDecision, Notification, TaskAction
from backend.workflow import service as workflow
from backend.workflow.errors import InstanceSuspended
from backend.workflow.models import Event, HumanTask, ProcessInstance
from tests.concurrency import race
from tests.workflow.conftest import deployed  # noqa: F401  (fixture)

from .conftest import NOW
from .test_suspended_english import english
from .test_views import flow, html, open_task, person, signed_in, submit  # noqa: F401  (fixtures)

SUSPENDED = "流程实例已挂起, 暂不能办理; 请联系运维人员恢复后再试"
FGW_REVIEWERS = "发展和改革委员会审查人员"


# --- 1. candidate groups by name ---------------------------------------------------------------


def test_group_codes_in_words_and_unknown_codes_as_they_are(session, world):
    session.add(Role(code="auditor2", name="复核专员", builtin=False))
    session.flush()
    names = group_names(
        session=session,
        codes=[
            "fgw.reviewer",
            "cz.head",
            f"unit.{world.unit.id}",
            "expert",
            "fgw.auditor2",
            "nosuch.reviewer",
            "fgw.nosuchrole",
            "unit.999999",
            "unit.x",
            "plainunknown",
            None,
        ],
    )
    assert {code: str(name.label()) for code, name in names.items()} == {
        "fgw.reviewer": FGW_REVIEWERS,
        "cz.head": "财政局部门负责人",
        f"unit.{world.unit.id}": "某建设单位",
        "expert": "评审专家",
        "fgw.auditor2": "发展和改革委员会复核专员",  # a role the security admin added
        "nosuch.reviewer": "nosuch.reviewer",
        "fgw.nosuchrole": "fgw.nosuchrole",
        "unit.999999": "unit.999999",
        "unit.x": "unit.x",
        "plainunknown": "plainunknown",
    }


def _position(page: str) -> str:
    start = page.index('id="position"')
    return page[start : page.index("</div>\n    </div>", start)]


def test_the_task_page_says_who_holds_the_step_by_name(app, session, flow):  # noqa: F811
    submit(app, session, flow)
    review = open_task(session, flow, "review")
    assert review.candidate_group == "fgw.reviewer" and review.assignee is None
    position = _position(html(signed_in(app, "applicant").get(f"/tasks/{review.id}")))
    assert f"等待 {FGW_REVIEWERS} 签收" in position
    assert "fgw.reviewer" not in position


def test_the_task_page_in_english_names_the_role_in_english(app, session, flow):  # noqa: F811
    submit(app, session, flow)
    review = open_task(session, flow, "review")
    position = _position(html(english(app, "applicant").get(f"/tasks/{review.id}")))
    assert "发展和改革委员会 Reviewer" in position and "fgw.reviewer" not in position


def test_the_cockpit_instance_page_names_the_group(app, session, world, flow):  # noqa: F811
    submit(app, session, flow)
    person(world, "ops", department=world.fgw, roles=("operator",))
    session.commit()
    page = html(signed_in(app, "ops").get(f"/cockpit/instances/{flow.id}"))
    waiting = re.search(r"<li>初审 &middot; ([^<&]*)", page)
    assert waiting and waiting.group(1).strip() == FGW_REVIEWERS, page


def test_a_refused_claim_names_the_group(session, world):
    outsider = world.user("zhao", department=world.cz)
    task = world.task(group="fgw.reviewer")
    with pytest.raises(NotCandidate) as refused:
        service.claim(session=session, user=outsider, task_id=task.id)
    assert str(refused.value) == f"您不在该任务的候选组 ({FGW_REVIEWERS}) 中, 不能签收"
    assert refused.value.data["group"] == "fgw.reviewer"  # callers (the API) keep the code


# --- 2. notifications in pages ------------------------------------------------------------------


def _links(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-notification="(\d+)"', page)]


def test_notifications_come_in_pages_of_20_newest_first(app, session, world):
    person(world, "li", department=world.fgw)
    base = utcnow() - timedelta(days=1)
    # 45 notes; pairs share a moment, so the id must break the tie across page edges.
    notes = [
        service.notify(
            session=session, users=["li"], kind="cc", title=f"通知{i}", now=base + timedelta(minutes=i // 2)
        )[0]
        for i in range(45)
    ]
    service.notify(session=session, users=["wang"], kind="cc", title="别人的")
    session.commit()
    newest_first = [n.id for n in sorted(notes, key=lambda n: (n.created_at, n.id), reverse=True)]
    client = signed_in(app, "li")
    assert "data-unread-badge>45<" in html(client.get("/inbox"))

    seen, url, pages = [], "/notifications", 0
    while url:
        page = html(client.get(url))
        pages += 1
        ids = _links(page)
        assert len(ids) == (20 if pages < 3 else 5)
        seen += ids
        if pages == 1:  # this page's 20 are read now; the other 25 are counted, not lost
            assert 'data-unread-left="25"' in page and "其他页还有 25 条未读" in page
            assert "data-unread-badge>25<" in page
        more = re.search(r'rel="next" href="([^"]+)"', page)
        url = more.group(1).replace("&amp;", "&") if more else None
    assert seen == newest_first and pages == 3
    assert "data-unread-badge>0<" in html(client.get("/inbox"))
    assert (
        session.scalar(
            sa.select(sa.func.count()).select_from(Notification).filter_by(user="wang", read_at=None)
        )
        == 1
    )


def test_mark_all_read_reaches_every_page(app, session, world):
    person(world, "li", department=world.fgw)
    for i in range(30):
        service.notify(
            session=session, users=["li"], kind="cc", title=f"通知{i}", now=NOW + timedelta(minutes=i)
        )
    session.commit()
    client = signed_in(app, "li")
    first = html(client.get("/notifications"))
    assert "data-unread-badge>10<" in first
    response = client.post("/notifications/read")
    assert response.status_code == 302 and response.location.endswith("/notifications")
    page = html(client.get("/notifications"))
    assert "data-unread-badge>0<" in page and "data-unread-left" not in page
    assert session.scalar(sa.select(sa.func.count()).select_from(Notification).filter_by(read_at=None)) == 0


def test_a_foreign_cursor_starts_again_from_the_first_page(app, session, world):
    person(world, "li", department=world.fgw)
    session.commit()
    response = signed_in(app, "li").get("/notifications?cursor=bm90LWEtY3Vyc29y")
    assert response.status_code == 302 and response.location.endswith("/notifications")
    with pytest.raises(TaskActionError, match="分页参数无效"):
        service.notification_page(session=session, user=session.scalar(sa.select(User)), cursor="x")


def test_the_unread_count_is_what_the_pages_can_show(app, session, world):
    """A person of 宁波 does not see notes about a 杭州 instance (data scope), so the badge
    must not count them: an unread note no page shows could never be read."""
    nb = person(world, "nb", department=world.fgw)
    nb.region_code = "330200"
    hz_instance = world.instance(business_key=world.project("2026-330102-48-01-000077", "330102").code)
    service.notify(session=session, users=["nb"], kind="cc", title="杭州的", instance_id=hz_instance.id)
    service.notify(session=session, users=["nb"], kind="cc", title="系统通知")
    session.commit()
    client = signed_in(app, "nb")
    assert "data-unread-badge>1<" in html(client.get("/inbox"))
    page = html(client.get("/notifications"))
    assert "系统通知" in page and "杭州的" not in page
    assert "data-unread-badge>0<" in page


# --- 3. 已办: newest completion first -----------------------------------------------------------


def test_done_is_newest_completion_first_with_a_stable_tie_breaker(session, world):
    me = world.user("li", department=world.fgw)
    t = NOW - timedelta(days=30)
    # Completion times against due and arrival times (the old order), ties in threes.
    done = []
    for i in range(10):
        task = world.task(
            assignee="li",
            state="completed",
            completed_by="li",
            completed_at=t + timedelta(hours=i // 3),
            due_at=t + timedelta(days=10 - i),
            created_at=t - timedelta(days=i),
        )
        done.append(task)
    undated = world.task(assignee="li", state="completed", completed_by="li", completed_at=None)
    world.task(assignee="wang", state="completed", completed_by="wang", completed_at=t + timedelta(days=1))
    expected = [x.id for x in sorted(done, key=lambda x: (x.completed_at, x.id), reverse=True)] + [undated.id]

    for size in (1, 2, 3, 4, 20):
        seen, cursor = [], None
        while True:
            page = service.done_by_me(session=session, user=me, cursor=cursor, limit=size, now=NOW)
            seen += [row.task.id for row in page.rows]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == expected, size

    # The other tabs' cursors are not 已办's, and the other way round.
    world.task(assignee="li")
    world.task(assignee="li")
    mine = service.my_tasks(session=session, user=me, limit=1, now=NOW)
    with pytest.raises(TaskActionError, match="分页参数无效"):
        service.done_by_me(session=session, user=me, cursor=mine.next_cursor, now=NOW)
    first = service.done_by_me(session=session, user=me, limit=1, now=NOW)
    with pytest.raises(TaskActionError, match="分页参数无效"):
        service.my_tasks(session=session, user=me, cursor=first.next_cursor, now=NOW)


def test_done_keeps_the_due_filter(session, world):
    me = world.user("li", department=world.fgw)
    late = world.task(
        assignee="li", state="completed", completed_by="li", completed_at=NOW, due_at=NOW - timedelta(days=3)
    )
    world.task(
        assignee="li", state="completed", completed_by="li", completed_at=NOW, due_at=NOW + timedelta(days=60)
    )
    undated = world.task(assignee="li", state="completed", completed_by="li", completed_at=NOW)
    overdue = service.done_by_me(
        session=session, user=me, filters=service.InboxFilters(due_state="overdue"), now=NOW
    )
    assert [r.task.id for r in overdue.rows] == [late.id]
    on_time = service.done_by_me(
        session=session, user=me, filters=service.InboxFilters(due_state="on_time"), now=NOW
    )
    assert undated.id in [r.task.id for r in on_time.rows] and late.id not in [
        r.task.id for r in on_time.rows
    ]


def test_the_done_tab_shows_when_each_was_completed(app, session, world):
    person(world, "li", department=world.fgw)
    older = world.task(
        assignee="li", state="completed", completed_by="li", completed_at=NOW - timedelta(days=2)
    )
    newer = world.task(assignee="li", state="completed", completed_by="li", completed_at=NOW)
    session.commit()
    page = html(signed_in(app, "li").get("/inbox?tab=done"))
    assert page.index(f'data-task-id="{newer.id}"') < page.index(f'data-task-id="{older.id}"')
    assert "<th>办理时间</th>" in page and "2026-11-18 10:00" in page


# --- 4. 签收/办理 against a concurrent 挂起 -------------------------------------------------------


@pytest.fixture()
def people(world):
    return {name: world.user(name, department=world.fgw) for name in ("applicant", "li", "wang")}


def _review_step(session):
    """A fresh three_steps instance at its `review` step, unclaimed, committed."""
    instance = workflow.start_instance(
        session=session, process_key="three_steps", data={"applicant": "applicant"}
    )
    submit_task = session.scalar(sa.select(HumanTask).filter_by(instance_id=instance.id, state="open"))
    workflow.complete_task(
        session=session, task_id=submit_task.id, data={"approved": True}, actor="applicant"
    )
    task = session.scalar(sa.select(HumanTask).filter_by(instance_id=instance.id, state="open"))
    assert task.element_id == "review"
    session.commit()
    return task.id, instance.id


class SuspendDuring:
    """Another unit of work's 挂起 of the instance, committed just before statement number `at`
    of the operation, unless the operation holds the instance's row lock by then (a suspend
    then waits until the operation commits: it does not happen inside it). Every point is
    tried in turn, so each interleaving of the two is checked, deterministically, on SQLite
    (whose write lock serializes real threads) as on PostgreSQL. The suspension is written
    on the operation's connection: what its next statements read is what READ COMMITTED
    would show them after the other commit."""

    def __init__(self, instance_id: int, at: int):
        self.instance_id, self.at = instance_id, at
        self.count, self.locked, self.fired, self.busy = 0, False, False, False

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        if self.busy:
            return
        self.count += 1
        if self.count == self.at and not self.locked:
            self.busy = True
            try:
                conn.execute(
                    sa.update(ProcessInstance.__table__)
                    .where(ProcessInstance.__table__.c.id == self.instance_id)
                    .values(state="suspended")
                )
            finally:
                self.busy = False
            self.fired = True
        compiled = getattr(context, "compiled", None)
        stmt = getattr(compiled, "statement", None)
        if (
            isinstance(stmt, sa.Select)
            and stmt._for_update_arg is not None
            and "process_instance" in statement
        ):
            self.locked = True


OPERATIONS = {
    "claim": lambda s, task_id: service.claim(
        session=s, user=s.scalar(sa.select(User).filter_by(username="li")), task_id=task_id
    ),
    "submit": lambda s, task_id: add_sign.submit(
        session=s,
        user=s.scalar(sa.select(User).filter_by(username="li")),
        task_id=task_id,
        data={"approved": True},
    ),
}


@pytest.mark.parametrize("name", ["claim", "submit", "submit_held"])
def test_a_concurrent_suspend_is_never_overtaken(session, deployed, people, name):  # noqa: F811
    """At every point where 挂起 may commit during 签收 or 办理: either it came first and the
    operation is refused with the Chinese message, nothing written; or the operation held the
    lock, went through, and the suspend waits for it. Never: done on a suspended instance."""
    outcomes = set()
    for at in range(1, 16):
        task_id, instance_id = _review_step(session)
        if name != "claim":
            service.claim(session=session, user=people["li"], task_id=task_id)
            if name == "submit_held":  # an after-signer: the decision is held, not completed
                add_sign.add_signers(
                    session=session,
                    user=people["li"],
                    task_id=task_id,
                    usernames=["wang"],
                    position="after",
                    reason="请会签",
                )
            session.commit()
        actions_before = session.scalar(sa.select(sa.func.count()).select_from(TaskAction))
        events_before = session.scalar(sa.select(sa.func.count()).select_from(Event))
        operation = OPERATIONS["submit" if name == "submit_held" else name]
        suspend = SuspendDuring(instance_id, at)
        event.listen(db.engine, "before_cursor_execute", suspend)
        try:
            operation(session, task_id)
            session.flush()
            error = None
        except InstanceSuspended as exc:
            error = exc
        finally:
            event.remove(db.engine, "before_cursor_execute", suspend)
        if error is None:
            assert not suspend.fired, f"{name} went through on a suspended instance (suspend at {at})"
            session.commit()
            outcomes.add("done")
            continue
        assert suspend.fired and str(error) == SUSPENDED
        # Refused before writing anything: the rollback takes back only the suspend itself.
        assert session.scalar(sa.select(sa.func.count()).select_from(TaskAction)) == actions_before
        assert session.scalar(sa.select(sa.func.count()).select_from(Event)) == events_before
        assert session.get(HeldDecision, task_id) is None
        session.rollback()
        task = session.get(HumanTask, task_id)
        assert task.state == "open" and task.assignee == (None if name == "claim" else "li")
        outcomes.add("refused")
    assert outcomes == {"done", "refused"}  # both orders were met


def test_claim_and_suspend_in_real_threads(app, session, deployed, people):  # noqa: F811
    """Real connections (PostgreSQL in CI): whichever commits first, a claim that went
    through was logged before the instance was suspended."""
    for _ in range(4):
        task_id, instance_id = _review_step(session)
        session.rollback()  # on SQLite our read transaction would hold the write lock

        def claim(s, task_id=task_id):
            return service.claim(
                session=s, user=s.scalar(sa.select(User).filter_by(username="li")), task_id=task_id
            )

        def suspend(s, instance_id=instance_id):
            return workflow.suspend_instance(
                session=s, instance_id=instance_id, actor="ops", reason="数据核查"
            )

        claimed, suspended = race(app, [claim, suspend])
        assert isinstance(suspended, ProcessInstance), suspended
        session.expire_all()
        suspended_at = session.scalar(
            sa.select(Event.at).filter_by(instance_id=instance_id, kind="suspended")
        )
        claims = session.scalars(sa.select(TaskAction.at).filter_by(task_id=task_id, action="claim")).all()
        if isinstance(claimed, InstanceSuspended):
            assert claims == [] and session.get(HumanTask, task_id).assignee is None
        else:
            assert isinstance(claimed, HumanTask), claimed
            assert len(claims) == 1 and claims[0] < suspended_at


def test_opening_notifications_marks_them_read_in_a_writing_transaction(app, session, world):
    """The page is a GET (a deferred read transaction on SQLite); marking its rows read must
    start a transaction of its own with BEGIN IMMEDIATE, or a writer that committed in between
    makes the upgrade fail with "database is locked"."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's transaction modes")
    person(world, "li", department=world.fgw)
    service.notify(session=session, users=["li"], kind="cc", title="一条通知")
    session.commit()
    client = signed_in(app, "li")
    begins: list[str] = []

    def seen(conn, cursor, statement, *args):
        word = statement.lstrip().upper()
        if word.startswith(("BEGIN", "UPDATE NOTIFICATION")):
            begins.append("UPDATE" if word.startswith("UPDATE") else word)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert client.get("/notifications").status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert "UPDATE" in begins
    assert begins[begins.index("UPDATE") - 1] == "BEGIN IMMEDIATE"
    assert session.scalar(sa.select(Notification.read_at).where(Notification.title == "一条通知")) is not None
