"""Risk early warning (issue 9): project histories, their exchange format and simulators,
the delay model and its back-test; signals of the platform's own projects, rules and warnings,
their dispatch through the risk_response process, and the risk pages."""


def init_app(app):
    # Tables, the risk_response diagram's operations, the demo loaders (after the delivery ones).
    from backend.risk import demo, models, operations, retrain, views, warnings  # noqa: F401
    from backend.risk.cli import risk_cli
    from backend.workflow import scheduler

    app.cli.add_command(risk_cli)
    app.register_blueprint(views.bp)
    # Once a Beijing day from RISK_EVALUATE_HOUR (default 6): evaluate every watched project.
    scheduler.on_tick(warnings.schedule_daily)
    # Retrain the delay model when RISK_RETRAIN_DAYS (default 7) passed since its newest version.
    scheduler.on_tick(retrain.schedule_retrain)
