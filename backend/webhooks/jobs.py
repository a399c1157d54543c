"""Background work of the webhooks: one try of one outbound delivery."""

from backend import jobs
from backend.extensions import db
from backend.webhooks import outbound


# A failed HTTP try is not a job failure (it is logged and re-queued by `outbound.deliver`);
# the job's own retries only cover the database side.
@jobs.job(outbound.DELIVER_JOB, max_retries=3)
def deliver(payload: dict) -> None:
    outbound.deliver(
        session=db.session, subscription_id=payload["subscription_id"], event_id=payload["event_id"]
    )
