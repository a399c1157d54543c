"""Designers, other people and a signed-in test client for the designer's JSON API."""

from pathlib import Path

import pytest
from flask import g
from flask.testing import FlaskClient

from backend.accounts.service import set_password
from backend.org.models import User
from backend.workdays.service import seed_from_chinese_calendar
from tests.helpers import login

SAMPLES = Path(__file__).parent / "samples"
PASSWORD = "Test-Passw0rd-2026"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


class Client(FlaskClient):
    """Every request of a test shares the `session` fixture's app context; forget the
    signed-in person cached on `g` per request, as a real server would."""

    def open(self, *args, **kwargs):
        g.pop("_login_user", None)
        return super().open(*args, **kwargs)


@pytest.fixture()
def people(session):
    seed_from_chinese_calendar(session=session, first_year=2025, last_year=2026)
    for username, roles in (("designer", ["designer"]), ("admin", ["sysadmin"]), ("reviewer", ["reviewer"])):
        user = User(username=username, display_name=username, roles=roles, active=True)
        session.add(user)
        set_password(user=user, password=PASSWORD, enforce_policy=False)
    session.commit()


def sign_in(app, username: str) -> Client:
    client = Client(app, app.response_class, use_cookies=True)
    response = login.sign_in(client, username, PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture()
def designer(app, people):
    return sign_in(app, "designer")
