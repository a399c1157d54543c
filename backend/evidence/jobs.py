"""Publishing checkpoints to the anchors, after the checkpoint commits: one outbox job per
(checkpoint, anchor). The call runs with no transaction open (a chain may be slow); a failure
is retried with the jobs' backoff, then the row is dead with its error (redeliverable); the
receipt is recorded once."""

from backend import jobs
from backend.evidence import anchors
from backend.evidence.models import AnchorReceipt
from backend.extensions import db

JOB = "evidence.anchor"


def enqueue_publication(*, session, checkpoint_id: int) -> None:
    for anchor in anchors.configured_anchors():
        jobs.enqueue(
            session=session,
            actor=JOB,
            payload={"checkpoint_id": checkpoint_id, "anchor": anchor.name},
            idempotency_key=f"{JOB}:{checkpoint_id}:{anchor.name}",
        )


def _prepare(payload: dict):
    from backend.ledger import checkpoint_dict
    from backend.ledger.models import LedgerCheckpoint

    cp = db.session.get(LedgerCheckpoint, payload["checkpoint_id"])
    if cp is None or _anchor(payload["anchor"]) is None:
        return None  # nothing to publish (anchor removed from the configuration)
    return {"anchor": payload["anchor"], "checkpoint": checkpoint_dict(cp)}


def _publish(plan: dict) -> dict:
    anchor = _anchor(plan["anchor"])
    if anchor is None:
        raise LookupError(f"anchor {plan['anchor']!r} is no longer configured")
    return anchor.publish(plan["checkpoint"])


def _record(payload: dict, plan: dict, receipt: dict) -> None:
    db.session.add(
        AnchorReceipt(checkpoint_id=payload["checkpoint_id"], anchor=payload["anchor"], receipt=receipt)
    )


def _anchor(name: str):
    return next((a for a in anchors.configured_anchors() if a.name == name), None)


@jobs.job(JOB, max_retries=8, min_backoff_seconds=30, call_out=_publish, record=_record)
def publish(payload: dict):
    return _prepare(payload)
