"""Signed inbound webhooks that start processes, sustained (target: >= 200 starts/s, p95 <= 50 ms
server time, no errors on this 2-core machine).

    .venv/bin/python bench/webhook.py --database-url postgresql+psycopg://USER@HOST:PORT/DB \\
        --redis-url redis://HOST:PORT/0 [--seconds 30] [--rate 200] [--concurrency 32]
        [--web-workers 4] [--job-threads 4] [--process project_approval] [--url URL --access-log FILE]

Prepares the database (schema by create_all when empty, calendar, processes, a `bench-start`
hook that starts --process with a known secret), then starts gunicorn (--web-workers sync
workers, access log with the request time) and one `flask worker` (dramatiq on Redis, with
the outbox relay) as subprocesses, unless --url names a running server. Then, for --seconds,
sends signed calls at --rate per second (open loop: a call is due at its time whether or not
the earlier ones answered) from --concurrency client threads, each with a fresh
Idempotency-Key, after --warmup calls that are not counted. After each 201 the client thread polls the database for the instance's first
human_task and times request -> task visible. Prints:

- starts/s: 201 answers per second of the run, and how late the client sent behind schedule
  (when it lags, the server is saturated and the offered rate was not applied);
- latency request -> first task visible, p50 / p95 / p99 / max (ms, client side: includes
  the connection, gunicorn's queue and the poll);
- server time, p50 / p95 / p99 / max (ms): gunicorn's %(D)s per request, from the access log
  (--access-log when --url is given; the bench's own gunicorn writes one);
- errors: by status (and exceptions), and tasks not visible within 10 s.

Run by people, not by CI. The PostgreSQL server, Redis and the clients share the machine's
cores with gunicorn and the worker: the numbers are for the whole machine, as in production
on one host.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

HOOK = "bench-start"
SECRET = "whsec_bench_only_not_a_secret"
VISIBLE_TIMEOUT = 10.0
LOG_FORMAT = "%({idempotency-key}i)s %(s)s %(D)s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True, help="postgresql+psycopg://USER@HOST:PORT/DB")
    parser.add_argument("--redis-url", default="", help="for the bench's own gunicorn and worker")
    parser.add_argument("--url", help="base URL of a running server (then nothing is started)")
    parser.add_argument("--access-log", help="with --url: its gunicorn access log, format " + LOG_FORMAT)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=float, default=200, help="offered starts per second")
    parser.add_argument("--concurrency", type=int, default=32, help="client threads")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--job-threads", type=int, default=4, help="threads of the flask worker")
    parser.add_argument("--process", default="project_approval", help="the process the hook starts")
    parser.add_argument("--port", type=int, default=0, help="port of the bench's gunicorn (0: a free one)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=100,
        help="calls sent first and not counted (imports, caches per worker)",
    )
    args = parser.parse_args()

    prepare(args.database_url, args.process)
    servers: list[subprocess.Popen] = []
    workdir = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    access_log = Path(args.access_log) if args.access_log else None
    try:
        if args.url:
            base = args.url.rstrip("/")
        else:
            port = args.port or free_port()
            base = f"http://127.0.0.1:{port}"
            access_log = workdir / "access.log"
            servers = start_servers(args, port, access_log, workdir)
            wait_healthy(base, servers)
        warm(args, base)
        time.sleep(0.5)
        offset = access_log.stat().st_size if access_log and access_log.exists() else 0
        cpu_before = time.process_time()
        components_before = cpu_by_component()
        results, lag = drive(args, base)
        lag.append(time.process_time() - cpu_before)
        components = {
            name: seconds - components_before.get(name, 0.0) for name, seconds in cpu_by_component().items()
        }
        time.sleep(1.0)  # gunicorn flushes its access log per line; let the last ones land
        server_ms = read_server_times(access_log, offset) if access_log else {}
    finally:
        for proc in servers:
            stop(proc)
    report(args, results, lag, server_ms)
    report_cpu(components, sum(1 for r in results if r.status == 201))


def cpu_by_component() -> dict[str, float]:
    """CPU seconds (user + system) used so far by the live processes of each part of the system.

    Per start, these say where the machine's two cores go: the budget at 200 starts/s is 10 ms of
    CPU per start for everything together (web, database, broker, worker, client)."""
    tick = os.sysconf("SC_CLK_TCK")
    totals: dict[str, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == os.getpid():
            name = "bench client"
        elif "gunicorn" in command:
            name = "web (gunicorn)"
        elif " worker" in command and "flask" in command:
            name = "worker (dramatiq)"
        elif command.startswith("postgres") or "postgres:" in command:
            name = "PostgreSQL"
        elif "redis-server" in command:
            name = "Redis"
        else:
            continue
        # utime and stime are fields 14 and 15 of /proc/PID/stat (12 and 13 after the name).
        totals[name] = totals.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return totals


def report_cpu(components: dict[str, float], starts: int) -> None:
    if not starts:
        return
    print(
        "CPU per start     "
        + "  ".join(
            f"{name} {seconds * 1000 / starts:.1f} ms" for name, seconds in sorted(components.items())
        )
    )
    print(
        f"CPU per start, all {sum(components.values()) * 1000 / starts:7.1f} ms   (2 cores: ceiling "
        f"{2 * starts / max(sum(components.values()), 1e-9):.0f} starts/s)"
    )


# --- setup --------------------------------------------------------------------------------


def prepare(database_url: str, process_key: str) -> None:
    """Schema, calendar, processes and the hook, in-process and committed before the start."""
    from backend import create_app
    from backend.extensions import db
    from backend.webhooks import service
    from backend.webhooks.models import InboundHook
    from backend.workdays.service import seed_from_chinese_calendar
    from backend.workflow.deploy import deploy_files, read_directory

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "EMBEDDED_WORKERS": False, "REDIS_URL": ""})
    with app.app_context():
        if not sa.inspect(db.engine).has_table("process_instance"):
            db.create_all()
        session = db.session
        seed_from_chinese_calendar(session=session)
        deploy_files(
            session=session,
            files=read_directory(app.config["PROCESSES_DIR"]),
            forms_dir=app.config["FORMS_DIR"],
            deployed_by="bench",
        )
        hook = session.scalar(sa.select(InboundHook).filter_by(name=HOOK))
        if hook is None:
            hook, _ = service.create_hook(
                session=session,
                name=HOOK,
                action="start",
                target=process_key,
                variables={"project_name": "/project_name", "amount": "/amount"},
                payload_schema={"type": "object", "required": ["project_name"]},
                business_key_pointer="/code",
                created_by="bench",
            )
        hook.target, hook.secret, hook.enabled = process_key, SECRET, True
        session.commit()
        db.engine.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_servers(args, port: int, access_log: Path, workdir: Path) -> list[subprocess.Popen]:
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "EMBEDDED_WORKERS": "false",
        "LOG_LEVEL": "WARNING",
        "JOB_REDIS_NAMESPACE": f"bench-{uuid.uuid4().hex[:8]}",
    }
    venv = Path(sys.executable).parent
    web = subprocess.Popen(
        [
            str(venv / "gunicorn"),
            "-w",
            str(args.web_workers),
            "-b",
            f"127.0.0.1:{port}",
            "--backlog",
            "2048",
            "--access-logfile",
            str(access_log),
            "--access-logformat",
            LOG_FORMAT,
            "app:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=open(workdir / "web.out", "wb"),  # noqa: SIM115 (closed with the process)
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    procs = [web]
    if args.redis_url:
        worker = subprocess.Popen(
            [str(venv / "flask"), "--app", "app", "worker", "--threads", str(args.job_threads)],
            cwd=ROOT,
            env=env,
            stdout=open(workdir / "worker.out", "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        procs.append(worker)
    print(
        f"servers: gunicorn -w {args.web_workers} on :{port}, worker: {bool(args.redis_url)}; logs in {workdir}"
    )
    return procs


def wait_healthy(base: str, procs: list[subprocess.Popen], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise SystemExit("a server process exited at start; see its log")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"{base}/healthz did not answer 200 within {timeout:.0f}s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --- load ---------------------------------------------------------------------------------


class Result:
    __slots__ = ("key", "status", "error", "request_ms", "visible_ms", "late_ms")

    def __init__(self, key):
        self.key = key
        self.status = None
        self.error = None
        self.request_ms = None
        self.visible_ms = None
        self.late_ms = 0.0


def drive(args, base: str) -> tuple[list[Result], list[float]]:
    """Open loop: the scheduler puts each call's due time on a queue; client threads send it."""
    due: queue.Queue = queue.Queue()
    results: list[Result] = []
    lock = threading.Lock()
    dsn = args.database_url.replace("postgresql+psycopg://", "postgresql://")

    def client() -> None:
        import psycopg

        with psycopg.connect(dsn, autocommit=True) as conn:
            while True:
                at = due.get()
                if at is None:
                    return
                result = call(base, conn, at)
                with lock:
                    results.append(result)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(args.concurrency)]
    for thread in threads:
        thread.start()
    total = int(args.seconds * args.rate)
    started = time.perf_counter()
    for n in range(total):
        at = started + n / args.rate
        pause = at - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        due.put(at)
    for _ in threads:
        due.put(None)
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    print(f"ran {elapsed:.1f}s for {total} calls offered at {args.rate:g}/s")
    return results, [elapsed]


