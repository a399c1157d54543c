"""Contracts, payment milestones, payments and budget lines."""

import os

DEFAULTS = {
    # `file` (write requests into BUDGET_EXCHANGE_DIR) or `package.module:factory`.
    "BUDGET_SYSTEM": os.environ.get("BUDGET_SYSTEM", "file"),
    # Empty: FILES_DIR/budget-outbox.
    "BUDGET_EXCHANGE_DIR": os.environ.get("BUDGET_EXCHANGE_DIR", ""),
}


def init_app(app):
    from backend.contracts import demo, models, operations  # noqa: F401  (tables, demo loader, operations)

    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
