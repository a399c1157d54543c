"""Initial passwords for the demo people (made by backend/org/demo.py without passwords)."""

import sqlalchemy as sa

from backend.accounts import passwords
from backend.demo import loader
from backend.org import demo as _org_demo  # noqa: F401  (its people load first: loaders run in import order)
from backend.org.models import User

# Demo data, not a secret: printed by the start-up banner. Every demo person must change it.
DEMO_PASSWORD = "Demo@2026!"


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
    session.flush()
    return len(users)
