"""Engine throughput and cost per task completion, on SQLite and (when configured) PostgreSQL.

    .venv/bin/python bench/engine.py [--instances 50] [--postgres postgresql://...]

Prints, per database: instances started per second and user-task completions per second
for a 10-step process and for a parallel countersign of 5 and 200 approvers, CPU ms per
completion, the median wall time per completion on a 50-step instance, and bytes stored
per instance. Run by people, not by CI; tests never assert timings.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from flask_migrate import upgrade  # noqa: E402

from backend import create_app  # noqa: E402
from backend.extensions import db  # noqa: E402
from backend.workflow import service  # noqa: E402
from backend.workflow.deploy import deploy_files  # noqa: E402
from backend.workflow.models import HumanTask, ProcessInstance  # noqa: E402

NS = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"'
)
FORM = (
    "<bpmn:extensionElements><spiffworkflow:properties>"
    '<spiffworkflow:property name="formJsonSchemaFilename" value="bench.json"/>'
    "</spiffworkflow:properties></bpmn:extensionElements>"
)


def sequential_bpmn(key: str, steps: int) -> str:
    nodes, flows, prev = [], [], "start"
    for i in range(steps):
        nodes.append(f'<bpmn:userTask id="step{i}" name="第{i + 1}步">{FORM}</bpmn:userTask>')
        flows.append(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{prev}" targetRef="step{i}"/>')
        prev = f"step{i}"
    flows.append(f'<bpmn:sequenceFlow id="fend" sourceRef="{prev}" targetRef="end"/>')
    return _process(key, nodes, flows)


def countersign_bpmn(key: str) -> str:
    nodes = [
        f'<bpmn:userTask id="sign" name="会签">{FORM}<bpmn:multiInstanceLoopCharacteristics>'
        "<bpmn:loopDataInputRef>approvers</bpmn:loopDataInputRef>"
        '<bpmn:inputDataItem id="approver" name="approver"/>'
        "</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>"
    ]
    flows = [
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="sign"/>',
        '<bpmn:sequenceFlow id="f2" sourceRef="sign" targetRef="end"/>',
    ]
    return _process(key, nodes, flows)


def _process(key, nodes, flows) -> str:
    ids = [n.split('id="', 1)[1].split('"', 1)[0] for n in nodes]
    lane_refs = "".join(f"<bpmn:flowNodeRef>{i}</bpmn:flowNodeRef>" for i in ids)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions {NS} id="d_{key}" targetNamespace="bench">'
        f'<bpmn:process id="{key}" name="{key}" isExecutable="true">'
        f'<bpmn:laneSet id="ls"><bpmn:lane id="lane" name="发改">{lane_refs}</bpmn:lane></bpmn:laneSet>'
        '<bpmn:startEvent id="start"/>'
        + "".join(nodes)
        + '<bpmn:endEvent id="end"/>'
        + "".join(flows)
        + "</bpmn:process></bpmn:definitions>"
    )


def make_app(url: str, workdir: Path):
    forms = workdir / "forms"
    forms.mkdir(exist_ok=True)
    (forms / "bench.json").write_text('{"type": "object", "properties": {"ok": {"type": "boolean"}}}')
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "EMBEDDED_WORKERS": False,
            "FORMS_DIR": str(forms),
            "LOG_LEVEL": "WARNING",
        }
    )
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade(directory=str(Path(__file__).resolve().parent.parent / "migrations"))
        from backend.workdays.service import seed_from_chinese_calendar

        seed_from_chinese_calendar(session=db.session)
        files = {
            "seq10.bpmn": sequential_bpmn("seq10", 10),
            "seq50.bpmn": sequential_bpmn("seq50", 50),
            "countersign.bpmn": countersign_bpmn("countersign"),
        }
        deploy_files(session=db.session, files=files, forms_dir=forms, deployed_by="bench")
        db.session.commit()
    return app


def run_case(app, key: str, instances: int, data: dict) -> dict:
    session = db.session
    t0 = time.perf_counter()
    ids = []
    for i in range(instances):
        ids.append(
            service.start_instance(session=session, process_key=key, data=data, business_key=f"B-{i}").id
        )
        session.commit()
    start_s = time.perf_counter() - t0

    walls, cpu_total, completions = [], 0.0, 0
    for instance_id in ids:
        while True:
            task_id = session.scalar(
                sa.select(HumanTask.id).filter_by(instance_id=instance_id, state="open").limit(1)
            )
            if task_id is None:
                break
            w0, c0 = time.perf_counter(), time.process_time()
            service.complete_task(session=session, task_id=task_id, data={"ok": True}, actor="bench")
            session.commit()
            walls.append(time.perf_counter() - w0)
            cpu_total += time.process_time() - c0
            completions += 1
    states = session.execute(sa.select(sa.func.avg(sa.func.length(ProcessInstance.state_json)))).scalar()
    return {
        "starts_per_s": instances / start_s,
        "completions_per_s": completions / sum(walls),
        "cpu_ms_per_completion": 1000 * cpu_total / completions,
        "median_ms": 1000 * statistics.median(walls),
        "p95_ms": 1000 * sorted(walls)[int(0.95 * (len(walls) - 1))],
        "completions": completions,
        "bytes_per_instance": int(states or 0),
    }


def bytes_while_running(app, key: str, data: dict) -> int:
    """State size of a countersign instance with every child still open (its largest)."""
    instance = service.start_instance(session=db.session, process_key=key, data=data)
    db.session.commit()
    return len(instance.state_json)


def bench_database(label: str, url: str, instances: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(url, Path(tmp))
        with app.app_context():
            print(f"\n== {label} ({db.engine.dialect.name}) ==")
            cases = [
                ("10-step process", "seq10", instances, {}),
                ("50-step process", "seq50", max(2, instances // 10), {}),
                (
                    "countersign, 5 approvers",
                    "countersign",
                    instances,
                    {"approvers": [f"u{i}" for i in range(5)]},
                ),
                (
                    "countersign, 200 approvers",
                    "countersign",
                    2,
                    {"approvers": [f"u{i}" for i in range(200)]},
                ),
            ]
            results = {}
            for title, key, n, data in cases:
                r = run_case(app, key, n, data)
                results[title] = r
                print(
                    f"{title:<28} starts/s {r['starts_per_s']:7.1f}  completions/s {r['completions_per_s']:7.1f}  "
                    f"cpu ms/completion {r['cpu_ms_per_completion']:6.2f}  median {r['median_ms']:6.2f} ms  "
                    f"p95 {r['p95_ms']:6.2f} ms  ({r['completions']} completions)"
                )
            for n in (5, 200):
                size = bytes_while_running(app, "countersign", {"approvers": [f"u{i}" for i in range(n)]})
                print(f"bytes stored, countersign of {n} while open: {size:,}")
            print(
                f"bytes stored per completed 10-step instance: {results['10-step process']['bytes_per_instance']:,}"
            )
            small = results["countersign, 5 approvers"]["cpu_ms_per_completion"]
            large = results["countersign, 200 approvers"]["cpu_ms_per_completion"]
            print(f"cost per completion, 200 vs 5 countersign children: {large / small:.2f}x (target < 2x)")
            print(
                f"median per completion on a 50-step instance: {results['50-step process']['median_ms']:.2f} ms "
                "(target <= 15 ms)"
            )
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument(
        "--postgres", default=os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL")
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_database("SQLite (file, WAL)", f"sqlite:///{tmp}/bench.sqlite3", args.instances)
    if args.postgres:
        bench_database("PostgreSQL", args.postgres, args.instances)
    else:
        print("\n(PostgreSQL skipped: pass --postgres URL or set BENCH_POSTGRES_URL)")


if __name__ == "__main__":
    main()
