"""Contracts, payment milestones, payments and budget lines."""


def init_app(app):
    from backend.contracts import models  # noqa: F401  (register tables)