def warm(args, base: str) -> None:
    """Each gunicorn worker's first requests import and cache (forms, specs): not the steady state."""
    import psycopg

    dsn = args.database_url.replace("postgresql+psycopg://", "postgresql://")
    count = [args.warmup]
    lock = threading.Lock()

    def client() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            while True:
                with lock:
                    if count[0] <= 0:
                        return
                    count[0] -= 1
                call(base, conn, time.perf_counter())

    threads = [threading.Thread(target=client, daemon=True) for _ in range(min(8, args.concurrency))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def call(base: str, conn, due_at: float) -> Result:
    key = uuid.uuid4().hex
    result = Result(key)
    sent = time.perf_counter()
    result.late_ms = (sent - due_at) * 1000
    body = json.dumps(
        {"project_name": f"压测项目 {key[:8]}", "amount": 100, "code": f"B-{key[:12]}"}, ensure_ascii=False
    ).encode()
    timestamp = str(int(time.time()))
    from backend.webhooks.signing import sign

    request = urllib.request.Request(
        f"{base}/api/v1/hooks/{HOOK}",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Timestamp": timestamp,
            "X-Signature": sign(SECRET, timestamp, body),
            "Idempotency-Key": key,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            result.status = response.status
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        result.status = exc.code
        result.error = exc.read()[:200].decode("utf-8", "replace")
        return result
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    result.request_ms = (time.perf_counter() - sent) * 1000
    instance_id = (answer.get("result") or {}).get("instance_id")
    deadline = time.perf_counter() + VISIBLE_TIMEOUT
    while time.perf_counter() < deadline:
        row = conn.execute(
            "SELECT 1 FROM human_task WHERE instance_id = %s LIMIT 1", (instance_id,)
        ).fetchone()
        if row:
            result.visible_ms = (time.perf_counter() - sent) * 1000
            break
        time.sleep(0.002)
    return result


def read_server_times(path: Path, offset: int) -> dict[str, float]:
    """Idempotency-Key -> ms, from the access log lines written during the run."""
    times = {}
    line_re = re.compile(r"^(\S+) (\d{3}) (\d+)$")
    with open(path, encoding="utf-8", errors="replace") as log:
        log.seek(offset)
        for line in log:
            match = line_re.match(line.strip())
            if match and match.group(1) != "-":
                times[match.group(1)] = int(match.group(3)) / 1000
    return times


# --- report -------------------------------------------------------------------------------


def percentiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return (
        f"p50 {statistics.median(ordered):7.1f}  p95 {at(0.95):7.1f}  p99 {at(0.99):7.1f}  "
        f"max {ordered[-1]:7.1f}  (n={len(ordered)})"
    )


def report(args, results: list[Result], lag: list[float], server_ms: dict[str, float]) -> None:
    elapsed = lag[0]
    ok = [r for r in results if r.status == 201]
    visible = [r.visible_ms for r in ok if r.visible_ms is not None]
    invisible = len(ok) - len(visible)
    errors: dict[str, int] = {}
    for r in results:
        if r.status != 201:
            label = str(r.status) if r.status else (r.error or "?").split(":")[0]
            errors[label] = errors.get(label, 0) + 1
    late = [r.late_ms for r in results]
    print(f"starts/s          {len(ok) / elapsed:8.1f}   (offered {args.rate:g}/s for {args.seconds:g}s)")
    print(f"client send delay {percentiles(late)}   ms behind schedule")
    print(f"request           {percentiles([r.request_ms for r in ok if r.request_ms is not None])}   ms")
    print(f"-> task visible   {percentiles(visible)}   ms")
    matched = [server_ms[r.key] for r in results if r.key in server_ms]
    print(f"server time       {percentiles(matched)}   ms (gunicorn %(D)s)")
    print(f"bench client CPU  {lag[1]:8.1f} s  ({lag[1] / elapsed:.0%} of one core, taken from the server's)")
    print(f"errors            {sum(errors.values())} {errors or ''}  tasks not visible: {invisible}")
    if errors:
        sample = next(r for r in results if r.status != 201)
        print(f"first error: {sample.status} {sample.error}")


if __name__ == "__main__":
    main()
