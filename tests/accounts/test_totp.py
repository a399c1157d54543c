"""The TOTP second factor: required for admins and heads, optional for others, recovery codes."""

import re

import pyotp
import pytest
import sqlalchemy as sa

from backend.accounts import totp
from backend.accounts.models import RecoveryCode
from backend.org.models import User
from tests.accounts.conftest import PASSWORD, add_person, web_context
from tests.helpers.login import enroll, sign_in, totp_code


def post_login(client, username, password=PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


@pytest.mark.parametrize("role", ["head", "sysadmin", "secadmin", "auditadmin"])
def test_heads_and_admins_must_enroll_before_anything_else(web, client, role):
    add_person(web, "boss", [role])
    response = post_login(client, "boss")
    assert response.headers["Location"].startswith("/account/2fa")
    assert client.get("/inbox").headers["Location"].startswith("/account/2fa")
    page = client.get("/account/2fa").get_data(as_text=True)
    assert "<svg" in page and "data-totp-secret" in page
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", page))  # the QR needs no script
    with web_context(web) as web_db:
        user = web_db.scalar(sa.select(User).where(User.username == "boss"))
        assert user.totp_secret_enc.startswith("sm4:")  # encrypted at rest
        secret = totp.secret_of(user)
        assert secret not in user.totp_secret_enc
        assert f"data-totp-secret>{secret}<" in page
    wrong = client.post("/account/2fa", data={"code": "123456"})
    assert wrong.status_code == 400
    codes = enroll(client, "boss")
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get("/inbox").status_code == 200


def test_after_enrollment_the_password_alone_does_not_sign_in(web, client):
    add_person(web, "head3", ["head"])
    sign_in(client, "head3", PASSWORD)
    client.post("/logout")
    assert post_login(client, "head3").headers["Location"] == "/login/verify"
    assert client.get("/inbox").status_code == 302
    assert client.post("/login/verify", data={"code": "000000"}).status_code == 401
    assert client.get("/inbox").status_code == 302
    assert client.post("/login/verify", data={"code": totp_code(web, "head3")}).status_code == 302
    assert client.get("/inbox").status_code == 200


def test_a_code_is_accepted_once(web, client):
    add_person(web, "head4", ["head"])
    sign_in(client, "head4", PASSWORD)
    client.post("/logout")
    code = totp_code(web, "head4")
    post_login(client, "head4")
    assert client.post("/login/verify", data={"code": code}).status_code == 302
    client.post("/logout")
    post_login(client, "head4")
    assert client.post("/login/verify", data={"code": code}).status_code == 401  # replayed


def test_a_reviewer_signs_in_without_second_factor(client, person):
    response = post_login(client, "fgw_reviewer")
    assert response.headers["Location"] == "/"
    assert client.get("/inbox").status_code == 200
    assert 'data-totp-status="off"' in client.get("/account").get_data(as_text=True)


def test_a_reviewer_may_turn_it_on_and_off(web, client, person):
    sign_in(client, "fgw_reviewer", PASSWORD)
    enroll(client, "fgw_reviewer")
    client.post("/logout")
    assert post_login(client, "fgw_reviewer").headers["Location"] == "/login/verify"
    client.post("/login/verify", data={"code": totp_code(web, "fgw_reviewer")})
    assert client.post("/account/2fa/disable", data={"password": "wrong"}).status_code == 302
    with web_context(web) as web_db:
        assert web_db.get(User, person).totp_enabled  # a wrong password changes nothing
    client.post("/account/2fa/disable", data={"password": PASSWORD})
    client.post("/logout")
    assert post_login(client, "fgw_reviewer").headers["Location"] == "/"


def test_a_head_cannot_turn_it_off(web, client):
    add_person(web, "head5", ["head"])
    sign_in(client, "head5", PASSWORD)
    client.post("/account/2fa/disable", data={"password": PASSWORD})
    with web_context(web) as web_db:
        assert web_db.scalar(sa.select(User).where(User.username == "head5")).totp_enabled


def test_recovery_codes_are_stored_hashed_and_used_once(web, client):
    add_person(web, "head6", ["head"])
    response = post_login(client, "head6")
    assert response.headers["Location"].startswith("/account/2fa")
    codes = enroll(client, "head6")
    with web_context(web) as web_db:
        stored = web_db.scalars(sa.select(RecoveryCode.code_hash)).all()
        assert len(stored) == 10 and not set(codes) & set(stored)
    client.post("/logout")
    post_login(client, "head6")
    assert client.post("/login/verify", data={"code": codes[0]}).status_code == 302
    assert client.get("/inbox").status_code == 200
    client.post("/logout")
    post_login(client, "head6")
    assert client.post("/login/verify", data={"code": codes[0]}).status_code == 401  # spent
    assert client.post("/login/verify", data={"code": codes[1].upper()}).status_code == 302


def test_the_system_admin_resets_a_lost_second_factor(web, client):
    head = add_person(web, "head7", ["head"])
    sign_in(client, "head7", PASSWORD)
    add_person(web, "sys3", ["sysadmin"])
    admin = web.test_client()
    sign_in(admin, "sys3", PASSWORD)
    assert admin.post(f"/admin/users/{head}/reset-2fa").status_code == 302
    assert client.get("/inbox").status_code == 302  # their sessions ended
    with web_context(web) as web_db:
        user = web_db.get(User, head)
        assert not user.totp_enabled and user.totp_secret_enc is None
    assert post_login(client, "head7").headers["Location"].startswith("/account/2fa")  # enroll again


def test_check_code_allows_one_step_of_drift_only(web_session, person):
    user = web_session.get(User, person)
    secret = pyotp.random_base32()
    now = 1_800_000_000
    one = pyotp.TOTP(secret)
    assert not totp.check_code(user=user, code=one.at(now - 90), secret=secret, now=now)
    assert totp.check_code(user=user, code=one.at(now - 30), secret=secret, now=now)
    assert totp.check_code(user=user, code=one.at(now), secret=secret, now=now)
    assert not totp.check_code(user=user, code=one.at(now - 30), secret=secret, now=now)  # older step


def test_a_secret_copied_onto_another_account_does_not_decrypt(web, web_session, person):
    """The stored secret is bound to its row (SM4-GCM associated data): an insider copying a
    known secret onto another account in the database gains no second factor there."""
    from backend.crypto import CryptoError

    other_id = add_person(web, "totp_other", ["reviewer"])
    mine, other = web_session.get(User, person), web_session.get(User, other_id)
    totp.seal_secret(mine, "JBSWY3DPEHPK3PXP")
    assert totp.secret_of(mine) == "JBSWY3DPEHPK3PXP"
    other.totp_secret_enc = mine.totp_secret_enc
    with pytest.raises(CryptoError):
        totp.secret_of(other)
