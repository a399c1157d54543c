"""办理时限 in working days: reminders and escalations fire at the end of the right working day,
across the adjusted working Sunday before National Day 2025 and the eight-day holiday itself.

The 2025 schedule: Sun 28 Sep is a working day (调休上班); 1–8 Oct are off; Sat 11 Oct is a
working day. A limit of N working days ends at local midnight after the N-th working day
following the day the task arrived (the day of arrival never counts): 00:00 +08:00 is
16:00 UTC of the day before. A timer fires once its due time has passed: the scheduler's
pass one second later.
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import time_machine

from backend import jobs
from backend.approvals import service as approvals
from backend.projects.models import Project
from backend.workflow import service as workflow
from backend.workflow.models import Event, HumanTask, Timer


def utc(month, day, hour=16):
    return datetime(2025, month, day, hour, 0, tzinfo=UTC)


def just_after(moment):
    return moment + timedelta(seconds=1)


def _tick(session, at):
    """The scheduler's pass at `at`: hand due instances to a worker, run the jobs."""
    with time_machine.travel(at, tick=False):
        due = workflow.schedule_due_timers(session=session)
        session.commit()
        jobs.drain()
    session.expire_all()
    return due


def _tasks(session, element_id):
    return session.scalars(
        sa.select(HumanTask).filter_by(element_id=element_id).order_by(HumanTask.created_at)
    ).all()


def _events(session, kind):
    return session.scalars(sa.select(Event).filter_by(kind=kind).order_by(Event.id)).all()


def test_intake_limit_counts_the_adjusted_working_sunday(flow, session):
    # Friday 26 Sep 10:00: day 1 is Sunday 28 Sep (调休上班), day 2 Monday 29 Sep.
    with time_machine.travel(datetime(2025, 9, 26, 2, 0, tzinfo=UTC), tick=False):
        flow.submit()
    (intake,) = _tasks(session, "intake")
    assert intake.due_at == utc(9, 29)
    assert session.get(Timer, flow.instance_id).due_at == utc(9, 28)  # the reminder comes first

    assert _tick(session, utc(9, 28)) == 0  # the very end of Sunday: not yet
    assert _tick(session, just_after(utc(9, 28))) == 1
    session.refresh(intake)
    assert (intake.reminded_at, intake.escalated_at) == (just_after(utc(9, 28)), None)
    _tick(session, just_after(utc(9, 29)))
    session.refresh(intake)
    assert intake.escalated_at == just_after(utc(9, 29))
    assert intake.state == "open"  # non-interrupting: the window still decides
    (escalated,) = _events(session, "task.escalated")
    assert (escalated.element_id, escalated.detail["escalated_to"]) == ("intake", "fgw.head")

    with time_machine.travel(utc(9, 30, 2), tick=False):
        flow.accept()
    project = session.scalar(sa.select(Project))
    (opinion,) = approvals.opinions_of_project(session=session, project_id=project.id)
    # Arrived Fri 26, decided Tue 30: Sun 28, Mon 29, Tue 30 are working days.
    assert (opinion.working_days_used, opinion.overdue, opinion.due_at) == (3, True, utc(9, 29))


def test_review_limits_across_national_day(flow, session):
    with time_machine.travel(utc(9, 29, 2), tick=False):
        flow.submit()
    # Accepted Tuesday 30 Sep 10:00, the last working day before the holiday.
    with time_machine.travel(utc(9, 30, 2), tick=False):
        flow.accept(experts=("expert1", "expert2", "expert3"))

    # Working days after 30 Sep: 9 Oct (1), 10 (2), Sat 11 (3), 13 (4), 14 (5), 15 (6), 16 (7),
    # 17 (8), 20 (9), 21 (10).
    due = {t.element_id: t.due_at for t in flow.open_tasks()}
    assert due == {
        "review_fgw": utc(10, 14),
        "review_cz": utc(10, 14),
        "review_zj": utc(10, 14),
        "review_zrzy": utc(10, 16),
        "review_sthj": utc(10, 21),
        "expert_review": utc(10, 14),
    }
    assert session.get(Timer, flow.instance_id).due_at == utc(10, 13)  # first reminders: end of day 4

    assert _tick(session, utc(10, 13)) == 0
    _tick(session, just_after(utc(10, 13)))
    reminded = sorted(
        (t.element_id, t.assignee) for t in flow.open_tasks() if t.reminded_at == just_after(utc(10, 13))
    )
    assert reminded == [
        ("expert_review", "expert1"),
        ("expert_review", "expert2"),
        ("expert_review", "expert3"),
        ("review_cz", None),
        ("review_fgw", None),
        ("review_zj", None),
    ]
    assert all(
        t.reminded_at is None for t in flow.open_tasks() if t.element_id in ("review_zrzy", "review_sthj")
    )

    # 发改 decides in time on day 5; its limit timer goes with its task.
    with time_machine.travel(utc(10, 14, 3), tick=False):
        flow.review("fgw")
    _tick(session, just_after(utc(10, 14)))
    escalated = {t.element_id for t in flow.open_tasks() if t.escalated_at == just_after(utc(10, 14))}
    assert escalated == {"review_cz", "review_zj", "expert_review"}
    targets = {e.element_id: e.detail["escalated_to"] for e in _events(session, "task.escalated")}
    assert targets == {"review_cz": "cz.head", "review_zj": "zj.head", "expert_review": "fgw.head"}

    _tick(session, just_after(utc(10, 15)))
    assert flow.task("review_zrzy").reminded_at == just_after(utc(10, 15))
    _tick(session, just_after(utc(10, 16)))
    assert flow.task("review_zrzy").escalated_at == just_after(utc(10, 16))
    _tick(session, just_after(utc(10, 20)))
    assert flow.task("review_sthj").reminded_at == just_after(utc(10, 20))
    assert flow.task("review_sthj").escalated_at is None
    _tick(session, just_after(utc(10, 21)))
    assert flow.task("review_sthj").escalated_at == just_after(utc(10, 21))
    assert session.get(Timer, flow.instance_id) is None  # every limit has passed
    assert flow.open_steps() == ["expert_review", "review_cz", "review_sthj", "review_zj", "review_zrzy"]

    with time_machine.travel(utc(10, 22, 2), tick=False):
        for department in ("cz", "zj", "zrzy", "sthj"):
            flow.review(department)
        flow.expert("expert1")
        flow.expert("expert2")
    assert flow.instance.state == "completed"

    project = session.scalar(sa.select(Project))
    cycle = {
        (o.step, o.reviewer): (o.working_days_used, o.overdue)
        for o in approvals.opinions_of_project(session=session, project_id=project.id)
    }
    assert cycle[("review_fgw", "fgw_reviewer")] == (5, False)
    # 22 Oct is the 11th working day after 30 Sep.
    assert cycle[("review_cz", "cz_reviewer")] == (11, True)
    assert cycle[("review_sthj", "sthj_reviewer")] == (11, True)
    assert cycle[("expert_review", "expert1")] == (11, True)
