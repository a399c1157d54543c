"""SM4 field tokens, the encrypted columns, key rotation and the migration's data step."""

import base64
import logging
import os
import re
import secrets
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from backend import create_app
from backend.crypto import CryptoError, decrypt_field, encrypt_field
from backend.crypto.fields import mask, mask_bank_account, mask_id_card, mask_phone
from backend.crypto.migrate import decrypt_existing, encrypt_existing
from backend.crypto.sm2 import SM2Key
from backend.crypto.sm4 import (
    KEY_FILE_NAME,
    Keyring,
    TamperedTokenError,
    WrongKeyError,
    blind_index,
    current_keyring,
    key_id,
    keyring_for,
    token_key_id,
)
from backend.org.models import Region, Unit
from backend.projects.models import Project

PHONE = "13812345678"
TOKEN = re.compile(r"^sm4:v2:[0-9a-f]{8}:[0-9a-f]{8}:[A-Za-z0-9+/]+=*$")


def ring() -> Keyring:
    return Keyring(secrets.token_bytes(16))


def test_round_trip_and_token_shape():
    keys = ring()
    for text in (PHONE, "", "身份证 330102199001011234", "x" * 2000):
        token = encrypt_field(text, keyring=keys)
        assert TOKEN.match(token)
        assert token_key_id(token) == keys.current_id
        assert decrypt_field(token, keyring=keys) == text
    assert encrypt_field(PHONE, keyring=keys) != encrypt_field(PHONE, keyring=keys)  # fresh nonce


def test_wrong_master_key_is_a_clear_error_not_garbage():
    token = encrypt_field(PHONE, keyring=ring())
    other = ring()
    with pytest.raises(WrongKeyError, match=f"master key {token_key_id(token)}.*SM4_MASTER_KEY"):
        decrypt_field(token, keyring=other)


def test_wrong_key_with_the_same_id_still_fails_authentication():
    keys = ring()
    token = encrypt_field(PHONE, keyring=keys)
    impostor = Keyring(secrets.token_bytes(16))
    impostor.by_id[keys.current_id] = impostor.current  # pretend: an id collision
    with pytest.raises(TamperedTokenError):
        decrypt_field(token, keyring=impostor)


def test_tampered_tokens_are_refused():
    keys = Keyring(secrets.token_bytes(16), (secrets.token_bytes(16),))
    token = encrypt_field(PHONE, keyring=keys)
    prefix, version, kid, tag, body = token.split(":")
    raw = bytearray(base64.b64decode(body))
    for position in (0, 12, len(raw) - 1):  # nonce, ciphertext, tag
        changed = bytearray(raw)
        changed[position] ^= 0x01
        with pytest.raises(TamperedTokenError):
            decrypt_field(
                f"{prefix}:{version}:{kid}:{tag}:{base64.b64encode(bytes(changed)).decode()}", keyring=keys
            )
    # The key id is authenticated: relabelling a token as the old key's is refused.
    old_id = key_id(keys.old[0])
    with pytest.raises(TamperedTokenError):
        decrypt_field(f"{prefix}:{version}:{old_id}:{tag}:{body}", keyring=keys)
    with pytest.raises(TamperedTokenError):
        decrypt_field(
            f"{prefix}:{version}:{kid}:{tag}:{base64.b64encode(bytes(raw[:20])).decode()}", keyring=keys
        )
    with pytest.raises(TamperedTokenError):
        decrypt_field(f"{prefix}:{version}:{kid}:{tag}:***", keyring=keys)
    with pytest.raises(CryptoError, match="not an SM4"):
        decrypt_field(PHONE, keyring=keys)


def test_old_keys_decrypt_after_rotation():
    old = ring()
    token = encrypt_field(PHONE, keyring=old)
    rotated = Keyring(secrets.token_bytes(16), (old.current,))
    assert decrypt_field(token, keyring=rotated) == PHONE
    assert token_key_id(encrypt_field(PHONE, keyring=rotated)) == rotated.current_id


def test_development_key_file_is_created_once_private_and_never_logged(tmp_path, caplog):
    fake = SimpleNamespace(config={}, instance_path=str(tmp_path / "instance"))
    with caplog.at_level(logging.DEBUG):
        first = keyring_for(fake)
    path = tmp_path / "instance" / KEY_FILE_NAME
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert path.read_text().strip() == first.current.hex()
    assert first.current.hex() not in caplog.text
    assert "generated a development master key" in caplog.text
    fake2 = SimpleNamespace(config={"SM4_OLD_MASTER_KEYS": ""}, instance_path=str(tmp_path / "instance"))
    assert keyring_for(fake2).current == first.current  # read back, not regenerated


def test_configured_key_wins_and_bad_keys_refuse_to_start(app):
    fake = SimpleNamespace(config={"SM4_MASTER_KEY": "00" * 16}, instance_path="/nonexistent")
    assert keyring_for(fake).current == bytes(16)
    for bad in ("abc", "00" * 15, "zz" * 16):
        with pytest.raises(CryptoError, match="SM4_MASTER_KEY"):
            create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "SM4_MASTER_KEY": bad})
    with pytest.raises(CryptoError, match="PLATFORM_SM2_KEY"):
        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "PLATFORM_SM2_KEY": "00" * 32})


# --- the columns ------------------------------------------------------------------------------


def _unit(session, phone=PHONE) -> Unit:
    session.add(Region(code="330000", name="浙江省", level="province"))
    unit = Unit(name="某建设单位", kind="owner", region_code="330000", contact_phone=phone)
    session.add(unit)
    session.commit()
    return unit


def _raw(session, table: str, column: str = "contact_phone") -> list:
    return session.execute(sa.text(f"SELECT {column} FROM {table}")).scalars().all()


