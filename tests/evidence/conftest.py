"""Evidence tests: an approved project in Hangzhou, people who deposit and read, the anchor
file in the test's own folder."""

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from flask import g
from flask.testing import FlaskClient

from backend.accounts.service import set_password
from backend.org.models import Region, Unit, User
from backend.projects.models import Project
from tests.contracts.conftest import make_project

PASSWORD = "Evidence-Test-2026!"
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
PROJECT_CODE = "2026-330100-48-01-000777"
OTHER_CODE = "2026-330200-48-01-000888"


class Client(FlaskClient):
    """Each client its own person: flask-login caches the user on `g` of the shared app context."""

    def open(self, *args, **kwargs):
        g.pop("_login_user", None)
        return super().open(*args, **kwargs)


def signed_in(app, username):
    client = Client(app, app.response_class, use_cookies=True)
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


@pytest.fixture(autouse=True)
def anchor_file(app, tmp_path):
    before = app.config.get("EVIDENCE_ANCHOR_FILE")
    app.config["EVIDENCE_ANCHOR_FILE"] = str(tmp_path / "anchor" / "checkpoints.jsonl")
    yield tmp_path / "anchor" / "checkpoints.jsonl"
    app.config["EVIDENCE_ANCHOR_FILE"] = before


@dataclass
class World:
    project: Project
    other: Project  # in Ningbo


@pytest.fixture()
def world(session) -> World:
    session.add_all(
        [
            Region(code="330000", name="浙江省", level="province"),
            Region(code="330100", name="杭州市", level="city", parent_code="330000"),
            Region(code="330200", name="宁波市", level="city", parent_code="330000"),
        ]
    )
    session.flush()
    owner = Unit(name="杭州市城市建设投资集团有限公司", kind="owner", region_code="330100")
    ningbo = Unit(name="宁波市交通投资集团有限公司", kind="owner", region_code="330200")
    session.add_all([owner, ningbo])
    session.flush()
    project = make_project(session, code=PROJECT_CODE, owner=owner)
    other = make_project(session, code=OTHER_CODE, owner=ningbo)
    other.region_code = "330200"
    other.name = "宁波市环城南路工程"
    people = [
        # 发改委 窗口 (province): deposits, sees every project.
        User(username="window", display_name="窗口", roles=["window"], region_code="330000"),
        # The Hangzhou applicant: reads the evidence of the own unit's projects, deposits nothing.
        User(
            username="applicant",
            display_name="申报人",
            roles=["owner"],
            unit_id=owner.id,
            region_code="330100",
        ),
        # A Hangzhou reviewer: reads, does not see Ningbo.
        User(username="hz_reviewer", display_name="杭州审查", roles=["reviewer"], region_code="330100"),
    ]
    session.add_all(people)
    session.flush()
    for user in people:
        set_password(user=user, password=PASSWORD, enforce_policy=False)
    session.commit()
    return World(project=project, other=other)
