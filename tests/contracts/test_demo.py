"""The demo loader: a contract for the first approved demo project, once."""

from decimal import Decimal

import sqlalchemy as sa

from backend.contracts.demo import DEMO_CONTRACT_NUMBER, load_contracts
from backend.contracts.models import BudgetLine, Contract, PaymentMilestone
from backend.org.demo import CONTRACTOR_UNIT, SUPERVISOR_UNIT
from backend.org.models import Unit
from backend.workflow.models import ProcessInstance
from tests.contracts.conftest import make_project


def test_demo_contract_is_loaded_once(session, world, clock):
    assert {world.contractor.name, world.supervisor.name} == {CONTRACTOR_UNIT, SUPERVISOR_UNIT}
    assert load_contracts(session=session) == 6
    session.commit()
    contract = session.scalar(sa.select(Contract).filter_by(number=DEMO_CONTRACT_NUMBER))
    assert contract.project_id == world.project.id
    assert contract.amount == Decimal("28800000.00")  # 60% of the approved 48,000,000
    milestones = session.scalars(sa.select(PaymentMilestone).filter_by(contract_id=contract.id)).all()
    assert sum(m.amount for m in milestones) == contract.amount
    assert sorted(m.state for m in milestones) == ["locked", "locked", "open"]
    assert session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance)) == 1
    lines = session.scalars(sa.select(BudgetLine).filter_by(project_id=world.project.id, year=2026)).all()
    assert len(lines) == 2

    assert load_contracts(session=session) == 0
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(Contract)) == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(BudgetLine)) == 2


def test_demo_needs_an_approved_project(session, deployed):
    owner = Unit(name="业主", kind="owner")
    session.add_all(
        [owner, Unit(name=CONTRACTOR_UNIT, kind="contractor"), Unit(name=SUPERVISOR_UNIT, kind="supervisor")]
    )
    session.flush()
    from backend.org.models import Region

    session.add(Region(code="330100", name="杭州市", level="city"))
    make_project(session, code="2026-330100-48-01-000555", owner=owner, status="applying")
    assert load_contracts(session=session) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(Contract)) == 0
