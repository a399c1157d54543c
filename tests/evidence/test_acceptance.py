"""The files attached to a milestone acceptance request (验收资料) are deposited when the
contractor submits the request."""

import sqlalchemy as sa

from backend import ledger
from backend.contracts.models import PaymentMilestone
from backend.evidence import service
from backend.evidence.models import EvidenceRecord
from backend.files import access as file_access
from backend.files import service as files
from tests.contracts.conftest import clock, complete, deployed, new_contract, open_tasks, outbox, world  # noqa: F401

REPORT = b"%PDF-1.4\n% self-inspection report\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_acceptance_attachments_are_deposited(session, world, clock):  # noqa: F811
    contract = new_contract(session, world)
    session.commit()
    stored = files.store(session=session, data=REPORT, declared_name="自检报告.pdf")
    file_access.record_upload(
        session=session, sha256=stored.sha256, username="contractor1", name="自检报告.pdf"
    )
    session.commit()
    instance_id = _first_instance(session, contract.id)
    (task,) = open_tasks(session, instance_id)
    assert task.element_id == "request_acceptance"

    complete(
        session,
        instance_id,
        "request_acceptance",
        {"work_summary": "基础完工", "completed_on": "2026-03-01", "attachments": [stored.sha256]},
        actor="contractor1",
    )

    (record,) = session.scalars(sa.select(EvidenceRecord)).all()
    assert (record.document_type, record.source, record.title) == ("acceptance", "acceptance", "自检报告.pdf")
    assert record.project_id == world.project.id and record.sha256 == stored.sha256
    assert record.depositor == "contractor1"
    assert record.file_sha256 == stored.sha256
    assert service.covering_checkpoint(session=session, record=record) is not None
    assert ledger.verify(session=session, ledger="evidence").ok


def _first_instance(session, contract_id) -> int:
    return session.scalars(
        sa.select(PaymentMilestone.instance_id).filter_by(contract_id=contract_id, seq=1)
    ).one()
