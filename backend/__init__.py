"""Application factory. Reading this file should show every moving part of the platform."""

from flask import Flask, request

from backend.config import Config
from backend.db import configure_engine, read_only_unit_of_work
from backend.extensions import db, migrate
from backend.logs import configure_logging


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_object(Config)
    if config:
        app.config.update(config)
    configure_logging(app.config["LOG_LEVEL"])

    db.init_app(app)
    migrate.init_app(app, db, directory=_migrations_dir())
    with app.app_context():
        configure_engine(db.engine)

    @app.before_request
    def _reads_stay_deferred():
        if request.method in ("GET", "HEAD", "OPTIONS"):
            read_only_unit_of_work()

    @app.teardown_appcontext
    def _end_unit_of_work(exc):
        # Anything not committed by the view is discarded at the edge of the request.
        db.session.remove()

    _register_domains(app)
    return app


def _migrations_dir() -> str:
    from backend.config import ROOT

    return str(ROOT / "migrations")


def _register_domains(app: Flask) -> None:
    """Each domain registers its blueprints, CLI commands, operations and jobs here."""
    from backend import (
        approvals,
        contracts,
        demo,
        files,
        health,
        jobs,
        org,
        projects,
        serve,
        tickets,
        workdays,
        workflow,
    )

    # Platform
    health.init_app(app)
    jobs.init_app(app)
    workdays.init_app(app)
    workflow.init_app(app)
    files.init_app(app)
    # Business domains
    org.init_app(app)
    projects.init_app(app)
    approvals.init_app(app)
    tickets.init_app(app)
    contracts.init_app(app)
    # Start-up
    demo.init_app(app)
    serve.init_app(app)
