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


@bp.cli.command("reencrypt")
def reencrypt():
    """Encrypt leftover plaintext and re-encrypt older keys' tokens under SM4_MASTER_KEY
    (after a rotation: new key in SM4_MASTER_KEY, the old one in SM4_OLD_MASTER_KEYS)."""
    from backend.audit import record
    from backend.crypto.migrate import encrypt_existing
    from backend.crypto.sm4 import current_keyring
    from backend.extensions import db

    written = encrypt_existing(db.session.connection())
    record(
        "crypto.reencrypt",
        object_type="sm4_master_key",
        object_id=current_keyring().current_id,
        detail={"written": written},
        username="cli",
        session=db.session,
    )
    db.session.commit()
    click.echo(f"{written} value(s) written")
