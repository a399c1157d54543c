"""Signed inbound webhooks (`POST /api/v1/hooks/<name>` starts a process or correlates a
message) and outbound event webhooks (subscriptions, outbox deliveries, admin redelivery).
Admin pages at /admin/webhooks."""

import os

DEFAULTS = {
    # First retry of a failed outbound delivery after this many seconds, doubling each time.
    "WEBHOOK_BACKOFF_SECONDS": float(os.environ.get("WEBHOOK_BACKOFF_SECONDS", "30")),
}


def init_app(app):
    from backend.accounts import csrf
    from backend.webhooks import api, demo, events, jobs, models, views  # noqa: F401  (tables, job, loader)

    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    csrf.exempt(api.bp)  # signed by the caller instead
    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    events.install()
