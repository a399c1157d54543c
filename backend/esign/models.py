"""Electronic signatures (电子签章): one row per SM2 signature of a business object."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import UTCDateTime, utcnow
from backend.extensions import db

ALGORITHM = "SM2-with-SM3"


class Signature(db.Model):
    """An SM2 signature over the canonical bytes (`payload`) of one object.

    The payload is kept as signed so anyone can verify it with the public key alone; the
    platform also rebuilds it from the object as stored now, so a changed opinion or 批复
    shows as invalid even though the stored signature still matches the stored payload.
    """

    __tablename__ = "signature"
    __table_args__ = (sa.Index("ix_signature_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # approval_opinion (a head's countersign decision) | approval_document (批复)
    object_type: Mapped[str] = mapped_column(sa.String(40))
    object_id: Mapped[str] = mapped_column(sa.String(64))
    payload: Mapped[str] = mapped_column(sa.Text)  # canonical JSON (UTF-8), exactly the signed bytes
    payload_sm3: Mapped[str] = mapped_column(sa.String(64))  # hex SM3 of the payload bytes
    # The person whose key signed; None when the platform's key signed.
    signer_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("app_user.id"), index=True)
    signer_name: Mapped[str] = mapped_column(sa.String(120))  # as shown: person or platform
    seal_name: Mapped[str] = mapped_column(sa.String(120))  # the organisation on the seal
    public_key_hex: Mapped[str] = mapped_column(sa.String(130))  # uncompressed, "04" + x + y
    signature: Mapped[str] = mapped_column(sa.String(200))  # hex, as crypto.SM2Key.sign returns it
    algorithm: Mapped[str] = mapped_column(sa.String(20), default=ALGORITHM)
    signed_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
