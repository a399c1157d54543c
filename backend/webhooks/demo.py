"""Demo inbound hook `budget-disbursement`: the budget system (预算管理一体化系统) confirms a
disbursement; the hook correlates `disbursement_confirmed` to the milestone_payment instance
waiting for that payment number (its catch event's correlation key).

The demo secret is published in the README on purpose: demo data only, never production."""

import sqlalchemy as sa

from backend.demo import loader
from backend.webhooks.models import CORRELATE, InboundHook

HOOK_NAME = "budget-disbursement"
DEMO_SECRET = "whsec_demo_budget_disbursement_2026"
MESSAGE = "disbursement_confirmed"

PAYLOAD_SCHEMA = {
    "type": "object",
    "required": ["payment_number", "voucher", "amount"],
    "properties": {
        "payment_number": {"type": "string", "minLength": 1, "maxLength": 40},
        "voucher": {"type": "string", "minLength": 1, "maxLength": 60},
        "amount": {"type": "string", "pattern": r"^\d+(\.\d{1,2})?$"},
        "disbursed_at": {"type": "string"},
    },
}


def budget_disbursement_hook(secret: str = DEMO_SECRET) -> InboundHook:
    return InboundHook(
        name=HOOK_NAME,
        description="预算管理一体化系统确认拨付 → milestone_payment 的 disbursement_confirmed 消息",
        action=CORRELATE,
        target=MESSAGE,
        variables={"voucher": "/voucher", "amount": "/amount", "payment_number": "/payment_number"},
        payload_schema=PAYLOAD_SCHEMA,
        correlation_key_pointer="/payment_number",
        secret=secret,
        enabled=True,
        replay_window_seconds=300,
        max_body_bytes=64 * 1024,
        created_by="demo",
    )


@loader
def load_hooks(*, session) -> int:
    """入站接口 budget-disbursement (inbound webhook)"""
    if session.scalar(sa.select(InboundHook.id).filter_by(name=HOOK_NAME)) is not None:
        return 0
    session.add(budget_disbursement_hook())
    session.flush()
    return 1
