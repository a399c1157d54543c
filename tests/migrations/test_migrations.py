"""The schema changes only through migrations: upgrading an empty database must give exactly
the models' schema, and the chain must downgrade and upgrade again."""

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


def test_migrations_build_the_models_schema(app, tmp_path):
    fresh = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'm.sqlite3'}",
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
        broker.configure(app)
