"""Work breakdown (WBS) and schedule of a project (进度与任务分解): items, dependencies,
progress history, baselines, the computed progress and deviation (service.py), XLSX
import/export (xlsx.py) and the read-only page /projects/<code>/schedule (views.py)."""


def init_app(app):
    from backend.schedule import demo, models, views  # noqa: F401  (models: the tables; demo: its loader)

    app.register_blueprint(views.bp)
    from backend.schedule import progress_views  # progress reports, "my items", evidence access

    progress_views.init_app(app)
