"""Demo contract: the first approved demo project gets a construction contract with three
payment milestones and part of this year's budget, so the milestone_payment flow can be
walked through (the third milestone will wait for more budget)."""

from decimal import Decimal

import sqlalchemy as sa

from backend.contracts.models import Contract
from backend.contracts.service import add_budget, create_contract
from backend.db import utcnow
from backend.demo import loader
from backend.org.demo import CONTRACTOR_UNIT, SUPERVISOR_UNIT
from backend.org.models import Unit
from backend.projects.models import Project
from backend.workdays.service import local_date
from backend.workflow.models import ProcessDefinition

DEMO_CONTRACT_NUMBER = "HT-SG-DEMO-001"
MILESTONES = (
    ("基础及地下室工程完工", "30.00"),
    ("主体结构封顶", "45.00"),
    ("竣工验收合格", "25.00"),
)


@loader
def load_contracts(*, session) -> int:
    """施工合同、付款里程碑和年度预算 (contract, payment milestones, budget)"""
    if session.scalar(sa.select(Contract.id).filter_by(number=DEMO_CONTRACT_NUMBER)) is not None:
        return 0
    project = session.scalar(sa.select(Project).filter_by(status="approved").order_by(Project.id).limit(1))
    units = {
        u.name: u
        for u in session.scalars(sa.select(Unit).where(Unit.name.in_([CONTRACTOR_UNIT, SUPERVISOR_UNIT])))
    }
    if (
        project is None
        or len(units) < 2
        or not session.scalar(sa.select(ProcessDefinition.id).filter_by(key="milestone_payment").limit(1))
    ):
        return 0  # needs the org and approval demo data and the deployed diagram
    base = project.approved_budget or project.total_investment
    contract = create_contract(
        session=session,
        project_id=project.id,
        number=DEMO_CONTRACT_NUMBER,
        name=f"{project.name}施工总承包合同",
        party_a_unit_id=project.owner_unit_id,
        party_b_unit_id=units[CONTRACTOR_UNIT].id,
        supervisor_unit_id=units[SUPERVISOR_UNIT].id,
        amount=(base * Decimal("0.6")).quantize(Decimal("1")),
        milestones=[{"name": name, "percentage": percentage} for name, percentage in MILESTONES],
        signed_on=local_date(utcnow()),
        clauses={"retention": "质量保证金按结算价 3% 预留, 缺陷责任期满后返还"},
        created_by="demo",
    )
    year = local_date(utcnow()).year
    first, second, _third = contract.milestones
    add_budget(session=session, project_id=project.id, year=year, source="省级财政资金", amount=first.amount)
    add_budget(session=session, project_id=project.id, year=year, source="市级配套资金", amount=second.amount)
    return 1 + len(contract.milestones) + 2
