"""flask worker; flask jobs relay|list|redeliver.

Production runs the web server, `flask --app app scheduler run` and several worker
processes against Redis, e.g. one `flask --app app worker --threads 8` per container
and more containers for more throughput (or `--processes N` on one host). Each worker
process also runs a relay loop, so jobs committed anywhere reach Redis within
JOB_RELAY_INTERVAL_SECONDS even when the scheduler is down.
"""

import signal
import subprocess
import sys
import threading

import click
import dramatiq
from flask import current_app
from flask.cli import AppGroup, ScriptInfo, with_appcontext

from backend.extensions import db
from backend.jobs import broker
from backend.jobs.embedded import stop_worker
from backend.jobs.models import STATES
from backend.jobs.relay import RelayLoop, relay_pending
from backend.jobs.service import NotRedeliverable, list_jobs, redeliver

jobs_cli = AppGroup("jobs", help="后台任务 (Background jobs: outbox relay and operator actions).")


@click.command("worker")
@click.option(
    "--processes", "-p", default=1, show_default=True, type=click.IntRange(1), help="Worker processes."
)
@click.option(
    "--threads", "-t", default=8, show_default=True, type=click.IntRange(1), help="Threads per process."
)
@click.option(
    "--relay/--no-relay", default=True, show_default=True, help="Also relay the outbox in this process."
)
@with_appcontext
def worker_command(processes, threads, relay):
    """Run dramatiq workers against Redis in the foreground until SIGTERM/SIGINT."""
    app = current_app._get_current_object()
    if broker.backend() != broker.REDIS:
        raise click.ClickException(
            "REDIS_URL is not set: jobs run in-process with `flask serve` (embedded mode), not in workers"
        )
    if processes > 1:
        sys.exit(_supervise(processes, threads, relay))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    worker = dramatiq.Worker(broker.current_broker(), queues={broker.queue_name()}, worker_threads=threads)
    worker.start()
    loop = RelayLoop(interval=float(app.config["JOB_RELAY_INTERVAL_SECONDS"])).start() if relay else None
    click.echo(
        f"worker: {threads} threads on queue {broker.queue_name()!r}, relay {'on' if relay else 'off'}"
    )
    while not stop.wait(1):
        pass
    click.echo("worker: stopping, letting jobs in progress finish")
    if loop:
        loop.stop()
    # A job still running at the deadline is abandoned; its row is re-sent once stale.
    stop_worker(worker, timeout=float(app.config["JOB_WORKER_SHUTDOWN_SECONDS"]))


def _supervise(processes: int, threads: int, relay: bool) -> int:
    """Start N single-process workers; stop them all when one exits or on SIGTERM/SIGINT."""
    info = click.get_current_context().find_object(ScriptInfo)
    command = [sys.executable, "-m", "flask"]
    if info is not None and info.app_import_path:
        command += ["--app", info.app_import_path]
    command += ["worker", "--processes", "1", "--threads", str(threads), "--relay" if relay else "--no-relay"]
    children = [subprocess.Popen(command) for _ in range(processes)]
    stopping = threading.Event()

    def stop_all(*_):
        stopping.set()
        for child in children:
            if child.poll() is None:
                child.terminate()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop_all)
    exit_code = 0
    while any(child.poll() is None for child in children):
        for child in children:
            code = child.poll()
            if code is not None and not stopping.is_set():
                click.echo(f"worker process {child.pid} exited with {code}; stopping the others", err=True)
                exit_code = code or 1
                stop_all()
        stopping.wait(0.5)
    for child in children:
        child.wait()
    return exit_code


@jobs_cli.command("relay")
def relay_command():
    """One relay pass: send due outbox rows to the broker."""
    click.echo(f"relayed: {relay_pending()}")


@jobs_cli.command("list")
@click.option("--state", type=click.Choice(STATES), default=None, help="Only jobs in this state.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1))
def list_command(state, limit):
    """Newest jobs first, with their last error."""
    rows = list_jobs(session=db.session, state=state, limit=limit)
    click.echo(f"{'id':>8}  {'state':<10}  {'tries':>5}  {'run after (UTC)':<19}  {'actor':<32}  last error")
    for row in rows:
        error = (row.last_error or "").splitlines()[0][:80] if row.last_error else ""
        click.echo(
            f"{row.id:>8}  {row.state:<10}  {row.attempts:>5}  {row.run_after:%Y-%m-%d %H:%M:%S}  "
            f"{row.actor:<32}  {error}"
        )


@jobs_cli.command("redeliver")
@click.argument("job_id", type=int)
def redeliver_command(job_id):
    """Queue a dead or failed job again, with a fresh retry budget."""
    try:
        row = redeliver(session=db.session, job_id=job_id)
    except NotRedeliverable as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    described = f"job {row.id} ({row.actor})"
    db.session.commit()
    click.echo(f"{described} is pending again; the relay will send it")
