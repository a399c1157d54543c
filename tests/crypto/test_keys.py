"""Signing keys (platform and per user, stored encrypted), the public-key listing, and
sensitive values masked in the pages."""

import json

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from backend.accounts.service import set_password
from backend.crypto import SM2Key, decrypt_field, platform_key, sm2_verify, user_key
from backend.crypto.models import UserSigningKey
from backend.crypto.sm4 import is_token
from backend.forms.render import render_form
from backend.org.models import User

PASSWORD = "Test-Passw0rd-2026"


def _user(session, username="li", roles=("reviewer",)) -> User:
    user = User(username=username, display_name="李审查", roles=list(roles))
    session.add(user)
    session.flush()
    return user


def test_user_key_is_created_once_and_stored_encrypted(session):
    user = _user(session)
    key = user_key(session=session, user=user)
    session.commit()
    row = session.scalars(sa.select(UserSigningKey)).one()
    assert row.user_id == user.id and row.public_key_hex == key.public_key_hex
    assert is_token(row.private_key_enc)
    assert key.private_key_hex not in row.private_key_enc
    raw = session.execute(sa.text("SELECT private_key_enc FROM user_signing_key")).scalar_one()
    assert (
        key.private_key_hex not in raw
        and decrypt_field(raw, context=f"user_key.{user.id}") == key.private_key_hex
    )

    again = user_key(session=session, user=user)
    assert again.public_key_hex == key.public_key_hex
    assert session.scalar(sa.select(sa.func.count()).select_from(UserSigningKey)) == 1
    signature = again.sign(b"countersign")
    assert sm2_verify(row.public_key_hex, b"countersign", signature)

    # Key generation is a security event: audited once, with the public key only.
    from backend.audit.models import AuditRecord

    audited = session.scalars(sa.select(AuditRecord).filter_by(action="crypto.key_create")).all()
    assert len(audited) == 1
    assert key.public_key_hex in str(audited[0].detail) and key.private_key_hex not in str(audited[0].detail)


def test_a_stored_key_that_does_not_match_its_public_key_is_refused(session):
    from backend.crypto import CryptoError, encrypt_field

    user = _user(session)
    user_key(session=session, user=user)
    row = session.scalars(sa.select(UserSigningKey)).one()
    # Swapped behind our back by someone holding the master key (a token with the right context).
    row.private_key_enc = encrypt_field(SM2Key.generate().private_key_hex, context=f"user_key.{user.id}")
    session.flush()
    with pytest.raises(CryptoError, match="does not match"):
        user_key(session=session, user=user)


def test_platform_key_is_stable_and_configurable(app, session, monkeypatch):
    first = platform_key()
    assert platform_key().public_key_hex == first.public_key_hex
    configured = SM2Key.generate()
    monkeypatch.setitem(app.config, "PLATFORM_SM2_KEY", configured.private_key_hex)
    assert platform_key().public_key_hex == configured.public_key_hex
    assert sm2_verify(configured.public_key_hex, b"checkpoint", platform_key().sign(b"checkpoint"))


def test_platform_key_file_holds_no_clear_private_key(app, session):
    import os

    from backend.crypto.keys import PLATFORM_KEY_FILE

    if app.config.get("PLATFORM_SM2_KEY"):
        pytest.skip("the platform key comes from the environment")
    key = platform_key()
    with open(os.path.join(app.instance_path, PLATFORM_KEY_FILE), encoding="ascii") as fh:
        content = fh.read()
    assert is_token(content.strip()) and key.private_key_hex not in content


def test_public_keys_without_sign_in_show_only_the_platform_key(app, session):
    client = app.test_client()
    key = platform_key()
    page = client.get("/crypto/public-keys")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert key.public_key_hex in text and "BEGIN PUBLIC KEY" in text
    assert 'id="user-keys"' not in text
    data = client.get("/crypto/public-keys.json").get_json()
    assert data["platform"]["public_key_hex"] == key.public_key_hex
    assert data["users"] is None
    assert data["algorithm"]["signer_id"] == "1234567812345678"


def _signed_in(app, session, username) -> FlaskClient:
    user = session.scalar(sa.select(User).filter_by(username=username))
    set_password(user=user, password=PASSWORD, enforce_policy=False)
    session.commit()
    client = FlaskClient(app, app.response_class, use_cookies=True)
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def test_signed_in_people_see_the_users_public_keys(app, session):
    user = _user(session)
    key = user_key(session=session, user=user)
    session.commit()
    client = _signed_in(app, session, "li")
    text = client.get("/crypto/public-keys").get_data(as_text=True)
    assert 'data-user="li"' in text and key.public_key_hex in text
    assert key.private_key_hex not in text
    data = json.loads(client.get("/crypto/public-keys.json").get_data(as_text=True))
    assert data["users"][0]["username"] == "li"
    assert data["users"][0]["public_key_hex"] == key.public_key_hex


def test_a_phone_in_a_read_only_form_is_masked():
    from backend.config import ROOT

    for name in ("project_application.json", "approval_revise.json"):
        schema = json.loads((ROOT / "forms" / name).read_text(encoding="utf-8"))
        assert schema["properties"]["contact_phone"]["x-mask"] == "phone"
        shown = str(render_form(schema, values={"contact_phone": "13812345678"}, readonly=True))
        assert "138****5678" in shown and "13812345678" not in shown
        # The applicant editing their own form sees the real value.
        editing = str(render_form(schema, values={"contact_phone": "13812345678"}))
        assert "13812345678" in editing
