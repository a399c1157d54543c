"""Key projects and their application documents."""


def init_app(app):
    from backend.projects import models, operations  # noqa: F401  (register tables and operations)
