"""Session lifetime: idle timeout, absolute lifetime, ended by password change and sign-out."""

from backend.accounts import sessions
from backend.org.models import User
from tests.accounts.conftest import PASSWORD, web_context
from tests.helpers.login import sign_in


def shift(client, key, seconds):
    with client.session_transaction() as stored:
        stored[key] = stored[key] - seconds


def test_idle_for_more_than_15_minutes_signs_out(client, person):
    sign_in(client, "fgw_reviewer", PASSWORD)
    shift(client, sessions.SEEN_AT, 14 * 60)
    assert client.get("/inbox").status_code == 200  # 14 minutes: still in (and the clock restarts)
    shift(client, sessions.SEEN_AT, 16 * 60)
    response = client.get("/inbox")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert "会话已超时" in client.get("/login").get_data(as_text=True)
    assert client.get("/inbox").status_code == 302


def test_a_session_ends_after_its_absolute_lifetime_even_when_busy(client, person):
    sign_in(client, "fgw_reviewer", PASSWORD)
    shift(client, sessions.SIGNED_IN_AT, 11 * 3600)
    assert client.get("/inbox").status_code == 200
    shift(client, sessions.SIGNED_IN_AT, 2 * 3600)  # 13 hours since sign-in, active a second ago
    assert client.get("/inbox").status_code == 302
    assert "最长时限" in client.get("/login").get_data(as_text=True)


def test_the_session_api_obeys_the_same_timeouts(client, person):
    sign_in(client, "fgw_reviewer", PASSWORD)
    assert client.get("/api/v1/tasks").status_code == 200
    shift(client, sessions.SEEN_AT, 16 * 60)
    assert client.get("/api/v1/tasks").status_code == 401


def test_a_password_change_ends_the_other_sessions(web, person):
    phone, desk = web.test_client(), web.test_client()
    sign_in(phone, "fgw_reviewer", PASSWORD)
    sign_in(desk, "fgw_reviewer", PASSWORD)
    response = desk.post(
        "/password",
        data={"current_password": PASSWORD, "new_password": "Moved#2027x", "confirm_password": "Moved#2027x"},
    )
    assert response.status_code == 302
    assert desk.get("/inbox").status_code == 200  # the one that changed it goes on
    assert phone.get("/inbox").status_code == 302
    assert "密码已修改" in phone.get("/login").get_data(as_text=True)


def test_sign_out_makes_a_copied_cookie_useless(web, client, person):
    sign_in(client, "fgw_reviewer", PASSWORD)
    cookie = client.get_cookie("session").value
    client.post("/logout")
    thief = web.test_client()
    thief.set_cookie("session", cookie)
    assert thief.get("/inbox").status_code == 302


def test_disabling_a_person_ends_their_session(web, client, person):
    sign_in(client, "fgw_reviewer", PASSWORD)
    with web_context(web) as web_db:
        before = web_db.get(User, person).session_version
    assert client.get("/inbox").status_code == 200
    with web_context(web) as web_db:
        user = web_db.get(User, person)
        user.session_version = before + 1
        web_db.commit()
    assert client.get("/inbox").status_code == 302
