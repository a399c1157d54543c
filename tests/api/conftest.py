"""The REST API through the Flask test client over real rows and real deployed processes:
regions 330000 浙江 > 330100 杭州 > 330106 西湖区, and 330200 宁波 beside 杭州."""

from datetime import date
from decimal import Decimal

import pytest
from flask import g
from flask.testing import FlaskClient

from backend.accounts.service import set_password
from backend.api import keys
from backend.config import ROOT
from backend.files import access as file_access
from backend.org.models import User
from backend.projects.models import Project
from backend.workdays.service import seed_from_chinese_calendar
from backend.workflow.deploy import deploy_files
from tests.helpers import login
from tests.projects.factories import make_org

PASSWORD = "Test-Passw0rd-2026"
WORKFLOW_BPMN = ROOT / "tests" / "workflow" / "bpmn"


class Client(FlaskClient):
    """Requests share the `session` fixture's app context: forget flask-login's cached user on
    `g` per request, as a real server would."""

    def open(self, *args, **kwargs):
        g.pop("_login_user", None)
        return super().open(*args, **kwargs)


@pytest.fixture()
def client(app):
    return Client(app, app.response_class, use_cookies=True)


def signed_in(app, username: str) -> Client:
    client = Client(app, app.response_class, use_cookies=True)
    response = login.sign_in(client, username, PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture()
def org(session):
    made = make_org(session)
    admin = User(username="admin", display_name="管理员", roles=["sysadmin"])
    operator = User(username="ops", display_name="运维", roles=["operator"])
    session.add_all([admin, operator])
    session.flush()
    for user in (admin, made.applicant):
        set_password(user=user, password=PASSWORD, enforce_policy=False)
    # The applicant uploaded the application's documents (as the form would have).
    for row in made.files.values():
        file_access.record_upload(session=session, sha256=row.sha256, username="applicant", name="doc.pdf")
    session.commit()
    return made


@pytest.fixture()
def deployed(session, org):
    """project_approval with the product's forms, and two small diagrams of tests/workflow that
    wait for a message (await_or_timeout) or start on one (registration)."""
    seed_from_chinese_calendar(session=session, first_year=2024, last_year=2027)
    files = {
        "project_approval.bpmn": (ROOT / "processes" / "project_approval.bpmn").read_text(encoding="utf-8"),
        "await_or_timeout.bpmn": (WORKFLOW_BPMN / "await_or_timeout.bpmn").read_text(encoding="utf-8"),
    }
    deploy_files(session=session, files=files, forms_dir=ROOT / "forms", deployed_by="test")
    session.commit()


def issue(session, owner: str, *, scopes=keys.SCOPES, region: str = "330000", **options) -> str:
    """A committed key of `owner`; returns its secret."""
    _key, secret = keys.create_key(
        session=session,
        name=f"{owner} 的对接密钥",
        owner=owner,
        scopes=list(scopes),
        region_code=region,
        created_by="admin",
        **options,
    )
    session.commit()
    return secret


def bearer(secret: str, **headers) -> dict:
    return {"Authorization": f"Bearer {secret}", **headers}


def make_project(session, org, code: str, region: str, **fields) -> Project:
    project = Project(
        code=code,
        name=fields.pop("name", f"项目 {code}"),
        owner_unit_id=org.unit.id,
        region_code=region,
        industry="交通",
        nature="new",
        total_investment=Decimal("1234.5"),
        funding_sources=[{"source": "企业自筹", "amount": "1234.50"}],
        planned_start=date(2026, 1, 1),
        planned_end=date(2027, 1, 1),
        status=fields.pop("status", "approved"),
        **fields,
    )
    session.add(project)
    session.flush()
    return project
