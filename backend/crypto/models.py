"""Stored signing keys: private parts only as SM4 tokens under the master key."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import UTCDateTime, utcnow
from backend.extensions import db


class UserSigningKey(db.Model):
    """A person's SM2 signing key, created on first use. Kept after the person leaves:
    their old signatures must stay verifiable against the listed public key."""

    __tablename__ = "user_signing_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("app_user.id"), unique=True)
    public_key_hex: Mapped[str] = mapped_column(sa.String(130))
    private_key_enc: Mapped[str] = mapped_column(sa.Text)  # SM4 token of the 32-byte hex key
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
