"""The floor under bench/webhook.py: what a signed-webhook start costs at the least on this stack.

    .venv/bin/python bench/floor.py --database-url postgresql+psycopg://USER@HOST:PORT/DB \\
        [--rate 200] [--seconds 10] [--process project_approval]

Measures two things nobody can optimise away in this architecture and prints them with the
ceiling they imply on the machine's cores:

1. the engine: SpiffWorkflow creating the process's workflow, running it to its first wait and
   serialising the state to store (CPU ms per start, in this process, no database);
2. the web stack: gunicorn (same sync workers as bench/webhook.py) serving a Flask view that
   checks the HMAC signature, parses the JSON and INSERTs one row in one transaction on
   PostgreSQL, driven open-loop at --rate with CPU per start for each component
   (web, PostgreSQL, the client).

A real start does both plus its own rows (instance, tasks, events, timer, idempotency record,
audit record and ledger leaf, outbox). Compare the sum with bench/webhook.py's "CPU per start":
the gap is the platform's own work. Run by people, not by CI.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = b"whsec_bench_only_not_a_secret"
TABLE = "bench_floor"


def make_app():
    """The least view a signed start could be (served by gunicorn as `bench.floor:make_app()`)."""
    import sqlalchemy as sa
    from flask import Flask, jsonify, request
    from sqlalchemy.dialects.postgresql import JSONB

    engine = sa.create_engine(os.environ["FLOOR_DATABASE_URL"], pool_size=2)
    table = sa.table(TABLE, sa.column("key"), sa.column("body", JSONB))
    app = Flask(__name__)

    @app.post("/hook")
    def hook():
        body = request.get_data()
        timestamp = request.headers["X-Timestamp"]
        expected = hmac.new(SECRET, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Signature", "")):
            return jsonify(error="signature"), 401
        with engine.begin() as conn:
            conn.execute(table.insert().values(key=request.headers["Idempotency-Key"], body=json.loads(body)))
        return jsonify(result={"ok": True}), 201

    return app


def engine_floor(database_url: str, process_key: str, starts: int = 300) -> float:
    """CPU ms per start of the engine alone: new workflow, run to the first wait, serialise."""
    import sqlalchemy as sa

    from backend import create_app
    from backend.engine.instance import ProcessRun
    from backend.extensions import db
    from backend.workflow.host import host_context
    from backend.workflow.models import ProcessDefinition

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "EMBEDDED_WORKERS": False, "REDIS_URL": ""})
    with app.app_context():
        definition = db.session.scalars(
            sa.select(ProcessDefinition)
            .where(ProcessDefinition.key == process_key)
            .order_by(ProcessDefinition.version.desc())
        ).first()
        if definition is None:
            sys.exit(
                f"{process_key} is not deployed: run bench/webhook.py once first (it deploys processes/)"
            )
        spec = definition.spec_json
        environment = host_context(db.session).environment
        data = {"project_name": "压测项目", "amount": 100}

        def one() -> None:
            run = ProcessRun.new(spec, dict(data), environment=environment, services=lambda *_: None)
            run.run()
            run.dump()

        for _ in range(50):
            one()
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            for _ in range(starts):
                one()
            best = min(best, (time.process_time() - started) * 1000 / starts)
        db.engine.dispose()
    return best


def web_floor(
    database_url: str, rate: float, seconds: float, workers: int
) -> tuple[dict[str, float], int, list]:
    import sqlalchemy as sa

    from bench.webhook import cpu_by_component, free_port, stop

    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (id serial PRIMARY KEY, key text UNIQUE, body jsonb)"
            )
        )
    engine.dispose()
    port = free_port()
    web = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--backlog",
            "2048",
            "bench.floor:make_app()",
        ],
        cwd=ROOT,
        env={**os.environ, "FLOOR_DATABASE_URL": database_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        due: queue.Queue = queue.Queue()
        answers: list[tuple[int, float]] = []
        lock = threading.Lock()

        def call() -> tuple[int, float]:
            key = uuid.uuid4().hex
            body = json.dumps({"project_name": f"压测项目 {key[:8]}", "amount": 100}).encode()
            timestamp = str(int(time.time()))
            signature = hmac.new(SECRET, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/hook",
                data=body,
                method="POST",
                headers={
                    "X-Timestamp": timestamp,
                    "X-Signature": signature,
                    "Idempotency-Key": key,
                    "Content-Type": "application/json",
                },
            )
            sent = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    response.read()
                    return response.status, (time.perf_counter() - sent) * 1000
            except Exception:
                return 0, (time.perf_counter() - sent) * 1000

        def client() -> None:
            while due.get() is not None:
                answer = call()
                with lock:
                    answers.append(answer)

        deadline = time.time() + 30
        while time.time() < deadline:  # gunicorn up
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.2)
        threads = [threading.Thread(target=client, daemon=True) for _ in range(32)]
        for thread in threads:
            thread.start()
        for _ in range(200):  # warm-up, not counted
            due.put(0)
        while due.qsize():
            time.sleep(0.1)
        time.sleep(1)
        with lock:
            answers.clear()
        before = cpu_by_component()
        started = time.perf_counter()
        for n in range(int(rate * seconds)):
            pause = started + n / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            due.put(0)
        for _ in threads:
            due.put(None)
        for thread in threads:
            thread.join()
        after = cpu_by_component()
    finally:
        stop(web)
    cpu = {name: after[name] - before.get(name, 0.0) for name in after}
    return cpu, sum(1 for status, _ in answers if status == 201), [ms for _, ms in answers]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--process", default="project_approval")
    args = parser.parse_args()

    from bench.webhook import percentiles

    engine_ms = engine_floor(args.database_url, args.process)
    cpu, ok, latencies = web_floor(args.database_url, args.rate, args.seconds, args.web_workers)
    print(f"engine (new + run + serialise {args.process}) {engine_ms:6.2f} ms CPU per start")
    print(f"web floor at {args.rate:g}/s: {ok} answered 201, request {percentiles(latencies)} ms")
    for name, seconds in sorted(cpu.items()):
        print(f"  {name:20s} {seconds * 1000 / max(ok, 1):6.2f} ms CPU per request")
    web_ms = sum(cpu.values()) * 1000 / max(ok, 1)
    total = engine_ms + web_ms
    cores = os.cpu_count() or 1
    print(
        f"floor per start     {total:6.2f} ms CPU  -> at most {cores * 1000 / total:.0f} starts/s on {cores} cores"
    )
    print("                    (with nothing else: no instance, task, event, audit or outbox rows)")


if __name__ == "__main__":
    main()
