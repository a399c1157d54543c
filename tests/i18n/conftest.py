"""People and a signed-in client for the language tests (rows from tests/tasks' World)."""

import pytest
from flask import g
from flask.testing import FlaskClient

from backend.accounts.service import set_password

from ..helpers import login
from ..tasks.conftest import World

PASSWORD = "Test-Passw0rd-2026"


class Client(FlaskClient):
    """Forget what flask-login and flask-babel cache on `g` (the person, the locale): the
    `session` fixture's app context is shared by every request, unlike on a real server."""

    def open(self, *args, **kwargs):
        g.pop("_login_user", None)
        g.pop("_flask_babel", None)
        return super().open(*args, **kwargs)


@pytest.fixture()
def world(session):
    return World(session)


@pytest.fixture()
def reviewer(world, session):
    user = world.user("li", department=world.fgw)
    set_password(user=user, password=PASSWORD, enforce_policy=False)
    session.commit()
    return user


@pytest.fixture()
def client(app):
    return Client(app, app.response_class, use_cookies=True)


def sign_in(client, username="li", **kwargs):
    response = login.sign_in(client, username, PASSWORD, **kwargs)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response
