"""The schema changes only through migrations: upgrading an empty database must give exactly
the models' schema, and the chain must downgrade and upgrade again."""

import os

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from backend import create_app
from backend.config import ROOT
from backend.extensions import db
from backend.jobs import broker

MIGRATIONS = str(ROOT / "migrations")


def _diff() -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        return compare_metadata(context, db.metadata)


def _check_chain(app, database_url: str) -> None:
    """Upgrade an empty database, compare with the models, downgrade to base, upgrade again."""
    fresh = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": app.config["REDIS_URL"],
            "EMBEDDED_WORKERS": False,
        }
    )
    try:
        with fresh.app_context():
            upgrade(directory=MIGRATIONS)
            assert _diff() == []
            downgrade(directory=MIGRATIONS, revision="base")
            upgrade(directory=MIGRATIONS)
            assert _diff() == []
            db.engine.dispose()
    finally:
        broker.configure(app)  # the broker is process-wide: give it back to the suite's app


def test_migrations_build_the_models_schema(app, tmp_path):
    _check_chain(app, f"sqlite:///{tmp_path / 'm.sqlite3'}")


@pytest.mark.postgres
def test_migrations_build_the_models_schema_on_postgres(app):
    """Same check on PostgreSQL, in a schema of its own so the suite's tables stay untouched."""
    url = os.environ["TEST_DATABASE_URL"]
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS migration_check CASCADE; CREATE SCHEMA migration_check"))
    separator = "&" if "?" in url else "?"
    try:
        _check_chain(app, f"{url}{separator}options=-csearch_path%3Dmigration_check")
    finally:
        with app.app_context(), db.engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS migration_check CASCADE"))
