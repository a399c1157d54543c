"""Approval rounds, every opinion given in them, and the approval documents issued."""

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import JSONType, UTCDateTime, utcnow
from backend.extensions import db
from backend.projects.models import Money


class ApprovalRound(db.Model):
    """One pass of the parallel review; a resubmission after rejection opens the next round."""

    __tablename__ = "approval_round"
    __table_args__ = (sa.UniqueConstraint("project_id", "round_no", name="uq_approval_round_project_round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("project.id"), index=True)
    instance_id: Mapped[int] = mapped_column(sa.ForeignKey("process_instance.id"))
    round_no: Mapped[int]
    started_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[object | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(sa.String(20))  # approved | rejected
    # What the applicant was shown when the round ended: each branch's decision and opinion.
    summary: Mapped[dict] = mapped_column(JSONType, default=dict)


class ApprovalOpinion(db.Model):
    """An opinion of one step or branch, with how long it took (for KPIs).

    Written from the inbox row (human_task) and its task.completed history event in the same
    transaction as the completion, so every round's opinions are kept as they were given.
    """

    __tablename__ = "approval_opinion"
    __table_args__ = (sa.UniqueConstraint("task_id", "decided_at", name="uq_approval_opinion_task_decided"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int | None] = mapped_column(sa.ForeignKey("approval_round.id"), index=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("project.id"), index=True)
    # The human_task this opinion was given in. 退回 reopens a step under the same task id, so
    # a task gives one opinion per completion (task_id, decided_at), not one in all.
    task_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    step: Mapped[str] = mapped_column(sa.String(60))  # element id: intake, review_fgw, expert_review, ...
    # department code, "expert" for the panel; None for the applicant's own steps
    department: Mapped[str | None] = mapped_column(sa.String(20))
    reviewer: Mapped[str | None] = mapped_column(sa.String(60))
    # approved | rejected (reviews, experts) ; signed | overruled (heads) ; accepted | returned
    # (intake) ; resubmitted (applicant)
    decision: Mapped[str] = mapped_column(sa.String(20))
    opinion: Mapped[str] = mapped_column(sa.Text, default="")
    started_at: Mapped[object | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[object | None] = mapped_column(UTCDateTime)
    working_days_used: Mapped[int | None]
    overdue: Mapped[bool] = mapped_column(default=False)


class ApprovalDocument(db.Model):
    """批复: issued when every branch approved, numbered in sequence per year."""

    __tablename__ = "approval_document"
    __table_args__ = (sa.UniqueConstraint("year", "seq", name="uq_approval_document_year_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("project.id"), unique=True)
    year: Mapped[int]
    seq: Mapped[int]
    number: Mapped[str] = mapped_column(sa.String(60), unique=True)  # e.g. 浙发改审批〔2026〕12号
    title: Mapped[str] = mapped_column(sa.String(200))
    approved_budget: Mapped[Decimal] = mapped_column(Money)
    content: Mapped[dict] = mapped_column(JSONType, default=dict)
    issued_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)


class ApprovalNumberCounter(db.Model):
    """The last 批复 number given in a year. Allocation increments this one row under its row
    lock, so concurrent approvals queue for a number instead of colliding."""

    __tablename__ = "approval_number_counter"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(default=0)
