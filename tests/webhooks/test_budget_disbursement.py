"""The product example: the budget system confirms a disbursement through the demo hook
`budget-disbursement`; the milestone_payment instance waiting for that payment number
completes, and subscribers hear `payment.released`."""

import json
import time

import sqlalchemy as sa

from backend import jobs
from backend.contracts import service as contracts
from backend.contracts.models import Payment, PaymentMilestone
from backend.webhooks import outbound
from backend.webhooks.demo import DEMO_SECRET, HOOK_NAME, load_hooks
from backend.webhooks.models import InboundHook, WebhookDelivery
from backend.webhooks.signing import sign
from backend.workflow.models import ProcessInstance
from tests.contracts import conftest as contracts_fixtures
from tests.contracts.conftest import accept, complete, new_contract

# The contracts tests' fixtures: milestone_payment deployed, its parties, a fixed clock.
deployed = contracts_fixtures.deployed
world = contracts_fixtures.world
clock = contracts_fixtures.clock
outbox = contracts_fixtures.outbox


def _post(client, payload, key):
    body = json.dumps(payload).encode()
    ts = int(time.time())
    return client.post(
        f"/api/v1/hooks/{HOOK_NAME}",
        data=body,
        headers={"X-Timestamp": str(ts), "X-Signature": sign(DEMO_SECRET, ts, body), "Idempotency-Key": key},
    )


def test_budget_system_confirmation_completes_the_milestone(app, session, world, clock, receiver):
    contracts.add_budget(
        session=session, project_id=world.project.id, year=2026, source="省级财政资金", amount="600000.00"
    )
    contract = new_contract(session, world)
    session.commit()
    first = session.scalar(sa.select(PaymentMilestone).filter_by(contract_id=contract.id, seq=1))
    instance_id = first.instance_id
    accept(session, instance_id)
    complete(session, instance_id, "finance_approval", {"finance_approved": True, "finance_opinion": "同意"})
    payment = session.scalar(sa.select(Payment).filter_by(milestone_id=first.id))
    assert payment.state == "submitted"
    assert (
        load_hooks(session=session) == 1 and load_hooks(session=session) == 0
    )  # the demo loader, idempotent
    session.commit()
    assert session.scalar(sa.select(InboundHook).filter_by(name=HOOK_NAME)).secret == DEMO_SECRET
    outbound.create_subscription(
        session=session, url=receiver.url, event_types=["payment.released"], max_attempts=3
    )
    session.commit()
    client = app.test_client()

    wrong = _post(client, {"payment_number": payment.number, "voucher": "V", "amount": 300000}, "bad-1")
    assert wrong.status_code == 422 and "/amount" in wrong.get_json()["errors"]
    response = _post(
        client,
        {"payment_number": payment.number, "voucher": "GKZF-2026-000088", "amount": "300000.00"},
        "GKZF-2026-000088",
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["result"]["correlated_instances"] == [instance_id]
    session.expire_all()
    assert session.get(ProcessInstance, instance_id).state == "completed"
    payment = session.get(Payment, payment.id)
    assert (payment.state, payment.voucher) == ("disbursed", "GKZF-2026-000088")
    (released,) = session.scalars(sa.select(WebhookDelivery).filter_by(event_type="payment.released"))
    assert released.payload["data"]["payment_number"] == payment.number
    assert released.payload["data"]["amount"] == "300000.00"

    jobs.drain()
    (request,) = receiver.requests
    assert json.loads(request["body"])["type"] == "payment.released"
