"""Performance indicators and the leadership cockpit (issue 10): the indicator catalogue
(catalogue.py), the figures and their drill-down province → city → county → project
(service.py), performance evaluation (evaluation.py), and the cockpit pages with the big
screen (views.py)."""


def init_app(app):
    from backend.kpi import views  # views imports evaluation, whose model is the scheme table

    app.register_blueprint(views.bp)
