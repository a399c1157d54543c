"""Contracts with structured payment schedules, payments, and the budget they draw on."""

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import JSONType, UTCDateTime, utcnow
from backend.extensions import db
from backend.projects.models import Money, Project


class Contract(db.Model):
    __tablename__ = "contract"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("project.id"), index=True)
    party_a_unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"))  # owner (甲方)
    party_b_unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"))  # contractor (乙方)
    supervisor_unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("unit.id"))  # 监理
    amount: Mapped[Decimal] = mapped_column(Money)
    signed_on: Mapped[object | None] = mapped_column(sa.Date)
    clauses: Mapped[dict] = mapped_column(JSONType, default=dict)  # structured clauses beyond the schedule
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)

    project: Mapped[Project] = relationship()
    milestones: Mapped[list["PaymentMilestone"]] = relationship(
        back_populates="contract", order_by="PaymentMilestone.seq"
    )


class PaymentMilestone(db.Model):
    """One step of the payment schedule; unlocked in order as disbursements are confirmed."""

    __tablename__ = "payment_milestone"
    __table_args__ = (sa.UniqueConstraint("contract_id", "seq", name="uq_payment_milestone_contract_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(sa.ForeignKey("contract.id"))
    seq: Mapped[int]
    name: Mapped[str] = mapped_column(sa.String(120))
    percentage: Mapped[Decimal | None] = mapped_column(sa.Numeric(5, 2))  # of the contract amount
    amount: Mapped[Decimal] = mapped_column(Money)
    # ["acceptance_passed", "no_open_major_ticket", "within_contract", "within_budget"]
    release_conditions: Mapped[list] = mapped_column(JSONType, default=list)
    # locked | open | accepting | blocked | requested | paid
    state: Mapped[str] = mapped_column(sa.String(20), default="locked")
    accepted_at: Mapped[object | None] = mapped_column(UTCDateTime)
    blocked_reasons: Mapped[list] = mapped_column(JSONType, default=list)
    # The milestone_payment instance started when the milestone opened.
    instance_id: Mapped[int | None] = mapped_column(sa.ForeignKey("process_instance.id"))
    opened_at: Mapped[object | None] = mapped_column(UTCDateTime)
    paid_at: Mapped[object | None] = mapped_column(UTCDateTime)
    # Every acceptance round: [{"step": "supervisor"|"owner", "passed": bool, "opinion": str, "at": iso}]
    acceptance_history: Mapped[list] = mapped_column(JSONType, default=list)

    contract: Mapped[Contract] = relationship(back_populates="milestones")


class Payment(db.Model):
    """A payment request of one milestone; its amount is drawn on one budget line of its year."""

    __tablename__ = "payment"
    __table_args__ = (sa.Index("ix_payment_budget_line_state", "budget_line_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(40), unique=True)
    contract_id: Mapped[int] = mapped_column(sa.ForeignKey("contract.id"), index=True)
    milestone_id: Mapped[int] = mapped_column(sa.ForeignKey("payment_milestone.id"), unique=True)
    budget_line_id: Mapped[int | None] = mapped_column(sa.ForeignKey("budget_line.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    # requested | approved | submitted | disbursed | rejected
    state: Mapped[str] = mapped_column(sa.String(20), default="requested")
    requested_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    approved_at: Mapped[object | None] = mapped_column(UTCDateTime)
    disbursed_at: Mapped[object | None] = mapped_column(UTCDateTime)
    voucher: Mapped[str | None] = mapped_column(sa.String(60))  # the budget system's confirmation
    year: Mapped[int | None]  # the budget year it is drawn on
    finance_opinion: Mapped[str | None] = mapped_column(sa.Text)  # 财政审核意见 (approval or return)
    submitted_at: Mapped[object | None] = mapped_column(UTCDateTime)
    # The budget system's receipt of the request (see budget_system.py).
    reference: Mapped[str | None] = mapped_column(sa.String(200))

    contract: Mapped[Contract] = relationship()
    milestone: Mapped[PaymentMilestone] = relationship()
    budget_line: Mapped["BudgetLine | None"] = relationship()


class BudgetLine(db.Model):
    """Money available to a project in a year from one funding source."""

    __tablename__ = "budget_line"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "year", "source", name="uq_budget_line_project_year_source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("project.id"), index=True)
    year: Mapped[int]
    source: Mapped[str] = mapped_column(sa.String(60))
    amount: Mapped[Decimal] = mapped_column(Money)
