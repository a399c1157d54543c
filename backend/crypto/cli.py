"""`flask crypto ...`: key material for operators and key rotation."""

import secrets

import click
from flask import Blueprint

from backend.crypto.sm2 import SM2Key

bp = Blueprint("crypto_cli", __name__, cli_group="crypto")


@bp.cli.command("new-keys")
def new_keys():
    """Print a fresh SM4_MASTER_KEY and PLATFORM_SM2_KEY for the environment (nothing stored)."""
    key = SM2Key.generate()
    click.echo(f"SM4_MASTER_KEY={secrets.token_hex(16)}")
    click.echo(f"PLATFORM_SM2_KEY={key.private_key_hex}")
    click.echo(f"# platform public key: {key.public_key_hex}")


def _rewrap() -> None:
    from flask import current_app

    from backend.audit import record
    from backend.crypto.keys import rewrap_platform_key_file
    from backend.crypto.migrate import all_columns, rewrap_existing
    from backend.crypto.sm4 import current_keyring
    from backend.crypto.variables import encrypt_existing_variables
    from backend.extensions import db

    failures: list = []
    written = rewrap_existing(db.session.connection(), columns=all_columns(), failures=failures)
    # Process variables too: after a rotation, nothing may be left under the old key.
    variables = encrypt_existing_variables(db.session.connection())
    key_file = rewrap_platform_key_file(current_app)
    record(
        "crypto.reencrypt",
        result="failure" if failures else "success",
        object_type="sm4_master_key",
        object_id=current_keyring().current_id,
        detail={
            "written": written,
            "variable_rows": variables,
            "failed": len(failures),
            "platform_key_file": key_file,
        },
        username="cli",
        session=db.session,
    )
    db.session.commit()
    click.echo(f"{written} value(s) written, {variables} row(s) of process variables")
    if key_file:
        click.echo("platform key file re-encrypted")
    for table, key, column, message in failures:
        click.echo(f"NOT rewrapped: {table}.{column} row {key}: {message}", err=True)
    if failures:
        raise SystemExit(1)


@bp.cli.command("rewrap")
def rewrap_cmd():
    """Encrypt leftover plaintext (columns and process variables), bind old (version 1) tokens
    to their column or row, and re-encrypt older keys' tokens under SM4_MASTER_KEY (after a rotation: new key in
    SM4_MASTER_KEY, the old one in SM4_OLD_MASTER_KEYS). Rows that do not decrypt are named
    and left as they are (exit status 1)."""
    _rewrap()


@bp.cli.command("reencrypt")
def reencrypt():
    """The same as `flask crypto rewrap` (older name)."""
    _rewrap()


@bp.cli.command("encrypt-variables")
def encrypt_variables():
    """Encrypt personal data (forms' x-mask fields, SENSITIVE_VARIABLES) still in plaintext in
    process state, task drafts and history, and re-encrypt older keys' tokens there (after a
    rotation, before the old key leaves SM4_OLD_MASTER_KEYS). Safe to re-run."""
    from backend.audit import record
    from backend.crypto.sm4 import current_keyring
    from backend.crypto.variables import encrypt_existing_variables
    from backend.extensions import db

    written = encrypt_existing_variables(db.session.connection())
    record(
        "crypto.reencrypt",
        object_type="sm4_master_key",
        object_id=current_keyring().current_id,
        detail={"written": written, "scope": "process variables"},
        username="cli",
        session=db.session,
    )
    db.session.commit()
    click.echo(f"{written} row(s) written")
