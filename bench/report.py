"""Time a province's quarterly or annual performance report (issue 10 target: <= 60 s with
10,000 projects), on the scratch database bench/cockpit.py builds.

    .venv/bin/python bench/report.py [--projects 10000] [--tasks 1000000] [--period 2026Q3]
        [--runs 1] [--keep FILE | --database-url postgresql+psycopg://USER:PW@HOST:PORT/DB]
        [--out DIR]

Builds the data set with cockpit.build() when the database has no project yet (minutes; keep it
with --keep to reuse it, e.g. the file a `bench/cockpit.py --keep` run left). Then requests the
province's report and runs the job the way a worker does (jobs.drain: mark running, read and
render with no write lock, archive and deposit), each run a new report. Prints the phases
(figures, PDF, XLSX: measured again outside the job) and the job's wall time; the last line is
`report_seconds=<worst>`. --out keeps the last PDF and XLSX there. Run by people, not CI.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from cockpit import prepare  # noqa: E402
from common import database_url  # noqa: E402

from backend import create_app, jobs  # noqa: E402
from backend.extensions import db  # noqa: E402
from backend.files import service as files  # noqa: E402
from backend.kpi import report_render, reports  # noqa: E402
from backend.kpi.models import KpiReport  # noqa: E402
from backend.org.models import Region  # noqa: E402
from backend.projects.models import Project  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--period", default="2026Q3")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--keep", help="SQLite file to build or reuse (kept); default a temporary one")
    parser.add_argument("--database-url", help="e.g. postgresql+psycopg://bpm:bpm@127.0.0.1:5432/bpm_bench")
    parser.add_argument("--out", help="directory to write the last report's PDF and XLSX to")
    args = parser.parse_args()
    url = database_url(args, "cockpit.sqlite3")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "EMBEDDED_WORKERS": False,
            "LOG_LEVEL": "ERROR",
            "FILES_DIR": tempfile.mkdtemp(prefix="bench-report-files-"),
            "EVIDENCE_ANCHOR_FILE": str(Path(tempfile.mkdtemp()) / "anchor.jsonl"),
        }
    )
    with app.app_context():
        prepare(args, url, random.Random(10))
        province = db.session.scalar(
            sa.select(Region.code).where(Region.parent_code.is_(None)).order_by(Region.code)
        )
        projects = db.session.scalar(sa.select(sa.func.count()).select_from(Project))
        print(
            f"{db.engine.dialect.name}, province {province}, {projects} projects, period {args.period}",
            flush=True,
        )

        # The phases on their own (the job does the same in its call-out phase).
        t = time.perf_counter()
        data = reports.collect(session=db.session, region_code=province, period_key=args.period)
        t_data = time.perf_counter() - t
        t = time.perf_counter()
        pdf = report_render.pdf_bytes(data)
        t_pdf = time.perf_counter() - t
        t = time.perf_counter()
        xlsx = report_render.xlsx_bytes(data)
        t_xlsx = time.perf_counter() - t
        db.session.rollback()
        print(
            f"phases: figures {t_data:.1f} s, pdf {t_pdf:.1f} s ({len(pdf) // 1024} KiB), "
            f"xlsx {t_xlsx:.1f} s ({len(xlsx) // 1024} KiB); ranking {len(data.ranking)} projects",
            flush=True,
        )

        worst, report_id = 0.0, None
        for n in range(args.runs):
            # A report already queued or running for the period would be joined: bench each anew.
            db.session.execute(
                sa.update(KpiReport)
                .where(KpiReport.status.in_(("queued", "running")))
                .values(status="failed")
            )
            report, _ = reports.request_report(
                session=db.session, region_code=province, period_key=args.period, requested_by="bench"
            )
            report_id = report.id
            db.session.commit()
            t = time.perf_counter()
            jobs.drain()
            wall = time.perf_counter() - t
            report = db.session.get(KpiReport, report_id)
            db.session.refresh(report)
            if report.status != "done":
                raise SystemExit(f"report {report_id} {report.status}: {report.error}")
            print(
                f"run {n + 1}: job {wall:.1f} s (recorded {report.seconds:.1f} s), {report.title}", flush=True
            )
            worst = max(worst, wall)
        if args.out:
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            report = db.session.get(KpiReport, report_id)
            for sha, suffix in ((report.pdf_sha256, "pdf"), (report.xlsx_sha256, "xlsx")):
                with files.open_file(sha256=sha) as f:
                    (out / f"report-{report_id}.{suffix}").write_bytes(f.read())
            print(f"written to {out}")
        print(f"report_seconds={worst:.1f}")


if __name__ == "__main__":
    main()
