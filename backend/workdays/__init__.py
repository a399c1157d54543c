"""The official working-day calendar (工作日历) that government time limits count in."""


def init_app(app):
    from backend.workdays import models  # noqa: F401  (register the tables)
    from backend.workdays.cli import calendar_cli
    from backend.workdays.service import install_session_hooks

    app.cli.add_command(calendar_cli)
    install_session_hooks()
