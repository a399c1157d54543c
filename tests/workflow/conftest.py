from pathlib import Path

import pytest

from backend.workdays.service import seed_from_chinese_calendar
from backend.workflow import registry
from backend.workflow.deploy import deploy_files, read_directory

HERE = Path(__file__).parent
BPMN_DIR = HERE / "bpmn"
FORMS_DIR = HERE / "forms"


class PaymentSystem:
    """Stands in for the budget system behind the operation's interface: fails on demand."""

    def __init__(self):
        self.failures_left = 0
        self.calls = []

    def request(self, *, amount):
        self.calls.append(amount)
        if self.failures_left > 0:
            self.failures_left -= 1
            raise ConnectionError("budget system unreachable")
        return {"request_no": f"PR-{len(self.calls)}", "amount": amount}


PAYMENTS = PaymentSystem()


@registry.operation("test.request_payment", params=("amount",))
def _request_payment(ctx, *, amount):
    return PAYMENTS.request(amount=amount)


@pytest.fixture()
def payments():
    PAYMENTS.failures_left = 0
    PAYMENTS.calls.clear()
    return PAYMENTS


@pytest.fixture()
def deployed(session):
    seed_from_chinese_calendar(session=session)
    result = deploy_files(
        session=session, files=read_directory(BPMN_DIR), forms_dir=FORMS_DIR, deployed_by="test"
    )
    session.commit()
    return {d.key: d for d in result.created}
