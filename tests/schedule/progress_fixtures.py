"""The people and breakdown of the progress tests (pages and API), on the API tests' organisation
(regions 330000 > 330100 > 330106, 330200 beside; org.unit the owner, org.other_unit a contractor).

- applicant: the owner unit's planner (owner: schedule.edit) — may report on every leaf.
- foreman: named responsible for 1.2 in person; of no unit and no region (contractor role).
- crew: a contractor of org.other_unit, the responsible unit of 1.1 (site.checkin).
- fgw_reviewer: a provincial reviewer: sees the project, reports nothing.
- rev_nb: a reviewer of 宁波: the project is out of scope.
- outsider: a contractor of a third unit responsible for nothing here.
"""

from datetime import date
from decimal import Decimal

import pytest

from backend.accounts.service import set_password
from backend.org.models import Unit, User
from backend.schedule import service
from tests.api.conftest import PASSWORD, make_project

CODE = "2026-330106-48-01-000555"
D = date


@pytest.fixture()
def wbs(session, org):
    project = make_project(session, org, CODE, "330106")
    third = Unit(name="宁波市某某建设有限公司", kind="contractor", region_code="330200")
    session.add(third)
    session.flush()
    people = [
        User(username="foreman", display_name="王工长", roles=["contractor"]),
        User(username="crew", display_name="李施工", roles=["contractor"], unit_id=org.other_unit.id),
        User(username="rev_nb", display_name="宁波审查", roles=["reviewer"], region_code="330200"),
        User(username="outsider", display_name="赵外人", roles=["contractor"], unit_id=third.id),
    ]
    session.add_all(people)
    session.flush()
    reviewer = session.query(User).filter_by(username="fgw_reviewer").one()
    for user in [*people, reviewer]:
        set_password(user=user, password=PASSWORD, enforce_policy=False)
    top = service.create_item(
        session=session,
        project_id=project.id,
        code="1",
        name="土建工程",
        planned_start=D(2026, 3, 2),
        planned_end=D(2026, 3, 27),
    )
    first = service.create_item(
        session=session,
        project_id=project.id,
        code="1.1",
        name="基础施工",
        planned_start=D(2026, 3, 2),
        planned_end=D(2026, 3, 6),
        unit_id=org.other_unit.id,
    )
    second = service.create_item(
        session=session,
        project_id=project.id,
        code="1.2",
        name="主体结构",
        planned_start=D(2026, 3, 9),
        planned_end=D(2026, 3, 20),
        weight=Decimal("3"),
        responsible="foreman",
    )
    service.add_dependency(session=session, predecessor=first, successor=second)
    service.create_baseline(session=session, project_id=project.id, by="applicant")
    session.commit()
    return {"project": project, "1": top, "1.1": first, "1.2": second}
