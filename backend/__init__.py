"""Application factory. Reading this file should show every moving part of the platform."""

from flask import Flask, request

from backend import extensions, nul_guard
from backend.config import Config
from backend.db import begin_unit_of_work, configure_engine
from backend.logs import configure_logging


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_object(Config)
    if config:
        app.config.update(config)
    configure_logging(app.config["LOG_LEVEL"])

    # Bound as `extensions.db`, never as `backend.db`: that name is the backend.db module.
    extensions.db.init_app(app)
    extensions.migrate.init_app(app, extensions.db, directory=_migrations_dir())
    with app.app_context():
        configure_engine(extensions.db.engine)

    @app.before_request
    def _reads_stay_deferred():
        begin_unit_of_work(read_only=request.method in ("GET", "HEAD", "OPTIONS"))

    # PostgreSQL text cannot hold NUL: such requests are a 400 before any view runs.
    nul_guard.init_app(app)

    @app.teardown_appcontext
    def _end_unit_of_work(exc):
        # Anything not committed by the view is discarded at the edge of the request.
        extensions.db.session.remove()
        # Back to the default (writing) mode: a CLI command or test code running in this
        # context after a GET is no read-only unit.
        begin_unit_of_work(read_only=False)

    _register_domains(app)
    return app


def _migrations_dir() -> str:
    from backend.config import ROOT

    return str(ROOT / "migrations")


def _register_domains(app: Flask) -> None:
    """Each domain registers its blueprints, CLI commands, operations and jobs here."""
    from backend import (
        accounts,
        api,
        approvals,
        audit,
        authz,
        cockpit,
        contracts,
        crypto,
        demo,
        designer,
        esign,
        evidence,
        files,
        forms,
        funds,
        health,
        i18n,
        jobs,
        kpi,
        ledger,
        metrics,
        ocr,
        org,
        projects,
        publicpage,
        risk,
        schedule,
        security,
        serve,
        site,
        tasks,
        tickets,
        webhooks,
        workdays,
        workflow,
    )

    # Platform
    security.init_app(app)  # headers, cookie flags, rate limits, 413/429, log redaction
    crypto.init_app(app)  # SM2/SM3/SM4: master key check, signing-key table, mask filters
    health.init_app(app)
    metrics.init_app(app)
    i18n.init_app(app)
    jobs.init_app(app)
    workdays.init_app(app)
    workflow.init_app(app)
    ledger.init_app(app)  # Merkle ledgers, signed checkpoints (audit, evidence)
    designer.init_app(app)
    files.init_app(app)
    forms.init_app(app)
    # Business domains
    org.init_app(app)
    accounts.init_app(app)
    # Roles and permissions (three-admin separation), data scope.
    authz.init_app(app)
    projects.init_app(app)
    approvals.init_app(app)
    esign.init_app(app)  # SM2 signatures of heads' decisions and 批复
    evidence.init_app(app)  # 存证: key documents in the "evidence" ledger, proofs, anchors
    tasks.init_app(app)
    # Contracts before tickets: demo tickets are dispatched to a demo contract's contractor.
    contracts.init_app(app)
    schedule.init_app(app)  # WBS, progress, baselines (after contracts: milestone links)
    funds.init_app(app)
    site.init_app(app)  # check-ins, daily logs, spot-checks (after contracts and schedule)
    publicpage.init_app(app)  # /p/<code>: public progress page, QR, feedback
    tickets.init_app(app)
    risk.init_app(app)  # early warning over the delivery data; dispatches tickets (after tickets)
    kpi.init_app(app)  # indicators and the leadership cockpit (/leader), over the domains above
    ocr.init_app(app)  # reading application documents, prefill of the application form
    # Operations: the cockpit over every process's instances.
    cockpit.init_app(app)
    # Integrators: signed inbound hooks, outbound event webhooks.
    webhooks.init_app(app)
    # Integrators: the REST API (/api/v1) over the domains above.
    api.init_app(app)
    # Audit log: records business actions from the hooks above (after webhooks: same pattern).
    audit.init_app(app)
    # Start-up
    demo.init_app(app)
    serve.init_app(app)
