"""Cockpit server time at scale: 10,000 projects, 1,000,000 human tasks (issue 10 target: any
cockpit query <= 200 ms at p95).

    .venv/bin/python bench/cockpit.py [--projects 10000] [--tasks 1000000] [--runs 20]
        [--keep FILE | --database-url postgresql+psycopg://USER:PW@HOST:PORT/DB]
        [--only WORD,...] [--explain] [--no-views]

Builds a province once (schema by create_all, like bench/inbox.py; Core executemany, not ORM
objects), or reuses a kept database (--keep; ANALYZE runs each time):
- the 浙江 regions of seed_regions (1 province, 11 cities, 90 counties), 1,000 units;
- projects spread over the counties (a few on a city's own code) with industries, statuses
  (a few drafts), total investments, planned starts/ends over 2024-2027;
- per project: monthly investment reports 2025-01 .. 2026-10 (5 % superseded by a second
  version), budget lines (2 sources x 2 years), allocations, 3 contracts with 4 payments each,
  a 20-item WBS (4 parents, 16 leaves), approval opinions (8 departments' steps, with due
  times, working days, overdue), tickets, public feedback, risk warnings;
- process instances (10 tasks each) with --tasks human task rows tied to the projects by
  business key, with due times and completions (the KPI service does not read them today,
  but they are the bulk of a real database).

Then, warm, each call a fresh unit of work, --runs repetitions per case, p50/p95/max wall ms:
kinds `overview` (overview + children together in one request context, as a view calls them:
children() reuses overview()'s computation; this case uses the clock, the others the bench's
fixed "now", 2026-11-24), `trend` (the
indicator rotates over the catalogue), `breakdown/industry`, `breakdown/department`,
`trace` (indicator rotates), at levels province, city, county, project, for a year (2026)
and a quarter (2026Q3), with a province-wide Scope (scope.all) and a county Scope (levels
county and project only). The last service line is `cockpit_p95_ms=<worst p95>`.
Then the same through the Flask test client (`GET /leader/api/overview` ...) signed in as a
province leader (role leader, region 330000): server time of the whole request; the last line
`cockpit_http_p95_ms=<worst p95>`.

By default the figures come from stored snapshots (backend/kpi/snapshot.py), as in production:
the bench first refreshes 2026, 2026Q3 and the months of 2026 (printing the seconds of each, the
background job's cost), then every case runs at the clock's now (no explicit `now`, which would
compute live). `--live` computes every figure on request at the fixed now instead (counties and
projects are computed live either way).

`--explain` prints each statement of one call per case with its plan (EXPLAIN QUERY PLAN on
SQLite, EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL) instead of timing. Run by people, not CI.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from common import Statements, add_database_args, database_url, explain, percentile  # noqa: E402
from flask import current_app, g  # noqa: E402

from backend import create_app  # noqa: E402
from backend.approvals.models import ApprovalOpinion  # noqa: E402
from backend.authz.scope import Scope  # noqa: E402
from backend.contracts.models import BudgetLine, Contract, Payment, PaymentMilestone  # noqa: E402
from backend.extensions import db  # noqa: E402
from backend.funds.models import Allocation, InvestmentReport  # noqa: E402
from backend.kpi import catalogue, service  # noqa: E402
from backend.org.models import Department, Region, Unit, User  # noqa: E402
from backend.org.service import seed_departments, seed_regions  # noqa: E402
from backend.projects.models import Project  # noqa: E402
from backend.publicpage.models import PublicFeedback  # noqa: E402
from backend.risk.models import RiskWarning  # noqa: E402
from backend.schedule.models import WbsItem  # noqa: E402
from backend.tickets.models import Ticket  # noqa: E402
from backend.workflow.models import HumanTask, ProcessDefinition, ProcessInstance  # noqa: E402

BATCH = 20_000
INDUSTRIES = ("交通", "水利", "能源", "市政", "社会事业", "产业", "农业农村", "生态环保")
# status, weight: most projects are past approval; a few drafts and ones still in approval.
STATUSES = (
    ("draft", 3),
    ("applying", 5),
    ("approved", 22),
    ("in_construction", 50),
    ("completed", 20),
)
SOURCES = ("中央预算内", "地方专项债")
PROCESSES = ("project_approval", "milestone_payment", "rectification")
TASKS_PER_INSTANCE = 10
NOW = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # the bench's "now" (Beijing noon)
# The `now` the cases pass: NOW with --live; None (the clock, snapshots used) by default.
CASE_NOW: dict = {"now": NOW}
PERIODS = ("2026", "2026Q3")
LEADER = "bench_leader"


def _utc(day: date, minutes: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=minutes)


# --- data ------------------------------------------------------------------------------------


class Writer:
    """Rows per table, inserted in batches in dependency order."""

    def __init__(self, conn, order):
        self.conn, self.order = conn, order
        self.rows = {table: [] for table in order}
        self.counts = dict.fromkeys(order, 0)

    def add(self, table, row: dict) -> None:
        self.rows[table].append(row)
        if len(self.rows[table]) >= BATCH:
            self.flush()

    def flush(self) -> None:
        for table in self.order:  # parents first
            rows = self.rows[table]
            if rows:
                self.conn.execute(sa.insert(table), rows)
                self.counts[table] += len(rows)
                rows.clear()


def build(*, n_projects: int, n_tasks: int, rng: random.Random) -> dict:
    session = db.session
    seed_regions(session=session)
    seed_departments(session=session)
    session.flush()
    departments = list(session.scalars(sa.select(Department.code)))
    counties = list(session.scalars(sa.select(Region.code).where(Region.level == "county")))
    cities = list(session.scalars(sa.select(Region.code).where(Region.level == "city")))
    conn = session.connection()
    conn.execute(
        sa.insert(Unit.__table__),
        [
            {"id": i, "name": f"单位{i}", "kind": "owner", "region_code": rng.choice(counties)}
            for i in range(1, 1001)
        ],
    )
    conn.execute(
        sa.insert(User.__table__),
        [
            {
                "username": LEADER,
                "display_name": "领导",
                "region_code": "330000",
                "roles": ["leader"],
                "active": True,
                "must_change_password": False,
                "locale": "zh_CN",
                "created_at": NOW,
            }
        ],
    )
    for n, key in enumerate(PROCESSES):
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

    T = {
        "project": Project.__table__,
        "report": InvestmentReport.__table__,
        "budget": BudgetLine.__table__,
        "allocation": Allocation.__table__,
        "contract": Contract.__table__,
        "milestone": PaymentMilestone.__table__,
        "payment": Payment.__table__,
        "wbs": WbsItem.__table__,
        "opinion": ApprovalOpinion.__table__,
        "ticket": Ticket.__table__,
        "feedback": PublicFeedback.__table__,
        "warning": RiskWarning.__table__,
        "instance": ProcessInstance.__table__,
        "task": HumanTask.__table__,
    }
    w = Writer(conn, list(T.values()))
    statuses = [s for s, _ in STATUSES]
    weights = [k for _, k in STATUSES]
    codes = []
    ids = {"contract": 0, "milestone": 0, "payment": 0, "wbs": 0, "ticket": 0, "alloc": 0}
    for pid in range(1, n_projects + 1):
        region = rng.choice(cities) if rng.random() < 0.02 else rng.choice(counties)
        code = f"{rng.choice((2023, 2024, 2025, 2026))}-{region}-48-01-{pid:06d}"
        codes.append(code)
        status = rng.choices(statuses, weights)[0]
        start = date(2024, 1, 1) + timedelta(days=rng.randrange(3 * 365))
        end = start + timedelta(days=rng.randrange(300, 1100))
        total = Decimal(rng.randrange(5_000, 500_000)) * 10_000
        w.add(
            T["project"],
            {
                "id": pid,
                "code": code,
                "name": f"项目{pid}",
                "owner_unit_id": rng.randrange(1, 1001),
                "region_code": region,
                "industry": rng.choice(INDUSTRIES),
                "nature": "new",
                "total_investment": total,
                "funding_sources": [],
                "planned_start": start,
                "planned_end": end,
                "scale_content": "",
                "status": status,
                "created_at": NOW,
                "updated_at": NOW,
            },
        )
        if status in ("draft", "applying"):
            # Approval still running: opinions and tasks only.
            _approvals(w, T, pid, departments, rng, partial=True)
            continue
        monthly = total / 36
        for year in (2025, 2026):
            for month in range(1, 13):
                if (year, month) > (2026, 10):
                    break
                amount = (monthly * Decimal(rng.uniform(0.3, 1.5))).quantize(Decimal("0.01"))
                versions = 2 if rng.random() < 0.05 else 1
                for version in range(1, versions + 1):
                    reported = _utc(date(year, month, 1) + timedelta(days=40), rng.randrange(600))
                    w.add(
                        T["report"],
                        {
                            "project_id": pid,
                            "year": year,
                            "month": month,
                            "version": version,
                            "amount": amount,
                            "note": "",
                            "reported_by": "u",
                            "reported_at": reported,
                            "superseded_at": reported + timedelta(days=3) if version < versions else None,
                        },
                    )
            for source in SOURCES:
                w.add(
                    T["budget"],
                    {
                        "project_id": pid,
                        "year": year,
                        "source": source,
                        "amount": (total / 6).quantize(Decimal("0.01")),
                    },
                )
            for _ in range(rng.randrange(1, 5)):
                ids["alloc"] += 1
                w.add(
                    T["allocation"],
                    {
                        "document_number": f"浙财建〔{year}〕{ids['alloc']}号",
                        "project_id": pid,
                        "year": year,
                        "source": rng.choice(SOURCES),
                        "amount": (total / 12).quantize(Decimal("0.01")),
                        "allocated_on": date(year, 1, 1) + timedelta(days=rng.randrange(330)),
                        "note": "",
                        "imported_by": "u",
                        "imported_at": NOW,
                    },
                )
        for _ in range(3):
            ids["contract"] += 1
            cid = ids["contract"]
            amount = (total / 4).quantize(Decimal("0.01"))
            w.add(
                T["contract"],
                {
                    "id": cid,
                    "number": f"HT{cid:07d}",
                    "name": "施工合同",
                    "project_id": pid,
                    "party_a_unit_id": 1,
                    "party_b_unit_id": rng.randrange(1, 1001),
                    "amount": amount,
                    "signed_on": start,
                    "clauses": {},
                    "created_at": NOW,
                },
            )
            for seq in range(1, 5):
                ids["milestone"] += 1
                w.add(
                    T["milestone"],
                    {
                        "id": ids["milestone"],
                        "contract_id": cid,
                        "seq": seq,
                        "name": f"第{seq}期",
                        "amount": amount / 4,
                        "release_conditions": [],
                        "state": "paid",
                        "blocked_reasons": [],
                        "acceptance_history": [],
                    },
                )
                ids["payment"] += 1
                disbursed = rng.random() < 0.7
                at = _utc(start + timedelta(days=rng.randrange(800)), rng.randrange(1440))
                w.add(
                    T["payment"],
                    {
                        "number": f"ZF{ids['payment']:08d}",
                        "contract_id": cid,
                        "milestone_id": ids["milestone"],
                        "amount": amount / 4,
                        "state": "disbursed" if disbursed else "approved",
                        "requested_at": at - timedelta(days=10),
                        "disbursed_at": at if disbursed else None,
                    },
                )
        # WBS: 4 parents with 4 leaves each.
        for parent in range(4):
            ids["wbs"] += 1
            parent_id = ids["wbs"]
            p_start = start + timedelta(days=parent * 90)
            w.add(
                T["wbs"],
                _wbs(parent_id, pid, None, f"{parent + 1}", p_start, p_start + timedelta(days=120), None),
            )
            for leaf in range(4):
                ids["wbs"] += 1
                l_start = p_start + timedelta(days=leaf * 30)
                l_end = l_start + timedelta(days=rng.randrange(20, 60))
                done = None
                if l_end < date(2026, 11, 24) and rng.random() < 0.8:
                    done = l_end + timedelta(days=rng.randrange(-5, 30))
                w.add(
                    T["wbs"],
                    _wbs(ids["wbs"], pid, parent_id, f"{parent + 1}.{leaf + 1}", l_start, l_end, done),
                )
        _approvals(w, T, pid, departments, rng, partial=False)
        for _ in range(rng.randrange(2, 9)):
            ids["ticket"] += 1
            created = _utc(date(2025, 1, 1) + timedelta(days=rng.randrange(690)), rng.randrange(1440))
            deadline = created + timedelta(days=rng.randrange(5, 30))
            closed = created + timedelta(days=rng.randrange(1, 40)) if rng.random() < 0.85 else None
            outcome = None if closed is None else ("cancelled" if rng.random() < 0.05 else "passed")
            w.add(
                T["ticket"],
                {
                    "number": f"GD{ids['ticket']:08d}",
                    "project_id": pid,
                    "source": "inspection",
                    "category": "质量",
                    "severity": rng.choice(("general", "serious")),
                    "description": "整改",
                    "evidence": [],
                    "deadline": deadline,
                    "status": "closed" if closed else "rectifying",
                    "rounds": rng.choice((1, 1, 1, 2, 3)),
                    "overdue": False,
                    "created_at": created,
                    "closed_at": closed,
                    "outcome": outcome,
                    "history": [],
                },
            )
        for _ in range(rng.randrange(0, 11)):
            w.add(
                T["feedback"],
                {
                    "project_id": pid,
                    "rating": rng.randrange(1, 6),
                    "comment": "",
                    "status": rng.choice(("approved", "approved", "approved", "pending", "rejected")),
                    "ip_hash": "0" * 64,
                    "created_at": _utc(date(2025, 1, 1) + timedelta(days=rng.randrange(690)), 600),
                },
            )
        for _ in range(rng.choice((0, 0, 1, 2, 3, 5))):
            raised = _utc(date(2025, 1, 1) + timedelta(days=rng.randrange(690)), 300)
            w.add(
                T["warning"],
                {
                    "project_id": pid,
                    "cause": "schedule_delay",
                    "source": "rule",
                    "grade": rng.choice(("red", "orange", "yellow", "yellow")),
                    "status": "closed",
                    "title": "进度滞后",
                    "detail": {},
                    "history": [],
                    "raised_at": raised,
                    "evaluated_at": raised,
                },
            )
    w.flush()

    # Workflow: instances of 10 tasks each, spread over the projects.
    n_instances = max(1, n_tasks // TASKS_PER_INSTANCE)
    groups = [f"{d}.reviewer" for d in departments]
    for i in range(1, n_instances + 1):
        key = PROCESSES[i % len(PROCESSES)]
        started = NOW - timedelta(minutes=rng.randrange(60 * 24 * 900))
        running = started > NOW - timedelta(days=60) and rng.random() < 0.5
        w.add(
            T["instance"],
            {
                "id": i,
                "definition_id": def_ids[key],
                "process_key": key,
                "business_key": codes[rng.randrange(len(codes))],
                "state": "running" if running else "completed",
                "state_json": "{}",
                "serializer_version": "1",
                "lock_version": 1,
                "started_by": "u",
                "started_at": started,
                "updated_at": started,
                "completed_at": None if running else started + timedelta(days=30),
            },
        )
        bkey = w.rows[T["instance"]][-1]["business_key"]
        for step in range(TASKS_PER_INSTANCE):
            created = started + timedelta(hours=step * 50)
            is_open = running and step >= TASKS_PER_INSTANCE - 2
            done = None if is_open else created + timedelta(minutes=rng.randrange(10, 60 * 24 * 8))
            w.add(
                T["task"],
                {
                    "id": f"t{(i - 1) * TASKS_PER_INSTANCE + step:09d}",
                    "instance_id": i,
                    "process_key": key,
                    "business_key": bkey,
                    "element_id": f"step{step}",
                    "title": f"审查{step}",
                    "candidate_group": groups[rng.randrange(len(groups))],
                    "assignee": None if is_open else "u",
                    "state": "open" if is_open else "completed",
                    "properties": {},
                    "due_at": created + timedelta(days=rng.randrange(3, 15)),
                    "created_at": created,
                    "completed_at": done,
                    "completed_by": None if is_open else "u",
                    "outcome": None if is_open else "approved",
                },
            )
    w.flush()
    session.commit()
    return {table.name: n for table, n in w.counts.items()}


def _wbs(item_id, pid, parent_id, code, start, end, done) -> dict:
    return {
        "id": item_id,
        "project_id": pid,
        "parent_id": parent_id,
        "code": code,
        "name": f"任务{code}",
        "planned_start": start,
        "planned_end": end,
        "deliverables": "",
        "weight": Decimal(1),
        "is_milestone": False,
        "percent_complete": Decimal(100) if done else Decimal(0),
        "actual_start": start if done or start < date(2026, 11, 1) else None,
        "actual_end": done,
        "created_at": NOW,
        "updated_at": NOW,
    }


def _approvals(w: Writer, T, pid, departments, rng, *, partial: bool) -> None:
    """One approval round: a step per department (some still open when partial)."""
    day = date(2024, 1, 1) + timedelta(days=rng.randrange(1050))
    for n, dept in enumerate(rng.sample(departments, min(len(departments), 6)) + ["expert"]):
        if partial and n >= 3:
            break
        started = _utc(day, n * 1440 * 4)
        used = rng.randrange(1, 15)
        decided = started + timedelta(days=used * 1.4, minutes=rng.randrange(600))
        due = started + timedelta(days=7)
        w.add(
            T["opinion"],
            {
                "project_id": pid,
                "task_id": f"a{pid:06d}-{n}",
                "step": f"{dept}审查",
                "department": dept,
                "reviewer": "u",
                "decision": "approved",
                "opinion": "",
                "started_at": started,
                "decided_at": decided,
                "due_at": due,
                "working_days_used": used,
                "overdue": decided > due,
            },
        )


# --- timing ----------------------------------------------------------------------------------


class Results:
    def __init__(self):
        self.worst = (0.0, "")

    def report(self, label: str, wall: list[float], stmts: float | None = None) -> None:
        p95 = percentile(wall, 0.95)
        if p95 > self.worst[0]:
            self.worst = (p95, label)
        extra = f"  {stmts:4.1f} stmts" if stmts is not None else ""
        flag = "  > 200" if p95 > 200 else ""
        print(
            f"{label:<52} p50 {statistics.median(wall):7.1f}  p95 {p95:7.1f}  max {max(wall):7.1f} ms{extra}{flag}",
            flush=True,
        )


def pick_targets(rng: random.Random) -> dict:
    """A city, a county in it, and a project in that county (a busy one)."""
    session = db.session
    county, city = session.execute(
        sa.select(Region.code, Region.parent_code)
        .join(Project, Project.region_code == Region.code)
        .where(Region.level == "county")
        .group_by(Region.code, Region.parent_code)
        .order_by(sa.func.count().desc())
        .limit(1)
    ).one()
    project_id = session.scalar(
        sa.select(Project.id)
        .where(Project.region_code == county, Project.status == "in_construction")
        .order_by(Project.id)
        .limit(1)
    )
    session.rollback()
    return {"city": city, "county": county, "project": f"p{project_id}"}


def service_cases(targets: dict):
    """(label, call(n)) per case: n is the repetition (rotates the indicator)."""
    session = db.session
    codes = [i.code for i in catalogue.CATALOGUE]
    province = Scope(all=True, regions=frozenset(), unit_id=None, username=LEADER, whole_tree=True)
    county_scope = Scope(
        all=False,
        regions=frozenset({targets["county"]}),
        unit_id=None,
        username="county_leader",
        whole_tree=False,
    )
    levels = {
        "province": None,
        "city": targets["city"],
        "county": targets["county"],
        "project": targets["project"],
    }
    out = []
    for scope_name, scope, level_names in (
        ("province", province, ("province", "city", "county", "project")),
        ("county", county_scope, ("county", "project")),
    ):
        for key in PERIODS:
            period = service.parse_period(key, today=date(2026, 11, 24))
            for level in level_names:
                region = levels[level] if not (scope_name == "county" and level == "county") else None
                tag = f"{level:<8} {key:<6} scope={scope_name}"

                def overview(n, region=region, scope=scope, period=period):
                    # As a view calls them: one request, so children() reuses overview()'s
                    # computation (the memo in flask.g only works without `now`).
                    with current_app.test_request_context():
                        g.pop("_kpi_drill", None)  # g lives in the app context the bench keeps
                        area = service.overview(session=session, scope=scope, region=region, period=period)
                        kids = service.children(session=session, scope=scope, region=region, period=period)
                    return area, kids

                def trend(n, region=region, scope=scope, period=period):
                    return service.trend(
                        session=session,
                        scope=scope,
                        region=region,
                        period=period,
                        code=codes[n % len(codes)],
                        now=CASE_NOW["now"],
                    )

                def breakdown(by, region=region, scope=scope, period=period):
                    def call(n):
                        return service.breakdown(
                            session=session,
                            scope=scope,
                            region=region,
                            period=period,
                            by=by,
                            now=CASE_NOW["now"],
                        )

                    return call

                def trace(n, region=region, scope=scope, period=period):
                    return service.trace(
                        session=session,
                        scope=scope,
                        region=region,
                        period=period,
                        code=codes[n % len(codes)],
                        now=CASE_NOW["now"],
                    )

                out += [
                    (f"overview+children {tag}", overview),
                    (f"trend {tag}", trend),
                    (f"breakdown/industry {tag}", breakdown("industry")),
                    (f"breakdown/department {tag}", breakdown("department")),
                    (f"trace {tag}", trace),
                ]
    return out


def run_service(targets, *, runs: int, only: list[str], show_plans: bool) -> Results:
    session = db.session
    results = Results()
    for label, call in service_cases(targets):
        if only and not any(word in label for word in only):
            continue
        if show_plans:
            with Statements(db.engine) as seen:
                call(0)
            session.rollback()
            explain(label, seen.items, width=600)
            continue
        call(0)  # warm
        session.rollback()
        session.expunge_all()
        wall = []
        for n in range(runs):
            t = time.perf_counter()
            call(n)
            wall.append((time.perf_counter() - t) * 1000)
            session.rollback()
            session.expunge_all()
        results.report(label, wall)
    return results


def run_views(app, targets, *, runs: int, only: list[str]) -> Results:
    from backend.kpi import views

    with app.app_context():
        leader_id = db.session.scalar(sa.select(User.id).where(User.username == LEADER))
        db.session.rollback()
    client = app.test_client()
    with client.session_transaction() as cookie:
        cookie["_user_id"] = str(leader_id)
        cookie["_fresh"] = True
        # What accounts.sessions.start puts in a signed-in session.
        cookie["_sv"] = 0
        cookie["_auth_at"] = cookie["_seen_at"] = time.time()
    codes = [i.code for i in catalogue.CATALOGUE]
    count = {"n": 0}

    def before(*args):
        count["n"] += 1

    engine = None
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", before)
    results = Results()
    levels = {
        "province": "",
        "city": targets["city"],
        "county": targets["county"],
        "project": targets["project"],
    }
    assert views.bp is not None
    for key in PERIODS:
        for level, region in levels.items():
            # (name, path, whether the indicator rotates with the repetition)
            paths = [
                ("api/overview", f"/leader/api/overview?region={region}&period={key}", False),
                ("api/trend", f"/leader/api/trend?region={region}&period={key}&code=", True),
                (
                    "api/breakdown?by=industry",
                    f"/leader/api/breakdown?region={region}&period={key}&by=industry",
                    False,
                ),
                (
                    "api/breakdown?by=department",
                    f"/leader/api/breakdown?region={region}&period={key}&by=department",
                    False,
                ),
                ("trace", f"/leader/trace?region={region}&period={key}&code=", True),
                ("/leader/ (page)", f"/leader/?region={region}&period={key}", False),
            ]
            for name, base, rotates in paths:
                label = f"GET {name} {level} {key}"
                if only and not any(word in label for word in only):
                    continue

                def path(n, base=base, rotates=rotates):
                    return base + (codes[n % len(codes)] if rotates else "")

                response = client.get(path(0))  # warm
                if response.status_code != 200:
                    raise SystemExit(
                        f"GET {path(0)}: HTTP {response.status_code} {response.get_data(as_text=True)[:300]}"
                    )
                wall, before_n = [], count["n"]
                for n in range(runs):
                    t = time.perf_counter()
                    response = client.get(path(n))
                    wall.append((time.perf_counter() - t) * 1000)
                    assert response.status_code == 200, (path(n), response.status_code)
                results.report(label, wall, (count["n"] - before_n) / runs)
    sa.event.remove(engine, "before_cursor_execute", before)
    return results


def prepare(args, url: str, rng: random.Random) -> None:
    """In an app context: the schema, the province built once when the database is empty (the
    other benches reuse this database), fresh planner statistics."""
    db.create_all()
    if not db.session.scalar(sa.select(sa.func.count()).select_from(Project)):
        db.session.rollback()
        start = time.perf_counter()
        counts = build(n_projects=args.projects, n_tasks=args.tasks, rng=rng)
        print(f"generated in {time.perf_counter() - start:.0f} s ({url}):")
        print("  " + ", ".join(f"{name}={n}" for name, n in counts.items()))
    db.session.rollback()
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


def refresh_snapshots() -> None:
    """What the background job does for the bench's periods and the months of 2026."""
    from backend.kpi import refresh

    CASE_NOW["now"] = None
    today = date.today()
    year = service.parse_period("2026", today=today)
    spent = []
    for period in (*(service.parse_period(key, today=today) for key in PERIODS), *year.months):
        start = time.perf_counter()
        refresh.refresh(session=db.session, period=period)
        db.session.commit()
        spent.append(time.perf_counter() - start)
        print(f"snapshot {period.key:<7} {spent[-1]:6.2f} s", flush=True)
    print(f"snapshot_refresh_total_s={sum(spent):.1f} ({len(spent)} periods)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    add_database_args(parser, postgres_example="postgresql+psycopg://bpm:bpm@127.0.0.1:5432/bpm_bench")
    parser.add_argument("--no-views", action="store_true", help="skip the Flask test client cases")
    parser.add_argument("--live", action="store_true", help="no snapshots: every figure computed on request")
    args = parser.parse_args()
    url = database_url(args, "cockpit.sqlite3")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "EMBEDDED_WORKERS": False,
            "LOG_LEVEL": "ERROR",
            "KPI_SNAPSHOT_INTERVAL": 0 if args.live else 3600,
        }
    )
    only = [word for word in args.only.split(",") if word]
    rng = random.Random(10)
    with app.app_context():
        prepare(args, url, rng)
        targets = pick_targets(rng)
        if not args.live:
            refresh_snapshots()
        print(f"{db.engine.dialect.name}, targets {targets}, {args.runs} runs per case", flush=True)
        results = run_service(targets, runs=args.runs, only=only, show_plans=args.explain)
        if not args.explain and results.worst[1]:
            print(f"cockpit_p95_ms={results.worst[0]:.1f}  ({results.worst[1].strip()})", flush=True)
    if not args.explain and not args.no_views:
        http = run_views(app, targets, runs=args.runs, only=only)
        if http.worst[1]:
            print(f"cockpit_http_p95_ms={http.worst[0]:.1f}  ({http.worst[1].strip()})")


if __name__ == "__main__":
    main()
