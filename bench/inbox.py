"""Inbox tab latency on a large SQLite file: 1,000,000 human tasks, 10,000 users.

    .venv/bin/python bench/inbox.py [--tasks 1000000] [--users 10000] [--runs 200] [--keep FILE]

Builds the rows with executemany (schema by create_all: the inbox tables are not in the
migrations yet), then runs the first page of each tab and the tab counts for random users
and prints p50/p95 in ms. Run by people, not by CI; tests never assert timings.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from backend import create_app  # noqa: E402
from backend.extensions import db  # noqa: E402
from backend.org.models import Department, Region, User  # noqa: E402
from backend.tasks import models as task_models  # noqa: E402
from backend.tasks import service  # noqa: E402
from backend.workflow.models import HumanTask, ProcessDefinition, ProcessInstance  # noqa: E402

DEPARTMENTS = ("fgw", "cz", "zj", "zrzy", "sthj", "jt", "sl", "ny", "wj", "jy")
ROLES = ("reviewer", "head")
TASKS_PER_INSTANCE = 10
BATCH = 50_000


def naive(moment: datetime) -> datetime:
    """Rows go through the models' column types, which take aware UTC times."""
    return moment.astimezone(UTC)


def build(*, n_tasks: int, n_users: int, rng: random.Random) -> None:
    now = datetime.now(UTC)
    conn = db.session.connection()
    db.session.add(Region(code="330000", name="浙江省", level="province"))
    db.session.flush()
    for code in DEPARTMENTS:
        db.session.add(Department(code=code, name=code, short_name=code, region_code="330000"))
    db.session.flush()
    dept_ids = dict(db.session.execute(sa.select(Department.code, Department.id)).all())
    users = [
        {
            "username": f"u{i:05d}",
            "display_name": f"用户{i}",
            "department_id": dept_ids[DEPARTMENTS[i % len(DEPARTMENTS)]],
            "roles": ["head"] if i % 50 == 0 else ["reviewer"],
            "active": True,
            "created_at": naive(now),
        }
        for i in range(n_users)
    ]
    conn.execute(sa.insert(User.__table__), users)
    db.session.add(
        ProcessDefinition(
            key="approval",
            version=1,
            name="审批",
            content_hash="0" * 64,
            file_name="a.bpmn",
            source_xml="<x/>",
            spec_json="{}",
            serializer_version="1",
        )
    )
    db.session.flush()
    n_instances = max(1, n_tasks // TASKS_PER_INSTANCE)
    conn.execute(
        sa.insert(ProcessInstance.__table__),
        [
            {
                "id": i + 1,
                "definition_id": 1,
                "process_key": "approval",
                "business_key": f"P-{i}",
                "state": "running",
                "state_json": "{}",
                "serializer_version": "1",
                "lock_version": 1,
                "started_by": f"u{rng.randrange(n_users):05d}",
                "started_at": naive(now),
                "updated_at": naive(now),
            }
            for i in range(n_instances)
        ],
    )
    rows = []
    for i in range(n_tasks):
        created = now - timedelta(minutes=rng.randrange(60 * 24 * 365))
        kind = rng.random()
        dept = DEPARTMENTS[rng.randrange(len(DEPARTMENTS))]
        user = f"u{rng.randrange(n_users):05d}"
        row = {
            "id": f"t{i:09d}",
            "instance_id": i // TASKS_PER_INSTANCE + 1,
            "process_key": "approval",
            "business_key": f"P-{i // TASKS_PER_INSTANCE}",
            "element_id": "review",
            "title": "审查",
            "candidate_group": f"{dept}.reviewer",
            "assignee": None,
            "state": "open",
            "properties": {},
            "due_at": naive(created + timedelta(days=rng.randrange(1, 30))),
            "created_at": naive(created),
            "completed_at": None,
            "completed_by": None,
        }
        if kind < 0.8:  # history
            row.update(state="completed", assignee=user, completed_by=user, completed_at=naive(created))
        elif kind < 0.95:
            row["assignee"] = user
        rows.append(row)
        if len(rows) == BATCH:
            conn.execute(sa.insert(HumanTask.__table__), rows)
            rows = []
    if rows:
        conn.execute(sa.insert(HumanTask.__table__), rows)
    conn.execute(
        sa.insert(task_models.TaskCopy.__table__),
        [
            {
                "task_id": f"t{rng.randrange(n_tasks):09d}",
                "instance_id": 1,
                "to_user": f"u{rng.randrange(n_users):05d}",
                "from_user": "u00000",
                "at": naive(now),
            }
            for _ in range(n_tasks // 100)
        ],
    )
    db.session.commit()
    conn = db.session.connection()
    conn.exec_driver_sql("ANALYZE")
    db.session.commit()


def measure(label: str, runs: int, call) -> None:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    print(f"{label:<18} p50 {statistics.median(times):8.2f} ms   p95 {p95:8.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--keep", help="SQLite file to build (kept); default a temporary one")
    args = parser.parse_args()
    path = Path(args.keep) if args.keep else Path(tempfile.mkdtemp()) / "inbox.sqlite3"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "EMBEDDED_WORKERS": False})
    rng = random.Random(4)
    with app.app_context():
        db.create_all()
        if not db.session.scalar(sa.select(sa.func.count()).select_from(HumanTask)):
            start = time.perf_counter()
            build(n_tasks=args.tasks, n_users=args.users, rng=rng)
            print(
                f"built {args.tasks} tasks, {args.users} users in {time.perf_counter() - start:.1f} s ({path})"
            )
        users = list(db.session.scalars(sa.select(User).limit(500)))
        for user in users:
            user.groups  # noqa: B018  (load departments before timing)
        session = db.session
        for tab in service.TABS:
            measure(
                tab,
                args.runs,
                lambda tab=tab: service.inbox(session=session, user=rng.choice(users), tab=tab),
            )
        measure("tab_counts", args.runs, lambda: service.tab_counts(session=session, user=rng.choice(users)))
        page = service.inbox(session=session, user=users[1], tab="group")
        measure(
            "group page 2",
            args.runs,
            lambda: service.inbox(session=session, user=users[1], tab="group", cursor=page.next_cursor),
        )


if __name__ == "__main__":
    main()
