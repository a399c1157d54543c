"""Approval rounds, opinions and issued approval documents (批复)."""


def init_app(app):
    from backend.approvals import demo, hooks, models, operations  # noqa: F401  (tables, operations, demo)

    hooks.install()
