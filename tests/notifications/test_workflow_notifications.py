"""Notifications the workflow causes, on real runs of project_approval: new tasks, returns,
withdrawals, reminders and escalations of time limits."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
import time_machine

from backend import jobs
from backend.extensions import db
from backend.org.models import Department, User
from backend.org.service import active_members
from backend.tasks import service as tasks
from backend.workdays.service import seed_from_chinese_calendar
from backend.workflow import service as workflow
from backend.workflow.deploy import deploy_files
from backend.workflow.models import HumanTask
from tests.projects.factories import PROJECT_CODE
from tests.workflow.conftest import BPMN_DIR, FORMS_DIR

from .conftest import notes, received_by


def _person(session, username, department, role, *, active=True):
    session.add(
        User(
            username=username,
            display_name=username,
            department_id=session.scalar(sa.select(Department.id).filter_by(code=department)),
            roles=[role],
            active=active,
        )
    )


def test_new_tasks_reach_their_assignee_or_the_active_members_of_their_group(flow, session):
    _person(session, "fgw_window_away", "fgw", "window", active=False)
    _person(session, "fgw_reviewer2", "fgw", "reviewer")
    _person(session, "cz_reviewer_away", "cz", "reviewer", active=False)
    session.commit()

    flow.submit()
    (intake,) = flow.open_tasks()
    (note,) = notes(session)
    assert (note.user, note.kind, note.task_id, note.link) == (
        "fgw_window",
        "new_task",
        intake.id,
        f"/tasks/{intake.id}",
    )
    assert note.title == f"新任务「受理审查 ({PROJECT_CODE})」待签收"

    flow.accept(experts=("expert1", "expert2", "expert3"))
    opened = {t.id: t for t in flow.open_tasks()}
    assert len(opened) == 8  # five department reviews and three experts, opened by one save
    reached = sorted((n.user, opened[n.task_id].element_id) for n in notes(session) if n.task_id in opened)
    assert reached == [
        ("cz_reviewer", "review_cz"),
        ("expert1", "expert_review"),
        ("expert2", "expert_review"),
        ("expert3", "expert_review"),
        ("fgw_reviewer", "review_fgw"),
        ("fgw_reviewer2", "review_fgw"),
        ("sthj_reviewer", "review_sthj"),
        ("zj_reviewer", "review_zj"),
        ("zrzy_reviewer", "review_zrzy"),
    ]
    # Each expert hears of their own countersign task, as its assignee.
    for note in notes(session, user="expert2"):
        assert opened[note.task_id].assignee == "expert2"
        assert note.title == f"新任务「专家评审会签 ({PROJECT_CODE})」待您办理"


@pytest.fixture()
def three_steps(session, org):  # noqa: F811
    """tests/workflow's submit (assignee: the applicant) → review (fgw.reviewer) → approve
    (fgw.head), run by the org fixture's people."""
    seed_from_chinese_calendar(session=session, first_year=2024, last_year=2026)
    path = BPMN_DIR / "three_steps.bpmn"
    deploy_files(
        session=session,
        files={path.name: path.read_text(encoding="utf-8")},
        forms_dir=FORMS_DIR,
        deployed_by="test",
    )
    instance = workflow.start_instance(
        session=session, process_key="three_steps", data={"applicant": "applicant"}, business_key="P-1"
    )
    session.commit()
    return instance.id


def _open(session, instance_id, element_id):
    (task,) = session.scalars(
        sa.select(HumanTask).filter_by(instance_id=instance_id, element_id=element_id, state="open")
    ).all()
    return task


def _complete(session, instance_id, element_id, actor):
    task = _open(session, instance_id, element_id)
    workflow.complete_task(session=session, task_id=task.id, data={"approved": True}, actor=actor)
    session.commit()
    return task.id


def test_a_return_tells_whoever_gets_the_step_back_with_the_reason(three_steps, session):
    submit_id = _open(session, three_steps, "submit").id
    assert received_by(session, task_id=submit_id) == {"applicant": ["新任务「申报 (P-1)」待您办理"]}
    _complete(session, three_steps, "submit", "applicant")
    review_id = _complete(session, three_steps, "review", "fgw_reviewer")
    approve = _open(session, three_steps, "approve")
    assert received_by(session, task_id=approve.id) == {"fgw_head": ["新任务「审定 (P-1)」待签收"]}

    workflow.return_task(
        session=session,
        task_id=approve.id,
        to_task_id=review_id,
        actor="fgw_head",
        reason="意见不完整, 请补充",
    )
    session.commit()

    reopened = _open(session, three_steps, "review")
    (returned,) = notes(session, kind="returned")
    assert (returned.user, returned.task_id) == ("fgw_reviewer", reopened.id)
    assert returned.title == "fgwhead 退回任务「初审 (P-1)」: 意见不完整, 请补充"
    # Announced as returned, not as one more new task; not to the one who returned it.
    assert len(notes(session, kind="new_task", user="fgw_reviewer")) == 1
    assert received_by(session, user="fgw_head") == {"fgw_head": ["新任务「审定 (P-1)」待签收"]}


