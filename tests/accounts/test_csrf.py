"""Sign-in and sign-out forms need the CSRF token."""

import re

import pytest

from tests.accounts.conftest import PASSWORD, make_web_app


@pytest.fixture(scope="module")
def guarded(app):
    return make_web_app(app, WTF_CSRF_ENABLED=True)


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_login_without_token_is_refused(guarded, person):
    client = guarded.test_client()
    response = client.post("/login", data={"username": "fgw_reviewer", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/inbox").status_code == 302


def test_login_and_logout_with_token(guarded, person):
    client = guarded.test_client()
    token = _token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"username": "fgw_reviewer", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    home = client.get("/inbox").get_data(as_text=True)
    assert client.post("/logout").status_code == 400  # no token: still signed in
    assert client.get("/inbox").status_code == 200
    assert client.post("/logout", data={"csrf_token": _token(home)}).status_code == 302
    assert client.get("/inbox").status_code == 302
