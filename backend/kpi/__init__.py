"""Performance indicators and the leadership cockpit (issue 10): the indicator catalogue
(catalogue.py), the figures and their drill-down province → city → county → project
(service.py), and the cockpit pages with the big screen (views.py)."""


def init_app(app):
    from backend.kpi import evaluation, views  # noqa: F401  (evaluation: its table)

    app.register_blueprint(views.bp)
