"""Tables of the authentication controls: password history, sign-in attempts, recovery codes."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import UTCDateTime, utcnow
from backend.extensions import db


class PasswordHistory(db.Model):
    """A password the person used before (argon2 hash): the last few may not be used again."""

    __tablename__ = "password_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)


class LoginAttempt(db.Model):
    """One sign-in step tried (password, TOTP code or recovery code) or an admin unlock.

    Lockouts are counted from these rows, so every web worker sees the same counts.
    `kind`: password | totp | recovery | unlock (an unlock row is a success that resets the
    account's count)."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        sa.Index("ix_login_attempt_username_at", "username", "at"),
        sa.Index("ix_login_attempt_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    username: Mapped[str] = mapped_column(sa.String(60))
    address: Mapped[str | None] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(10))
    success: Mapped[bool] = mapped_column()


class RecoveryCode(db.Model):
    """A one-time recovery code of the second factor, stored as its SM3 hash (codes are random
    with 50 bits of entropy, so a fast hash is enough); `used_at` set when spent."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[object | None] = mapped_column(UTCDateTime)
