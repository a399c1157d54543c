"""Rectification tickets (整改工单): raised, dispatched, rectified, verified, closed (PDCA)."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import JSONType, UTCDateTime, utcnow
from backend.extensions import db
from backend.projects.models import Project

SEVERITIES = ("general", "major", "critical")  # 一般 / 重大 / 特别重大
BLOCKING_SEVERITIES = ("major", "critical")  # an open one blocks payment release
SEVERITY_LABELS = {"general": "一般", "major": "重大", "critical": "特别重大"}
SOURCES = {"inspection": "督查检查", "risk": "风险预警", "manual": "人工登记"}
CATEGORIES = {
    "quality": "工程质量",
    "safety": "安全生产",
    "schedule": "工程进度",
    "funds": "资金使用",
    "environment": "生态环保",
    "documents": "资料手续",
    "other": "其他",
}
# raised -> dispatched -> verifying <-> rectifying ... -> closed
STATUSES = ("raised", "dispatched", "rectifying", "verifying", "closed")
OUTCOMES = ("passed", "cancelled")


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
    # How the unit was found: "contract" (乙方 of the latest contract) or "owner" (建设单位).
    dispatch_basis: Mapped[str | None] = mapped_column(sa.String(20))
    dispatched_at: Mapped[object | None] = mapped_column(UTCDateTime)
    raised_by: Mapped[str | None] = mapped_column(sa.String(60))
    inspector: Mapped[str | None] = mapped_column(sa.String(60))  # who gave the last verdict
    # open: raised / dispatched / rectifying / verifying ; closed
    status: Mapped[str] = mapped_column(sa.String(20), default="raised")
    rounds: Mapped[int] = mapped_column(default=0)  # rectification rounds submitted
    reminded_at: Mapped[object | None] = mapped_column(UTCDateTime)
    overdue: Mapped[bool] = mapped_column(default=False)
    escalated_at: Mapped[object | None] = mapped_column(UTCDateTime)
    # The department head's 督办 after escalation: {"opinion", "measure", "by", "at"}.
    supervision: Mapped[dict | None] = mapped_column(JSONType)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[object | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(sa.String(20))  # passed | cancelled
    cancel_reason: Mapped[str | None] = mapped_column(sa.Text)
    # One entry per round: {"round", "description", "photos", "submitted_by", "submitted_at",
    # "verdict" (passed | failed | None while waiting), "opinion", "verified_by", "verified_at"}.
    history: Mapped[list] = mapped_column(JSONType, default=list)

    project: Mapped[Project] = relationship()

    @property
    def is_open(self) -> bool:
        return self.status != "closed"

    @property
    def first_pass(self) -> bool:
        """Passed at its first verification (一次验收通过)."""
        return self.outcome == "passed" and self.rounds == 1


class TicketSequence(db.Model):
    """The last number handed out per year; the row lock serialises concurrent allocations."""

    __tablename__ = "ticket_sequence"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(default=0)
