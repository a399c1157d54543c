"""The funds ledger (资金) of issue 8: annual plan (BudgetLine), monthly investment completed,
allocations imported from the finance system (API: backend/funds/api.py), the rates
(service.py) and the per-project page /projects/<code>/funds."""

from flask import Flask


def init_app(app: Flask) -> None:
    from backend.funds import demo, models, views  # noqa: F401  (models: the tables; demo: its loader)

    app.register_blueprint(views.bp)
