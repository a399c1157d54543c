"""Regions, departments, units and people."""


def init_app(app):
    from backend.org import models  # noqa: F401  (register tables)
