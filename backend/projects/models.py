"""Key projects (重点项目) and their application documents."""

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.crypto.fields import EncryptedText
from backend.db import JSONType, UTCDateTime, utcnow
from backend.extensions import db
from backend.org.models import Region, Unit

Money = sa.Numeric(18, 2)  # yuan, two places; Decimal in Python, never float


class Project(db.Model):
    __tablename__ = "project"
    __table_args__ = (sa.Index("ix_project_region_status", "region_code", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(24), unique=True)  # 项目代码, e.g. 2020-110105-47-01-01234X
    name: Mapped[str] = mapped_column(sa.String(200))
    owner_unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"))
    region_code: Mapped[str] = mapped_column(sa.ForeignKey("region.code"))
    industry: Mapped[str] = mapped_column(sa.String(60))
    nature: Mapped[str] = mapped_column(sa.String(20))  # new | continuing
    total_investment: Mapped[Decimal] = mapped_column(Money)
    # [{"source": "中央预算内资金", "amount": "1000000.00"}, ...]; amounts add up to the total.
    funding_sources: Mapped[list] = mapped_column(JSONType, default=list)
    planned_start: Mapped[object] = mapped_column(sa.Date)
    planned_end: Mapped[object] = mapped_column(sa.Date)
    scale_content: Mapped[str] = mapped_column(sa.Text, default="")  # 建设规模及内容
    contact_name: Mapped[str | None] = mapped_column(sa.String(40))
    contact_phone: Mapped[str | None] = mapped_column(EncryptedText("phone"))  # SM4 at rest (issue 7)
    # draft | applying | returned | approved | rejected | in_construction | completed
    status: Mapped[str] = mapped_column(sa.String(20), default="draft")
    approved_budget: Mapped[Decimal | None] = mapped_column(Money)
    approved_at: Mapped[object | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(sa.String(60))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    owner_unit: Mapped[Unit] = relationship()
    region: Mapped[Region] = relationship()


class ProjectDocument(db.Model):
    """A document of a project (proposal, feasibility study, design, ...), by file hash."""

    __tablename__ = "project_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("project.id"), index=True)
    # proposal (项目建议书) | feasibility (可行性研究报告) | preliminary_design (初步设计) | other
    kind: Mapped[str] = mapped_column(sa.String(30))
    file_sha256: Mapped[str] = mapped_column(sa.ForeignKey("stored_file.sha256"))
    file_name: Mapped[str] = mapped_column(sa.String(255))
    uploaded_by: Mapped[str | None] = mapped_column(sa.String(60))
    uploaded_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
