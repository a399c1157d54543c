"""The platform as `make run` starts it, for the browser tests, in its own process:
`python -m tests.browser.server --db <sqlite file> --files <dir> --port <n>`.

Schema from the models (as tests/conftest.py builds it), then the same CLI commands as
`make run` (calendar seed, processes deploy, demo load), then the embedded job workers and
scheduler and the web server. Prints READY when it serves."""

import argparse
import sys

from werkzeug.serving import make_server

from backend import create_app
from backend.extensions import db
from backend.serve import start_embedded_services


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--files", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{args.db}",
            "FILES_DIR": args.files,
            "RISK_MODEL_DIR": f"{args.files}/risk-models",
            "REDIS_URL": "",
            "EMBEDDED_WORKERS": True,
            "SCHEDULER_INTERVAL_SECONDS": 1,
            "SERVICE_TASK_BACKOFF_SECONDS": 1,
            # The whole browser suite signs in from 127.0.0.1, dozens of times a minute.
            "LOGIN_RATE_LIMIT": "1000/60",
            "LOGIN_ACCOUNT_RATE_LIMIT": "200/60",
        }
    )
    with app.app_context():
        db.create_all()
    runner = app.test_cli_runner()
    for command in (["calendar", "seed"], ["processes", "deploy"], ["demo", "load"]):
        result = runner.invoke(args=command)
        print(f"$ flask {' '.join(command)}\n{result.output}", flush=True)
        if result.exit_code != 0:
            print(f"failed: {result.exception!r}", flush=True)
            sys.exit(1)

    start_embedded_services(app)
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    print("READY", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
