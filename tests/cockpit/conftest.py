from pathlib import Path

import pytest
from flask import g
from flask.testing import FlaskClient

from backend.accounts.service import set_password
from backend.org.models import User
from backend.workdays.service import seed_from_chinese_calendar
from backend.workflow import registry
from backend.workflow.deploy import deploy_files, read_directory
from tests.helpers import login

HERE = Path(__file__).parent
PASSWORD = "Cockpit-Test-2026!"


class Budget:
    """Stands in for an external system behind an operation: fails on demand."""

    def __init__(self):
        self.failures_left = 0
        self.calls = 0

    def call(self, amount):
        self.calls += 1
        if self.failures_left > 0:
            self.failures_left -= 1
            raise ConnectionError("budget system unreachable")
        return {"ok": True, "amount": amount}


BUDGET = Budget()


@registry.operation("cockpit_test.flaky", params=("amount",))
def _flaky(ctx, *, amount):
    return BUDGET.call(amount)


@pytest.fixture()
def budget(app, monkeypatch):
    monkeypatch.setitem(app.config, "SERVICE_TASK_RETRIES", 0)
    BUDGET.failures_left, BUDGET.calls = 0, 0
    return BUDGET


@pytest.fixture()
def deployed(session):
    seed_from_chinese_calendar(session=session)
    result = deploy_files(
        session=session, files=read_directory(HERE / "bpmn"), forms_dir=HERE / "forms", deployed_by="test"
    )
    session.commit()
    return {d.key: d for d in result.created}


@pytest.fixture()
def users(session):
    made = {}
    for username, roles in (
        ("ops", ["operator"]),
        ("boss", ["operator"]),
        ("designer1", ["designer"]),
        ("reviewer1", ["reviewer"]),
    ):
        user = User(username=username, display_name=username, roles=roles, active=True)
        session.add(user)
        set_password(user=user, password=PASSWORD, enforce_policy=False)
        made[username] = user
    session.commit()
    return made


class Client(FlaskClient):
    """Each client its own person: flask-login caches the user on `g` of the shared app context."""

    def open(self, *args, **kwargs):
        g.pop("_login_user", None)
        return super().open(*args, **kwargs)


def signed_in(app, username):
    client = Client(app, app.response_class, use_cookies=True)
    response = login.sign_in(client, username, PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client
