"""flask processes deploy|list and the scheduler's start-up pass, as an operator runs them."""

import shutil
from datetime import UTC, datetime

import sqlalchemy as sa
import time_machine

from backend.workflow import scheduler, service
from backend.workflow.models import Event, ProcessDefinition

from .conftest import BPMN_DIR, FORMS_DIR


def _cli(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def test_deploy_twice_then_list(app, session, monkeypatch):
    monkeypatch.setitem(app.config, "FORMS_DIR", str(FORMS_DIR))
    first = _cli(app, "processes", "deploy", "--dir", str(BPMN_DIR))
    assert first.exit_code == 0, first.output
    assert "deployed  parallel_review v1" in first.output
    second = _cli(app, "processes", "deploy", "--dir", str(BPMN_DIR))
    assert second.exit_code == 0 and "deployed " not in second.output
    assert "unchanged parallel_review v1" in second.output
    listing = _cli(app, "processes", "list")
    assert listing.exit_code == 0
    rows = [line for line in listing.output.splitlines() if line.startswith("parallel_review")]
    assert len(rows) == 1 and " 1 " in rows[0]


def test_bad_file_refuses_everything_and_names_the_line(app, session, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "FORMS_DIR", str(FORMS_DIR))
    for f in BPMN_DIR.glob("*.bpmn"):
        shutil.copy(f, tmp_path / f.name)
    bad = tmp_path / "timed_review.bpmn"
    bad.write_text(
        bad.read_text(encoding="utf-8").replace("working_days_from_now(3)", "__import__('os')"),
        encoding="utf-8",
    )
    result = _cli(app, "processes", "deploy", "--dir", str(tmp_path))
    assert result.exit_code == 1
    line = next(
        i for i, text in enumerate(bad.read_text(encoding="utf-8").splitlines(), 1) if 'id="deadline"' in text
    )
    assert f"timed_review.bpmn:{line} [deadline]" in result.output
    assert session.scalar(sa.select(sa.func.count()).select_from(ProcessDefinition)) == 0


def test_scheduler_start_up_pass_fires_what_came_due_while_down(app, session, deployed):
    with time_machine.travel(datetime(2025, 9, 24, 2, 0, tzinfo=UTC), tick=False):
        instance = service.start_instance(session=session, process_key="timed_review")
        session.commit()
    # Weeks later the platform starts again: the first scheduler pass enqueues the overdue
    # timer, relays it, and a worker fires it.
    with time_machine.travel(datetime(2025, 10, 20, 1, 0, tzinfo=UTC), tick=False):
        assert scheduler.tick(app) == 1
        from backend import jobs

        jobs.drain()
    fired = session.scalars(
        sa.select(Event.element_id).filter_by(instance_id=instance.id, kind="timer.fired")
    ).all()
    assert "remind" in fired
