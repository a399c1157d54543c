"""A completed task's form data may carry files: its instance references them from then on,
in the same transaction as the completion (see access.py for what a reference grants)."""

from backend.workflow.registry import on_task_completed


@on_task_completed
def reference_files_of_task(*, session, task, data) -> None:
    from backend.files.access import reference

    reference(session=session, instance_id=task.instance_id, data=data or {})
