"""Content-addressed files: stored once by SHA-256, referenced by documents anywhere."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import UTCDateTime, utcnow
from backend.extensions import db


class StoredFile(db.Model):
    __tablename__ = "stored_file"

    sha256: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    content_type: Mapped[str] = mapped_column(sa.String(100))  # sniffed from the content, not the name
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
