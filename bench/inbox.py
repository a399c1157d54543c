"""Inbox server time at scale: 1,000,000 human tasks, 10,000 users (target: p95 <= 50 ms).

    .venv/bin/python bench/inbox.py [--tasks 1000000] [--users 10000] [--runs 200]
        [--keep FILE | --database-url postgresql+psycopg://USER@HOST:PORT/DB]
        [--only WORD,...] [--explain]

Builds the data once (schema by create_all; about 10 minutes for the default size), or
reuses a kept database: columns the models gained are added, the inbox tables' indexes are
rebuilt where the models declare them differently, and ANALYZE runs. Then, for a sample of
200 users, each case runs --runs times and prints p50 / p95 / max wall time and the p95 of
this thread's CPU time, in ms (CPU time includes SQLite's work but not a PostgreSQL
server's; on a shared machine it is the steadier figure):

- `<tab>`, `<tab> p2`: the first page of each tab, and page 2 through the keyset cursor;
- `<tab> ?process|?region|?due`: a filtered first page (a process key; the province, a
  city or a county with what is under it; due state overdue / due soon / on time in turn);
- `tab_counts`, `unread badge`, `unread list`: the counts and notification queries;
- `GET /inbox?...`: the whole page through the Flask test client, as the server spends it
  (user from the session cookie, page, counts, unread badge, template), with the SQL
  statements per request and the p50 of their execute time.

Data shape (scales with --tasks/--users): 70 % of users are staff of 10 departments
(reviewers, 2 % heads, 4 % window clerks: groups `<dept>.<role>` and the plain role), 5 %
experts, 25 % people of 1,000 units who start the processes (a few start hundreds; the
busiest about 1,900). One instance has 10 tasks; the newest quarter of the instances is
running with its last 2 or 3 tasks open (6 % of the tasks; 85 % of those claimed, the
rest waiting in a group: 400-450 per department reviewer group, 60-80 per head or window
group, 2,500 for the experts). Everything older is completed (3 % cancelled); 200 busy
reviewers have completed about 3,000 tasks each, everyone else a few dozen. 3 % of the
tasks are copied (抄送), 40 % of those to heads; one notification per assigned task and
copy, half of those of open tasks unread.

The timed users are a heavy mix: half busy reviewers, then heads, other staff and experts,
and the 40 applicants with the most instances. Every call is a fresh unit of work
(rollback, empty identity map); every request a fresh app context. Run by people, not by
CI; tests never assert timings.

`--database-url` runs against PostgreSQL (the database must exist, empty or built by an
earlier run). `--explain` prints each statement of one call per case with its plan
(EXPLAIN QUERY PLAN on SQLite, EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL) instead of timing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from common import Statements, add_database_args, database_url, explain, percentile  # noqa: E402

from backend import create_app  # noqa: E402
from backend.extensions import db  # noqa: E402
from backend.org.models import Department, Region, Unit, User  # noqa: E402
from backend.org.service import seed_departments, seed_regions  # noqa: E402
from backend.projects.models import Project  # noqa: E402
from backend.tasks import models as task_models  # noqa: E402
from backend.tasks import service  # noqa: E402
from backend.tasks.service import InboxFilters  # noqa: E402
from backend.workflow.models import HumanTask, ProcessDefinition, ProcessInstance  # noqa: E402

EXTRA_DEPARTMENTS = ("jt", "sl", "ny", "wj")  # beside the six platform departments
PROCESSES = (("project_approval", 0.5), ("milestone_payment", 0.3), ("rectification", 0.2))
TASKS_PER_INSTANCE = 10
BATCH = 20_000
BUSY_PER_DEPARTMENT = 20
SAMPLE = 200
INBOX_TABLES = ("human_task", "task_copy", "notification", "process_instance")


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


# --- data ------------------------------------------------------------------------------------


class People:
    """Usernames by kind; the builder and the sample draw from these."""

    def __init__(self, n_users: int, departments: list[str]):
        self.staff: dict[str, list[str]] = {d: [] for d in departments}  # reviewers
        self.heads: dict[str, list[str]] = {d: [] for d in departments}
        self.windows: dict[str, list[str]] = {d: [] for d in departments}
        self.experts: list[str] = []
        self.applicants: list[str] = []
        self.rows: list[dict] = []
        n_staff, n_experts = int(n_users * 0.70), int(n_users * 0.05)
        for i in range(n_users):
            name = f"u{i:05d}"
            row = {
                "username": name,
                "display_name": f"用户{i}",
                "roles": [],
                "department": None,
                "unit": None,
            }
            if i < n_staff:
                dept = departments[i % len(departments)]
                k = i // len(departments)
                role = "head" if k % 50 == 0 else "window" if k % 50 in (1, 2) else "reviewer"
                row.update(roles=[role], department=dept)
                {"head": self.heads, "window": self.windows, "reviewer": self.staff}[role][dept].append(name)
            elif i < n_staff + n_experts:
                row["roles"] = ["expert"]
                self.experts.append(name)
            else:
                row["unit"] = i % 1000 + 1
                self.applicants.append(name)
            self.rows.append(row)
        self.busy = [name for names in self.staff.values() for name in names[:BUSY_PER_DEPARTMENT]]
        self.others = [
            name for names in self.staff.values() for name in names[BUSY_PER_DEPARTMENT:]
        ] + self.experts
        self.all_heads = [name for names in self.heads.values() for name in names]


def build(*, n_tasks: int, n_users: int, rng: random.Random) -> None:
    now = datetime.now(UTC)
    session = db.session
    seed_regions(session=session)
    seed_departments(session=session)
    for code in EXTRA_DEPARTMENTS:
        session.add(Department(code=code, name=code, short_name=code, region_code="330000"))
    session.flush()
    dept_ids = dict(session.execute(sa.select(Department.code, Department.id)).all())
    departments = sorted(dept_ids)
    counties = list(session.scalars(sa.select(Region.code).where(Region.level == "county")))
    conn = session.connection()
    conn.execute(
        sa.insert(Unit.__table__),
        [
            {"id": i, "name": f"单位{i}", "kind": "owner", "region_code": rng.choice(counties)}
            for i in range(1, 1001)
        ],
    )
    people = People(n_users, departments)
    conn.execute(
        sa.insert(User.__table__),
        [
            {
                "username": row["username"],
                "display_name": row["display_name"],
                "department_id": dept_ids[row["department"]] if row["department"] else None,
                "unit_id": row["unit"],
                "roles": row["roles"],
                "active": True,
                "must_change_password": False,
                "locale": "zh_CN",
                "created_at": now,
            }
            for row in people.rows
        ],
    )
    for n, (key, _share) in enumerate(PROCESSES):
        session.add(
            ProcessDefinition(
                key=key,
                version=1,
                name=key,
                content_hash=f"{n:064d}",
                file_name=f"{key}.bpmn",
                source_xml="<x/>",
                spec_json="{}",
                serializer_version="1",
            )
        )
    session.flush()
    def_ids = dict(session.execute(sa.select(ProcessDefinition.key, ProcessDefinition.id)).all())

    n_projects = max(1, n_tasks // 50)
    codes = [f"2024-{rng.choice(counties)}-48-01-{i:06d}" for i in range(n_projects)]
    for start in range(0, n_projects, BATCH):
        conn.execute(
            sa.insert(Project.__table__),
            [
                {
                    "code": code,
                    "name": f"项目{code[-6:]}",
                    "owner_unit_id": rng.randrange(1, 1001),
                    "region_code": code[5:11],
                    "industry": "交通",
                    "nature": "new",
                    "total_investment": Decimal("1000000.00"),
                    "funding_sources": [],
                    "planned_start": now.date(),
                    "planned_end": now.date(),
                    "scale_content": "",
                    "status": "approved",
                    "created_at": now,
                    "updated_at": now,
                }
                for code in codes[start : start + BATCH]
            ],
        )

    n_instances = max(1, n_tasks // TASKS_PER_INSTANCE)
    first_running = int(n_instances * 0.75)
    keys = [key for key, _ in PROCESSES]
    weights = [share for _, share in PROCESSES]
    history = timedelta(days=3 * 365)
    instances, tasks, copies, notes = [], [], [], []

    def flush(force: bool = False) -> None:
        if not force and len(tasks) < BATCH:
            return
        for table, rows in (  # parents first
            (ProcessInstance.__table__, instances),
            (HumanTask.__table__, tasks),
            (task_models.TaskCopy.__table__, copies),
            (task_models.Notification.__table__, notes),
        ):
            if rows:
                conn.execute(sa.insert(table), rows)
                rows.clear()

    def doer(dept: str) -> str:
        """Who completed a task: busy reviewers do two thirds of the work."""
        if rng.random() < 0.65:
            return rng.choice(people.busy)
        return rng.choice(people.others)

    def holder(dept: str) -> str:
        if rng.random() < 0.5:
            return rng.choice(people.staff[dept][:BUSY_PER_DEPARTMENT])
        return rng.choice(people.staff[dept] + people.heads[dept])

    for i in range(n_instances):
        running = i >= first_running
        key = rng.choices(keys, weights)[0]
        # Applicants: a few big owners start hundreds of processes.
        starter = people.applicants[int(len(people.applicants) * rng.random() ** 2)]
        if running:
            started = now - timedelta(minutes=rng.randrange(60 * 24 * 270))
        else:
            started = now - history + (history - timedelta(days=270)) * (i / max(1, first_running))
        instances.append(
            {
                "id": i + 1,
                "definition_id": def_ids[key],
                "process_key": key,
                "business_key": rng.choice(codes),
                "state": "running" if running else "completed",
                "state_json": "{}",
                "serializer_version": "1",
                "lock_version": 1,
                "started_by": starter,
                "started_at": started,
                "updated_at": started,
                "completed_at": None if running else started + timedelta(days=40),
            }
        )
        business_key = instances[-1]["business_key"]
        n_open = rng.choice((2, 3)) if running else 0
        for step in range(TASKS_PER_INSTANCE):
            n = i * TASKS_PER_INSTANCE + step
            dept = departments[rng.randrange(len(departments))]
            is_open = step >= TASKS_PER_INSTANCE - n_open
            if is_open:
                created = now - timedelta(minutes=rng.randrange(60 * 24 * 30))
            else:
                created = started + timedelta(hours=step * rng.randrange(4, 72))
            due = created + timedelta(days=rng.randrange(3, 22)) if rng.random() < 0.9 else None
            row = {
                "id": f"t{n:09d}",
                "instance_id": i + 1,
                "process_key": key,
                "business_key": business_key,
                "element_id": f"step{step}",
                "title": f"审查{step}",
                "lane": None,
                "candidate_group": f"{dept}.reviewer",
                "assignee": None,
                "form": None,
                "state": "open",
                "multi_instance_parent": None,
                "multi_instance_total": None,
                "item": None,
                "outcome": None,
                "properties": {},
                "due_at": utc(due) if due else None,
                "reminded_at": None,
                "escalated_at": None,
                "created_at": utc(created),
                "completed_at": None,
                "completed_by": None,
            }
            if is_open:
                r = rng.random()
                if r < 0.85:
                    row["assignee"] = holder(dept)
                elif r < 0.94:  # waiting in a department group
                    row["candidate_group"] = (
                        f"{dept}.{rng.choices(('reviewer', 'head', 'window'), (6, 1, 1))[0]}"
                    )
                elif r < 0.98:
                    row["candidate_group"] = "expert"
                else:
                    row["candidate_group"] = f"unit.{rng.randrange(1, 1001)}"
            elif rng.random() < 0.03:
                row.update(state="cancelled", completed_at=utc(created + timedelta(hours=1)))
            else:
                who = doer(dept)
                finished = created + timedelta(minutes=rng.randrange(10, 60 * 24 * 10))
                row.update(
                    state="completed",
                    assignee=who,
                    completed_by=who,
                    completed_at=utc(finished),
                    outcome="approved",
                )
            tasks.append(row)
            if row["assignee"]:
                notes.append(
                    {
                        "user": row["assignee"],
                        "kind": "new_task",
                        "title": "新任务「审查」",
                        "link": f"/tasks/{row['id']}",
                        "instance_id": i + 1,
                        "task_id": row["id"],
                        "created_at": row["created_at"],
                        "read_at": None if is_open and rng.random() < 0.5 else row["created_at"],
                    }
                )
            if rng.random() < 0.03:
                to = rng.choice(people.all_heads) if rng.random() < 0.4 else rng.choice(people.others)
                copies.append(
                    {
                        "task_id": row["id"],
                        "instance_id": i + 1,
                        "to_user": to,
                        "from_user": row["assignee"] or "u00000",
                        "note": None,
                        "at": row["created_at"],
                        "read_at": None,
                    }
                )
                notes.append(
                    {
                        "user": to,
                        "kind": "cc",
                        "title": "抄送「审查」",
                        "link": f"/tasks/{row['id']}",
                        "instance_id": i + 1,
                        "task_id": row["id"],
                        "created_at": row["created_at"],
                        "read_at": None if rng.random() < 0.3 else row["created_at"],
                    }
                )
        flush()
    flush(force=True)
    session.commit()


def _shape(columns, where) -> tuple:
    """An index as (columns, partial predicate) for comparing the models with the database."""
    text = "" if where is None else str(where)
    return tuple(columns), "".join(ch for ch in text.lower() if ch not in " ()")


def _where(conn, dialect: str, index: dict):
    if dialect != "sqlite":
        return index.get("dialect_options", {}).get(f"{dialect}_where")
    # SQLAlchemy does not reflect SQLite's partial-index predicates: read the DDL.
    sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = ?", (index["name"],)).scalar()
    return sql.split(" WHERE ", 1)[1] if sql and " WHERE " in sql else None


def add_missing_columns() -> None:
    """Columns added to the models since a kept database was built (nullable ones only)."""
    with db.engine.begin() as conn:
        inspector = sa.inspect(conn)
        for name in INBOX_TABLES:
            present = {column["name"] for column in inspector.get_columns(name)}
            for column in db.metadata.tables[name].columns:
                if column.name not in present and column.nullable:
                    kind = column.type.compile(dialect=conn.dialect)
                    conn.exec_driver_sql(f'ALTER TABLE {name} ADD COLUMN "{column.name}" {kind}')
                    print(f"added column {name}.{column.name}")


def sync_indexes() -> None:
    """A kept database gets the inbox indexes as the models declare them now (an index whose
    columns or predicate changed is rebuilt; one no longer declared is dropped), then
    fresh statistics."""
    dialect = db.engine.dialect.name
    with db.engine.begin() as conn:
        inspector = sa.inspect(conn)
        for name in INBOX_TABLES:
            declared = {
                index.name: (
                    index,
                    _shape([c.name for c in index.columns], index.dialect_options[dialect]["where"]),
                )
                for index in db.metadata.tables[name].indexes
            }
            present = {
                index["name"]: _shape(index["column_names"], _where(conn, dialect, index))
                for index in inspector.get_indexes(name)
            }
            for index_name, shape in present.items():
                if index_name not in declared or declared[index_name][1] != shape:
                    conn.exec_driver_sql(f"DROP INDEX {index_name}")
                    print(f"dropped index {index_name} {shape}")
            for index_name, (index, shape) in declared.items():
                if present.get(index_name) != shape:
                    index.create(conn)
                    print(f"created index {index_name} {shape}")
        conn.exec_driver_sql("ANALYZE")


# --- timing ----------------------------------------------------------------------------------


class Timings:
    """Wall and CPU time (this thread: Python and SQLite, not a PostgreSQL server) per call."""

    def __init__(self, label: str):
        self.label, self.wall, self.cpu, self.statements, self.sql = label, [], [], [], []

    def time(self, call, statements: Statements | None = None):
        wall, cpu = time.perf_counter(), time.thread_time()
        if statements is None:
            result = call()
        else:
            with statements:
                result = call()
            self.statements.append(len(statements.items))
            self.sql.append(statements.sql_seconds * 1000)
        self.cpu.append((time.thread_time() - cpu) * 1000)
        self.wall.append((time.perf_counter() - wall) * 1000)
        return result

    def report(self) -> None:
        if not self.wall:
            return
        extra = ""
        if self.statements:
            extra = (
                f"  {statistics.mean(self.statements):4.1f} stmts, sql p50 {statistics.median(self.sql):5.2f}"
            )
        print(
            f"{self.label:<38} p50 {statistics.median(self.wall):6.2f}  p95 {percentile(self.wall, 0.95):6.2f}"
            f"  max {max(self.wall):6.2f}  cpu p95 {percentile(self.cpu, 0.95):6.2f} ms{extra}",
            flush=True,
        )


def load_sample(people_names: dict[str, list[str]], rng: random.Random) -> list[User]:
    """Detached users with their departments loaded, as flask-login would give them."""
    picks = (
        rng.sample(people_names["busy"], SAMPLE // 2)
        + rng.sample(people_names["heads"], SAMPLE // 10)
        + rng.sample(people_names["others"], SAMPLE // 5)
        + people_names["starters"][: SAMPLE // 5]
    )
    users = list(db.session.scalars(sa.select(User).where(User.username.in_(picks))))
    for user in users:
        user.groups  # noqa: B018  (load the department)
    db.session.expunge_all()
    db.session.rollback()
    return users


def sample_names() -> dict[str, list[str]]:
    session = db.session
    busy = list(
        session.scalars(
            sa.select(HumanTask.completed_by)
            .where(HumanTask.completed_by.is_not(None))
            .group_by(HumanTask.completed_by)
            .order_by(sa.func.count().desc())
            .limit(BUSY_PER_DEPARTMENT * 10)
        )
    )
    heads = list(session.scalars(sa.select(User.username).where(User.roles.cast(sa.String).like('%"head"%'))))
    others = list(
        session.scalars(
            sa.select(User.username).where(
                User.department_id.is_not(None), User.username.not_in(busy + heads)
            )
        )
    ) + list(session.scalars(sa.select(User.username).where(User.roles.cast(sa.String).like('%"expert"%'))))
    starters = list(
        session.scalars(
            sa.select(ProcessInstance.started_by)
            .group_by(ProcessInstance.started_by)
            .order_by(sa.func.count().desc())
            .limit(SAMPLE)
        )
    )
    session.rollback()
    return {"busy": busy, "heads": heads, "others": others, "starters": starters}


def cases(users: list[User], rng: random.Random):
    """(label, [call per user]) for the service-level cases."""
    session = db.session
    levels = {
        level: list(session.scalars(sa.select(Region.code).where(Region.level == level)))
        for level in ("province", "city", "county")
    }
    # The province, a city or a county in turn.
    regions = [rng.choice(levels[("province", "city", "county")[n % 3]]) for n in range(len(users))]
    keys = [key for key, _ in PROCESSES]

    def page(user, tab, **options):
        return lambda: service.inbox(session=session, user=user, tab=tab, **options)

    out = []
    for tab in service.TABS:
        out.append((tab, [page(u, tab) for u in users]))
        seconds = []
        for u in users:
            cursor = service.inbox(session=session, user=u, tab=tab).next_cursor
            if cursor:
                seconds.append(page(u, tab, cursor=cursor))
        session.rollback()
        session.expunge_all()
        out.append((f"{tab} p2", seconds))
        out.append(
            (
                f"{tab} ?process",
                [page(u, tab, filters=InboxFilters(process_key=rng.choice(keys))) for u in users],
            )
        )
        out.append(
            (
                f"{tab} ?region",
                [page(u, tab, filters=InboxFilters(region_code=regions[n])) for n, u in enumerate(users)],
            )
        )
        out.append(
            (
                f"{tab} ?due",
                [
                    page(u, tab, filters=InboxFilters(due_state=service.DUE_STATES[n % 3]))
                    for n, u in enumerate(users)
                ],
            )
        )
    out.append(("tab_counts", [lambda u=u: service.tab_counts(session=session, user=u) for u in users]))
    out.append(
        (
            "unread badge",
            [
                lambda u=u: session.scalar(
                    sa.select(sa.func.count())
                    .select_from(task_models.Notification)
                    .where(
                        task_models.Notification.user == u.username,
                        task_models.Notification.read_at.is_(None),
                    )
                )
                for u in users
            ],
        )
    )
    out.append(
        ("unread list", [lambda u=u: service.unread_notifications(session=session, user=u) for u in users])
    )
    return out


def run_service_cases(users, rng, *, runs: int, only: list[str], show_plans: bool) -> None:
    session = db.session
    for label, calls in cases(users, rng):
        if only and not any(word in label for word in only) or not calls:
            continue
        if show_plans:
            with Statements(db.engine) as seen:
                calls[0]()
            session.rollback()
            session.expunge_all()
            explain(label, seen.items)
            continue
        timings = Timings(label)
        for n in range(runs):
            timings.time(calls[n % len(calls)])
            session.rollback()
            session.expunge_all()
        timings.report()


def run_view_cases(app, engine, users, *, runs: int, only: list[str]) -> None:
    paths = [f"/inbox?tab={tab}" for tab in service.TABS] + [
        "/inbox?tab=mine&due=overdue",
        "/inbox?tab=group&due=due_soon",
        "/inbox?tab=done&process=project_approval",
        "/inbox?tab=group&region=330100",
        "/inbox?tab=done&region=330000",
    ]
    clients = []
    for user in users:
        client = app.test_client()
        with client.session_transaction() as cookie:
            cookie["_user_id"] = str(user.id)
            cookie["_fresh"] = True
        clients.append(client)
    statements = Statements(engine)

    def get(client, path: str) -> str:
        response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: HTTP {response.status_code}")
        return response.get_data(as_text=True)

    for path in paths:
        timings = Timings(f"GET {path}")
        if only and not any(word in timings.label for word in only):
            continue
        for n in range(runs):
            timings.time(lambda n=n, path=path: get(clients[n % len(clients)], path), statements)
        timings.report()
    # Page 2 as the browser follows the 下一页 link.
    for tab in ("group", "done"):
        timings = Timings(f"GET /inbox?tab={tab}&cursor=...")
        if only and not any(word in timings.label for word in only):
            continue
        for n in range(runs):
            client = clients[n % len(clients)]
            html = get(client, f"/inbox?tab={tab}")
            marker = 'rel="next" href="'
            if marker in html:
                href = html.split(marker, 1)[1].split('"', 1)[0].replace("&amp;", "&")
                timings.time(lambda client=client, href=href: get(client, href), statements)
        timings.report()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=200)
    add_database_args(parser, postgres_example="postgresql://user@127.0.0.1/bench")
    args = parser.parse_args()
    url = database_url(args, "inbox.sqlite3")
    # LOG_LEVEL: no warnings about calendar years without an official schedule.
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "EMBEDDED_WORKERS": False, "LOG_LEVEL": "ERROR"})
    only = [word for word in args.only.split(",") if word]
    rng = random.Random(4)
    with app.app_context():
        db.create_all()
        if not db.session.scalar(sa.select(sa.func.count()).select_from(HumanTask)):
            db.session.rollback()
            start = time.perf_counter()
            build(n_tasks=args.tasks, n_users=args.users, rng=rng)
            print(
                f"built {args.tasks} tasks, {args.users} users in {time.perf_counter() - start:.0f} s ({url})"
            )
        db.session.rollback()
        add_missing_columns()
        sync_indexes()
        users = load_sample(sample_names(), rng)
        print(f"{db.engine.dialect.name}, {len(users)} users sampled, {args.runs} runs per case", flush=True)
        run_service_cases(users, rng, runs=args.runs, only=only, show_plans=args.explain)
        engine = db.engine
    if not args.explain:
        run_view_cases(app, engine, users, runs=args.runs, only=only)


if __name__ == "__main__":
    main()
