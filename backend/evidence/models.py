"""Deposited documents (存证): each one a leaf of the "evidence" ledger."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import JSONType, UTCDateTime, utcnow
from backend.extensions import db


class EvidenceRecord(db.Model):
    """A key document's fingerprint at the time it was deposited.

    The "evidence" ledger's leaf `ledger_index` is `service.leaf_data(record)`: canonical JSON of
    the hashes, type, project, title, size, depositor and time, recomputed from these columns
    (so `ledger.verify` names a row changed afterwards). The proof bundle carries those bytes:
    the standalone verifier ties a document to the leaf without the platform.
    """

    __tablename__ = "evidence_record"
    __table_args__ = (
        # One deposit of the same bytes per project; a second deposit finds the first.
        sa.UniqueConstraint("project_id", "sha256", name="uq_evidence_record_project_sha256"),
        sa.Index("ix_evidence_record_project_type", "project_id", "document_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for a region's document (a KPI report, backend/kpi/reports.py): region_code then.
    project_id: Mapped[int | None] = mapped_column(sa.ForeignKey("project.id"))
    region_code: Mapped[str | None] = mapped_column(sa.ForeignKey("region.code"))
    # tender | change | acceptance | approval | other
    document_type: Mapped[str] = mapped_column(sa.String(20))
    title: Mapped[str] = mapped_column(sa.String(255))
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    sm3: Mapped[str] = mapped_column(sa.String(64), index=True)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    # The bytes in the file store (an approval document's canonical JSON is stored there too).
    file_sha256: Mapped[str | None] = mapped_column(sa.ForeignKey("stored_file.sha256"))
    # manual | approval.issued | acceptance ; source_ref: e.g. the 批复 number, the task id
    source: Mapped[str] = mapped_column(sa.String(30), default="manual")
    source_ref: Mapped[str | None] = mapped_column(sa.String(120))
    depositor: Mapped[str | None] = mapped_column(sa.String(60))
    deposited_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    ledger_index: Mapped[int] = mapped_column(sa.BigInteger, unique=True)

    project = relationship("Project", lazy="joined")
    region = relationship("Region", lazy="joined")


class AnchorReceipt(db.Model):
    """What an anchor answered when a checkpoint was published to it (failures stay in the
    `evidence.anchor` outbox job: retried, then dead with the error)."""

    __tablename__ = "evidence_anchor_receipt"
    __table_args__ = (sa.UniqueConstraint("checkpoint_id", "anchor", name="uq_evidence_anchor_receipt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    checkpoint_id: Mapped[int] = mapped_column(sa.ForeignKey("ledger_checkpoint.id"))
    anchor: Mapped[str] = mapped_column(sa.String(40))
    receipt: Mapped[dict] = mapped_column(JSONType, default=dict)
    published_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
