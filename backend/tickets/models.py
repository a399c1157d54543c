"""Rectification tickets (整改工单): raised, dispatched, rectified, verified, closed (PDCA)."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import JSONType, UTCDateTime, utcnow
from backend.extensions import db
from backend.projects.models import Project

SEVERITIES = ("general", "major", "critical")  # 一般 / 重大 / 特别重大
BLOCKING_SEVERITIES = ("major", "critical")  # an open one blocks payment release


class Ticket(db.Model):
    __tablename__ = "ticket"
    __table_args__ = (sa.Index("ix_ticket_project_status", "project_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(30), unique=True)  # e.g. ZG-2026-000123
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("project.id"))
    instance_id: Mapped[int | None] = mapped_column(sa.ForeignKey("process_instance.id"))
    source: Mapped[str] = mapped_column(sa.String(20))  # inspection | risk | manual
    category: Mapped[str] = mapped_column(sa.String(40))  # quality, safety, schedule, funds, environment, ...
    severity: Mapped[str] = mapped_column(sa.String(10))
    description: Mapped[str] = mapped_column(sa.Text)
    evidence: Mapped[list] = mapped_column(JSONType, default=list)  # file hashes of photos
    deadline: Mapped[object] = mapped_column(UTCDateTime)
    responsible_unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("unit.id"))
    raised_by: Mapped[str | None] = mapped_column(sa.String(60))
    inspector: Mapped[str | None] = mapped_column(sa.String(60))
    # open: dispatched / rectifying / verifying ; closed
    status: Mapped[str] = mapped_column(sa.String(20), default="dispatched")
    rounds: Mapped[int] = mapped_column(default=0)  # rectification rounds submitted
    overdue: Mapped[bool] = mapped_column(default=False)
    escalated_at: Mapped[object | None] = mapped_column(UTCDateTime)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[object | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(sa.String(20))  # passed | cancelled
    history: Mapped[list] = mapped_column(JSONType, default=list)  # rounds: evidence, verdict, times

    project: Mapped[Project] = relationship()

    @property
    def is_open(self) -> bool:
        return self.status != "closed"
