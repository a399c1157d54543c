"""Signing keys: the platform's SM2 key and per-user SM2 keys (private parts SM4-encrypted).

Platform key: PLATFORM_SM2_KEY (64 hex) in production. Without it (development, tests) one is
generated once into the instance folder as an SM4 token (`platform_sm2.key`), never in clear.
A file, not a table row: the key is needed by CLI commands and read-only requests that never
commit, and creating it must not take the database write lock inside someone's transaction.
"""

from __future__ import annotations

import os

from flask import current_app
from sqlalchemy.exc import IntegrityError

from backend.crypto.sm2 import SM2Key
from backend.crypto.sm4 import CryptoError, decrypt_field, encrypt_field, keyring_for

PLATFORM_KEY_FILE = "platform_sm2.key"
# SM4 contexts: a stored private key decrypts only where it was written (see sm4.py).
PLATFORM_KEY_CONTEXT = "platform_sm2.key"


def user_key_context(user_id: int) -> str:
    return f"user_key.{user_id}"


_platform_cache: dict[tuple, SM2Key] = {}


def platform_key() -> SM2Key:
    """The platform's SM2 signing key (audit checkpoints, evidence, issued documents)."""
    app = current_app._get_current_object()
    configured = app.config.get("PLATFORM_SM2_KEY") or ""
    cache_key = (configured, app.instance_path, keyring_for(app).current_id)
    key = _platform_cache.get(cache_key)
    if key is None:
        if configured:
            try:
                key = SM2Key.from_hex(configured)
            except ValueError as exc:
                raise CryptoError(f"PLATFORM_SM2_KEY is not a valid SM2 private key: {exc}") from exc
        else:
            key = _platform_key_from_file(app)
        _platform_cache[cache_key] = key
    return key


def _platform_key_from_file(app) -> SM2Key:
    ring = keyring_for(app)
    path = os.path.join(app.instance_path, PLATFORM_KEY_FILE)
    try:
        with open(path, encoding="ascii") as fh:
            return SM2Key.from_hex(
                decrypt_field(fh.read().strip(), keyring=ring, context=PLATFORM_KEY_CONTEXT)
            )
    except FileNotFoundError:
        pass
    os.makedirs(app.instance_path, exist_ok=True)
    key = SM2Key.generate()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process generated it first
        with open(path, encoding="ascii") as fh:
            return SM2Key.from_hex(
                decrypt_field(fh.read().strip(), keyring=ring, context=PLATFORM_KEY_CONTEXT)
            )
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(encrypt_field(key.private_key_hex, keyring=ring, context=PLATFORM_KEY_CONTEXT) + "\n")
    app.logger.warning("PLATFORM_SM2_KEY is not set: generated a platform signing key in %s", path)
    return key


def user_key(*, session, user) -> SM2Key:
    """`user`'s SM2 key; created (in the caller's transaction) on first use."""
    from backend.crypto.models import UserSigningKey

    row = session.query(UserSigningKey).filter_by(user_id=user.id).one_or_none()
    if row is None:
        key = SM2Key.generate()
        row = UserSigningKey(
            user_id=user.id,
            public_key_hex=key.public_key_hex,
            private_key_enc=encrypt_field(key.private_key_hex, context=user_key_context(user.id)),
        )
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:  # a concurrent first use created it: take theirs
            row = session.query(UserSigningKey).filter_by(user_id=user.id).one()
        else:
            from backend.audit import record

            record(
                "crypto.key_create",
                object_type="user_signing_key",
                object_id=user.id,
                detail={"algorithm": "SM2", "public_key": key.public_key_hex},
                user=user,
                session=session,
            )
            return key
    key = SM2Key.from_hex(decrypt_field(row.private_key_enc, context=user_key_context(user.id)))
    if key.public_key_hex != row.public_key_hex:
        raise CryptoError(f"signing key of user {user.id} does not match its public key")
    return key


def user_public_key(*, session, user_id: int) -> str | None:
    """The listed public key of a user (None before their first signature)."""
    from backend.crypto.models import UserSigningKey

    row = session.query(UserSigningKey).filter_by(user_id=user_id).one_or_none()
    return row.public_key_hex if row else None


def rewrap_platform_key_file(app) -> bool:
    """Re-encrypt the development platform key file under the current master key, bound to
    its context (after a rotation, before the old key leaves SM4_OLD_MASTER_KEYS).
    True when the file was rewritten; False without a file or when it was current."""
    from backend.crypto.sm4 import needs_rewrap, rewrap

    if app.config.get("PLATFORM_SM2_KEY"):  # the file is not used then
        return False
    ring = keyring_for(app)
    path = os.path.join(app.instance_path, PLATFORM_KEY_FILE)
    try:
        with open(path, encoding="ascii") as fh:
            token = fh.read().strip()
    except FileNotFoundError:
        return False
    if not needs_rewrap(token, keyring=ring, context=PLATFORM_KEY_CONTEXT):
        return False
    new = rewrap(token, keyring=ring, context=PLATFORM_KEY_CONTEXT)
    tmp = path + ".new"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(new + "\n")
    os.replace(tmp, path)  # atomic: a crash leaves the old file readable
    return True
