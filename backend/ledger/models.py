"""Append-only ledgers (issue 7): one Merkle tree per named ledger ("audit", "evidence").

Only leaf hashes are stored here; each domain keeps the data its leaves hash (the audit record,
the evidence record) and tells `verify` how to recompute them (`service.register_source`).
"""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import UTCDateTime, utcnow
from backend.extensions import db


class Ledger(db.Model):
    """The head of one ledger: its hash algorithm and size. Appends lock this row (PostgreSQL)
    or hold the write lock (SQLite), so two appends never get the same index."""

    __tablename__ = "ledger"

    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    hash_alg: Mapped[str] = mapped_column(sa.String(16))
    size: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerLeaf(db.Model):
    __tablename__ = "ledger_leaf"
    __table_args__ = (sa.UniqueConstraint("ledger", "leaf_index", name="uq_ledger_leaf_index"),)

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    ledger: Mapped[str] = mapped_column(sa.String(40))
    leaf_index: Mapped[int] = mapped_column(sa.BigInteger)
    # Hex of H(0x00 || data) with the ledger's algorithm.
    leaf_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerCheckpoint(db.Model):
    """A signed tree head: (ledger, tree size, root, algorithm, time) signed with the platform's
    SM2 key. `service.checkpoint_payload` gives the exact signed bytes."""

    __tablename__ = "ledger_checkpoint"
    __table_args__ = (sa.Index("ix_ledger_checkpoint_ledger_size", "ledger", "tree_size"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ledger: Mapped[str] = mapped_column(sa.String(40))
    tree_size: Mapped[int] = mapped_column(sa.BigInteger)
    root_hash: Mapped[str] = mapped_column(sa.String(64))
    hash_alg: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    signature: Mapped[str] = mapped_column(sa.String(256))  # hex of SM2 r || s
    public_key: Mapped[str] = mapped_column(sa.String(200))  # hex, uncompressed 04 || x || y
    signature_alg: Mapped[str] = mapped_column(sa.String(16), default="sm2-sm3")
    # Hex roots of the perfect subtrees covering the tree (biggest first, comma-separated; one
    # per set bit of tree_size): the next checkpoint resumes from here instead of re-reading
    # every leaf. Not signed: checked against the signed root before use. NULL: older rows.
    frontier: Mapped[str | None] = mapped_column(sa.Text)
