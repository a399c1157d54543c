"""Content-addressed file storage, who may read a file, and its download."""


def init_app(app):
    from backend.files import hooks, models, views  # noqa: F401  (register tables and the listener)

    app.register_blueprint(views.bp)
