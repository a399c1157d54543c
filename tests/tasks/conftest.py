"""Rows for inbox tests, created directly with the models (no engine run needed)."""

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from backend.org.models import Department, Region, Unit, User
from backend.projects.models import Project
from backend.tasks import models as _task_models  # noqa: F401  (tables exist before create_all)
from backend.workflow.models import HumanTask, ProcessDefinition, ProcessInstance

# Wednesday 2026-11-18, 10:00 in Shanghai.
NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)


class World:
    """Factory of the rows a test needs; ids and times are deterministic."""

    def __init__(self, session):
        self.session = session
        self._ids = itertools.count(1)
        session.add_all(
            [
                Region(code="330000", name="浙江省", level="province"),
                Region(code="330100", name="杭州市", level="city", parent_code="330000"),
                Region(code="330102", name="上城区", level="county", parent_code="330100"),
                Region(code="330200", name="宁波市", level="city", parent_code="330000"),
            ]
        )
        session.flush()
        self.fgw = Department(code="fgw", name="发展和改革委员会", short_name="发改", region_code="330000")
        self.cz = Department(code="cz", name="财政局", short_name="财政", region_code="330000")
        self.unit = Unit(name="某建设单位", kind="owner", region_code="330100")
        session.add_all([self.fgw, self.cz, self.unit])
        session.flush()
        self.definition = ProcessDefinition(
            key="approval",
            version=1,
            name="审批",
            content_hash="x" * 64,
            file_name="approval.bpmn",
            source_xml="<x/>",
            spec_json="{}",
            serializer_version="1",
        )
        session.add(self.definition)
        session.flush()

    def user(self, username: str, *, department=None, roles=("reviewer",), active=True) -> User:
        user = User(
            username=username,
            display_name=username.upper(),
            department_id=department.id if department else None,
            roles=list(roles),
            active=active,
        )
        self.session.add(user)
        self.session.flush()
        return user

    def project(self, code: str, region_code: str) -> Project:
        project = Project(
            code=code,
            name=f"项目 {code}",
            owner_unit_id=self.unit.id,
            region_code=region_code,
            industry="交通",
            nature="new",
            total_investment=Decimal("1000000.00"),
            planned_start=date(2026, 1, 1),
            planned_end=date(2027, 1, 1),
        )
        self.session.add(project)
        self.session.flush()
        return project

    def instance(
        self, *, started_by="applicant", business_key=None, process_key="approval"
    ) -> ProcessInstance:
        instance = ProcessInstance(
            definition_id=self.definition.id,
            process_key=process_key,
            business_key=business_key,
            state_json="{}",
            serializer_version="1",
            started_by=started_by,
        )
        self.session.add(instance)
        self.session.flush()
        return instance

    def task(
        self, *, instance=None, group="fgw.reviewer", assignee=None, due_at=None, created_at=NOW, **fields
    ):
        instance = instance or self.instance()
        task = HumanTask(
            id=f"t{next(self._ids):04d}",
            instance_id=instance.id,
            process_key=instance.process_key,
            business_key=instance.business_key,
            element_id="review",
            title="初审",
            candidate_group=group,
            assignee=assignee,
            due_at=due_at,
            created_at=created_at,
            **fields,
        )
        self.session.add(task)
        self.session.flush()
        return task


@pytest.fixture()
def world(session):
    return World(session)
