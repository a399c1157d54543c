"""Data steps for encrypted columns: used by the Alembic revision and `flask crypto reencrypt`.

The revision that turns a plaintext column into EncryptedText must:
  1. widen the column to TEXT (a token is ~80 characters for a phone number), then
  2. call `encrypt_existing(op.get_bind())` (runs inside `flask db upgrade`, so the app's
     master key is available) to replace every plaintext value with its SM4 token.
Downgrade: `decrypt_existing(op.get_bind())`, then narrow the column again.
Both are idempotent: tokens are recognised and left alone (or re-encrypted under the current
key when they were made with an older one, which is what key rotation needs).
"""

from __future__ import annotations

import sqlalchemy as sa

from backend.crypto.sm4 import Keyring, current_keyring, decrypt_field, encrypt_field, is_token

# Plaintext columns switched to EncryptedText in issue 7: (table, primary key, column).
SENSITIVE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("unit", "id", "contact_phone"),
    ("project", "id", "contact_phone"),
)
# Columns that hold SM4 tokens written by code (not EncryptedText): re-encrypted on rotation.
TOKEN_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("user_signing_key", "id", "private_key_enc"),
    ("app_user", "id", "totp_secret_enc"),
)


def _rows(connection, table: str, pk: str, column: str):
    t = sa.table(table, sa.column(pk), sa.column(column))
    return t, connection.execute(sa.select(t.c[pk], t.c[column]).where(t.c[column].is_not(None))).all()


def encrypt_existing(
    connection, *, columns=SENSITIVE_COLUMNS + TOKEN_COLUMNS, keyring: Keyring | None = None
) -> int:
    """Encrypt plaintext values, and re-encrypt tokens of older keys under the current one.
    Returns how many values were written. Missing tables/columns are skipped."""
    ring = keyring or current_keyring()
    inspector = sa.inspect(connection)
    written = 0
    for table, pk, column in columns:
        if not inspector.has_table(table) or column not in {c["name"] for c in inspector.get_columns(table)}:
            continue
        t, rows = _rows(connection, table, pk, column)
        for key, value in rows:
            if is_token(value):
                if value.split(":")[1] == ring.current_id:
                    continue
                value = decrypt_field(value, keyring=ring)  # an older key's token: rotate it
            connection.execute(
                t.update().where(t.c[pk] == key).values({column: encrypt_field(value, keyring=ring)})
            )
            written += 1
    return written


def decrypt_existing(connection, *, columns=SENSITIVE_COLUMNS, keyring: Keyring | None = None) -> int:
    """Back to plaintext (a downgrade of the revision that encrypted `columns`)."""
    ring = keyring or current_keyring()
    written = 0
    for table, pk, column in columns:
        t, rows = _rows(connection, table, pk, column)
        for key, value in rows:
            if is_token(value):
                connection.execute(
                    t.update().where(t.c[pk] == key).values({column: decrypt_field(value, keyring=ring)})
                )
                written += 1
    return written
