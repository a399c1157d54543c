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


class FileRef(db.Model):
    """A process instance whose data references a file, under the name it was given there.
    Whoever may see the instance may read the file (backend/files/access.py)."""

    __tablename__ = "file_ref"

    sha256: Mapped[str] = mapped_column(sa.ForeignKey("stored_file.sha256"), primary_key=True)
    instance_id: Mapped[int] = mapped_column(
        sa.ForeignKey("process_instance.id"), primary_key=True, index=True
    )
    name: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)


class FileUpload(db.Model):
    """Who uploaded a blob. The uploader may read it before any instance references it
    (a form refused with 422 shows it again), and only files one uploaded or may already
    read can be put into a form (no reading a stranger's file by typing its hash)."""

    __tablename__ = "file_upload"

    sha256: Mapped[str] = mapped_column(sa.ForeignKey("stored_file.sha256"), primary_key=True)
    uploaded_by: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    name: Mapped[str | None] = mapped_column(sa.String(255))
    uploaded_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
