"""加签: the holder of a task asks others to sign it, before or after their own decision.

- Before me (前加签): the signers get a task each at once; the holder cannot decide until all
  of them have signed. Their opinions are advice; the holder decides.
- After me (后加签): the signers are named now but get their task only when the holder submits.
  The holder's form is held (HeldDecision) and the engine task is completed with it, as the
  holder, once every after-signer agreed. One disagreement gives the task back to the holder
  (their form kept as a draft), and the other after-signers' tasks are withdrawn.
- The holder removes a signer again as long as that signer has not signed.

A signer's task is a HumanTask row the inbox makes (parent_task_id = the engine task), so the
inbox tabs, counts, due states and urging work for it unchanged; the engine never sees it.
"""

import uuid
from datetime import datetime

import sqlalchemy as sa

from backend.db import utcnow
from backend.org.models import User
from backend.tasks import drafts
from backend.tasks.errors import (
    AlreadySigner,
    DecisionHeld,
    InvalidSignPosition,
    NotASigner,
    NotAssignee,
    ReasonRequired,
    SignOnly,
    TaskNotOpen,
    UnknownUser,
)
from backend.tasks.models import HeldDecision
from backend.tasks.service import (
    _active_user,
    _label,
    _log,
    _open_task,
    _require_assignee,
    can_complete,
    notify,
)
from backend.workflow import service as workflow
from backend.workflow.host import json_safe, lock_instance, record
from backend.workflow.models import HumanTask

POSITIONS = {"before": "前加签", "after": "后加签"}
SIGN_FORM = "task_add_sign.json"


def signers_of(*, session, task_id: str) -> list[HumanTask]:
    """Every signer row of a task, in the order they were added."""
    return list(
        session.scalars(
            sa.select(HumanTask)
            .where(HumanTask.parent_task_id == task_id)
            .order_by(HumanTask.created_at, HumanTask.id)
        )
    )


def held_decision(*, session, task_id: str) -> HeldDecision | None:
    return session.get(HeldDecision, task_id)


def _holder_task(session, user: User, task_id: str, action: str) -> HumanTask:
    """The open engine task `user` holds (a signer's row is refused by _require_assignee)."""
    task = _open_task(session, task_id)
    _require_assignee(session, task, user, action)
    return task


def _pending_names(session, task_id: str, position: str | None = None) -> list[str]:
    """Signers of the task who have not signed (of one position, or of both)."""
    query = sa.select(HumanTask.assignee).where(
        HumanTask.parent_task_id == task_id, HumanTask.state.in_(("open", "waiting"))
    )
    if position is not None:
        query = query.where(HumanTask.sign_position == position)
    return list(session.scalars(query))


def add_signers(
    *,
    session,
    user: User,
    task_id: str,
    usernames: list[str],
    position: str,
    reason: str,
    now: datetime | None = None,
) -> list[HumanTask]:
    """Add signers before or after me on my open task."""
    now = now or utcnow()
    if position not in POSITIONS:
        raise InvalidSignPosition(position)
    task = _holder_task(session, user, task_id, "加签")
    if session.get(HeldDecision, task_id) is not None:
        raise DecisionHeld(task_id, _pending_names(session, task_id, "after"))
    if not (reason or "").strip():
        raise ReasonRequired("加签")
    names = [n.strip() for n in usernames if n and n.strip()]
    if not names:
        raise UnknownUser("")
    targets = [_active_user(session, name, user) for name in dict.fromkeys(names)]
    current = set(_pending_names(session, task_id))
    rows = []
    for target in targets:
        if target.username in current:
            raise AlreadySigner(target.username)
        row = HumanTask(
            id=str(uuid.uuid4()),
            instance_id=task.instance_id,
            process_key=task.process_key,
            business_key=task.business_key,
            element_id=task.element_id,
            title=f"加签 · {_label(task)}"[:200],
            lane=task.lane,
            candidate_group=None,
            assignee=target.username,
            form=SIGN_FORM,
            state="open" if position == "before" else "waiting",
            parent_task_id=task.id,
            sign_position=position,
            properties={},
            due_at=task.due_at,
            created_at=now,
        )
        session.add(row)
        rows.append(row)
        _log(
            session,
            task,
            "add_sign",
            user,
            target=target.username,
            reason=f"{POSITIONS[position]}: {reason}",
            now=now,
        )
    session.flush()
    if position == "before":
        _notify_signers(session, user, task, rows, reason, now)
    return rows


def _notify_signers(session, user: User, task: HumanTask, rows: list[HumanTask], reason: str, now) -> None:
    for row in rows:
        notify(
            session=session,
            users=[row.assignee],
            kind="add_sign",
            title=f"{user.display_name} 请您对任务「{_label(task)}」签署意见: {reason}",
            instance_id=task.instance_id,
            task_id=row.id,
            now=now,
        )


