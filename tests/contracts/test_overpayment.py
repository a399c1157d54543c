"""Over-payment is impossible: the contract ceiling and the budget hold for one request and
for requests that race, each in its own thread, app context and database connection.

Runs on SQLite (the unit of work holds the write lock from BEGIN IMMEDIATE) and, with
TEST_DATABASE_URL, on PostgreSQL, where the contract's and budget lines' FOR UPDATE locks
are what keeps the second request from summing before the first one committed."""

from decimal import Decimal

import pytest
import sqlalchemy as sa

from backend.contracts import service
from backend.contracts.errors import MilestoneStateError, PaymentAlreadyRequested
from backend.contracts.models import Contract, Payment, PaymentMilestone
from tests.concurrency import race
from tests.contracts.conftest import NOW, make_project, new_contract


def _accepted(session, contract, *, reduce_amount_to=None):
    """Every milestone accepted at once (bypassing the diagram's order to set up a race)."""
    milestones = session.scalars(
        sa.select(PaymentMilestone).filter_by(contract_id=contract.id).order_by(PaymentMilestone.seq)
    ).all()
    for milestone in milestones:
        milestone.state, milestone.accepted_at = "accepting", NOW
    if reduce_amount_to is not None:
        # 合同变更核减: an amendment cut the contract amount below the signed schedule.
        session.get(Contract, contract.id).amount = Decimal(reduce_amount_to)
    session.commit()
    return [m.id for m in milestones]


def _request(milestone_id):
    return lambda s: service.request_payment(session=s, milestone_id=milestone_id, now=NOW).met


def _committed(session, contract_id):
    session.expire_all()
    return session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Payment.amount), 0)).where(
            Payment.contract_id == contract_id, Payment.state.in_(service.DRAWING_STATES)
        )
    )


def test_payment_beyond_the_contract_amount_is_refused(session, world):
    service.add_budget(
        session=session, project_id=world.project.id, year=2026, source="省级财政资金", amount="1000.00"
    )
    contract = new_contract(
        session,
        world,
        amount="1000.00",
        milestones=[{"name": "A", "percentage": "50"}, {"name": "B", "percentage": "50"}],
    )
    session.commit()
    first, second = _accepted(session, contract, reduce_amount_to="600.00")

    assert service.request_payment(session=session, milestone_id=first, now=NOW).met
    check = service.request_payment(session=session, milestone_id=second, now=NOW)
    session.commit()
    assert not check.met and check.failed == ["within_contract"]
    assert check.reasons == [
        "累计付款将超过合同金额: 合同金额 600.00 元, 已申请及已付 500.00 元, 本次 500.00 元"
    ]
    assert session.get(PaymentMilestone, second).state == "blocked"
    assert _committed(session, contract.id) == Decimal("500.00")


def test_a_milestone_is_never_requested_twice(session, world):
    service.add_budget(
        session=session, project_id=world.project.id, year=2026, source="省级财政资金", amount="1000.00"
    )
    contract = new_contract(session, world, amount="1000.00", milestones=[{"name": "A", "percentage": "100"}])
    session.commit()
    (only,) = _accepted(session, contract)
    assert service.request_payment(session=session, milestone_id=only, now=NOW).met
    with pytest.raises(PaymentAlreadyRequested):
        service.request_payment(session=session, milestone_id=only, now=NOW)
    locked = new_contract(
        session,
        world,
        number="HT-2",
        amount="10.00",
        milestones=[{"name": "A", "percentage": "50"}, {"name": "B", "percentage": "50"}],
    )
    with pytest.raises(MilestoneStateError):  # still locked: its turn has not come
        service.request_payment(session=session, milestone_id=locked.milestones[1].id, now=NOW)


def test_two_racing_requests_never_exceed_the_contract_amount(app, session, world):
    service.add_budget(
        session=session, project_id=world.project.id, year=2026, source="省级财政资金", amount="100000.00"
    )
    session.commit()
    for round_no in range(3):
        contract = new_contract(
            session,
            world,
            number=f"HT-RACE-{round_no}",
            amount="1000.00",
            milestones=[{"name": "A", "percentage": "50"}, {"name": "B", "percentage": "50"}],
        )
        session.commit()
        first, second = _accepted(session, contract, reduce_amount_to="600.00")
        session.rollback()  # end our transaction: on SQLite it would hold the write lock

        outcomes = race(app, [_request(first), _request(second)])

        assert sorted(outcomes, key=str) == [False, True], outcomes  # exactly one succeeds
        assert _committed(session, contract.id) == Decimal("500.00")
        states = session.scalars(
            sa.select(PaymentMilestone.state)
            .filter_by(contract_id=contract.id)
            .order_by(PaymentMilestone.seq)
        ).all()
        assert sorted(states) == ["blocked", "requested"]
        session.rollback()


def test_the_same_milestone_requested_twice_at_once(app, session, world):
    service.add_budget(
        session=session, project_id=world.project.id, year=2026, source="省级财政资金", amount="1000.00"
    )
    contract = new_contract(session, world, amount="1000.00", milestones=[{"name": "A", "percentage": "100"}])
    session.commit()
    (only,) = _accepted(session, contract)
    session.rollback()

    outcomes = race(app, [_request(only), _request(only)])

    assert True in outcomes
    (refusal,) = [o for o in outcomes if o is not True]
    assert isinstance(refusal, PaymentAlreadyRequested)
    assert session.scalar(sa.select(sa.func.count()).select_from(Payment).filter_by(milestone_id=only)) == 1
    assert _committed(session, contract.id) == Decimal("1000.00")


def test_two_contracts_racing_for_the_last_budget(app, session, world):
    for round_no in range(3):
        project = make_project(session, code=f"2026-330100-48-01-00070{round_no}", owner=world.owner)
        service.add_budget(
            session=session, project_id=project.id, year=2026, source="省级财政资金", amount="500.00"
        )
        contracts = [
            service.create_contract(
                session=session,
                project_id=project.id,
                number=f"HT-B-{round_no}-{i}",
                name="分包合同",
                party_a_unit_id=world.owner.id,
                party_b_unit_id=world.contractor.id,
                supervisor_unit_id=world.supervisor.id,
                amount="400.00",
                milestones=[{"name": "A", "percentage": "100"}],
                signed_on=None,
            )
            for i in range(2)
        ]
        session.commit()
        ids = [_accepted(session, contract)[0] for contract in contracts]
        session.rollback()

        outcomes = race(app, [_request(ids[0]), _request(ids[1])])

        assert sorted(outcomes, key=str) == [False, True], outcomes
        assert service.budget_available(session=session, project_id=project.id, year=2026) == Decimal(
            "100.00"
        )
        blocked = session.scalar(
            sa.select(PaymentMilestone).where(
                PaymentMilestone.id.in_(ids), PaymentMilestone.state == "blocked"
            )
        )
        assert "可用预算不足" in blocked.blocked_reasons[0]
        session.rollback()
