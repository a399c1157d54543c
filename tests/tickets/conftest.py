"""Fixtures for the rectification tickets: organisations and a project made directly with
the models, the official calendar, and only this domain's diagram deployed."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine

from backend import jobs
from backend.contracts.models import Contract
from backend.org.models import Region, Unit
from backend.projects.models import Project
from backend.tickets import service
from backend.tickets.models import Ticket
from backend.workdays.service import seed_from_chinese_calendar
from backend.workflow import service as workflow
from backend.workflow.deploy import deploy_files
from backend.workflow.models import HumanTask

ROOT = Path(__file__).resolve().parents[2]
BPMN = ROOT / "processes" / "rectification.bpmn"
FORMS = ROOT / "forms"

PHOTO_A = "a" * 64
PHOTO_B = "b" * 64
PHOTO_C = "c" * 64


@dataclass
class Org:
    project: Project
    owner: Unit
    contractor: Unit
    other_project: Project


@pytest.fixture()
def deployed(session):
    seed_from_chinese_calendar(session=session, first_year=2025, last_year=2026)
    result = deploy_files(
        session=session,
        files={BPMN.name: BPMN.read_text(encoding="utf-8")},
        forms_dir=FORMS,
        deployed_by="test",
    )
    session.commit()
    return result.created[0]


@pytest.fixture()
def org(session) -> Org:
    session.add_all(
        [
            Region(code="330000", name="浙江省", level="province"),
            Region(code="330100", name="杭州市", level="city", parent_code="330000"),
        ]
    )
    owner = Unit(name="杭州市城市建设投资集团有限公司", kind="owner", region_code="330100")
    contractor = Unit(name="浙江省建工集团有限责任公司", kind="contractor", region_code="330000")
    session.add_all([owner, contractor])
    session.flush()
    project = _project(session, "2025-330100-48-01-000001", "杭州市地铁配套道路工程", owner)
    other = _project(session, "2025-330100-48-01-000002", "杭州市城市防洪排涝工程", owner)
    session.commit()
    return Org(project=project, owner=owner, contractor=contractor, other_project=other)


def _project(session, code: str, name: str, owner: Unit) -> Project:
    project = Project(
        code=code,
        name=name,
        owner_unit_id=owner.id,
        region_code="330100",
        industry="市政基础设施",
        nature="new",
        total_investment=Decimal("120000000.00"),
        planned_start=date(2025, 3, 1),
        planned_end=date(2027, 12, 31),
    )
    session.add(project)
    session.flush()
    return project


def add_contract(
    session, project: Project, contractor: Unit, *, number: str, signed_on: date | None
) -> Contract:
    contract = Contract(
        number=number,
        name=f"{project.name}施工合同",
        project_id=project.id,
        party_a_unit_id=project.owner_unit_id,
        party_b_unit_id=contractor.id,
        amount=Decimal("80000000.00"),
        signed_on=signed_on,
    )
    session.add(contract)
    session.flush()
    return contract


def raise_at(session, moment: datetime, project: Project, **overrides) -> Ticket:
    """Raise a ticket at a frozen moment and commit, as a request would."""
    values = {
        "source": "inspection",
        "category": "safety",
        "severity": "general",
        "description": "基坑东侧临边防护缺失",
        "evidence": [PHOTO_A],
        "raised_by": "inspector",
    } | overrides
    with time_machine.travel(moment, tick=False):
        ticket = service.raise_ticket(session=session, project_id=project.id, **values)
        session.commit()
    return ticket


def open_task(session, ticket: Ticket, element: str) -> HumanTask | None:
    return session.scalar(
        sa.select(HumanTask).filter_by(instance_id=ticket.instance_id, element_id=element, state="open")
    )


def submit(session, ticket: Ticket, moment: datetime, *, photos=(PHOTO_B,), actor="contractor") -> None:
    with time_machine.travel(moment, tick=False):
        task = open_task(session, ticket, "rectify")
        service.submit_rectification(
            session=session,
            task_id=task.id,
            description="已加装防护栏杆并设置警示标志",
            photos=list(photos),
            actor=actor,
        )
        session.commit()


def verify(session, ticket: Ticket, moment: datetime, *, passed: bool, opinion: str = "", actor="inspector"):
    with time_machine.travel(moment, tick=False):
        task = open_task(session, ticket, "verify")
        service.verify_rectification(
            session=session, task_id=task.id, passed=passed, opinion=opinion, actor=actor
        )
        session.commit()


def run_scheduler_at(session, moment: datetime) -> int:
    """One scheduler pass at a frozen moment, with the jobs it enqueues run to the end."""
    with time_machine.travel(moment, tick=False):
        due = workflow.schedule_due_timers(session=session)
        session.commit()
        jobs.drain()
    session.expire_all()
    return due


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)
