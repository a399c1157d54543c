"""REST API for integrators under /api/v1: API keys, problem documents (RFC 9457), marshmallow
schemas with a generated OpenAPI document, thin views over the domains' services.

`init_app` must run after `accounts.init_app` (CSRF) and the business domains."""

from flask import Flask

from backend.api import problems
from backend.api.problems import problem

__all__ = ["init_app", "problem"]


def init_app(app: Flask) -> None:
    from backend.accounts import csrf
    from backend.api import models, pages, views  # noqa: F401  (models: the table; views: the routes)
    from backend.api.operations import bp
    from backend.funds import api as funds_api  # noqa: F401  (POST /projects/<code>/allocations)
    from backend.schedule import api as schedule_api  # noqa: F401  (/projects/<code>/wbs...)

    problems.init_app(app)
    # API keys are no cookie a browser sends by itself; the session's writes are checked in auth.py.
    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.register_blueprint(pages.admin_bp)
