"""Liveness and readiness: /healthz."""

from backend.health.views import bp


def init_app(app):
    app.register_blueprint(bp)