def test_a_withdrawal_notifies_nobody(three_steps, session):
    _complete(session, three_steps, "submit", "applicant")
    review_id = _complete(session, three_steps, "review", "fgw_reviewer")
    before = len(notes(session))
    workflow.withdraw_task(session=session, task_id=review_id, actor="fgw_reviewer", reason="意见需修改")
    session.commit()
    assert _open(session, three_steps, "review").assignee == "fgw_reviewer"
    assert len(notes(session)) == before


def _tick(session, at):
    """The scheduler's pass at `at`: hand due instances to a worker, run the jobs."""
    with time_machine.travel(at, tick=False):
        workflow.schedule_due_timers(session=session)
        session.commit()
        jobs.drain()
    session.expire_all()


def test_time_limit_reminds_the_assignee_then_escalates_to_the_head(flow, session):
    _person(session, "fgw_head_away", "fgw", "head", active=False)
    session.commit()
    # Friday 26 Sep 2025 10:00; the intake limit (2 working days) ends with Monday 29 Sep
    # (Sunday 28 Sep is an adjusted working day); the reminder comes a working day earlier.
    with time_machine.travel(datetime(2025, 9, 26, 2, 0, tzinfo=UTC), tick=False):
        flow.submit()
        (intake,) = flow.open_tasks()
        window = session.scalar(sa.select(User).filter_by(username="fgw_window"))
        tasks.claim(session=session, user=window, task_id=intake.id)
        session.commit()

    _tick(session, datetime(2025, 9, 28, 16, 0, 1, tzinfo=UTC))
    (reminded,) = notes(session, kind="reminded")
    assert (reminded.user, reminded.task_id) == ("fgw_window", intake.id)
    assert reminded.title == f"任务「受理审查 ({PROJECT_CODE})」即将到期, 办理期限 2025-09-29, 请及时办理"
    assert reminded.created_at == datetime(2025, 9, 28, 16, 0, 1, tzinfo=UTC)
    assert notes(session, kind="escalated") == []

    _tick(session, datetime(2025, 9, 29, 16, 0, 1, tzinfo=UTC))
    assert received_by(session, kind="escalated") == {
        "fgw_window": [f"任务「受理审查 ({PROJECT_CODE})」已超过办理时限, 已提交督办"],
        "fgw_head": [f"督办: 任务「受理审查 ({PROJECT_CODE})」已超过办理时限, 办理人 fgwwindow"],
    }


def test_an_escalation_to_a_person_and_of_an_unclaimed_task(flow, session):
    """`to` may name one person; an unclaimed task's group hears of it."""
    flow.submit()
    (intake,) = flow.open_tasks()
    workflow.stamp_open_tasks(
        session=session,
        instance_id=flow.instance_id,
        stamp="escalated_at",
        now=datetime.now(UTC),
        escalated_to="sj_head",
    )
    session.commit()
    assert received_by(session, kind="escalated") == {
        "fgw_window": [f"任务「受理审查 ({PROJECT_CODE})」已超过办理时限, 已提交督办"],
        "sj_head": [f"督办: 任务「受理审查 ({PROJECT_CODE})」已超过办理时限, 办理人 fgw.window (待签收)"],
    }


def test_active_members_of_many_groups_is_one_query(flow, session):
    _person(session, "zj_reviewer_away", "zj", "reviewer", active=False)
    session.commit()
    groups = {"fgw.reviewer", "zj.reviewer", "expert", f"unit.{flow.org.unit.id}", "nobody.role"}
    statements = []

    def count(*args):
        if not args[2].startswith("BEGIN"):  # the unit of work's own start (SQLite)
            statements.append(args[2])

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        people = active_members(
            session=session,
            groups=groups,
            usernames={"cz_head", "zj_reviewer_away"},
        )
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 1
    assert sorted(u.username for u in people) == sorted(
        ["fgw_reviewer", "zj_reviewer", "applicant", "cz_head", *(f"expert{i}" for i in range(1, 8))]
    )
    # Departments came with the same query: group membership needs no more reads.
    statements.clear()
    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert all(isinstance(u.groups, set) for u in people)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert statements == []
