"""API keys of integrators: the secret is shown once and stored as its SHA-256 only."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import JSONType, UTCDateTime, utcnow
from backend.extensions import db


class ApiKey(db.Model):
    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    # The key acts as this person: every permission check of the services sees them.
    owner: Mapped[str] = mapped_column(sa.String(60))
    # The first characters of the secret, shown in the list so people can tell keys apart.
    prefix: Mapped[str] = mapped_column(sa.String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(sa.String(64))
    scopes: Mapped[list] = mapped_column(JSONType, default=list)
    # The key sees data of this region and the regions under it only.
    region_code: Mapped[str] = mapped_column(sa.ForeignKey("region.code"))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(sa.String(60))
    revoked_at: Mapped[object | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(sa.String(60))
    # Written at most once a minute (keys.touch), not on every request.
    last_used_at: Mapped[object | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[object | None] = mapped_column(UTCDateTime)
