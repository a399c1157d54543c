"""Where signatures are made: in the transaction of the act they sign.

- A department head's countersign decision (the task with `approvalStage` "head", completed
  on the task page, in the 批量签署 queue, or after 后加签) is signed with the head's key as
  soon as its opinion is recorded.
- An issued 批复 (`approval.issued`, from approvals.service.issue_document) is signed with the
  platform's key.
"""

import sqlalchemy as sa

from backend.workflow.registry import on_domain_event, on_task_completed


@on_task_completed
def sign_head_decision(*, session, task, data) -> None:
    if (task.properties or {}).get("approvalStage") != "head":
        return
    from backend.approvals.service import record_opinion_of_task
    from backend.esign.service import sign_opinion
    from backend.org.models import User

    # Idempotent: returns the opinion the approvals listener recorded (or records it first).
    opinion = record_opinion_of_task(session=session, task=task, data=data or {})
    if opinion is None:
        return
    signer = session.scalar(sa.select(User).where(User.username == task.completed_by))
    if signer is None:  # completed by a system actor: nobody's key to sign with
        return
    sign_opinion(session=session, opinion=opinion, signer=signer, data=data or {})


@on_domain_event
def sign_issued_document(*, session, kind, data) -> None:
    if kind != "approval.issued":
        return
    from backend.approvals.models import ApprovalDocument
    from backend.esign.service import sign_document

    document = session.scalar(
        sa.select(ApprovalDocument).where(ApprovalDocument.number == data["document_number"])
    )
    if document is not None:
        sign_document(session=session, document=document)
