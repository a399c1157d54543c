"""Demo tickets: one waiting for rectification, one waiting for verification, one closed after
a rework round. Skipped quietly while there are no demo projects; idempotent."""

import hashlib
import logging
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from backend.demo import loader
from backend.projects.models import Project
from backend.tickets import service
from backend.tickets.models import Ticket
from backend.workflow.deploy import deploy_files
from backend.workflow.models import HumanTask, ProcessDefinition

log = logging.getLogger(__name__)

INSPECTOR = "inspector"
CONTRACTOR = "contractor"

# Each demo ticket is found again by its description, so a second load creates nothing.
DEMO_TICKETS = (
    {
        "description": "【演示】施工现场临边防护栏杆缺失, 基坑东侧约 30 米未设置防护, 存在坠落隐患。",
        "source": "inspection",
        "category": "safety",
        "severity": "major",
        "rounds": (),  # dispatched, waiting for the unit
    },
    {
        "description": "【演示】二层楼板混凝土试块强度报告缺失, 隐蔽工程验收记录不全。",
        "source": "inspection",
        "category": "documents",
        "severity": "general",
        "rounds": ("submit",),  # submitted, waiting for the inspector
    },
    {
        "description": "【演示】工程进度滞后于年度计划, 主体结构施工较计划延误约 20 天。",
        "source": "risk",
        "category": "schedule",
        "severity": "critical",
        "rounds": ("submit", "fail", "submit", "pass"),  # reworked once, then closed
    },
)


@loader
def load_demo_tickets(*, session) -> int:
    """整改工单演示数据"""
    projects = session.scalars(sa.select(Project).order_by(Project.id).limit(len(DEMO_TICKETS))).all()
    if not projects:
        return 0
    if not _ensure_deployed(session):
        return 0
    created = 0
    for index, spec in enumerate(DEMO_TICKETS):
        if session.scalar(sa.select(Ticket.id).where(Ticket.description == spec["description"])):
            continue
        ticket = service.raise_ticket(
            session=session,
            project_id=projects[index % len(projects)].id,
            source=spec["source"],
            category=spec["category"],
            severity=spec["severity"],
            description=spec["description"],
            evidence=[_photo(f"{spec['description']}#raised")],
            raised_by=INSPECTOR,
        )
        for step, action in enumerate(spec["rounds"]):
            _act(session, ticket, action, step)
        created += 1
    return created


def _act(session, ticket: Ticket, action: str, step: int) -> None:
    element = service.RECTIFY_STEP if action == "submit" else service.VERIFY_STEP
    task_id = session.scalar(
        sa.select(HumanTask.id).filter_by(instance_id=ticket.instance_id, element_id=element, state="open")
    )
    if action == "submit":
        service.submit_rectification(
            session=session,
            task_id=task_id,
            actor=CONTRACTOR,
            description=f"已按要求完成整改 (第 {ticket.rounds + 1} 轮), 附整改后照片。",
            photos=[_photo(f"{ticket.number}#{step}")],
        )
    else:
        passed = action == "pass"
        service.verify_rectification(
            session=session,
            task_id=task_id,
            actor=INSPECTOR,
            passed=passed,
            opinion="整改到位, 同意销号。" if passed else "整改不彻底, 请补充完成后重新提交。",
        )


def _ensure_deployed(session) -> bool:
    """`make demo` deploys processes/ first; on its own, deploy this one file (stored once per hash)."""
    if session.scalar(sa.select(ProcessDefinition.id).filter_by(key=service.PROCESS_KEY).limit(1)):
        return True
    path = Path(current_app.config["PROCESSES_DIR"]) / "rectification.bpmn"
    if not path.is_file():
        log.warning("demo tickets skipped: %s not found", path)
        return False
    deploy_files(
        session=session,
        files={path.name: path.read_text(encoding="utf-8")},
        forms_dir=current_app.config["FORMS_DIR"],
        deployed_by="demo",
    )
    return True


def _photo(seed: str) -> str:
    # Stand-in file hashes: demo photos are referenced, not stored.
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()
