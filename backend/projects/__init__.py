"""Key projects and their application documents."""


def init_app(app):
    from backend.projects import models, operations, views  # noqa: F401  (register tables and operations)

    app.register_blueprint(views.bp)  # /projects and the project hub
