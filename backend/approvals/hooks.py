"""Opinions are recorded in the same transaction as the task completion that gives them.

Service tasks run inside the engine step that a completion triggers, before the host has
marked that task completed in `human_task` and written its `task.completed` event; an
operation therefore cannot see the decision that triggered it. The host writes both just
before it flushes, so this hook, on that flush, turns every completed approval task (a user
task carrying the `approvalStage` property) into its ApprovalOpinion: nothing to schedule,
nothing lost, and an opinion is never written without the completion or the other way round.
"""

from sqlalchemy import event
from sqlalchemy.orm import Session

from backend.workflow.models import Event, HumanTask

_installed = False


def install() -> None:
    global _installed
    if not _installed:
        event.listen(Session, "before_flush", _record_completed_approval_tasks)
        _installed = True


def _record_completed_approval_tasks(session, _flush_context, _instances) -> None:
    completions = [obj for obj in session.new if isinstance(obj, Event) and obj.kind == "task.completed"]
    if not completions:
        return
    from backend.approvals.service import record_opinion_of_task

    for completion in sorted(completions, key=lambda e: str(e.task_id)):
        task = session.get(HumanTask, completion.task_id) if completion.task_id else None
        if task is None or "approvalStage" not in (task.properties or {}):
            continue
        record_opinion_of_task(session=session, task=task, data=(completion.detail or {}).get("data") or {})
