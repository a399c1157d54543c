"""Background work of the webhooks: one try of one outbound delivery."""

from backend import jobs
from backend.extensions import db
from backend.webhooks import outbound


def _record(payload: dict, request: outbound.Send, attempt: outbound.Attempt) -> None:
    outbound.record_attempt(session=db.session, request=request, attempt=attempt)


# In phases (see backend.jobs.runner): read and sign, POST with no transaction open, record.
# A failed HTTP try is not a job failure (it is logged and re-queued by `record_attempt`);
# the job's own retries only cover the database side.
@jobs.job(outbound.DELIVER_JOB, max_retries=3, call_out=outbound.send, record=_record)
def deliver(payload: dict) -> outbound.Send | None:
    return outbound.prepare_delivery(
        session=db.session, subscription_id=payload["subscription_id"], event_id=payload["event_id"]
    )
