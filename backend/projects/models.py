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
    # 开工申报 and 竣工验收 (backend/projects/completion.py); Beijing calendar dates.
    actual_start: Mapped[object | None] = mapped_column(sa.Date)
    construction_permit_no: Mapped[str | None] = mapped_column(sa.String(60))  # 施工许可证号
    actual_end: Mapped[object | None] = mapped_column(sa.Date)  # the date of the passed acceptance
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


class ProjectCompletion(db.Model):
    """竣工验收 of a project with the benefit indicators entered at acceptance. One per project:
    a failed acceptance (不合格) is replaced by the next one (`rounds` counts them; the audit log
    keeps each); a passed one completes the project and is final."""

    __tablename__ = "project_completion"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("project.id"), unique=True)
    accepted_on: Mapped[object] = mapped_column(sa.Date, index=True)  # Beijing calendar date
    conclusion: Mapped[str] = mapped_column(sa.String(10))  # passed (合格) | failed (不合格)
    opinion: Mapped[str] = mapped_column(sa.Text, default="")
    annual_benefit: Mapped[Decimal | None] = mapped_column(Money)  # 年均经济效益 (元)
    new_jobs: Mapped[int | None] = mapped_column(sa.Integer)  # 新增就业 (人)
    annual_tax: Mapped[Decimal | None] = mapped_column(Money)  # 年均税收 (元)
    other_benefits: Mapped[str] = mapped_column(sa.Text, default="")  # 其他效益说明
    document_sha256: Mapped[str | None] = mapped_column(sa.ForeignKey("stored_file.sha256"))
    document_name: Mapped[str | None] = mapped_column(sa.String(255))
    rounds: Mapped[int] = mapped_column(sa.Integer, default=1)
    recorded_by: Mapped[str | None] = mapped_column(sa.String(60))
    recorded_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
