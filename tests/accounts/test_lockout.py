"""Lockout after 5 failures within 15 minutes, per account and per source address (issue 7)."""

import re
from datetime import timedelta

import sqlalchemy as sa

from backend.accounts.models import LoginAttempt
from backend.org.models import User
from tests.accounts.conftest import PASSWORD, add_person, web_context
from tests.helpers.login import answer_totp, sign_in

ACCOUNT_LOCKED = "账号因连续登录失败已被锁定"
ADDRESS_LOCKED = "该地址登录失败次数过多"
GENERIC = "用户名或密码错误"


def post_login(client, username, password, address="10.0.0.1"):
    return client.post(
        "/login", data={"username": username, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def without_csrf_token(page: str) -> str:
    """The CSRF token is timestamped to the second, so two pages differ in it alone."""
    return re.sub(r'(name="csrf_token" value=")[^"]*"', r"\1\"", page)


def age_attempts(web, minutes: int) -> None:
    """Move every recorded attempt into the past (instead of waiting)."""
    with web_context(web) as web_db:
        for attempt in web_db.scalars(sa.select(LoginAttempt)):
            attempt.at = attempt.at - timedelta(minutes=minutes)
        web_db.commit()


def test_five_failures_lock_the_account_whatever_the_password(web, client, person):
    # From five addresses, so only the account's count can lock.
    for i in range(4):
        response = post_login(client, "fgw_reviewer", "Wrong#2026", address=f"10.0.1.{i}")
        assert response.status_code == 401 and GENERIC in response.get_data(as_text=True)
    fifth = post_login(client, "fgw_reviewer", "Wrong#2026", address="10.0.1.9")
    assert fifth.status_code == 429 and ACCOUNT_LOCKED in fifth.get_data(as_text=True)
    # The right password from a fresh address: still locked, and the page says the same thing.
    right = post_login(client, "fgw_reviewer", PASSWORD, address="10.0.2.1")
    wrong = post_login(client, "fgw_reviewer", "Wrong#2026", address="10.0.2.2")
    assert right.status_code == wrong.status_code == 429
    assert without_csrf_token(right.get_data(as_text=True)) == without_csrf_token(
        wrong.get_data(as_text=True)
    )
    assert "15 分钟" in right.get_data(as_text=True)
    assert client.get("/inbox").status_code == 302
    # 15 minutes later the lock is over.
    age_attempts(web, 16)
    assert post_login(client, "fgw_reviewer", PASSWORD, address="10.0.2.1").status_code == 302


def test_four_failures_then_a_success_start_the_count_again(web, client, person):
    for i in range(4):
        post_login(client, "fgw_reviewer", "Wrong#2026", address=f"10.0.3.{i}")
    assert post_login(client, "fgw_reviewer", PASSWORD, address="10.0.3.9").status_code == 302
    client.post("/logout")
    for i in range(4):
        assert post_login(client, "fgw_reviewer", "Wrong#2026", address=f"10.0.4.{i}").status_code == 401


def test_unknown_names_lock_too_so_a_lock_reveals_no_account(client, person):
    for i in range(5):
        response = post_login(client, "nobody", "Wrong#2026", address=f"10.0.5.{i}")
    assert response.status_code == 429 and ACCOUNT_LOCKED in response.get_data(as_text=True)


def test_five_failures_from_one_address_lock_the_address(web, client, person):
    for name in ("a1", "a2", "a3", "a4", "a5"):
        response = post_login(client, name, "Wrong#2026", address="10.9.9.9")
    assert response.status_code == 429 and ADDRESS_LOCKED in response.get_data(as_text=True)
    # A right password from that address is refused too; from another address it works.
    blocked = post_login(client, "fgw_reviewer", PASSWORD, address="10.9.9.9")
    assert blocked.status_code == 429 and ADDRESS_LOCKED in blocked.get_data(as_text=True)
    assert post_login(client, "fgw_reviewer", PASSWORD, address="10.9.9.8").status_code == 302
    age_attempts(web, 16)
    client.post("/logout")
    assert post_login(client, "fgw_reviewer", PASSWORD, address="10.9.9.9").status_code == 302


def test_failures_are_counted_in_the_database_with_address(web, client, person):
    post_login(client, "fgw_reviewer", "Wrong#2026", address="10.0.6.1")
    with web_context(web) as web_db:
        attempt = web_db.scalars(sa.select(LoginAttempt)).one()
        assert (attempt.username, attempt.address, attempt.kind, attempt.success) == (
            "fgw_reviewer",
            "10.0.6.1",
            "password",
            False,
        )


def test_wrong_totp_codes_count_toward_the_lockout(web, client):
    add_person(web, "head1", ["head"])
    sign_in(client, "head1", PASSWORD)  # enrolls
    client.post("/logout")
    for attempt in range(5):
        assert (
            post_login(client, "head1", PASSWORD, address="10.0.7.1").headers["Location"] == "/login/verify"
        )
        response = client.post(
            "/login/verify", data={"code": "000000"}, environ_base={"REMOTE_ADDR": f"10.0.8.{attempt}"}
        )
    assert response.status_code == 429 and ACCOUNT_LOCKED in response.get_data(as_text=True)
    # Locked now: the password step refuses before asking for a code.
    again = post_login(client, "head1", PASSWORD, address="10.0.7.2")
    assert again.status_code == 429
    with web_context(web) as web_db:
        kinds = web_db.scalars(sa.select(LoginAttempt.kind).where(LoginAttempt.success.is_(False))).all()
        assert kinds.count("totp") == 5


def test_the_system_admin_unlocks_an_account(web, client, person):
    for i in range(5):
        post_login(client, "fgw_reviewer", "Wrong#2026", address=f"10.0.9.{i}")
    assert post_login(client, "fgw_reviewer", PASSWORD, address="10.1.0.1").status_code == 429
    add_person(web, "sys1", ["sysadmin"])
    admin = web.test_client()
    sign_in(admin, "sys1", PASSWORD)
    listing = admin.get("/admin/users", query_string={"q": "fgw_reviewer"}).get_data(as_text=True)
    assert "data-locked" in listing
    assert admin.post(f"/admin/users/{person}/unlock").status_code == 302
    assert post_login(client, "fgw_reviewer", PASSWORD, address="10.1.0.1").status_code == 302


def test_signed_in_person_is_not_locked_by_the_verify_page_without_pending(client):
    response = client.get("/login/verify")
    assert response.status_code == 302 and response.headers["Location"] == "/login"


def test_totp_answer_after_password_signs_in(web, client):
    add_person(web, "head2", ["head"])
    sign_in(client, "head2", PASSWORD)
    client.post("/logout")
    assert post_login(client, "head2", PASSWORD).headers["Location"] == "/login/verify"
    assert client.get("/inbox").status_code == 302  # the password alone signs nobody in
    assert answer_totp(client, "head2").status_code == 302
    assert client.get("/inbox").status_code == 200
    with web_context(web) as web_db:
        assert web_db.scalar(sa.select(User).where(User.username == "head2")).last_login_at is not None


def test_failures_lockouts_and_successes_are_audited(web, client, person):
    from backend.audit.models import AuditRecord

    for i in range(5):
        post_login(client, "fgw_reviewer", "Wrong#2026", address=f"10.2.0.{i}")
    post_login(client, "fgw_reviewer", PASSWORD, address="10.2.1.1")  # refused: locked
    age_attempts(web, 16)
    post_login(client, "fgw_reviewer", PASSWORD, address="10.2.1.2")
    with web_context(web) as web_db:
        rows = web_db.scalars(sa.select(AuditRecord).order_by(AuditRecord.id)).all()
        logins = [(r.action, r.result, r.username, r.source_addr) for r in rows]
        locked = [
            r.source_addr
            for r in rows
            if r.action == "auth.login" and (r.detail or {}).get("reason") == "locked"
        ]
    assert logins.count(("auth.login", "failure", "fgw_reviewer", "10.2.0.0")) == 1
    assert sum(1 for a, r, *_ in logins if (a, r) == ("auth.login", "failure")) == 6
    assert [row[:3] for row in logins if row[0] == "auth.lockout"] == [
        ("auth.lockout", "failure", "fgw_reviewer")
    ]
    assert logins[-1] == ("auth.login", "success", "fgw_reviewer", "10.2.1.2")
    assert locked == ["10.2.1.1"]


def test_attempts_older_than_a_day_are_purged_at_a_sign_in(web, client, person):
    post_login(client, "someone", "Wrong#2026", address="10.3.0.1")
    age_attempts(web, 2 * 24 * 60)
    post_login(client, "fgw_reviewer", PASSWORD, address="10.3.0.2")
    with web_context(web) as web_db:
        assert web_db.scalars(sa.select(LoginAttempt.username)).all() == ["fgw_reviewer"]
