"""WBS tables. Plans are dates (`sa.Date`); times of records are UTC."""

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import UTCDateTime, utcnow
from backend.extensions import db

Weight = sa.Numeric(12, 4)  # relative within siblings; Decimal, never float
Percent = sa.Numeric(5, 2)  # 0.00–100.00


class WbsItem(db.Model):
    """One node of a project's breakdown. Codes are dotted paths ("1.2.3"): the level is the
    number of segments, the parent is the code without its last segment."""

    __tablename__ = "wbs_item"
    __table_args__ = (sa.UniqueConstraint("project_id", "code", name="uq_wbs_item_project_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("project.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("wbs_item.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(200))
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("unit.id"))  # 责任单位
    responsible: Mapped[str | None] = mapped_column(sa.String(60))  # 责任人 (username)
    planned_start: Mapped[object] = mapped_column(sa.Date)
    planned_end: Mapped[object] = mapped_column(sa.Date)
    deliverables: Mapped[str] = mapped_column(sa.Text, default="")
    weight: Mapped[Decimal] = mapped_column(Weight, default=Decimal("1"))
    is_milestone: Mapped[bool] = mapped_column(default=False)
    payment_milestone_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payment_milestone.id"))
    # Recorded on leaves only; a parent's progress is always computed (service.item_progress).
    percent_complete: Mapped[Decimal] = mapped_column(Percent, default=Decimal("0"))
    actual_start: Mapped[object | None] = mapped_column(sa.Date)
    actual_end: Mapped[object | None] = mapped_column(sa.Date)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    parent: Mapped["WbsItem | None"] = relationship(remote_side=[id])

    @property
    def level(self) -> int:
        return self.code.count(".") + 1


class WbsDependency(db.Model):
    """Finish-to-start: the successor starts after the predecessor finishes."""

    __tablename__ = "wbs_dependency"
    __table_args__ = (sa.UniqueConstraint("predecessor_id", "successor_id", name="uq_wbs_dependency_pair"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    predecessor_id: Mapped[int] = mapped_column(sa.ForeignKey("wbs_item.id"), index=True)
    successor_id: Mapped[int] = mapped_column(sa.ForeignKey("wbs_item.id"), index=True)


class WbsProgress(db.Model):
    """One progress update of a leaf (history; the item holds the latest), with the actual
    dates as they were after it and its evidence files and photos (WbsProgressFile)."""

    __tablename__ = "wbs_progress"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("wbs_item.id"), index=True)
    percent: Mapped[Decimal] = mapped_column(Percent)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    actual_start: Mapped[object | None] = mapped_column(sa.Date)
    actual_end: Mapped[object | None] = mapped_column(sa.Date)
    recorded_by: Mapped[str | None] = mapped_column(sa.String(60))
    recorded_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)

    files: Mapped[list["WbsProgressFile"]] = relationship(order_by="WbsProgressFile.name")


class WbsProgressFile(db.Model):
    """An evidence file or photo of a progress update (a stored blob, backend/files). Whoever
    may see the project may read it (backend/schedule/access.py, registered with files.access)."""

    __tablename__ = "wbs_progress_file"

    progress_id: Mapped[int] = mapped_column(sa.ForeignKey("wbs_progress.id"), primary_key=True)
    sha256: Mapped[str] = mapped_column(sa.ForeignKey("stored_file.sha256"), primary_key=True, index=True)
    name: Mapped[str] = mapped_column(sa.String(255))


class WbsBaseline(db.Model):
    """A numbered snapshot of the plan (1, 2, ...); re-baselining adds one, never edits."""

    __tablename__ = "wbs_baseline"
    __table_args__ = (sa.UniqueConstraint("project_id", "number", name="uq_wbs_baseline_project_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("project.id"), index=True)
    number: Mapped[int]
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    created_by: Mapped[str | None] = mapped_column(sa.String(60))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)

    items: Mapped[list["WbsBaselineItem"]] = relationship(order_by="WbsBaselineItem.code")


class WbsBaselineItem(db.Model):
    __tablename__ = "wbs_baseline_item"
    __table_args__ = (sa.UniqueConstraint("baseline_id", "item_id", name="uq_wbs_baseline_item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    baseline_id: Mapped[int] = mapped_column(sa.ForeignKey("wbs_baseline.id"), index=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("wbs_item.id"))
    parent_item_id: Mapped[int | None] = mapped_column(sa.ForeignKey("wbs_item.id"))
    code: Mapped[str] = mapped_column(sa.String(40))
    planned_start: Mapped[object] = mapped_column(sa.Date)
    planned_end: Mapped[object] = mapped_column(sa.Date)
    weight: Mapped[Decimal] = mapped_column(Weight)
