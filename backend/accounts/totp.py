"""TOTP second factor (RFC 6238, pyotp): secrets, codes, recovery codes, the enrollment QR.

The secret is stored SM4-encrypted (`backend.crypto.encrypt_field`). A code is accepted once:
the accepted time step is kept and a code of that step or an earlier one is refused (RFC 6238
§5.2). One step of clock drift either way is allowed. Recovery codes: 10, shown once, stored
as SM3 hashes, each usable once.
"""

import secrets
import time

import pyotp
import segno
import sqlalchemy as sa
from flask import current_app

from backend.accounts.models import RecoveryCode
from backend.crypto import decrypt_field, encrypt_field, sm3
from backend.db import utcnow
from backend.org.models import User

ISSUER = "重点项目管理平台"
RECOVERY_CODES = 10
STEP_SECONDS = 30
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def required_roles() -> set[str]:
    value = current_app.config.get("TOTP_REQUIRED_ROLES", "")
    return {role.strip() for role in value.split(",") if role.strip()}


def is_required(user: User) -> bool:
    """Must this person use the second factor (admins and department heads)?"""
    return bool(set(user.roles or []) & required_roles())


def uses_totp(user: User) -> bool:
    return bool(user.totp_enabled and user.totp_secret_enc)


def _context(user: User) -> str:
    # Bound to the person's row: a secret copied onto another account does not decrypt.
    if user.id is None:
        raise ValueError("the account must be flushed before its TOTP secret is sealed")
    return f"app_user.totp_secret_enc.{user.id}"


def seal_secret(user: User, secret: str) -> None:
    user.totp_secret_enc = encrypt_field(secret, context=_context(user))


def secret_of(user: User) -> str | None:
    return decrypt_field(user.totp_secret_enc, context=_context(user)) if user.totp_secret_enc else None


def start_enrollment(*, user: User) -> str:
    """The pending secret of an enrollment (kept over page reloads), created when missing.
    Not in use until `confirm_enrollment`."""
    if user.totp_enabled:
        raise ValueError("already enrolled")
    secret = secret_of(user)
    if secret is None:
        secret = pyotp.random_base32()  # 160 bits
        seal_secret(user, secret)
    return secret


def provisioning_uri(*, user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG (no script, no style attribute: fits the CSP)."""
    return segno.make(uri, error="m").svg_inline(scale=5, border=2, dark="#000", light="#fff")


def _normalise(code: str) -> str:
    return "".join((code or "").split()).replace("-", "").lower()


def check_code(*, user: User, code: str, secret: str | None = None, now: float | None = None) -> bool:
    """True for a current code not used before; remembers its time step."""
    secret = secret or secret_of(user)
    code = _normalise(code)
    if not secret or len(code) != 6 or not code.isdigit():
        return False
    now = time.time() if now is None else now
    totp = pyotp.TOTP(secret)
    step = int(now // STEP_SECONDS)
    for candidate in (step, step - 1, step + 1):
        if secrets.compare_digest(totp.at(candidate * STEP_SECONDS), code):
            if user.totp_last_step is not None and candidate <= user.totp_last_step:
                return False  # replayed
            user.totp_last_step = candidate
            return True
    return False


def confirm_enrollment(*, session, user: User, code: str) -> list[str] | None:
    """Turn the second factor on when the code matches the pending secret; returns the new
    recovery codes (to show once), or None for a wrong code."""
    secret = secret_of(user)
    if secret is None or not check_code(user=user, code=code, secret=secret):
        return None
    user.totp_enabled = True
    return new_recovery_codes(session=session, user=user)


def disable(*, session, user: User) -> None:
    user.totp_enabled = False
    user.totp_secret_enc = None
    user.totp_last_step = None
    session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.flush()


def _hash_code(code: str) -> str:
    return sm3(b"bpm.recovery-code:" + _normalise(code).encode()).hex()


def new_recovery_codes(*, session, user: User) -> list[str]:
    """Replace the person's recovery codes by 10 new ones (xxxxx-xxxxx)."""
    session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash_code(code)) for code in codes)
    session.flush()
    return codes


def use_recovery_code(*, session, user: User, code: str) -> bool:
    """Spend one unused recovery code; False when it is unknown or already used."""
    if len(_normalise(code)) != 10:
        return False
    # A conditional UPDATE: two requests with the same code cannot both spend it.
    spent = session.execute(
        sa.update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _hash_code(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return spent.rowcount == 1


def recovery_codes_left(*, session, user: User) -> int:
    return session.scalar(
        sa.select(sa.func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )
