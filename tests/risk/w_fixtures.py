"""Fixtures of helper W's tests (warnings and their dispatch): two projects made with the
models, the official calendar, and the rectification and risk_response diagrams deployed.
Signals are built by hand (ProjectSignals) and handed to evaluate_project: the rules are what
is tested here, not how the platform's tables become signals (tests/risk of signals.py)."""

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine

from backend import jobs
from backend.org.models import Region, Unit
from backend.projects.models import Project
from backend.risk import warnings
from backend.risk.models import RiskWarning
from backend.risk.signals import ProjectSignals
from backend.tickets.models import Ticket
from backend.workdays.service import seed_from_chinese_calendar
from backend.workflow import service as workflow
from backend.workflow.deploy import deploy_files

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = ROOT / "processes"
FORMS = ROOT / "forms"

# Monday 2 March 2026, 10:00 in Beijing: no holiday in the weeks after.
MONDAY = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@dataclass
class World:
    project: Project
    owner: Unit


@pytest.fixture()
def world(session) -> World:
    seed_from_chinese_calendar(session=session, first_year=2025, last_year=2026)
    deploy_files(
        session=session,
        files={
            name: (PROCESSES / name).read_text(encoding="utf-8")
            for name in ("rectification.bpmn", "risk_response.bpmn")
        },
        forms_dir=FORMS,
        deployed_by="test",
    )
    session.add_all(
        [
            Region(code="330000", name="浙江省", level="province"),
            Region(code="330100", name="杭州市", level="city", parent_code="330000"),
        ]
    )
    owner = Unit(name="杭州市城市建设投资集团有限公司", kind="owner", region_code="330100")
    session.add(owner)
    session.flush()
    project = Project(
        code="2025-330100-48-01-000001",
        name="杭州市地铁配套道路工程",
        owner_unit_id=owner.id,
        region_code="330100",
        industry="市政基础设施",
        nature="new",
        total_investment=Decimal("120000000.00"),
        planned_start=date(2025, 3, 1),
        planned_end=date(2027, 12, 31),
    )
    session.add(project)
    session.commit()
    return World(project=project, owner=owner)


def quiet(project: Project, as_of: date) -> ProjectSignals:
    return ProjectSignals(
        project_id=project.id,
        project_code=project.code,
        as_of=as_of,
        planned_progress=0.40,
        actual_progress=0.40,
        overdue_milestones=(),
        days_since_checkin=1,
        overdue_payments=(),
        overdue_steps=(),
        open_tickets=0,
        overdue_tickets=0,
        responsible_unit_id=project.owner_unit_id,
    )


def evaluate_at(session, project: Project, moment: datetime, **signals) -> list[RiskWarning]:
    """One evaluation at a frozen moment with hand-made signals, committed, jobs drained."""
    with time_machine.travel(moment, tick=False):
        as_of = warnings.beijing_date(moment)
        live = warnings.evaluate_project(
            session=session,
            project=project,
            as_of=as_of,
            now=moment,
            model=None,
            signals=replace(quiet(project, as_of), **signals),
        )
        session.commit()
        jobs.drain()
    session.expire_all()
    return live


def run_scheduler_at(session, moment: datetime) -> int:
    with time_machine.travel(moment, tick=False):
        due = workflow.schedule_due_timers(session=session)
        session.commit()
        jobs.drain()
    session.expire_all()
    return due


def all_warnings(session) -> list[RiskWarning]:
    session.expire_all()
    return list(session.scalars(sa.select(RiskWarning).order_by(RiskWarning.id)))


def risk_tickets(session) -> list[Ticket]:
    return list(session.scalars(sa.select(Ticket).filter_by(source="risk").order_by(Ticket.id)))
