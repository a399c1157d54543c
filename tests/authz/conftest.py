"""Access-control fixtures: one person per built-in role (province level) plus a Hangzhou
reviewer, two projects (杭州 西湖区, 宁波) and an instance of each waiting for the "reviewer"
group. People are signed in by writing their session (what /login writes after the password
and the second factor: tests/accounts covers the sign-in itself)."""

import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyotp
import pytest
from flask import g
from flask.testing import FlaskClient
from flask_babel import refresh

from backend.accounts import sessions, totp
from backend.authz.permissions import ADMIN_ROLES, BUSINESS_ROLES
from backend.org.models import Department, Region, Unit, User
from backend.projects.models import Project
from backend.workdays.service import seed_from_chinese_calendar
from backend.workflow import service as workflow
from backend.workflow.deploy import deploy_files, read_directory

HERE = Path(__file__).parent
FORMS = HERE.parent / "workflow" / "forms"
HZ_PROJECT = "2025-330106-48-01-00001A"
NB_PROJECT = "2025-330200-48-01-00002B"
ROLES = (*BUSINESS_ROLES, *ADMIN_ROLES)


class Client(FlaskClient):
    """Requests share the `session` fixture's app context: forget flask-login's cached user and
    flask-babel's cached language, as a real server would."""

    def open(self, *args, **kwargs):
        g.pop("_login_user", None)
        refresh()
        return super().open(*args, **kwargs)


def anonymous(app) -> Client:
    return Client(app, app.response_class, use_cookies=True)


def signed_in(app, user: User) -> Client:
    client = anonymous(app)
    now = time.time()
    with client.session_transaction() as cookie:
        cookie["_user_id"] = str(user.id)
        cookie["_fresh"] = True
        cookie[sessions.VERSION] = user.session_version or 0
        cookie[sessions.SIGNED_IN_AT] = now
        cookie[sessions.SEEN_AT] = now
    return client


class World:
    def __init__(self, session):
        self.session = session
        self.people: dict[str, User] = {}
        self.instances: dict[str, int] = {}

    def __getitem__(self, username: str) -> User:
        return self.people[username]

    def client(self, app, username: str) -> Client:
        return signed_in(app, self.people[username])


def _person(session, username, roles, *, region="330000", department=None, unit=None) -> User:
    user = User(
        username=username,
        display_name=f"测试{username}",
        roles=list(roles),
        region_code=region,
        department_id=department.id if department else None,
        unit_id=unit.id if unit else None,
        active=True,
        must_change_password=False,
    )
    session.add(user)
    if set(roles) & {*ADMIN_ROLES, "head"}:  # their second factor is set up
        session.flush()
        user.totp_enabled = True
        totp.seal_secret(user, pyotp.random_base32())
    return user


def _project(session, code, region, unit) -> Project:
    project = Project(
        code=code,
        name=f"项目 {code}",
        owner_unit_id=unit.id,
        region_code=region,
        industry="交通",
        nature="new",
        total_investment=Decimal("1000.00"),
        funding_sources=[{"source": "企业自筹", "amount": "1000.00"}],
        planned_start=date(2026, 1, 1),
        planned_end=date(2027, 1, 1),
        status="applying",
    )
    session.add(project)
    return project


@pytest.fixture()
def world(session) -> World:
    session.add_all(
        [
            Region(code="330000", name="浙江省", level="province"),
            Region(code="330100", name="杭州市", level="city", parent_code="330000"),
            Region(code="330106", name="西湖区", level="county", parent_code="330100"),
            Region(code="330200", name="宁波市", level="city", parent_code="330000"),
        ]
    )
    session.flush()
    hz_unit = Unit(name="杭州城投", kind="owner", region_code="330100")
    nb_unit = Unit(name="宁波轨交", kind="owner", region_code="330200")
    builder = Unit(name="浙江建工", kind="contractor", region_code="330000")
    fgw = Department(code="fgw", name="浙江省发展和改革委员会", short_name="发改", region_code="330000")
    session.add_all([hz_unit, nb_unit, builder, fgw])
    session.flush()
    world = World(session)
    units = {"owner": hz_unit, "contractor": builder, "supervisor": builder}
    for role in ROLES:
        world.people[role] = _person(
            session,
            role,
            [role],
            department=fgw if role in ("window", "reviewer", "head") else None,
            unit=units.get(role),
        )
    world.people["hz_reviewer"] = _person(
        session, "hz_reviewer", ["reviewer"], region="330100", department=fgw
    )
    world.people["nb_owner"] = _person(session, "nb_owner", ["owner"], region="330200", unit=nb_unit)
    session.flush()
    _project(session, HZ_PROJECT, "330106", hz_unit)
    _project(session, NB_PROJECT, "330200", nb_unit)
    session.commit()
    return world


@pytest.fixture()
def flows(world, session) -> World:
    """An instance of each project waiting at 审查 for the plain "reviewer" group."""
    seed_from_chinese_calendar(session=session, first_year=2025, last_year=2027)
    deploy_files(session=session, files=read_directory(HERE / "bpmn"), forms_dir=FORMS, deployed_by="test")
    for code in (HZ_PROJECT, NB_PROJECT):
        instance = workflow.start_instance(
            session=session, process_key="scoped_review", business_key=code, started_by="window"
        )
        world.instances[code] = instance.id
    session.commit()
    return world
