"""Sign-in and sign-out through the web pages."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from backend.accounts import service
from backend.org.models import User
from tests.accounts.conftest import PASSWORD, web_context

GENERIC = "用户名或密码错误"


def sign_in(client, username="fgw_reviewer", password=PASSWORD, **query):
    return client.post("/login", data={"username": username, "password": password}, query_string=query)


def test_login_page_is_chinese_and_fits_a_phone(client):
    response = client.get("/login")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in html
    assert "/vendor/bootstrap/bootstrap.min.css?v=" in html
    assert 'autocomplete="current-password"' in html
    # No inline scripts (a CSP will forbid them): every <script> has a src.
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))
    assert "<style" not in html and "style=" not in html


def test_pages_need_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert client.get("/password").status_code == 302


def test_sign_in_then_home_is_the_inbox(web, client, person):
    response = sign_in(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/").headers["Location"] == "/inbox"
    html = client.get("/inbox").get_data(as_text=True)
    assert "李明" in html and "待办" in html
    assert "退出登录" in html
    assert "data-unread-badge" in html
    with web_context(web) as web_db:
        assert abs(web_db.get(User, person).last_login_at - datetime.now(UTC)) < timedelta(minutes=1)


@pytest.mark.parametrize(
    ("username", "password"),
    [("fgw_reviewer", "Wrong#2026"), ("nobody", PASSWORD), ("fgw_reviewer", ""), ("", "")],
)
def test_failure_gives_one_generic_message(client, person, username, password):
    response = sign_in(client, username=username, password=password)
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert GENERIC in html
    assert "不存在" not in html
    assert client.get("/inbox").status_code == 302  # still signed out


def test_inactive_person_cannot_sign_in_and_is_signed_out(web, client, person):
    assert sign_in(client).status_code == 302
    assert client.get("/inbox").status_code == 200
    with web_context(web) as web_db:
        web_db.get(User, person).active = False
        web_db.commit()
    assert client.get("/inbox").status_code == 302  # signed out on the next request
    response = sign_in(client)
    assert response.status_code == 401 and GENERIC in response.get_data(as_text=True)


def test_person_without_password_cannot_sign_in(web, client):
    with web_context(web) as web_db:
        web_db.add(User(username="nopass", display_name="无密码", roles=[]))
        web_db.commit()
    assert sign_in(client, username="nopass", password="").status_code == 401


def test_next_goes_back_to_a_local_page_only(client, person):
    assert sign_in(client, next="/password").headers["Location"] == "/password"
    client.post("/logout")
    for outside in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        assert sign_in(client, next=outside).headers["Location"] == "/"
        client.post("/logout")


def test_logout_is_post_only_and_ends_the_session(client, person):
    sign_in(client)
    assert client.get("/logout").status_code == 405
    response = client.post("/logout")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert client.get("/inbox").status_code == 302


def test_initial_password_must_be_changed(web, client, person):
    with web_context(web) as web_db:
        web_db.get(User, person).must_change_password = True
        web_db.commit()
    response = sign_in(client)
    assert response.headers["Location"].startswith("/password")
    weak = client.post(
        "/password",
        data={"current_password": PASSWORD, "new_password": "short", "confirm_password": "short"},
    )
    assert weak.status_code == 400 and "长度至少 8 位" in weak.get_data(as_text=True)
    wrong = client.post(
        "/password",
        data={
            "current_password": "Nope#2026",
            "new_password": "Better#2027",
            "confirm_password": "Better#2027",
        },
    )
    assert wrong.status_code == 400 and "当前密码不正确" in wrong.get_data(as_text=True)
    mismatch = client.post(
        "/password",
        data={"current_password": PASSWORD, "new_password": "Better#2027", "confirm_password": "Better#2028"},
    )
    assert mismatch.status_code == 400
    done = client.post(
        "/password",
        data={"current_password": PASSWORD, "new_password": "Better#2027", "confirm_password": "Better#2027"},
    )
    assert done.status_code == 302
    with web_context(web) as web_db:
        user = web_db.get(User, person)
        assert user.must_change_password is False
        assert service.check_password(user=user, password="Better#2027")
        assert not service.check_password(user=user, password=PASSWORD)


def test_authenticate_refuses_without_saying_why(web_session, person):
    from backend.accounts import InvalidCredentials

    for username, password in (("nobody", PASSWORD), ("fgw_reviewer", "x")):
        with pytest.raises(InvalidCredentials) as caught:
            service.authenticate(session=web_session, username=username, password=password)
        assert str(caught.value) == GENERIC
    assert (
        service.authenticate(session=web_session, username=" fgw_reviewer ", password=PASSWORD).id == person
    )


def test_initial_password_blocks_other_pages_until_changed(web, client, person):
    with web_context(web) as web_db:
        web_db.get(User, person).must_change_password = True
        web_db.commit()
    sign_in(client)
    response = client.get("/?tab=mine")
    assert response.status_code == 302
    assert response.headers["Location"] == "/password?next=/?tab%3Dmine"
    assert client.get("/password").status_code == 200
    assert client.get("/vendor/bootstrap/bootstrap.min.css").status_code == 200
    assert client.get("/healthz").status_code in (200, 503)
    assert client.post("/logout").status_code == 302


def test_signed_in_person_skips_the_login_page(client, person):
    sign_in(client)
    response = client.get("/login")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_session_cookie_is_http_only_and_same_site(client, person):
    response = sign_in(client)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
