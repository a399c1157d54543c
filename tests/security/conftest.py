"""People and signed-in clients for the hardening tests (backend/security)."""

import pytest
from flask import g
from flask.testing import FlaskClient

from backend.accounts.service import set_password
from backend.org.models import User

PASSWORD = "Test-Passw0rd-2026"


class Client(FlaskClient):
    """Requests share the `session` fixture's app context: forget the person cached on `g`."""

    def open(self, *args, **kwargs):
        g.pop("_login_user", None)
        return super().open(*args, **kwargs)


@pytest.fixture()
def people(session):
    for username, roles in (("designer", ["designer"]), ("reviewer", ["reviewer"])):
        user = User(username=username, display_name=username, roles=roles, active=True)
        session.add(user)
        set_password(user=user, password=PASSWORD, enforce_policy=False)
    session.commit()


def sign_in(app, username: str) -> Client:
    client = Client(app, app.response_class, use_cookies=True)
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture()
def limiter(app):
    """The app's rate limiter with empty counters before and after the test."""
    limiter = app.extensions["rate_limiter"]
    limiter.reset()
    yield limiter
    limiter.reset()
