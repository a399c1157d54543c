"""Through the engine: the project_approval process issues its 批复 in a service task, and the
document is deposited in that same unit of work."""

import hashlib
from datetime import UTC, datetime

import sqlalchemy as sa
import time_machine

from backend import ledger
from backend.approvals.models import ApprovalDocument
from backend.evidence import service
from backend.evidence.models import EvidenceRecord
from tests.approvals.conftest import deployed, flow, org  # noqa: F401

MONDAY = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)


def test_the_approval_process_deposits_its_pifu(flow, session):  # noqa: F811
    with time_machine.travel(MONDAY, tick=False):
        flow.submit()
        flow.accept()
        flow.approve_round()
    assert flow.instance.state == "completed"
    session.expire_all()
    document = session.scalar(sa.select(ApprovalDocument))
    (record,) = session.scalars(sa.select(EvidenceRecord)).all()
    assert (record.document_type, record.source_ref, record.project_id) == (
        "approval",
        document.number,
        document.project_id,
    )
    assert record.sha256 == hashlib.sha256(service.approval_document_bytes(document)).hexdigest()
    assert service.covering_checkpoint(session=session, record=record) is not None
    assert ledger.verify(session=session, ledger="evidence").ok
