"""Scheduled retraining: due after RISK_RETRAIN_DAYS, trains on stored finished histories."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from backend.jobs.models import OutboxJob
from backend.risk import demo, retrain, simulator
from backend.risk import model as risk_model
from backend.risk.store import save_histories


@pytest.fixture()
def model_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "RISK_MODEL_DIR", str(tmp_path / "models"))
    return tmp_path / "models"


def _queued(session):
    return session.scalars(sa.select(OutboxJob).where(OutboxJob.actor == retrain.JOB)).all()


def test_schedule_enqueues_once_a_day_until_a_fresh_model_exists(app, session, model_dir, monkeypatch):
    now = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    assert retrain.schedule_retrain(session=session, now=now) is True  # no model yet
    assert retrain.schedule_retrain(session=session, now=now + timedelta(hours=3)) is False  # same day
    assert len(_queued(session)) == 1
    save_histories(session=session, histories=simulator.simulate(120, seed=5), source="simulator")
    model = retrain.retrain(session=session, now=now)
    assert model.version == 1 and model.card["n_projects"] > 50
    written = risk_model.latest_version()[1]
    assert retrain.schedule_retrain(session=session, now=written + timedelta(days=6)) is False
    assert retrain.schedule_retrain(session=session, now=written + timedelta(days=7, hours=1)) is True
    monkeypatch.setitem(app.config, "RISK_RETRAIN_DAYS", 0)
    assert retrain.schedule_retrain(session=session, now=written + timedelta(days=30)) is False


def test_job_without_enough_data_logs_and_trains_nothing(app, session, model_dir):
    retrain.run_retrain({"by": "test"})
    assert risk_model.load_latest() is None


def test_training_histories_are_the_finished_ones_of_every_source(app, session, model_dir):
    a = simulator.simulate(30, seed=6)
    save_histories(session=session, histories=a[:20], source="one")
    save_histories(session=session, histories=a[10:], source="two")  # 10 overlap by project_id
    got = retrain.training_histories(session=session, as_of=datetime(2026, 1, 1).date())
    assert sorted(h.project_id for h in got) == sorted(h.project_id for h in a if h.actual_end is not None)


def test_demo_load_is_idempotent_and_trains_v1(app, session, model_dir):
    assert demo.load(session=session) == demo.DEMO_PROJECTS
    assert risk_model.load_latest().version == 1
    assert demo.load(session=session) == 0
    assert risk_model.latest_version()[0] == 1
