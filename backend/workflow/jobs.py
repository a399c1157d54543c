"""Background work of the workflow host, run by dramatiq workers through the outbox."""

from backend.extensions import db
from backend.jobs import job
from backend.workflow import service


@job("workflow.fire_timers", max_retries=3)
def fire_timers(payload: dict) -> None:
    service.fire_timers(session=db.session, instance_id=payload["instance_id"])


@job("workflow.retry_task", max_retries=0)
def retry_task(payload: dict) -> None:
    # The retry policy (attempts, backoff, incident) is the workflow's: see host._handle_failure.
    service.retry_task(
        session=db.session,
        instance_id=payload["instance_id"],
        task_id=payload["task_id"],
        attempt=payload["attempt"],
    )


@job("workflow.deliver_message", max_retries=3)
def deliver_message(payload: dict) -> None:
    """A message thrown by one instance, delivered to the others of the same project waiting for it."""
    service.correlate_message(
        session=db.session,
        name=payload["name"],
        payload=payload.get("payload"),
        business_key=payload.get("business_key"),
        actor=f"instance:{payload.get('sender')}",
    )
