"""Fixtures of the KPI tests: a small region tree (浙江 > 杭州 > 西湖区, 滨江区; 浙江 > 宁波 >
海曙区), the approval departments, one owner unit, and a `make` helper creating projects
directly with the models. Times: the tests pass `now` explicitly (2026-07-15 12:00 Beijing)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from backend.authz.scope import Scope
from backend.org.models import Department, Region, Unit
from backend.projects.models import Project

BEIJING = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 7, 15, 12, 0, tzinfo=BEIJING).astimezone(UTC)
ALL = Scope(all=True, regions=frozenset(), unit_id=None, username="leader", whole_tree=True)

REGIONS = (
    ("330000", "浙江省", "province", None),
    ("330100", "杭州市", "city", "330000"),
    ("330106", "西湖区", "county", "330100"),
    ("330108", "滨江区", "county", "330100"),
    ("330200", "宁波市", "city", "330000"),
    ("330203", "海曙区", "county", "330200"),
)


def bj(*args) -> datetime:
    """A Beijing wall-clock time as an aware UTC datetime."""
    return datetime(*args, tzinfo=BEIJING).astimezone(UTC)


@dataclass
class World:
    session: object
    unit: Unit
    counter: int = 0

    def project(self, region: str, **fields) -> Project:
        self.counter += 1
        project = Project(
            code=f"2026-{region}-48-01-{self.counter:06d}",
            name=fields.pop("name", f"项目{self.counter}"),
            owner_unit_id=fields.pop("owner_unit_id", self.unit.id),
            region_code=region,
            industry=fields.pop("industry", "交通"),
            nature="new",
            total_investment=Decimal(fields.pop("total_investment", "1000.00")),
            funding_sources=[],
            planned_start=fields.pop("planned_start", date(2026, 1, 1)),
            planned_end=fields.pop("planned_end", date(2027, 12, 31)),
            status=fields.pop("status", "in_construction"),
            **fields,
        )
        self.session.add(project)
        self.session.flush()
        return project


@pytest.fixture()
def world(session):
    for code, name, level, parent in REGIONS:
        session.add(Region(code=code, name=name, level=level, parent_code=parent))
    session.flush()
    session.add_all(
        [
            Department(code="fgw", name="省发展和改革委员会", short_name="发改", region_code="330000"),
            Department(code="cz", name="省财政厅", short_name="财政", region_code="330000"),
        ]
    )
    unit = Unit(name="测试建设单位", kind="owner")
    session.add(unit)
    session.flush()
    return World(session=session, unit=unit)
