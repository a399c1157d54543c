"""Content-addressed file storage."""


def init_app(app):
    from backend.files import models  # noqa: F401  (register tables)
