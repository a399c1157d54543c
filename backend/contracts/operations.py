"""Operations the `milestone_payment` diagram calls from its service tasks.

Each is a thin call of a rule in service.py with the instance's unit of work; results are
plain JSON (money as strings).
"""

from backend.contracts import service
from backend.workflow.registry import OperationContext, operation


@operation(
    "contracts.begin_acceptance", description="施工单位申请验收: 里程碑进入验收中", params=("milestone_id",)
)
def begin_acceptance(ctx: OperationContext, *, milestone_id) -> dict:
    milestone = service.begin_acceptance(session=ctx.session, milestone_id=int(milestone_id))
    return {"state": milestone.state}


@operation(
    "contracts.reject_acceptance",
    description="验收不通过: 里程碑回到待申请验收, 施工单位整改后可再次申请",
    params=("milestone_id", "step", "opinion"),
)
def reject_acceptance(ctx: OperationContext, *, milestone_id, step, opinion=None) -> dict:
    milestone = service.reject_acceptance(
        session=ctx.session, milestone_id=int(milestone_id), step=str(step), opinion=opinion, now=ctx.now
    )
    return {"state": milestone.state, "step": step}


@operation(
    "contracts.accept_milestone",
    description="监理和建设单位验收均通过: 记录验收",
    params=("milestone_id", "supervisor_opinion", "owner_opinion"),
)
def accept_milestone(
    ctx: OperationContext, *, milestone_id, supervisor_opinion=None, owner_opinion=None
) -> dict:
    milestone = service.record_acceptance(
        session=ctx.session,
        milestone_id=int(milestone_id),
        supervisor_opinion=supervisor_opinion,
        owner_opinion=owner_opinion,
        now=ctx.now,
    )
    return {"accepted_at": milestone.accepted_at.isoformat()}


@operation(
    "contracts.check_release",
    description="检查付款条件 (验收、重大整改工单、合同金额、年度预算); 满足则生成付款申请, 否则付款受阻",
    params=("milestone_id",),
)
def check_release(ctx: OperationContext, *, milestone_id) -> dict:
    check = service.request_payment(session=ctx.session, milestone_id=int(milestone_id), now=ctx.now)
    return check.to_json()


@operation(
    "contracts.submit_payment",
    description="财政审核通过: 将付款申请提交预算管理一体化系统",
    params=("payment_number", "opinion"),
)
def submit_payment(ctx: OperationContext, *, payment_number, opinion=None) -> dict:
    payment = service.submit_payment(
        session=ctx.session, number=str(payment_number), opinion=opinion, now=ctx.now
    )
    return {"payment_number": payment.number, "reference": payment.reference, "amount": str(payment.amount)}


@operation(
    "contracts.return_payment",
    description="财政审核退回: 付款申请作废, 里程碑付款受阻, 待建设单位补正后重新申请",
    params=("payment_number", "opinion"),
)
def return_payment(ctx: OperationContext, *, payment_number, opinion=None) -> dict:
    payment = service.return_payment(
        session=ctx.session, number=str(payment_number), opinion=opinion, now=ctx.now
    )
    return {"payment_number": payment.number, "state": payment.state}


@operation(
    "contracts.confirm_disbursement",
    description="预算系统确认拨付: 付款已拨付, 里程碑已付, 解锁下一个里程碑",
    params=("payment_number", "confirmation"),
)
def confirm_disbursement(ctx: OperationContext, *, payment_number, confirmation) -> dict:
    following = service.confirm_disbursement(
        session=ctx.session,
        number=str(payment_number),
        confirmation=confirmation,
        now=ctx.now,
        started_by=f"instance:{ctx.instance_id}",
    )
    return {
        "payment_number": str(payment_number),
        "next_milestone_id": following.id if following else None,
        "next_instance_id": following.instance_id if following else None,
    }
