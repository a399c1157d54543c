"""Data steps for encrypted columns: used by Alembic revisions and `flask crypto rewrap`.

The revision that turns a plaintext column into EncryptedText must:
  1. widen the column to TEXT (a token is ~100 characters for a phone number), then
  2. call `rewrap_existing(op.get_bind())` (runs inside `flask db upgrade`, so the app's
     master key is available) to replace every plaintext value with its SM4 token.
Downgrade: `decrypt_existing(op.get_bind())`, then narrow the column again; a revision that
only rewrapped (bound old tokens) downgrades with `unbind_existing(op.get_bind())`.
`rewrap_existing` is idempotent and also the upgrade path of older tokens: version 1 tokens
(no context) become version 2 tokens bound to their column/row, and tokens of an older master
key are re-encrypted under the current one (key rotation). Current tokens are left alone.
"""

from __future__ import annotations

import string

import sqlalchemy as sa

from backend.crypto.sm4 import (
    CryptoError,
    Keyring,
    current_keyring,
    decrypt_field,
    encrypt_field_v1,
    is_token,
    needs_rewrap,
    rewrap,
    token_version,
)

# Plaintext columns switched to EncryptedText in issue 7: (table, primary key, column); their
# context is "<table>.<column>", as EncryptedText derives it.
SENSITIVE_COLUMNS: tuple[tuple[str, ...], ...] = (
    ("unit", "id", "contact_phone"),
    ("project", "id", "contact_phone"),
)
# Columns that hold SM4 tokens written by code (not EncryptedText), with the context the code
# uses: a format string over the row's columns ("" = unbound).
TOKEN_COLUMNS: tuple[tuple[str, ...], ...] = (
    ("user_signing_key", "id", "private_key_enc", "user_key.{user_id}"),
    ("app_user", "id", "totp_secret_enc", "app_user.totp_secret_enc.{id}"),
)


def _spec(entry: tuple[str, ...]) -> tuple[str, str, str, str]:
    table, pk, column = entry[:3]
    return table, pk, column, entry[3] if len(entry) > 3 else f"{table}.{column}"


def model_columns() -> tuple[tuple[str, ...], ...]:
    """Every EncryptedText column of the models, with its context (new columns need no list)."""
    from backend.crypto.fields import EncryptedText
    from backend.extensions import db

    found = []
    for table in db.metadata.sorted_tables:
        pks = list(table.primary_key.columns)
        for col in table.columns:
            if len(pks) == 1 and isinstance(col.type, EncryptedText):
                found.append((table.name, pks[0].name, col.name, col.type.context or ""))
    return tuple(found)


def all_columns() -> tuple[tuple[str, ...], ...]:
    """What `flask crypto rewrap` walks: the listed columns plus any other EncryptedText one."""
    listed = [_spec(c) for c in SENSITIVE_COLUMNS + TOKEN_COLUMNS]
    seen = {(t, c) for t, _, c, _ in listed}
    return tuple(listed) + tuple(c for c in model_columns() if (c[0], c[2]) not in seen)


def _rows(connection, table: str, pk: str, column: str, fields: list[str]):
    t = sa.table(table, *(sa.column(name) for name in dict.fromkeys((pk, column, *fields))))
    stmt = sa.select(t.c[pk], t.c[column], *(t.c[f] for f in fields)).where(t.c[column].is_not(None))
    return t, connection.execute(stmt).all()


def _fields(template: str) -> list[str]:
    return sorted({name for _, name, _, _ in string.Formatter().parse(template) if name})


def _present(connection, table: str, column: str) -> bool:
    inspector = sa.inspect(connection)
    return inspector.has_table(table) and column in {c["name"] for c in inspector.get_columns(table)}


def rewrap_existing(
    connection,
    *,
    columns=SENSITIVE_COLUMNS + TOKEN_COLUMNS,
    keyring: Keyring | None = None,
    failures: list | None = None,
) -> int:
    """Encrypt plaintext values, bind version 1 tokens to their context, re-encrypt tokens of
    older keys under the current one. Returns how many values were written; missing tables or
    columns are skipped. A value that does not decrypt (tampered, wrong key, another column's
    token) raises CryptoError naming the row, or with `failures` is listed there and skipped."""
    ring = keyring or current_keyring()
    written = 0
    for entry in columns:
        table, pk, column, template = _spec(entry)
        if not _present(connection, table, column):
            continue
        fields = _fields(template)
        t, rows = _rows(connection, table, pk, column, fields)
        for row in rows:
            key, value = row[0], row[1]
            context = template.format(**dict(zip(fields, row[2:], strict=True)))
            if is_token(value) and not needs_rewrap(value, keyring=ring, context=context):
                continue
            try:
                new = rewrap(value, keyring=ring, context=context)
            except CryptoError as exc:
                if failures is None:
                    raise CryptoError(f"{table}.{column} {pk}={key}: {exc}") from exc
                failures.append((table, key, column, str(exc)))
                continue
            connection.execute(t.update().where(t.c[pk] == key).values({column: new}))
            written += 1
    return written


def encrypt_existing(
    connection, *, columns=SENSITIVE_COLUMNS + TOKEN_COLUMNS, keyring: Keyring | None = None
) -> int:
    """The issue 7 revision's data step (kept by name): `rewrap_existing`."""
    return rewrap_existing(connection, columns=columns, keyring=keyring)


def unbind_existing(
    connection, *, columns=SENSITIVE_COLUMNS + TOKEN_COLUMNS, keyring: Keyring | None = None
) -> int:
    """Downgrade of a revision that ran `rewrap_existing`: version 2 tokens back to version 1
    (no context), which code older than contexts reads. Plaintext stays encrypted."""
    ring = keyring or current_keyring()
    written = 0
    for entry in columns:
        table, pk, column, template = _spec(entry)
        if not _present(connection, table, column):
            continue
        fields = _fields(template)
        t, rows = _rows(connection, table, pk, column, fields)
        for row in rows:
            key, value = row[0], row[1]
            if is_token(value) and token_version(value) == 2:
                context = template.format(**dict(zip(fields, row[2:], strict=True)))
                plain = decrypt_field(value, keyring=ring, context=context)
                connection.execute(
                    t.update().where(t.c[pk] == key).values({column: encrypt_field_v1(plain, keyring=ring)})
                )
                written += 1
    return written


def decrypt_existing(connection, *, columns=SENSITIVE_COLUMNS, keyring: Keyring | None = None) -> int:
    """Back to plaintext (a downgrade of the revision that encrypted `columns`)."""
    ring = keyring or current_keyring()
    written = 0
    for entry in columns:
        table, pk, column, template = _spec(entry)
        fields = _fields(template)
        t, rows = _rows(connection, table, pk, column, fields)
        for row in rows:
            key, value = row[0], row[1]
            if is_token(value):
                context = template.format(**dict(zip(fields, row[2:], strict=True)))
                plain = decrypt_field(value, keyring=ring, context=context)
                connection.execute(t.update().where(t.c[pk] == key).values({column: plain}))
                written += 1
    return written
