"""The contract's clauses: parties, amount and the payment schedule, validated and rounded."""

from decimal import Decimal

import pytest
import sqlalchemy as sa

from backend.contracts import service
from backend.contracts.errors import ContractNumberTaken, InvalidAmount, InvalidContract
from backend.contracts.models import Contract, PaymentMilestone
from tests.contracts.conftest import make_project, new_contract


def _amounts(schedule):
    return [m.amount for m in schedule.milestones]


def test_percentages_round_half_up_and_the_remainder_goes_to_the_last_one():
    # 10.05 × 50% = 5.025: half-up gives 5.03 (bankers' rounding would give 5.02).
    schedule = service.plan_schedule(
        Decimal("10.05"), [{"name": "A", "percentage": "50"}, {"name": "B", "percentage": "50"}]
    )
    assert _amounts(schedule) == [Decimal("5.03"), Decimal("5.02")]
    assert schedule.complete and schedule.total == Decimal("10.05")

    # 1000.01 × 33.33% = 333.303333 → 333.30 twice; 33.34% would round to 333.40, but the
    # schedule is complete, so the last one takes what is left: 333.41.
    schedule = service.plan_schedule(
        Decimal("1000.01"),
        [
            {"name": "A", "percentage": "33.33"},
            {"name": "B", "percentage": "33.33"},
            {"name": "C", "percentage": "33.34"},
        ],
    )
    assert _amounts(schedule) == [Decimal("333.30"), Decimal("333.30"), Decimal("333.41")]
    assert sum(_amounts(schedule)) == Decimal("1000.01")
    assert [m.percentage for m in schedule.milestones] == [
        Decimal("33.33"),
        Decimal("33.33"),
        Decimal("33.34"),
    ]


def test_remainder_goes_to_the_last_percentage_milestone_in_a_mixed_schedule():
    # 1000.10 − 500.05 = 500.05 = 50% exactly: complete. 25% = 250.025 each.
    schedule = service.plan_schedule(
        Decimal("1000.10"),
        [
            {"name": "进度款一", "percentage": "25"},
            {"name": "进度款二", "percentage": "25"},
            {"name": "结算款", "amount": "500.05"},
        ],
    )
    assert _amounts(schedule) == [Decimal("250.03"), Decimal("250.02"), Decimal("500.05")]
    assert schedule.total == Decimal("1000.10") and schedule.complete


def test_a_partial_schedule_is_allowed_and_rounds_each_milestone():
    schedule = service.plan_schedule(Decimal("10.05"), [{"name": "A", "percentage": "50"}])
    assert _amounts(schedule) == [Decimal("5.03")]
    assert not schedule.complete
    # Percentages that cannot make up the rest exactly: nothing is shifted silently.
    schedule = service.plan_schedule(
        Decimal("1000.01"),
        [
            {"name": "A", "percentage": "33.33"},
            {"name": "B", "percentage": "33.33"},
            {"name": "C", "amount": "333.35"},
        ],
    )
    assert _amounts(schedule) == [Decimal("333.30"), Decimal("333.30"), Decimal("333.35")]
    assert not schedule.complete and schedule.total == Decimal("999.95")


@pytest.mark.parametrize(
    ("milestones", "fragment"),
    [
        ([{"name": "A", "percentage": "60"}, {"name": "B", "percentage": "40.01"}], "超过合同金额"),
        ([{"name": "A", "amount": "600.00"}, {"name": "B", "amount": "400.01"}], "超过合同金额"),
        ([{"name": "A", "amount": "600.00"}, {"name": "B", "percentage": "41"}], "超过合同金额"),
        ([{"name": "A", "percentage": "50", "amount": "500.00"}], "须指定付款比例或付款金额之一"),
        ([{"name": "A"}], "须指定付款比例或付款金额之一"),
        ([{"name": "", "percentage": "100"}], "缺少名称"),
        ([{"name": "A", "percentage": "0"}], "付款比例"),
        ([{"name": "A", "percentage": "100.5"}], "付款比例"),
        ([{"name": "A", "percentage": "12.345"}], "付款比例"),
        ([{"name": "A", "amount": "100.005"}], "金额无效"),
        ([{"name": "A", "amount": 100.5}], "金额无效"),  # a float is refused, never rounded
        ([{"name": "A", "amount": "-1.00"}], "金额无效"),
        ([{"name": "A", "amount": "100.00", "release_conditions": ["weather_fine"]}], "未知的付款条件"),
        ([], "至少需要一个里程碑"),
    ],
)
def test_invalid_schedules_are_refused(milestones, fragment):
    with pytest.raises(InvalidContract) as refused:
        service.plan_schedule(Decimal("1000.00"), milestones)
    assert any(fragment in problem for problem in refused.value.problems), refused.value.problems


