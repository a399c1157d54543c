"""`flask serve`: the embedded all-in-one server of `make run`.

Starts the in-process job workers (when no REDIS_URL) and the scheduler thread, then
the web server. Production runs gunicorn, `flask worker` and `flask scheduler run`
as separate processes instead (docker/).
"""

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import run_simple

from backend import jobs
from backend.workflow import scheduler


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def serve_command(host, port):
    """Run the platform on the embedded defaults (SQLite, in-process jobs)."""
    app = current_app._get_current_object()
    start_embedded_services(app)
    from backend.demo import print_banner

    print_banner(app, f"http://{host}:{port}/")
    # app.run() refuses to run inside a flask CLI command; the server it wraps does not.
    run_simple(host, port, app, threaded=True, use_reloader=False)


def start_embedded_services(app) -> None:
    """In-process job workers (without REDIS_URL) and the scheduler thread; idempotent."""
    if not app.config["EMBEDDED_WORKERS"] or app.testing:
        return
    if not app.config["REDIS_URL"]:
        jobs.start_embedded(app)
    scheduler.start_background(app)


def init_app(app):
    app.cli.add_command(serve_command)

    # Plain `flask run` (no `serve`): start them with the first request instead.
    @app.before_request
    def _embedded_services():
        start_embedded_services(app)
