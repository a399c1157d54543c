"""Initial passwords for the demo people (made by backend/org/demo.py without passwords)."""

import sqlalchemy as sa

from backend.accounts import passwords
from backend.db import utcnow
from backend.demo import loader
from backend.org import demo as _org_demo  # noqa: F401  (its people load first: loaders run in import order)
from backend.org.models import User

# Demo data, not a secret: printed by the start-up banner. Every demo person must change it.
DEMO_PASSWORD = "Demo@2026!"
# The TOTP secret of every demo person who must use the second factor (admins, department
# heads): also printed by the banner, to add once to an authenticator app. Demo only.
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPDEMOKEYPROJECTS2"


@loader
def demo_passwords(*, session) -> int:
    """演示账号初始密码 (demo passwords)"""
    # Only people without a password: a demo person who changed theirs keeps it.
    users = session.scalars(sa.select(User).where(User.password_hash.is_(None)).order_by(User.id)).all()
    # One hash for all: the password is public anyway, and argon2 is deliberately slow (about
    # 0.1-0.3 s a hash), which would add seconds to every `make run`. A changed password gets its own.
    password_hash = passwords.hash_password(DEMO_PASSWORD) if users else None
    for user in users:
        user.password_hash = password_hash
        user.must_change_password = True
        user.password_changed_at = utcnow()
    session.flush()
    return len(users)


@loader
def demo_totp(*, session) -> int:
    """演示账号动态口令 (demo TOTP secrets of admins and heads)"""
    from backend.accounts import totp

    users = [u for u in session.scalars(sa.select(User).order_by(User.id)) if totp.is_required(u)]
    users = [u for u in users if not u.totp_secret_enc]
    for user in users:
        totp.seal_secret(user, DEMO_TOTP_SECRET)
        user.totp_enabled = True
    session.flush()
    return len(users)
