"""Drafts of a task's form: what a person typed, saved without validation and restored when
they open the task again. One draft per task and person; dropped when the task is completed."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.crypto.variables import SensitiveJSON
from backend.db import UTCDateTime, utcnow
from backend.extensions import db


class TaskDraft(db.Model):
    __tablename__ = "task_draft"

    task_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    user: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    data: Mapped[dict] = mapped_column(SensitiveJSON, default=dict)  # personal data as SM4 tokens
    saved_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)


def save_draft(*, session, task_id: str, user: str, data: dict, now: datetime | None = None) -> TaskDraft:
    """Store (or replace) the person's draft of the task."""
    from backend.workflow.host import json_safe

    draft = session.get(TaskDraft, (task_id, user))
    if draft is None:
        draft = TaskDraft(task_id=task_id, user=user)
        session.add(draft)
    draft.data, draft.saved_at = json_safe(data), now or utcnow()
    session.flush()
    return draft


def get_draft(*, session, task_id: str, user: str) -> TaskDraft | None:
    return session.get(TaskDraft, (task_id, user))


def drop_drafts(*, session, task_id: str) -> None:
    """Everyone's drafts of a task that is no longer open."""
    session.execute(sa.delete(TaskDraft).where(TaskDraft.task_id == task_id))
