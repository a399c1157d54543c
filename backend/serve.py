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
    if app.config["EMBEDDED_WORKERS"]:
        if not app.config["REDIS_URL"]:
            jobs.start_embedded(app)
        scheduler.start_background(app)
    from backend.demo import print_banner

    print_banner(app, f"http://{host}:{port}/")
    # app.run() refuses to run inside a flask CLI command; the server it wraps does not.
    run_simple(host, port, app, threaded=True, use_reloader=False)


def init_app(app):
    app.cli.add_command(serve_command)