def remove_signer(
    *, session, user: User, task_id: str, signer_task_id: str, reason: str | None = None, now=None
) -> HumanTask:
    """Take back a signer who has not signed yet."""
    now = now or utcnow()
    task = _holder_task(session, user, task_id, "移除加签人")
    row = session.get(HumanTask, signer_task_id)
    if row is None or row.parent_task_id != task_id or row.state not in ("open", "waiting"):
        raise NotASigner(signer_task_id)
    was_open = row.state == "open"
    row.state, row.outcome, row.completed_at = "cancelled", "removed", now
    _log(session, task, "remove_signer", user, target=row.assignee, reason=reason, now=now)
    if was_open:
        notify(
            session=session,
            users=[row.assignee],
            kind="add_sign",
            title=f"{user.display_name} 已取消请您签署任务「{_label(task)}」"
            + (f": {reason}" if reason else ""),
            instance_id=task.instance_id,
            task_id=row.id,
            now=now,
        )
    session.flush()
    if session.get(HeldDecision, task_id) is not None:
        _finish_if_all_signed(session, task, now)
    return row


def submit(*, session, user: User, task_id: str, data: dict, now: datetime | None = None) -> str:
    """The holder's decision: completes the engine task ("completed"), or holds it for the
    after-signers ("held"). Refused while before-signers or a delegate have not answered."""
    now = now or utcnow()
    task = _open_task(session, task_id)
    can_complete(session=session, user=user, task=task)
    waiting = list(
        session.scalars(
            sa.select(HumanTask).where(
                HumanTask.parent_task_id == task_id,
                HumanTask.sign_position == "after",
                HumanTask.state == "waiting",
            )
        )
    )
    if not waiting:
        workflow.complete_task(session=session, task_id=task_id, data=data, actor=user.username)
        drafts.drop_drafts(session=session, task_id=task_id)
        return "completed"
    session.add(HeldDecision(task_id=task_id, actor=user.username, data=json_safe(data), at=now))
    for row in waiting:
        row.state, row.created_at = "open", now
    instance = lock_instance(session, task.instance_id)
    record(
        session,
        instance,
        "task.held",
        task_id=task_id,
        element_id=task.element_id,
        actor=user.username,
        data=data,
    )
    session.flush()
    _notify_signers(session, user, task, waiting, "后加签, 您同意后该决定生效", now)
    return "held"


def sign(*, session, user: User, task_id: str, data: dict, now: datetime | None = None) -> HumanTask:
    """A signer signs: agree or disagree with an opinion. The last after-signer's agreement
    completes the held decision; a disagreement gives the task back to its holder."""
    now = now or utcnow()
    row = _open_task(session, task_id)
    if row.parent_task_id is None:
        raise SignOnly(task_id)
    # One signature at a time per instance: two last signers must not both finish the task.
    instance = lock_instance(session, row.instance_id)
    row = session.scalar(sa.select(HumanTask).filter_by(id=task_id).execution_options(populate_existing=True))
    if row.state != "open":
        raise TaskNotOpen(task_id, row.state)
    if row.assignee != user.username:
        raise NotAssignee(task_id, row.assignee, "签署")
    agreed = data.get("approved") is True
    row.state, row.outcome = "completed", "approved" if agreed else "rejected"
    row.completed_at, row.completed_by = now, user.username
    record(
        session,
        instance,
        "task.signed",
        task_id=row.id,
        element_id=row.element_id,
        actor=user.username,
        title=row.title,
        position=row.sign_position,
        data=data,
    )
    parent = session.get(HumanTask, row.parent_task_id)
    _log(
        session,
        parent,
        "sign",
        user,
        reason=(data.get("opinion") or ("同意" if agreed else "不同意")),
        now=now,
    )
    session.flush()
    if row.sign_position == "before":
        if not _pending_names(session, parent.id, "before"):
            notify(
                session=session,
                users=[parent.assignee],
                kind="add_sign",
                title=f"任务「{_label(parent)}」的加签人已全部签署, 请您办理",
                instance_id=parent.instance_id,
                task_id=parent.id,
                now=now,
            )
        return row
    if agreed:
        _finish_if_all_signed(session, parent, now)
    else:
        _give_back(session, parent, user, data, now)
    return row


def _finish_if_all_signed(session, parent: HumanTask, now) -> None:
    if _pending_names(session, parent.id, "after"):
        return
    held = session.get(HeldDecision, parent.id)
    data = dict(held.data)
    session.delete(held)
    session.flush()
    workflow.complete_task(session=session, task_id=parent.id, data=data, actor=held.actor)
    drafts.drop_drafts(session=session, task_id=parent.id)


def _give_back(session, parent: HumanTask, signer: User, data: dict, now) -> None:
    held = session.get(HeldDecision, parent.id)
    # Nothing the holder typed is lost: it comes back as their draft.
    drafts.save_draft(session=session, task_id=parent.id, user=held.actor, data=held.data, now=now)
    session.delete(held)
    for other in session.scalars(
        sa.select(HumanTask).where(
            HumanTask.parent_task_id == parent.id,
            HumanTask.sign_position == "after",
            HumanTask.state == "open",
        )
    ):
        other.state, other.outcome, other.completed_at = "cancelled", "withdrawn", now
    session.flush()
    notify(
        session=session,
        users=[parent.assignee],
        kind="returned",
        title=f"{signer.display_name} 不同意您对任务「{_label(parent)}」的决定: {data.get('opinion') or ''}".rstrip(
            ": "
        ),
        instance_id=parent.instance_id,
        task_id=parent.id,
        now=now,
    )
