"""Automatic deposits: an issued 批复 (the `approval.issued` domain event) and the files attached
to a milestone acceptance request (验收资料), in the transaction that causes them."""

import sqlalchemy as sa

from backend.workflow import registry

# The form of the contractor's 申请里程碑验收 step; its `attachments` are stored files' SHA-256.
ACCEPTANCE_FORM = "payment_acceptance_request.json"


@registry.on_domain_event
def deposit_issued_approval(*, session, kind: str, data: dict) -> None:
    if kind != "approval.issued":
        return
    from backend.approvals.models import ApprovalDocument
    from backend.evidence import service

    document = session.scalar(sa.select(ApprovalDocument).filter_by(number=data["document_number"]))
    if document is not None:
        service.deposit_approval_document(session=session, document=document, depositor="system")


@registry.on_task_completed
def deposit_acceptance_files(*, session, task, data) -> None:
    if (task.form or "").rsplit("/", 1)[-1] != ACCEPTANCE_FORM or not isinstance(data, dict):
        return
    hashes = [h for h in data.get("attachments") or [] if isinstance(h, str)]
    if not hashes or not task.business_key:
        return
    from backend.evidence import service
    from backend.files.access import is_sha256
    from backend.files.errors import FileMissing
    from backend.files.models import FileUpload
    from backend.projects.models import Project

    project = session.scalar(sa.select(Project).filter_by(code=task.business_key))
    if project is None:
        return
    deposited = False
    for sha256 in dict.fromkeys(hashes):
        if not is_sha256(sha256):
            continue
        upload = session.scalar(sa.select(FileUpload).filter_by(sha256=sha256).limit(1))
        try:
            service.deposit_stored_file(
                session=session,
                project=project,
                document_type="acceptance",
                sha256=sha256,
                title=(upload.name if upload and upload.name else sha256[:12]),
                depositor=task.completed_by or task.assignee,
                source="acceptance",
                source_ref=task.id,
                checkpoint=False,
            )
            deposited = True
        except FileMissing:  # a reference to bytes that are gone: nothing to fingerprint
            continue
    if deposited:  # one signed checkpoint for all the files of the request
        service.make_checkpoint(session=session, only_if_grown=True)