def test_the_contract_ceiling_cannot_be_opted_out_of():
    schedule = service.plan_schedule(
        Decimal("100.00"), [{"name": "A", "amount": "100.00", "release_conditions": ["acceptance_passed"]}]
    )
    assert schedule.milestones[0].release_conditions == ["acceptance_passed", "within_contract"]
    default = service.plan_schedule(Decimal("100.00"), [{"name": "A", "amount": "100.00"}])
    assert default.milestones[0].release_conditions == list(service.RELEASE_CONDITIONS)


def test_money_is_exact_decimal():
    assert service.to_money("1000") == Decimal("1000.00")
    assert service.to_money(Decimal("12.5")) == Decimal("12.50")
    assert service.to_money("12.500") == Decimal("12.50")  # same value, written with a zero more
    for bad in (12.5, True, "12.505", "abc", "NaN", None):
        with pytest.raises(InvalidAmount):
            service.to_money(bad)


def test_create_contract_stores_the_schedule_and_opens_the_first_milestone(session, world):
    contract = new_contract(
        session,
        world,
        amount="1000.01",
        milestones=[
            {"name": "A", "percentage": "33.33"},
            {"name": "B", "percentage": "33.33"},
            {"name": "C", "percentage": "33.34", "release_conditions": ["acceptance_passed"]},
        ],
        clauses={"retention": "3%"},
    )
    session.commit()
    milestones = session.scalars(
        sa.select(PaymentMilestone).filter_by(contract_id=contract.id).order_by("seq")
    ).all()
    assert [(m.seq, m.amount, m.state) for m in milestones] == [
        (1, Decimal("333.30"), "open"),
        (2, Decimal("333.30"), "locked"),
        (3, Decimal("333.41"), "locked"),
    ]
    assert milestones[2].release_conditions == ["acceptance_passed", "within_contract"]
    assert milestones[0].instance_id is not None and milestones[1].instance_id is None
    stored = session.get(Contract, contract.id)
    assert stored.amount == Decimal("1000.01")
    assert stored.clauses == {"retention": "3%", "schedule_complete": True, "unscheduled_amount": "0.00"}


def test_partial_schedule_records_the_unscheduled_rest(session, world):
    contract = new_contract(session, world, amount="1000.00", milestones=[{"name": "A", "amount": "970.00"}])
    assert contract.clauses["schedule_complete"] is False
    assert contract.clauses["unscheduled_amount"] == "30.00"


def test_create_contract_lists_every_problem(session, world):
    with pytest.raises(InvalidContract) as refused:
        service.create_contract(
            session=session,
            project_id=world.project.id,
            number="",
            name="合同",
            party_a_unit_id=world.owner.id,
            party_b_unit_id=world.contractor.id,
            supervisor_unit_id=world.contractor.id,
            amount=1000.0,
            milestones=[{"name": "A", "percentage": "100"}],
            signed_on="2026-02-30",
        )
    problems = refused.value.problems
    assert "缺少合同编号" in problems
    assert "监理单位须独立于甲方和乙方" in problems
    assert any("签订日期无效" in p for p in problems)
    assert any("合同 金额无效" in p for p in problems)
    assert session.scalar(sa.select(sa.func.count()).select_from(Contract)) == 0


def test_parties_and_project_are_checked(session, world):
    draft = make_project(session, code="2026-330100-48-01-000999", owner=world.owner, status="applying")
    with pytest.raises(InvalidContract) as refused:
        service.create_contract(
            session=session,
            project_id=draft.id,
            number="HT-X",
            name="合同",
            party_a_unit_id=world.owner.id,
            party_b_unit_id=world.owner.id,
            supervisor_unit_id=424242,
            amount="1000.00",
            milestones=[{"name": "A", "percentage": "100"}],
            signed_on=None,
        )
    problems = refused.value.problems
    assert "甲方与乙方不能是同一单位" in problems
    assert "监理单位不存在: 424242" in problems
    assert any("项目尚未批复" in p for p in problems)


def test_contract_numbers_are_unique(session, world):
    new_contract(session, world, number="HT-2026-007")
    session.commit()
    with pytest.raises(ContractNumberTaken):
        new_contract(session, world, number="HT-2026-007")
