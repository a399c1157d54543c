"""Regions, departments, units and people."""


def init_app(app):
    from backend.org import demo, models, views  # noqa: F401  (register tables and the demo loader)

    app.register_blueprint(views.bp)
