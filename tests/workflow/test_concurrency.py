"""Two actions on one instance at the same moment: both take effect, or one is refused
cleanly; state is never lost or forked. Real threads, real database connections."""

import sqlalchemy as sa

from backend.workflow import service
from backend.workflow.errors import TaskAlreadyHandled
from backend.workflow.models import Event, HumanTask, ProcessInstance
from tests.concurrency import race


def _complete(task_id, actor):
    return lambda s: service.complete_task(session=s, task_id=task_id, data={"approved": True}, actor=actor)


def test_two_threads_complete_parallel_branches(app, session, deployed):
    # Runs on SQLite and, in the PostgreSQL pass of `make test`, on PostgreSQL (FOR UPDATE).
    for _ in range(3):
        instance = service.start_instance(session=session, process_key="parallel_review")
        session.commit()
        ids = session.scalars(sa.select(HumanTask.id).filter_by(instance_id=instance.id, state="open")).all()
        session.rollback()  # end our read transaction (on SQLite it holds the write lock)
        outcomes = race(app, [_complete(ids[0], "bob"), _complete(ids[1], "carol")])
        assert [type(o).__name__ for o in outcomes] == ["ProcessInstance", "ProcessInstance"]
        session.expire_all()
        done = session.get(ProcessInstance, instance.id)
        assert done.state == "completed"  # both completions are in the state: the join passed
        completed = session.scalars(
            sa.select(Event.actor).filter_by(instance_id=instance.id, kind="task.completed")
        ).all()
        assert sorted(completed) == ["bob", "carol"]


def test_same_task_clicked_twice(app, session, deployed):
    instance = service.start_instance(session=session, process_key="parallel_review")
    session.commit()
    task_id = session.scalars(
        sa.select(HumanTask.id).filter_by(instance_id=instance.id, state="open")
    ).first()
    session.rollback()
    outcomes = race(app, [_complete(task_id, "bob"), _complete(task_id, "eve")])
    refusals = [o for o in outcomes if isinstance(o, Exception)]
    assert len(refusals) == 1
    (refusal,) = refusals
    assert isinstance(refusal, TaskAlreadyHandled)
    session.expire_all()
    assert (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(Event)
            .filter_by(instance_id=instance.id, kind="task.completed")
        )
        == 1
    )