def test_unit_phone_is_unreadable_in_the_database(session):
    unit = _unit(session)
    [stored] = _raw(session, "unit")
    assert TOKEN.match(stored)
    assert PHONE not in stored and "5678" not in stored
    session.expire_all()
    assert session.get(Unit, unit.id).contact_phone == PHONE


def test_project_phone_is_unreadable_in_the_database(session):
    from datetime import date
    from decimal import Decimal

    unit = _unit(session, phone=None)
    assert _raw(session, "unit") == [None]  # no value, no token
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
        contact_phone="0571-87016688",
    )
    session.add(project)
    session.commit()
    [stored] = _raw(session, "project")
    assert TOKEN.match(stored) and "87016688" not in stored
    session.expire_all()
    assert session.get(Project, project.id).contact_phone == "0571-87016688"


def test_a_wrong_master_key_fails_reads_clearly(app, session, monkeypatch):
    unit = _unit(session)
    session.expire_all()
    monkeypatch.setitem(app.config, "SM4_MASTER_KEY", secrets.token_hex(16))
    with pytest.raises(WrongKeyError, match="encrypted under master key"):
        session.get(Unit, unit.id).contact_phone  # noqa: B018


def test_a_tampered_row_is_refused(session):
    unit = _unit(session)
    [stored] = _raw(session, "unit")
    body = bytearray(base64.b64decode(stored.split(":")[4]))
    body[15] ^= 0xFF
    session.execute(
        sa.text("UPDATE unit SET contact_phone = :v"),
        {"v": ":".join(stored.split(":")[:4]) + ":" + base64.b64encode(bytes(body)).decode()},
    )
    session.commit()
    session.expire_all()
    with pytest.raises(TamperedTokenError):
        session.get(Unit, unit.id).contact_phone  # noqa: B018


def test_searching_an_encrypted_column_is_refused_loudly(session):
    _unit(session)
    with pytest.raises(TypeError, match="blind index"):
        sa.select(Unit).where(Unit.contact_phone == PHONE)
    with pytest.raises(TypeError, match="blind index"):
        sa.select(Unit).where(Unit.contact_phone.like("138%"))
    assert session.scalars(sa.select(Unit).where(Unit.contact_phone.is_not(None))).one()
    assert session.scalars(sa.select(Unit).where(Unit.contact_phone == None)).all() == []  # noqa: E711


def test_blind_index_is_keyed_and_deterministic(session):
    a, b = ring(), ring()
    assert blind_index(PHONE, keyring=a) == blind_index(f" {PHONE} ", keyring=a)
    assert blind_index(PHONE, keyring=a) != blind_index(PHONE, keyring=b)
    assert PHONE not in blind_index(PHONE, keyring=a)


def test_migration_encrypts_existing_plaintext_and_rotates_old_tokens(app, session, monkeypatch):
    unit = _unit(session)
    session.execute(sa.text("UPDATE unit SET contact_phone = '13900001111'"))  # as before issue 7
    session.commit()
    assert encrypt_existing(session.connection()) == 1  # as op.get_bind() in the revision
    session.commit()
    [stored] = _raw(session, "unit")
    assert TOKEN.match(stored) and "13900001111" not in stored
    session.expire_all()
    assert session.get(Unit, unit.id).contact_phone == "13900001111"
    assert encrypt_existing(session.connection()) == 0  # idempotent

    # Rotation: a new master key, the old one kept for reading; the data step re-encrypts.
    old_id = current_keyring().current_id
    monkeypatch.setitem(app.config, "SM4_OLD_MASTER_KEYS", current_keyring().current.hex())
    monkeypatch.setitem(app.config, "SM4_MASTER_KEY", secrets.token_hex(16))
    assert encrypt_existing(session.connection()) == 1
    session.commit()
    [rotated] = _raw(session, "unit")
    assert token_key_id(rotated) == current_keyring().current_id != old_id
    session.expire_all()
    assert session.get(Unit, unit.id).contact_phone == "13900001111"

    assert decrypt_existing(session.connection()) == 1
    assert _raw(session, "unit") == ["13900001111"]


# --- masks ------------------------------------------------------------------------------------


def test_masks():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("0571-87016688") == "057******6688"
    assert mask_phone("12345") == "***45"
    assert mask_phone(None) == ""
    assert mask_id_card("330102199001011234") == "330***********1234"
    assert mask_id_card("33010219900101123X") == "330***********123X"
    assert mask_bank_account("6222 0212 3456 7890 123") == "****0123"
    assert mask_bank_account("123") == "***"
    assert mask(PHONE, "phone") == "138****5678"
    assert mask("secret", "unknown") == "****et"


def test_cli_new_keys_and_reencrypt(app, session, monkeypatch):
    # A configured platform key: the command leaves the development key file alone.
    monkeypatch.setitem(app.config, "PLATFORM_SM2_KEY", SM2Key.generate().private_key_hex)
    out = app.test_cli_runner().invoke(args=["crypto", "new-keys"])
    assert out.exit_code == 0, out.output
    values = dict(
        line.split("=", 1) for line in out.output.splitlines() if "=" in line and not line.startswith("#")
    )
    assert len(bytes.fromhex(values["SM4_MASTER_KEY"])) == 16
    assert len(bytes.fromhex(values["PLATFORM_SM2_KEY"])) == 32

    _unit(session)
    session.execute(sa.text("UPDATE unit SET contact_phone = '13900001111'"))
    session.commit()
    out = app.test_cli_runner().invoke(args=["crypto", "reencrypt"])
    assert out.exit_code == 0, out.output
    assert "1 value(s) written" in out.output
    session.expire_all()
    [stored] = _raw(session, "unit")
    assert TOKEN.match(stored)
