"""The milestone_payment process end to end: acceptance, release conditions, finance, the
budget system and the disbursement confirmation, blocked payments and their re-checks."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa

from backend import jobs
from backend.contracts import service
from backend.contracts.models import BudgetLine, Payment, PaymentMilestone
from backend.workflow import service as workflow
from backend.workflow.host import host_context, load_run
from backend.workflow.models import Event, Incident, MessageWait, ProcessInstance, Timer
from tests.contracts.conftest import PROJECT_CODE, accept, complete, new_contract, open_tasks, open_ticket


def _milestones(session, contract_id):
    session.expire_all()
    return session.scalars(
        sa.select(PaymentMilestone).filter_by(contract_id=contract_id).order_by("seq")
    ).all()


def _payment(session, milestone_id):
    return session.scalar(sa.select(Payment).filter_by(milestone_id=milestone_id))


def _budget(session, world, amount, source="省级财政资金", year=2026):
    service.add_budget(session=session, project_id=world.project.id, year=year, source=source, amount=amount)
    session.commit()


def test_whole_path_from_acceptance_to_next_milestone(session, world, clock, outbox):
    _budget(session, world, "600000.00")
    contract = new_contract(session, world)
    session.commit()
    first, second, third = _milestones(session, contract.id)
    assert [m.state for m in (first, second, third)] == ["open", "locked", "locked"]
    assert second.instance_id is None and third.instance_id is None
    instance = session.get(ProcessInstance, first.instance_id)
    assert (instance.process_key, instance.business_key, instance.state) == (
        "milestone_payment",
        PROJECT_CODE,
        "running",
    )

    (task,) = open_tasks(session, instance.id)
    assert (task.element_id, task.candidate_group) == ("request_acceptance", f"unit.{world.contractor.id}")
    complete(
        session, instance.id, "request_acceptance", {"work_summary": "基础完工", "completed_on": "2026-03-01"}
    )
    assert _milestones(session, contract.id)[0].state == "accepting"
    (task,) = open_tasks(session, instance.id)
    assert (task.element_id, task.candidate_group) == ("supervisor_acceptance", f"unit.{world.supervisor.id}")
    complete(
        session,
        instance.id,
        "supervisor_acceptance",
        {"supervisor_approved": True, "supervisor_opinion": "质量合格"},
        actor="supervisor",
    )
    (task,) = open_tasks(session, instance.id)
    assert (task.element_id, task.candidate_group) == ("owner_acceptance", f"unit.{world.owner.id}")
    complete(
        session,
        instance.id,
        "owner_acceptance",
        {"owner_approved": True, "owner_opinion": "同意"},
        actor="applicant",
    )

    # Conditions met: the payment request exists and waits for finance.
    first = _milestones(session, contract.id)[0]
    assert first.state == "requested" and first.accepted_at == datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    assert [(h["step"], h["passed"]) for h in first.acceptance_history] == [
        ("supervisor", True),
        ("owner", True),
    ]
    payment = _payment(session, first.id)
    assert payment.number == f"FK-2026-{first.id:08d}"
    assert (payment.state, payment.amount, payment.year) == ("requested", Decimal("300000.00"), 2026)
    assert session.get(BudgetLine, payment.budget_line_id).source == "省级财政资金"
    (task,) = open_tasks(session, instance.id)
    assert (task.element_id, task.candidate_group) == ("finance_approval", "cz.finance")
    # 5 working days from Monday 2 March: end of Monday 9 March, Shanghai.
    assert task.due_at == datetime(2026, 3, 9, 16, 0, tzinfo=UTC)
    assert not list(outbox.glob("*.json"))

    complete(
        session,
        instance.id,
        "finance_approval",
        {"finance_approved": True, "finance_opinion": "同意拨付"},
        actor="cz_finance",
    )
    session.expire_all()
    payment = _payment(session, first.id)
    assert payment.state == "submitted" and payment.reference == f"file:{payment.number}.json"
    dropped = json.loads((outbox / f"{payment.number}.json").read_text(encoding="utf-8"))
    assert dropped["amount"] == "300000.00" and dropped["payment_number"] == payment.number
    assert (dropped["payee_name"], dropped["budget_source"], dropped["project_code"]) == (
        "浙江省建工集团有限责任公司",
        "省级财政资金",
        PROJECT_CODE,
    )
    assert dropped["finance_opinion"] == "同意拨付"
    wait = session.scalar(sa.select(MessageWait).filter_by(instance_id=instance.id))
    assert (wait.name, wait.correlation_key) == ("disbursement_confirmed", payment.number)

    # Another payment number reaches nobody; this one completes the milestone.
    other = workflow.correlate_message(
        session=session,
        name="disbursement_confirmed",
        payload={"voucher": "X", "amount": "300000.00"},
        correlation_key="FK-0",
    )
    assert other.delivered_to == []
    result = workflow.correlate_message(
        session=session,
        name="disbursement_confirmed",
        payload={"voucher": "GKZF-2026-000088", "amount": "300000.00"},
        correlation_key=payment.number,
    )
    session.commit()
    assert result.delivered_to == [instance.id]
    session.expire_all()
    assert session.get(ProcessInstance, instance.id).state == "completed"
    payment = _payment(session, first.id)
    assert (payment.state, payment.voucher) == ("disbursed", "GKZF-2026-000088")
    first, second, third = _milestones(session, contract.id)
    assert (first.state, second.state, third.state) == ("paid", "open", "locked")
    follow_up = session.get(ProcessInstance, second.instance_id)
    assert follow_up.business_key == PROJECT_CODE and follow_up.state == "running"
    assert [t.element_id for t in open_tasks(session, follow_up.id)] == ["request_acceptance"]
    assert service.budget_available(session=session, project_id=world.project.id, year=2026) == Decimal(
        "300000.00"
    )


def test_open_major_ticket_blocks_until_closed_and_rechecked(session, world, clock):
    _budget(session, world, "600000.00")
    contract = new_contract(session, world)
    minor = open_ticket(session, world.project, number="ZG-2026-000001", severity="general")
    major = open_ticket(session, world.project, number="ZG-2026-000002", severity="major")
    session.commit()
    first = _milestones(session, contract.id)[0]
    accept(session, first.instance_id)

    first = _milestones(session, contract.id)[0]
    assert first.state == "blocked"
    assert first.blocked_reasons == [
        "项目有未关闭的重大及以上整改工单: ZG-2026-000002 (重大)"
    ]  # not the general one
    assert _payment(session, first.id) is None
    assert open_tasks(session, first.instance_id) == []
    wait = session.scalar(sa.select(MessageWait).filter_by(instance_id=first.instance_id))
    assert (wait.name, wait.business_key) == ("release_conditions_changed", PROJECT_CODE)

    # A change that does not lift the block: checked again, still blocked, still waiting.
    result = workflow.correlate_message(
        session=session,
        name="release_conditions_changed",
        payload={"reason": "ticket_closed"},
        business_key=PROJECT_CODE,
    )
    session.commit()
    assert result.delivered_to == [first.instance_id]
    assert _milestones(session, contract.id)[0].state == "blocked"
    assert session.scalar(sa.select(MessageWait.name).filter_by(instance_id=first.instance_id)) == (
        "release_conditions_changed"
    )

    # The tickets process closes the ticket and sends the message.
    session.get(type(major), major.id).status = "closed"
    session.commit()
    workflow.correlate_message(
        session=session,
        name="release_conditions_changed",
        payload={"ticket": major.number},
        business_key=PROJECT_CODE,
    )
    session.commit()
    first = _milestones(session, contract.id)[0]
    assert first.state == "requested" and first.blocked_reasons == []
    assert _payment(session, first.id).state == "requested"
    assert [t.element_id for t in open_tasks(session, first.instance_id)] == ["finance_approval"]
    assert minor.status != "closed"
    checks = session.scalars(
        sa.select(Event.id).filter_by(instance_id=first.instance_id, kind="message.caught")
    ).all()
    assert len(checks) == 2


def test_budget_blocks_until_add_budget_sends_the_change(session, world, clock):
    _budget(session, world, "100000.00")
    contract = new_contract(session, world)
    session.commit()
    first = _milestones(session, contract.id)[0]
    accept(session, first.instance_id)
    first = _milestones(session, contract.id)[0]
    assert first.state == "blocked"
    (reason,) = first.blocked_reasons
    assert "2026 年度可用预算不足" in reason and "本次需付 300,000.00 元" in reason

    # Another source of 250,000: a payment draws on one source, so still not enough.
    _budget(session, world, "250000.00", source="市级配套资金")
    jobs.drain()
    first = _milestones(session, contract.id)[0]
    assert first.state == "blocked" and "市级配套资金" in first.blocked_reasons[0]

    # Topping the first source up to 350,000 releases it: add_budget enqueued the message.
    service.add_budget(
        session=session, project_id=world.project.id, year=2026, source="省级财政资金", amount="250000.00"
    )
    session.commit()
    assert _milestones(session, contract.id)[0].state == "blocked"  # nothing happens before delivery
    jobs.drain()
    first = _milestones(session, contract.id)[0]
    assert first.state == "requested"
    payment = _payment(session, first.id)
    line = session.get(BudgetLine, payment.budget_line_id)
    assert (line.source, line.amount) == ("省级财政资金", Decimal("350000.00"))
    assert [t.element_id for t in open_tasks(session, first.instance_id)] == ["finance_approval"]


def test_rejected_acceptance_goes_back_to_the_contractor(session, world, clock):
    _budget(session, world, "600000.00")
    contract = new_contract(session, world)
    session.commit()
    instance_id = _milestones(session, contract.id)[0].instance_id

    complete(
        session, instance_id, "request_acceptance", {"work_summary": "第一次", "completed_on": "2026-03-01"}
    )
    complete(
        session,
        instance_id,
        "supervisor_acceptance",
        {"supervisor_approved": False, "supervisor_opinion": "钢筋保护层厚度不足, 整改"},
    )
    first = _milestones(session, contract.id)[0]
    assert first.state == "open" and first.accepted_at is None
    assert first.acceptance_history[-1]["opinion"] == "钢筋保护层厚度不足, 整改"
    (task,) = open_tasks(session, instance_id)
    assert (task.element_id, task.candidate_group) == ("request_acceptance", f"unit.{world.contractor.id}")

    # Second round: the supervisor passes, the owner does not.
    complete(
        session, instance_id, "request_acceptance", {"work_summary": "已整改", "completed_on": "2026-03-02"}
    )
    complete(
        session,
        instance_id,
        "supervisor_acceptance",
        {"supervisor_approved": True, "supervisor_opinion": "整改合格"},
    )
    complete(session, instance_id, "owner_acceptance", {"owner_approved": False, "owner_opinion": "资料不全"})
    first = _milestones(session, contract.id)[0]
    assert first.state == "open"
    assert [(h["step"], h["passed"]) for h in first.acceptance_history] == [
        ("supervisor", False),
        ("owner", False),
    ]
    assert [t.element_id for t in open_tasks(session, instance_id)] == ["request_acceptance"]
    assert _payment(session, first.id) is None

    # Third round passes.
    accept(session, instance_id)
    assert _milestones(session, contract.id)[0].state == "requested"


def test_finance_return_blocks_until_the_owner_resubmits(session, world, clock):
    _budget(session, world, "600000.00")
    contract = new_contract(session, world)
    session.commit()
    first = _milestones(session, contract.id)[0]
    accept(session, first.instance_id)
    number = _payment(session, first.id).number

    complete(
        session,
        first.instance_id,
        "finance_approval",
        {"finance_approved": False, "finance_opinion": "缺少监理签认的工程量清单"},
    )
    first = _milestones(session, contract.id)[0]
    assert first.state == "blocked"
    assert first.blocked_reasons == ["财政资金拨付审核退回: 缺少监理签认的工程量清单"]
    assert _payment(session, first.id).state == "rejected"
    assert service.budget_available(session=session, project_id=world.project.id, year=2026) == Decimal(
        "600000.00"
    )
    (task,) = open_tasks(session, first.instance_id)
    assert (task.element_id, task.candidate_group) == ("resubmit_payment", f"unit.{world.owner.id}")

    complete(session, first.instance_id, "resubmit_payment", {"resubmit_note": "已补充工程量清单"})
    session.expire_all()
    payment = _payment(session, first.id)
    assert (payment.number, payment.state) == (number, "requested")  # the same request, renewed
    assert [t.element_id for t in open_tasks(session, first.instance_id)] == ["finance_approval"]


def test_disbursement_with_the_wrong_amount_is_refused(app, session, world, clock):
    app.config["SERVICE_TASK_RETRIES"] = 0
    try:
        _budget(session, world, "600000.00")
        contract = new_contract(session, world)
        session.commit()
        first = _milestones(session, contract.id)[0]
        accept(session, first.instance_id)
        complete(
            session,
            first.instance_id,
            "finance_approval",
            {"finance_approved": True, "finance_opinion": "同意"},
        )
        number = _payment(session, first.id).number
        workflow.correlate_message(
            session=session,
            name="disbursement_confirmed",
            payload={"voucher": "V-1", "amount": "300000.01"},
            correlation_key=number,
        )
        session.commit()
    finally:
        app.config["SERVICE_TASK_RETRIES"] = 3
    session.expire_all()
    assert _payment(session, first.id).state == "submitted"
    assert [m.state for m in _milestones(session, contract.id)] == ["requested", "locked", "locked"]
    incident = session.scalar(sa.select(Incident).filter_by(instance_id=first.instance_id, state="open"))
    assert (incident.operation, incident.error_type) == (
        "contracts.confirm_disbursement",
        "InvalidDisbursement",
    )
    assert "与申请金额 300,000.00 元不符" in incident.message


def test_each_milestone_gets_its_own_instance_in_order(session, world, clock):
    """Paying milestone 2 opens 3; paying the last one opens nothing."""
    _budget(session, world, "1000000.00")
    contract = new_contract(
        session,
        world,
        milestones=[{"name": "进度款", "percentage": "60"}, {"name": "结算款", "percentage": "40"}],
    )
    session.commit()
    for expected_amount in ("600000.00", "400000.00"):
        milestone = next(m for m in _milestones(session, contract.id) if m.state == "open")
        accept(session, milestone.instance_id)
        complete(
            session,
            milestone.instance_id,
            "finance_approval",
            {"finance_approved": True, "finance_opinion": "同意"},
        )
        payment = _payment(session, milestone.id)
        assert payment.amount == Decimal(expected_amount)
        workflow.correlate_message(
            session=session,
            name="disbursement_confirmed",
            payload={"voucher": f"V-{milestone.seq}", "amount": expected_amount},
            correlation_key=payment.number,
        )
        session.commit()
    milestones = _milestones(session, contract.id)
    assert [m.state for m in milestones] == ["paid", "paid"]
    assert len({m.instance_id for m in milestones}) == 2
    assert service.committed_amount(session=session, contract_id=contract.id) == Decimal("1000000.00")
    data = load_run(host_context(session), session.get(ProcessInstance, milestones[1].instance_id)).data
    assert data["disbursed"] == {
        "payment_number": payment.number,
        "next_milestone_id": None,
        "next_instance_id": None,
    }


def test_finance_approval_is_reminded_then_escalated_in_working_days(session, world, clock):
    _budget(session, world, "600000.00")
    contract = new_contract(session, world)
    session.commit()
    instance_id = _milestones(session, contract.id)[0].instance_id
    accept(session, instance_id)
    # Reminder after 4 working days: end of Friday 6 March (Shanghai); the limit is Monday 9 March.
    timer = session.get(Timer, instance_id)
    assert (timer.element_id, timer.due_at) == ("finance_remind", datetime(2026, 3, 6, 16, 0, tzinfo=UTC))

    clock.move_to(datetime(2026, 3, 7, 1, 0, tzinfo=UTC))
    workflow.schedule_due_timers(session=session)
    session.commit()
    jobs.drain()
    session.expire_all()
    (task,) = open_tasks(session, instance_id)
    assert (
        task.element_id == "finance_approval" and task.reminded_at is not None and task.escalated_at is None
    )

    clock.move_to(datetime(2026, 3, 9, 16, 30, tzinfo=UTC))
    workflow.schedule_due_timers(session=session)
    session.commit()
    jobs.drain()
    session.expire_all()
    (task,) = open_tasks(session, instance_id)  # still with finance: marked and escalated, not taken away
    assert task.element_id == "finance_approval" and task.escalated_at is not None
    escalation = session.scalar(sa.select(Event).filter_by(instance_id=instance_id, kind="task.escalated"))
    assert escalation.detail["escalated_to"] == "cz.head"
    assert session.get(Timer, instance_id) is None
