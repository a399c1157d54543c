"""Test fixtures: a real database per test session (SQLite file, or PostgreSQL when
TEST_DATABASE_URL is set), schema from the models (create_all is allowed only here),
and tables emptied between tests."""

import os

import pytest
from sqlalchemy import text

from backend import create_app
from backend.extensions import db
from backend.i18n.catalogues import compile_stale

# The .mo catalogues are build output (make translations): a plain pytest on a clean clone compiles them.
compile_stale()

IN_CI = os.environ.get("CI", "").lower() == "true"


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    files = tmp_path_factory.mktemp("files")
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": _database_url(tmp_path_factory),
            "REDIS_URL": os.environ.get("TEST_REDIS_URL", ""),
            "EMBEDDED_WORKERS": False,
            "FILES_DIR": str(files),
            # Models trained by tests (demo load, retraining) stay out of var/risk.
            "RISK_MODEL_DIR": str(files.parent / "risk-models"),
            # Checkpoints published by tests stay out of the development instance folder.
            "EVIDENCE_ANCHOR_FILE": str(files.parent / "evidence-anchor.jsonl"),
            "SERVICE_TASK_BACKOFF_SECONDS": 0,
            # Cockpit figures computed on request: tests/kpi/test_snapshot.py turns snapshots on.
            "KPI_SNAPSHOT_INTERVAL": 0,
            "SCRIPT_TIME_LIMIT_SECONDS": 0.5,
            # Form posts in tests carry no CSRF token; tests/accounts checks CSRF on its own app.
            "WTF_CSRF_ENABLED": False,
            # The whole session signs in from 127.0.0.1; tests/security sets its own limits.
            "LOGIN_RATE_LIMIT": "",
            "LOGIN_ACCOUNT_RATE_LIMIT": "",
            # Business tests travel in time (time_machine) while signed in; tests/accounts checks
            # the idle and absolute session limits on its own app with the defaults.
            "SESSION_IDLE_MINUTES": 10 * 365 * 24 * 60,
            "SESSION_MAX_HOURS": 10 * 365 * 24,
            # Webhook receivers of the tests listen on 127.0.0.1; tests/webhooks/test_egress.py
            # checks the refusal with the setting off.
            "WEBHOOK_ALLOW_PRIVATE_TARGETS": True,
        }
    )
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


@pytest.fixture()
def session(app):
    """An app context with a clean database; yields the scoped session."""
    with app.app_context():
        yield db.session
        db.session.rollback()
        db.session.remove()
        _truncate_all()


def _truncate_all() -> None:
    from backend.forms.store import clear_cache as clear_form_cache
    from backend.workdays.service import clear_cache as clear_calendar_cache
    from backend.workflow import live_runs
    from backend.workflow.host import clear_spec_cache

    clear_spec_cache()
    clear_form_cache()
    live_runs.clear()
    clear_calendar_cache()
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            if names:
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture(autouse=True)
def _integration_requirements(request):
    """Tests marked postgres/redis need those servers. Locally they are skipped without
    them; under CI a missing server is a failure, never a silent skip. `make test`
    deselects them (-m) on the SQLite pass and runs them on the PostgreSQL pass."""
    missing = []
    if request.node.get_closest_marker("postgres") and not os.environ.get("TEST_DATABASE_URL", "").startswith(
        "postgresql"
    ):
        missing.append("PostgreSQL (TEST_DATABASE_URL)")
    if request.node.get_closest_marker("redis") and not os.environ.get("TEST_REDIS_URL"):
        missing.append("Redis (TEST_REDIS_URL)")
    if missing:
        if IN_CI:
            pytest.fail(f"needs {', '.join(missing)}, which CI must provide")
        pytest.skip(f"needs {', '.join(missing)}")
