"""SM4 tokens bound to their column or row (GCM associated data), version 1 tokens, rewrap."""

import base64
import os
import secrets
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from backend.crypto import SM2Key, decrypt_field, encrypt_field, user_key
from backend.crypto.fields import EncryptedText
from backend.crypto.keys import PLATFORM_KEY_FILE, _platform_key_from_file, rewrap_platform_key_file
from backend.crypto.migrate import TOKEN_COLUMNS, all_columns, rewrap_existing, unbind_existing
from backend.crypto.models import UserSigningKey
from backend.crypto.sm4 import (
    CryptoError,
    Keyring,
    TamperedTokenError,
    WrongContextError,
    context_tag,
    current_keyring,
    keyring_for,
    needs_rewrap,
    token_key_id,
    token_version,
)
from backend.org.models import Region, Unit, User
from backend.projects.models import Project

PHONE = "13812345678"


def v1_token(text: str, ring: Keyring) -> str:
    """A token as written before contexts existed: AAD "sm4:<key id>" only."""
    kid = ring.current_id
    nonce = os.urandom(12)
    enc = Cipher(algorithms.SM4(ring.current), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(f"sm4:{kid}".encode())
    body = enc.update(text.encode()) + enc.finalize()
    return f"sm4:{kid}:" + base64.b64encode(nonce + body + enc.tag).decode()


def _raw(session, table: str, column: str = "contact_phone") -> list:
    return session.execute(sa.text(f"SELECT {column} FROM {table} ORDER BY id")).scalars().all()


def _unit_and_project(session, unit_phone=PHONE, project_phone="0571-87016688"):
    session.add(Region(code="330000", name="浙江省", level="province"))
    unit = Unit(name="某建设单位", kind="owner", region_code="330000", contact_phone=unit_phone)
    session.add(unit)
    session.flush()
    project = Project(
        code="2026-330000-48-01-000001",
        name="项目",
        owner_unit_id=unit.id,
        region_code="330000",
        industry="交通",
        nature="new",
        total_investment=Decimal("1.00"),
        planned_start=date(2026, 1, 1),
        planned_end=date(2027, 1, 1),
        contact_phone=project_phone,
    )
    session.add(project)
    session.commit()
    return unit, project


def _user(session, username="li") -> User:
    user = User(username=username, display_name=username, roles=["reviewer"])
    session.add(user)
    session.flush()
    return user


# --- the token ---------------------------------------------------------------------------------


def test_context_is_required_to_decrypt_and_named_in_the_error():
    ring = Keyring(secrets.token_bytes(16))
    token = encrypt_field(PHONE, keyring=ring, context="unit.contact_phone")
    assert token_version(token) == 2 and token.split(":")[3] == context_tag("unit.contact_phone")
    assert decrypt_field(token, keyring=ring, context="unit.contact_phone") == PHONE
    with pytest.raises(WrongContextError, match="'project.contact_phone'.*another column or row"):
        decrypt_field(token, keyring=ring, context="project.contact_phone")
    with pytest.raises(WrongContextError, match="no context"):
        decrypt_field(token, keyring=ring)
    # Positional text and keyring= keep working, without a context too (empty context).
    plain = encrypt_field(PHONE, keyring=ring)
    assert decrypt_field(plain, keyring=ring) == PHONE
    with pytest.raises(WrongContextError):
        decrypt_field(plain, keyring=ring, context="unit.contact_phone")


def test_relabelled_context_tag_fails_authentication():
    """The tag only names the context: the context itself is the associated data."""
    ring = Keyring(secrets.token_bytes(16))
    token = encrypt_field(PHONE, keyring=ring, context="user_key.1")
    parts = token.split(":")
    parts[3] = context_tag("user_key.2")
    with pytest.raises(TamperedTokenError):
        decrypt_field(":".join(parts), keyring=ring, context="user_key.2")


def test_version_1_tokens_still_decrypt_in_any_context():
    ring = Keyring(secrets.token_bytes(16))
    old = v1_token(PHONE, ring)
    assert token_version(old) == 1 and token_key_id(old) == ring.current_id
    assert decrypt_field(old, keyring=ring) == PHONE
    assert decrypt_field(old, keyring=ring, context="unit.contact_phone") == PHONE
    assert needs_rewrap(old, keyring=ring, context="unit.contact_phone")
    body = bytearray(base64.b64decode(old.split(":")[2]))
    body[-1] ^= 1
    with pytest.raises(TamperedTokenError):
        decrypt_field(f"sm4:{ring.current_id}:{base64.b64encode(bytes(body)).decode()}", keyring=ring)


# --- the columns and keys ----------------------------------------------------------------------


def test_encrypted_columns_know_their_context():
    assert Unit.__table__.c.contact_phone.type.context == "unit.contact_phone"
    assert Project.__table__.c.contact_phone.type.context == "project.contact_phone"
    shared = EncryptedText("phone")
    a = sa.Table(
        "ctx_a", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("p", shared)
    )
    b = sa.Table(
        "ctx_b", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("p", shared)
    )
    assert (a.c.p.type.context, b.c.p.type.context) == ("ctx_a.p", "ctx_b.p")
    pinned = sa.Table(
        "ctx_c",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("p", EncryptedText("phone", context="old_name.p")),
    )
    assert pinned.c.p.type.context == "old_name.p"


def test_a_token_copied_to_another_column_is_refused(session):
    unit, project = _unit_and_project(session)
    [unit_token] = _raw(session, "unit")
    session.execute(sa.text("UPDATE project SET contact_phone = :v"), {"v": unit_token})
    session.commit()
    session.expire_all()
    assert session.get(Unit, unit.id).contact_phone == PHONE
    with pytest.raises(WrongContextError, match="project.contact_phone"):
        session.get(Project, project.id).contact_phone  # noqa: B018


def test_a_private_key_copied_to_another_user_is_refused(session):
    alice, bob = _user(session, "alice"), _user(session, "bob")
    user_key(session=session, user=alice)
    user_key(session=session, user=bob)
    session.commit()
    rows = {r.user_id: r for r in session.scalars(sa.select(UserSigningKey))}
    rows[bob.id].private_key_enc = rows[alice.id].private_key_enc  # sign as Bob with Alice's key
    session.flush()
    with pytest.raises(WrongContextError, match=f"user_key.{bob.id}"):
        user_key(session=session, user=bob)


def test_platform_key_file_is_bound_and_rewrapped(tmp_path):
    fake = SimpleNamespace(config={}, instance_path=str(tmp_path))
    ring = keyring_for(fake)
    key = SM2Key.generate()
    path = tmp_path / PLATFORM_KEY_FILE
    path.write_text(v1_token(key.private_key_hex, ring) + "\n")
    assert _platform_key_from_file(fake).public_key_hex == key.public_key_hex  # old file reads
    assert rewrap_platform_key_file(fake) is True
    assert token_version(path.read_text().strip()) == 2
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert _platform_key_from_file(fake).public_key_hex == key.public_key_hex
    assert rewrap_platform_key_file(fake) is False  # current now
    # Rotation: the file moves to the new key, then reads without the old one.
    new = secrets.token_hex(16)
    rotated = SimpleNamespace(
        config={"SM4_MASTER_KEY": new, "SM4_OLD_MASTER_KEYS": ring.current.hex()}, instance_path=str(tmp_path)
    )
    assert rewrap_platform_key_file(rotated) is True
    alone = SimpleNamespace(config={"SM4_MASTER_KEY": new}, instance_path=str(tmp_path))
    assert _platform_key_from_file(alone).public_key_hex == key.public_key_hex


# --- rewrap ------------------------------------------------------------------------------------


def test_rewrap_binds_old_tokens_encrypts_plaintext_and_is_idempotent(app, session):
    unit, project = _unit_and_project(session)
    alice = _user(session, "alice")
    signing = user_key(session=session, user=alice)
    session.commit()
    ring = current_keyring()
    # As stored before contexts: a version 1 token in every kind of column, one plaintext value.
    session.execute(sa.text("UPDATE unit SET contact_phone = :v"), {"v": v1_token(PHONE, ring)})
    session.execute(sa.text("UPDATE project SET contact_phone = '0571-87016688'"))
    session.execute(
        sa.text("UPDATE user_signing_key SET private_key_enc = :v"),
        {"v": v1_token(signing.private_key_hex, ring)},
    )
    session.commit()
    session.expire_all()
    assert session.get(Unit, unit.id).contact_phone == PHONE  # version 1 still reads

    assert rewrap_existing(session.connection()) == 3
    session.commit()
    [u], [p], [k] = (
        _raw(session, "unit"),
        _raw(session, "project"),
        _raw(session, "user_signing_key", "private_key_enc"),
    )
    assert u.split(":")[3] == context_tag("unit.contact_phone")
    assert p.split(":")[3] == context_tag("project.contact_phone") and "87016688" not in p
    assert k.split(":")[3] == context_tag(f"user_key.{alice.id}")
    session.expire_all()
    assert session.get(Unit, unit.id).contact_phone == PHONE
    assert session.get(Project, project.id).contact_phone == "0571-87016688"
    assert user_key(session=session, user=alice).public_key_hex == signing.public_key_hex
    assert rewrap_existing(session.connection()) == 0  # idempotent
    assert _raw(session, "unit") == [u]

    # The revision's downgrade: version 1 tokens again, as the code before contexts reads them.
    assert unbind_existing(session.connection()) == 3
    session.commit()
    assert all(token_version(t) == 1 for t in _raw(session, "unit") + _raw(session, "project"))
    assert decrypt_field(_raw(session, "unit")[0]) == PHONE
    assert rewrap_existing(session.connection()) == 3


def test_rewrap_never_rebinds_a_token_from_elsewhere(session):
    _unit_and_project(session)
    [unit_token] = _raw(session, "unit")
    session.execute(sa.text("UPDATE project SET contact_phone = :v"), {"v": unit_token})
    session.commit()
    with pytest.raises(CryptoError, match=r"project.contact_phone id=\d+: .*belongs elsewhere"):
        rewrap_existing(session.connection())
    failures: list = []
    assert rewrap_existing(session.connection(), failures=failures) == 0
    assert [(t, c) for t, _, c, _ in failures] == [("project", "contact_phone")]
    assert _raw(session, "project") == [unit_token]  # left as it was


def test_rotation_rewraps_bound_tokens_under_the_new_key(app, session, monkeypatch):
    unit, project = _unit_and_project(session)
    alice = _user(session, "alice")
    signing = user_key(session=session, user=alice)
    session.commit()
    old = current_keyring()
    monkeypatch.setitem(app.config, "SM4_OLD_MASTER_KEYS", old.current.hex())
    monkeypatch.setitem(app.config, "SM4_MASTER_KEY", secrets.token_hex(16))
    new_id = current_keyring().current_id
    assert new_id != old.current_id
    assert rewrap_existing(session.connection()) == 3
    session.commit()
    for token in (
        _raw(session, "unit")
        + _raw(session, "project")
        + _raw(session, "user_signing_key", "private_key_enc")
    ):
        assert token_key_id(token) == new_id
    # The old key can go now.
    monkeypatch.setitem(app.config, "SM4_OLD_MASTER_KEYS", "")
    session.expire_all()
    assert session.get(Unit, unit.id).contact_phone == PHONE
    assert session.get(Project, project.id).contact_phone == "0571-87016688"
    assert user_key(session=session, user=alice).public_key_hex == signing.public_key_hex


def test_rewrap_walks_every_encrypted_model_column():
    listed = {(t, c): ctx for t, _, c, ctx in all_columns()}
    assert listed[("unit", "contact_phone")] == "unit.contact_phone"
    assert listed[("user_signing_key", "private_key_enc")] == "user_key.{user_id}"
    assert {(t, c) for t, _, c, *_ in TOKEN_COLUMNS} <= set(listed)


def test_cli_rewrap_converts_and_names_failures(app, session, monkeypatch):
    monkeypatch.setitem(app.config, "PLATFORM_SM2_KEY", SM2Key.generate().private_key_hex)
    unit, _ = _unit_and_project(session)
    session.execute(sa.text("UPDATE unit SET contact_phone = :v"), {"v": v1_token(PHONE, current_keyring())})
    session.commit()
    out = app.test_cli_runner().invoke(args=["crypto", "rewrap"])
    assert out.exit_code == 0, out.output
    assert "1 value(s) written" in out.output
    [stored] = _raw(session, "unit")
    assert token_version(stored) == 2

    session.execute(sa.text("UPDATE project SET contact_phone = :v"), {"v": stored})
    session.commit()
    out = app.test_cli_runner().invoke(args=["crypto", "rewrap"])
    assert out.exit_code == 1
    assert "NOT rewrapped: project.contact_phone" in out.output
