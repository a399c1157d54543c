"""Fixtures of the funds tests: the API tests' organisation (regions 330000 > 330100 > 330106,
330200 beside), a project in 西湖区, finance people, and payments made directly with the models."""

from decimal import Decimal

import pytest

from backend.accounts.service import set_password
from backend.contracts.models import BudgetLine, Contract, Payment, PaymentMilestone
from backend.org.models import User
from tests.api.conftest import PASSWORD, client, make_project, org  # noqa: F401  (fixtures)

CODE = "2026-330106-48-01-000777"


@pytest.fixture()
def project(session, org):  # noqa: F811
    made = make_project(session, org, CODE, "330106")
    made.total_investment = Decimal("2000.00")
    session.commit()
    return made


@pytest.fixture()
def people(session, org):  # noqa: F811
    """fin: finance of the province; fin_nb: finance of 宁波 (the project is out of scope);
    applicant: the owner unit's person (made by make_org)."""
    fin = User(username="fin", display_name="财务", roles=["finance"], region_code="330000")
    fin_nb = User(username="fin_nb", display_name="宁波财务", roles=["finance"], region_code="330200")
    session.add_all([fin, fin_nb])
    session.flush()
    for user in (fin, fin_nb):
        set_password(user=user, password=PASSWORD, enforce_policy=False)
    session.commit()
    return {"fin": fin, "fin_nb": fin_nb, "applicant": org.applicant}


def add_budget(session, project, year: int, source: str, amount: str) -> BudgetLine:
    line = BudgetLine(project_id=project.id, year=year, source=source, amount=Decimal(amount))
    session.add(line)
    session.flush()
    return line


def add_payment(session, org, project, number: str, amount: str, state: str) -> Payment:  # noqa: F811
    contract = Contract(
        number=f"HT-{number}",
        name="施工合同",
        project_id=project.id,
        party_a_unit_id=org.unit.id,
        party_b_unit_id=org.other_unit.id,
        amount=Decimal("100000.00"),
    )
    session.add(contract)
    session.flush()
    milestone = PaymentMilestone(contract_id=contract.id, seq=1, name="预付款", amount=Decimal(amount))
    session.add(milestone)
    session.flush()
    payment = Payment(
        number=number, contract_id=contract.id, milestone_id=milestone.id, amount=Decimal(amount), state=state
    )
    session.add(payment)
    session.flush()
    return payment
