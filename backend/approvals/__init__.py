"""Approval rounds, opinions and issued approval documents (批复)."""


def init_app(app):
    from backend.approvals import models  # noqa: F401  (register tables)
