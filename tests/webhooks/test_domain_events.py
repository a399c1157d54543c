"""Domain facts emitted through `registry.domain_event`, in their own transaction: 批复 issued
and ticket overdue (payment.released: test_budget_disbursement)."""

from datetime import UTC, datetime

import sqlalchemy as sa

from backend.approvals.service import issue_document
from backend.org.models import Region, Unit
from backend.tickets.service import mark_overdue
from backend.webhooks import outbound
from backend.webhooks.models import WebhookDelivery
from backend.workflow import service as workflow
from tests.contracts.conftest import make_project, open_ticket

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def test_approval_issued_and_ticket_overdue_are_emitted_once(session, deployed):
    outbound.create_subscription(
        session=session, url="http://127.0.0.1:9/none", event_types=["approval.issued", "ticket.overdue"]
    )
    session.add(Region(code="330100", name="杭州市", level="city"))
    owner = Unit(name="杭州市城市建设投资集团有限公司", kind="owner", region_code="330100")
    session.add(owner)
    session.flush()
    project = make_project(session, code="2026-330100-48-01-000555", owner=owner)
    session.commit()

    document = issue_document(session=session, project=project, now=NOW)
    issue_document(session=session, project=project, now=NOW)  # a project gets one 批复: no second event
    instance = workflow.start_instance(session=session, process_key="webhook_intake", data={"reference": "x"})
    ticket = open_ticket(session, project, number="ZG-2026-0001", severity="major")
    mark_overdue(
        session=session, ticket_id=ticket.id, instance_id=instance.id, escalated_to="fgw.head", now=NOW
    )
    session.commit()

    rows = session.scalars(sa.select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
    assert [r.event_type for r in rows] == ["approval.issued", "ticket.overdue"]
    assert rows[0].payload["data"]["document_number"] == document.number
    assert rows[0].payload["data"]["project_code"] == project.code
    overdue = rows[1].payload["data"]
    assert (overdue["ticket_number"], overdue["escalated_to"]) == ("ZG-2026-0001", "fgw.head")
