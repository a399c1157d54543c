"""Performance indicators and the leadership cockpit (issue 10): the indicator catalogue
(catalogue.py), the figures and their drill-down province → city → county → project
(service.py), performance evaluation (evaluation.py), and the cockpit pages with the big
screen (views.py)."""


def init_app(app):
    # Tables (evaluation, snapshot, reports' models), the report routes on views.bp, the report job.
    from backend.kpi import refresh, report_views, reports, snapshot, views  # noqa: F401
    from backend.kpi.cli import kpi_cli
    from backend.workflow import scheduler

    app.register_blueprint(views.bp)
    app.cli.add_command(kpi_cli)
    # The cockpit's stored figures: recompute the due periods in the background.
    scheduler.on_tick(refresh.schedule_refresh)
    # On the first days after a quarter or a year ends: the top region's report, once.
    scheduler.on_tick(reports.schedule_period_end)
