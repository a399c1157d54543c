"""Rectification tickets (整改工单)."""


def init_app(app):
    from backend.tickets import demo, models, operations  # noqa: F401  (tables, BPMN operations, demo loader)
