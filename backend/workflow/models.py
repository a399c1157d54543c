"""Tables of the workflow host: definitions, instances and their projections.

`process_instance.state_json` is the engine's truth. Everything else here (human_task,
timer, message_wait, event, incident) is a projection written in the same transaction
as the state, so what the inbox shows never disagrees with what the engine will accept.
"""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.crypto.variables import SensitiveJSON
from backend.db import JSONType, UTCDateTime, utcnow
from backend.extensions import db


class ProcessDefinition(db.Model):
    """One deployed version of a process, stored once per content hash."""

    __tablename__ = "process_definition"
    __table_args__ = (
        sa.UniqueConstraint("key", "version", name="uq_process_definition_key_version"),
        sa.UniqueConstraint("key", "content_hash", name="uq_process_definition_key_hash"),
        # Ids are cache keys for specs (host.spec_json): never reuse one, even on SQLite.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(120), index=True)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(sa.String(200))
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    file_name: Mapped[str] = mapped_column(sa.String(255))
    # Large and rarely needed with the row (host.spec_json caches the spec): loaded on access.
    source_xml: Mapped[str] = mapped_column(sa.Text, deferred=True)
    spec_json: Mapped[str] = mapped_column(sa.Text, deferred=True)
    serializer_version: Mapped[str] = mapped_column(sa.String(20))
    # The lint's view of the diagram: elements with lanes, forms and operations.
    elements: Mapped[list] = mapped_column(JSONType, default=list)
    message_names: Mapped[list] = mapped_column(JSONType, default=list)
    message_starts: Mapped[list] = mapped_column(JSONType, default=list)
    # The forms its user tasks show: form name -> form_version.id, fixed at deploy.
    forms: Mapped[dict | None] = mapped_column(JSONType, default=dict)
    deployed_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    deployed_by: Mapped[str | None] = mapped_column(sa.String(120))

    def element(self, element_id: str) -> dict | None:
        return next((e for e in self.elements if e["id"] == element_id), None)


class ProcessInstance(db.Model):
    __tablename__ = "process_instance"
    __table_args__ = (
        sa.Index("ix_process_instance_key_state", "process_key", "state"),
        # 我发起的: the instances of a starter still going, read from the index alone.
        sa.Index("ix_process_instance_started_by", "started_by", "state", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(sa.ForeignKey("process_definition.id"), index=True)
    process_key: Mapped[str] = mapped_column(sa.String(120))
    business_key: Mapped[str | None] = mapped_column(sa.String(120), index=True)
    # running | completed | incident | suspended | cancelled
    state: Mapped[str] = mapped_column(sa.String(20), default="running")
    # Deferred: a live run kept in memory (live_runs.py) makes loading it unnecessary.
    state_json: Mapped[str] = mapped_column(sa.Text, deferred=True)
    serializer_version: Mapped[str] = mapped_column(sa.String(20))
    # Bumped by every save under the row lock; a stale writer is refused, never merged.
    lock_version: Mapped[int] = mapped_column(default=1)
    started_by: Mapped[str | None] = mapped_column(sa.String(120))
    started_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[object | None] = mapped_column(UTCDateTime)

    definition: Mapped[ProcessDefinition] = relationship(lazy="select")

    __mapper_args__ = {"version_id_col": lock_version}


class HumanTask(db.Model):
    """A READY user task mirrored for the inbox; closed when the engine no longer has it."""

    __tablename__ = "human_task"
    __table_args__ = (
        # Inbox tabs: the tab's equality columns, then the keyset order (due_at, created_at,
        # id), so that a page is a limited range scan (tasks/service.py _page_rows).
        sa.Index(
            "ix_human_task_group_open", "state", "candidate_group", "assignee", "due_at", "created_at", "id"
        ),
        # 已办 is newest completion first (tasks/service.py _done_rows).
        sa.Index("ix_human_task_done_by", "completed_by", "completed_at", "id"),
        # Partial: an unclaimed task is no one's, and without the NULLs SQLite (which does not
        # know how many there are) cannot pick this index for the group tab's `assignee IS NULL`.
        sa.Index(
            "ix_human_task_assignee_open",
            "state",
            "assignee",
            "due_at",
            "created_at",
            "id",
            sqlite_where=sa.text("assignee IS NOT NULL"),
            postgresql_where=sa.text("assignee IS NOT NULL"),
        ),
        sa.Index("ix_human_task_instance_state", "instance_id", "state"),
    )

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)  # the engine's task id
    instance_id: Mapped[int] = mapped_column(sa.ForeignKey("process_instance.id"))
    process_key: Mapped[str] = mapped_column(sa.String(120))
    business_key: Mapped[str | None] = mapped_column(sa.String(120))
    element_id: Mapped[str] = mapped_column(sa.String(120))
    title: Mapped[str | None] = mapped_column(sa.String(200))
    lane: Mapped[str | None] = mapped_column(sa.String(120))
    candidate_group: Mapped[str | None] = mapped_column(sa.String(120))
    assignee: Mapped[str | None] = mapped_column(sa.String(120))
    form: Mapped[str | None] = mapped_column(sa.String(200))
    # open | completed | cancelled; `waiting` only for an after-signer not yet due (加签)
    state: Mapped[str] = mapped_column(sa.String(20), default="open")
    multi_instance_parent: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    multi_instance_total: Mapped[int | None]
    # 加签: a row the inbox made, not the engine: an added signer's step on the engine task
    # `parent_task_id`, before or after its owner decides (see backend/tasks/add_sign.py).
    parent_task_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    sign_position: Mapped[str | None] = mapped_column(sa.String(10))  # before | after
    item: Mapped[object | None] = mapped_column(JSONType)
    # approved | rejected, from the form's decision field: the countersign tally counts these.
    outcome: Mapped[str | None] = mapped_column(sa.String(20))
    properties: Mapped[dict] = mapped_column(JSONType, default=dict)
    due_at: Mapped[object | None] = mapped_column(UTCDateTime)
    # Set by the diagram's reminder and escalation timers; the task stays with its assignee.
    reminded_at: Mapped[object | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[object | None] = mapped_column(UTCDateTime)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[object | None] = mapped_column(UTCDateTime)
    completed_by: Mapped[str | None] = mapped_column(sa.String(120))


class Timer(db.Model):
    """The next due time of an instance's timers; the scheduler scans this index only."""

    __tablename__ = "timer"

    instance_id: Mapped[int] = mapped_column(sa.ForeignKey("process_instance.id"), primary_key=True)
    due_at: Mapped[object] = mapped_column(UTCDateTime, index=True)
    element_id: Mapped[str] = mapped_column(sa.String(120))


class MessageWait(db.Model):
    """A message an instance is waiting for, for correlation by name and business key."""

    __tablename__ = "message_wait"
    __table_args__ = (
        sa.Index("ix_message_wait_name_key", "name", "business_key"),
        sa.Index("ix_message_wait_name_correlation", "name", "correlation_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(sa.ForeignKey("process_instance.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    business_key: Mapped[str | None] = mapped_column(sa.String(120))
    # Value of the catch event's `correlation` expression over the waiting task's data,
    # e.g. a contract or payment number: correlation by property, not only by project.
    correlation_key: Mapped[str | None] = mapped_column(sa.String(200))
    element_id: Mapped[str] = mapped_column(sa.String(120))


class Event(db.Model):
    """Append-only history of an instance."""

    __tablename__ = "event"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    instance_id: Mapped[int] = mapped_column(sa.ForeignKey("process_instance.id"), index=True)
    at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    # started, task.ready, task.completed, task.cancelled, task.failed, timer.fired,
    # message.caught, incident.opened, incident.resolved, completed, cancelled
    kind: Mapped[str] = mapped_column(sa.String(40))
    task_id: Mapped[str | None] = mapped_column(sa.String(36))
    element_id: Mapped[str | None] = mapped_column(sa.String(120))
    actor: Mapped[str | None] = mapped_column(sa.String(120))
    detail: Mapped[dict] = mapped_column(SensitiveJSON, default=dict)  # personal data as SM4 tokens


class Incident(db.Model):
    """An error an operator must look at: a failed task, or an instance that is stuck."""

    __tablename__ = "incident"
    __table_args__ = (sa.Index("ix_incident_state_instance", "state", "instance_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(sa.ForeignKey("process_instance.id"))
    task_id: Mapped[str | None] = mapped_column(sa.String(36))
    element_id: Mapped[str | None] = mapped_column(sa.String(120))
    kind: Mapped[str] = mapped_column(sa.String(20))  # task_error | stuck
    operation: Mapped[str | None] = mapped_column(sa.String(120))
    error_type: Mapped[str | None] = mapped_column(sa.String(120))
    message: Mapped[str] = mapped_column(sa.Text)
    stack: Mapped[str | None] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(default=1)
    state: Mapped[str] = mapped_column(sa.String(20), default="open")  # open | resolved
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[object | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(sa.String(120))
