"""Opinions are recorded in the same transaction as the task completion that gives them.

The workflow service calls its task-completed listeners after closing the task and writing
its history and before the engine runs on, so the operations that follow (closing the
round) already see the opinion. Approval steps are user tasks carrying `approvalStage`.
"""

from backend.workflow.registry import on_task_completed


@on_task_completed
def record_approval_opinion(*, session, task, data) -> None:
    if "approvalStage" not in (task.properties or {}):
        return
    from backend.approvals.service import record_opinion_of_task

    record_opinion_of_task(session=session, task=task, data=data or {})
