"""Background work of the workflow host, run by dramatiq workers through the outbox."""

from backend.db import utcnow
from backend.extensions import db
from backend.jobs import Retry, job
from backend.workflow import service
from backend.workflow.models import Timer


@job("workflow.fire_timers", max_retries=3)
def fire_timers(payload: dict) -> None:
    if service.fire_timers(session=db.session, instance_id=payload["instance_id"]):
        return
    # Not due here yet (this worker's clock is behind the scheduler's): run again when it
    # is, rather than finishing and letting the job's idempotency key hide the timer.
    timer = db.session.get(Timer, payload["instance_id"])
    if timer is not None:
        wait = (timer.due_at - utcnow()).total_seconds()
        raise Retry(delay_seconds=max(1.0, wait + 1.0), reason="timer not due yet")


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
