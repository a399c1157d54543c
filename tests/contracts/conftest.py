"""Fixtures of the contracts tests: the milestone_payment diagram deployed on its own (other
engineers' half-written files in processes/ cannot break these tests), the units and an
approved project made directly with the models, a fixed clock, and a budget outbox per test."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine

from backend.contracts import service
from backend.org.models import Region, Unit
from backend.projects.models import Project
from backend.tickets.models import Ticket
from backend.workdays.service import seed_from_chinese_calendar
from backend.workflow import service as workflow
from backend.workflow.deploy import deploy_files
from backend.workflow.models import HumanTask

ROOT = Path(__file__).resolve().parents[2]
BPMN_FILE = ROOT / "processes" / "milestone_payment.bpmn"
FORMS_DIR = ROOT / "forms"

# Monday 2 March 2026, 10:00 in Hangzhou: budget year 2026.
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
PROJECT_CODE = "2026-330100-48-01-000123"


@pytest.fixture()
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def outbox(app, tmp_path):
    """Each test's budget system drops its files in its own directory."""
    before = app.config.get("BUDGET_EXCHANGE_DIR"), app.config.get("BUDGET_SYSTEM")
    app.config["BUDGET_EXCHANGE_DIR"] = str(tmp_path / "budget-outbox")
    app.config["BUDGET_SYSTEM"] = "file"
    yield tmp_path / "budget-outbox"
    app.config["BUDGET_EXCHANGE_DIR"], app.config["BUDGET_SYSTEM"] = before


@pytest.fixture()
def deployed(session):
    seed_from_chinese_calendar(session=session)
    deploy_files(
        session=session,
        files={BPMN_FILE.name: BPMN_FILE.read_text(encoding="utf-8")},
        forms_dir=FORMS_DIR,
        deployed_by="test",
    )
    session.commit()


@dataclass
class World:
    owner: Unit
    contractor: Unit
    supervisor: Unit
    project: Project


def make_project(session, *, code: str, owner: Unit, status: str = "approved") -> Project:
    project = Project(
        code=code,
        name="杭州市城东快速路工程",
        owner_unit_id=owner.id,
        region_code="330100",
        industry="交通运输",
        nature="new",
        total_investment=Decimal("50000000.00"),
        approved_budget=Decimal("48000000.00"),
        planned_start=date(2026, 1, 1),
        planned_end=date(2027, 12, 31),
        status=status,
    )
    session.add(project)
    session.flush()
    return project


@pytest.fixture()
def world(session, deployed) -> World:
    session.add(Region(code="330100", name="杭州市", level="city"))
    owner = Unit(name="杭州市城市建设投资集团有限公司", kind="owner", region_code="330100")
    contractor = Unit(name="浙江省建工集团有限责任公司", kind="contractor", credit_code="91330000142916380P")
    supervisor = Unit(name="浙江江南工程管理股份有限公司", kind="supervisor")
    session.add_all([owner, contractor, supervisor])
    session.flush()
    project = make_project(session, code=PROJECT_CODE, owner=owner)
    session.commit()
    return World(owner=owner, contractor=contractor, supervisor=supervisor, project=project)


def new_contract(
    session, world: World, *, number="HT-2026-001", amount="1000000.00", milestones=None, **extra
):
    return service.create_contract(
        session=session,
        project_id=world.project.id,
        number=number,
        name="城东快速路一标段施工合同",
        party_a_unit_id=world.owner.id,
        party_b_unit_id=world.contractor.id,
        supervisor_unit_id=world.supervisor.id,
        amount=amount,
        milestones=milestones
        or [
            {"name": "基础工程完工", "percentage": "30"},
            {"name": "主体结构完工", "percentage": "50"},
            {"name": "竣工验收", "percentage": "20"},
        ],
        signed_on=date(2026, 2, 1),
        **extra,
    )


def open_tasks(session, instance_id: int) -> list[HumanTask]:
    return session.scalars(
        sa.select(HumanTask).filter_by(instance_id=instance_id, state="open").order_by(HumanTask.created_at)
    ).all()


def complete(session, instance_id: int, element_id: str, data: dict, actor: str = "tester") -> HumanTask:
    """Complete the one open task of `element_id` and commit, as a request would."""
    (task,) = [t for t in open_tasks(session, instance_id) if t.element_id == element_id]
    workflow.complete_task(session=session, task_id=task.id, data=data, actor=actor)
    session.commit()
    return task


def accept(session, instance_id: int) -> None:
    """The contractor asks for acceptance; the supervisor, then the owner, pass it."""
    complete(
        session, instance_id, "request_acceptance", {"work_summary": "已完成", "completed_on": "2026-03-01"}
    )
    complete(
        session,
        instance_id,
        "supervisor_acceptance",
        {"supervisor_approved": True, "supervisor_opinion": "质量合格"},
    )
    complete(session, instance_id, "owner_acceptance", {"owner_approved": True, "owner_opinion": "同意验收"})


def open_ticket(session, project: Project, *, number: str, severity: str) -> Ticket:
    ticket = Ticket(
        number=number,
        project_id=project.id,
        source="inspection",
        category="quality",
        severity=severity,
        description="主体结构混凝土强度不足",
        deadline=datetime(2026, 3, 20, 16, 0, tzinfo=UTC),
        status="rectifying",
    )
    session.add(ticket)
    session.flush()
    return ticket
