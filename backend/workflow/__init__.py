"""The workflow host: deploy definitions, run instances, keep the inbox projections."""


def init_app(app):
    from backend.workflow import jobs, live_runs, models, operations  # noqa: F401  (tables, actors, operations)
    from backend.workflow.cli import processes_cli, scheduler_cli

    live_runs.install()

    app.cli.add_command(processes_cli)
    app.cli.add_command(scheduler_cli)
