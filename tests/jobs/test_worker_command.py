"""`flask worker` as production runs it: separate processes on Redis, relaying the outbox
themselves, stopping cleanly on SIGTERM."""

import os
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from backend import jobs
from tests.jobs.conftest import row_state, wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.redis
def test_worker_processes_run_committed_jobs_and_stop_on_sigterm(session, app, effect_table):
    namespace = f"bpm-test-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": os.environ["TEST_REDIS_URL"],
        "JOB_REDIS_NAMESPACE": namespace,
        "JOB_RELAY_INTERVAL_SECONDS": "0.2",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "flask", "--app", "tests.jobs.worker_app", "worker"]
    command += ["--processes", "2", "--threads", "2"]
    worker = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(worker.stdout), daemon=True)
    reader.start()
    try:
        wait_until(lambda: sum("threads on queue" in line for line in lines) == 2, timeout=60)
        # Committed only: the workers' own relay loops send them, nobody here relays.
        ids = [
            jobs.enqueue(session=session, actor="test_jobs.record", payload={"key": key, "effect": True}).id
            for key in ("a", "b", "c")
        ]
        session.commit()
        wait_until(lambda: all(row_state(session, i).state == "done" for i in ids), timeout=60)
        assert sorted(session.scalars(sa.select(effect_table.c.key))) == ["a", "b", "c"]  # each once
        session.rollback()
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        reader.join(10)
        client = redis.Redis.from_url(os.environ["TEST_REDIS_URL"])
        keys = list(client.scan_iter(f"{namespace}*"))
        if keys:
            client.delete(*keys)
    output = "".join(lines)
    assert worker.returncode == 0, output
    assert output.count("worker: stopping") == 2, output
