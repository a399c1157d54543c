"""Rectification tickets (整改工单)."""


def init_app(app):
    from backend.tickets import models  # noqa: F401  (register tables)
