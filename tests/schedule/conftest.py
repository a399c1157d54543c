from datetime import date
from decimal import Decimal

import pytest

from backend.org.models import Region, Unit
from backend.projects.models import Project
from backend.workdays.service import seed_from_chinese_calendar


def make_project(session, *, code: str, owner: Unit) -> Project:
    project = Project(
        code=code,
        name="杭州市城东快速路工程",
        owner_unit_id=owner.id,
        region_code="330100",
        industry="交通运输",
        nature="new",
        total_investment=Decimal("50000000.00"),
        planned_start=date(2026, 1, 1),
        planned_end=date(2027, 12, 31),
        status="approved",
    )
    session.add(project)
    session.flush()
    return project


@pytest.fixture()
def owner(session) -> Unit:
    # The official 2026 calendar (国庆 1–7 October off, Saturday 10 October worked).
    seed_from_chinese_calendar(session=session, first_year=2026, last_year=2026)
    session.add(Region(code="330100", name="杭州市", level="city"))
    unit = Unit(name="杭州市城市建设投资集团有限公司", kind="owner", region_code="330100")
    session.add(unit)
    session.flush()
    return unit


@pytest.fixture()
def project(session, owner) -> Project:
    return make_project(session, code="2026-330100-48-01-000001", owner=owner)
