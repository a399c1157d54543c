"""Performance evaluation (绩效评价) server time at scale, on bench/cockpit.py's database
(10,000 projects, 1,000,000 human tasks; built by its builder when the file is empty).

    .venv/bin/python bench/evaluation.py [--projects 10000] [--tasks 1000000] [--runs 20]
        [--keep FILE | --database-url postgresql+psycopg://USER:PW@HOST:PORT/DB]
        [--only WORD,...] [--explain] [--no-views]

Cases, warm, each call a fresh unit of work, --runs repetitions, p50/p95/max wall ms, for the
year 2026 and the quarter 2026Q3 with the built-in scheme and a province-wide Scope:
- `rank projects` / `rank units` at levels province, city, county (score_projects / score_units:
  the indicators of every project of the region, scored and sorted);
- `item project` (score_project: one project's figures, what the item page computes) and
  `item unit` (score_unit of the unit with the most projects in the province);
- `export xlsx province` (the province's project ranking written by evaluation_export).
Then through the Flask test client signed in as bench/cockpit.py's province leader:
`GET /leader/evaluation` (province, city), `GET /leader/evaluation/item` (project, unit).
By default the figures come from stored snapshots refreshed first, as in production (see
bench/cockpit.py); `--live` computes them on request at the fixed now.
Last lines: `evaluation_p95_ms=<worst p95>` and `evaluation_http_p95_ms=<worst p95>`.
`--explain` prints each statement of one call per case with its plan. Run by people, not CI.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from cockpit import (  # noqa: E402  (bench/ is on the path)
    CASE_NOW,
    LEADER,
    NOW,
    Results,
    pick_targets,
    prepare,
    refresh_snapshots,
)
from common import Statements, add_database_args, database_url, explain  # noqa: E402

from backend import create_app  # noqa: E402
from backend.authz.scope import Scope  # noqa: E402
from backend.extensions import db  # noqa: E402
from backend.kpi import evaluation, evaluation_export, service  # noqa: E402
from backend.org.models import User  # noqa: E402
from backend.projects.models import Project  # noqa: E402

PERIODS = ("2026", "2026Q3")
PROVINCE = Scope(all=True, regions=frozenset(), unit_id=None, username=LEADER, whole_tree=True)


def busiest_unit() -> int:
    unit_id = db.session.scalar(
        sa.select(Project.owner_unit_id)
        .where(Project.status != "draft")
        .group_by(Project.owner_unit_id)
        .order_by(sa.func.count().desc(), Project.owner_unit_id)
        .limit(1)
    )
    db.session.rollback()
    return unit_id


def service_cases(targets: dict, unit_id: int):
    session = db.session
    scheme = evaluation.default_scheme()
    project_id = int(targets["project"][1:])
    levels = {"province": None, "city": targets["city"], "county": targets["county"]}
    out = []
    for key in PERIODS:
        period = service.parse_period(key, today=NOW.date())
        for level, region in levels.items():
            for of, score in (("projects", evaluation.score_projects), ("units", evaluation.score_units)):

                def rank(n, score=score, region=region, period=period):
                    return score(
                        session=session,
                        scope=PROVINCE,
                        region=region,
                        period=period,
                        scheme=scheme,
                        now=CASE_NOW["now"],
                    )

                out.append((f"rank {of} {level} {key}", rank))

        def item_project(n, period=period):
            return evaluation.score_project(
                session=session,
                scope=PROVINCE,
                region=None,
                period=period,
                scheme=scheme,
                project_id=project_id,
                now=CASE_NOW["now"],
            )

        def item_unit(n, period=period):
            return evaluation.score_unit(
                session=session,
                scope=PROVINCE,
                region=None,
                period=period,
                scheme=scheme,
                unit_id=unit_id,
                now=CASE_NOW["now"],
            )

        def export(n, period=period):
            items = evaluation.score_projects(
                session=session,
                scope=PROVINCE,
                region=None,
                period=period,
                scheme=scheme,
                now=CASE_NOW["now"],
            )
            headers, body = evaluation_export.table(evaluation.ranked(items), of="project", scheme=scheme)
            return evaluation_export.to_xlsx(headers, body, about=[])

        out += [
            (f"item project {key}", item_project),
            (f"item unit {key}", item_unit),
            (f"export xlsx province {key}", export),
        ]
    return out


def run_service(app, targets, unit_id, *, runs: int, only: list[str], show_plans: bool) -> Results:
    session = db.session
    results = Results()
    for label, call in service_cases(targets, unit_id):
        if only and not any(word in label for word in only):
            continue
        if show_plans:
            with Statements(db.engine) as seen:
                call(0)
            session.rollback()
            explain(label, seen.items, width=600)
            continue
        with app.test_request_context():  # export headers are translated
            call(0)  # warm
            session.rollback()
            wall = []
            for n in range(runs):
                t = time.perf_counter()
                call(n)
                wall.append((time.perf_counter() - t) * 1000)
                session.rollback()
                session.expunge_all()
        results.report(label, wall)
    return results


def run_views(app, targets, unit_id, *, runs: int, only: list[str]) -> Results:
    with app.app_context():
        leader_id = db.session.scalar(sa.select(User.id).where(User.username == LEADER))
        db.session.rollback()
    client = app.test_client()
    with client.session_transaction() as cookie:
        cookie["_user_id"] = str(leader_id)
        cookie["_fresh"] = True
        cookie["_sv"] = 0
        cookie["_auth_at"] = cookie["_seen_at"] = time.time()
    results = Results()
    project_id = targets["project"][1:]
    for key in PERIODS:
        paths = [
            ("evaluation province", f"/leader/evaluation?period={key}"),
            ("evaluation city", f"/leader/evaluation?period={key}&region={targets['city']}"),
            ("evaluation/item project", f"/leader/evaluation/item?period={key}&of=project&id={project_id}"),
            ("evaluation/item unit", f"/leader/evaluation/item?period={key}&of=unit&id={unit_id}"),
        ]
        for name, path in paths:
            label = f"GET {name} {key}"
            if only and not any(word in label for word in only):
                continue
            response = client.get(path)  # warm
            if response.status_code != 200:
                raise SystemExit(
                    f"GET {path}: HTTP {response.status_code} {response.get_data(as_text=True)[:300]}"
                )
            wall = []
            for _n in range(runs):
                t = time.perf_counter()
                response = client.get(path)
                wall.append((time.perf_counter() - t) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            results.report(label, wall)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    add_database_args(parser, postgres_example="postgresql+psycopg://bpm:bpm@127.0.0.1:5432/bpm_bench")
    parser.add_argument("--no-views", action="store_true", help="skip the Flask test client cases")
    parser.add_argument("--live", action="store_true", help="no snapshots: every figure computed on request")
    args = parser.parse_args()
    url = database_url(args, "cockpit.sqlite3")  # the same file bench/cockpit.py --keep builds
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "EMBEDDED_WORKERS": False,
            "LOG_LEVEL": "ERROR",
            "KPI_SNAPSHOT_INTERVAL": 0 if args.live else 3600,
        }
    )
    only = [word for word in args.only.split(",") if word]
    with app.app_context():
        prepare(args, url, random.Random(10))
        targets = pick_targets(random.Random(10))
        unit_id = busiest_unit()
        if not args.live:
            refresh_snapshots()  # as the background job keeps them (bench/cockpit.py)
        print(
            f"{db.engine.dialect.name}, targets {targets}, unit {unit_id}, {args.runs} runs per case",
            flush=True,
        )
        results = run_service(app, targets, unit_id, runs=args.runs, only=only, show_plans=args.explain)
        if not args.explain and results.worst[1]:
            print(f"evaluation_p95_ms={results.worst[0]:.1f}  ({results.worst[1].strip()})", flush=True)
    if not args.explain and not args.no_views:
        http = run_views(app, targets, unit_id, runs=args.runs, only=only)
        if http.worst[1]:
            print(f"evaluation_http_p95_ms={http.worst[0]:.1f}  ({http.worst[1].strip()})")


if __name__ == "__main__":
    main()
