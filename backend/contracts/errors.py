"""What the contract and payment services refuse, with the message a user reads (zh-CN) and
the data a caller needs."""


class ContractError(Exception):
    message = "合同或付款操作失败"

    def __init__(self, message: str | None = None, **data):
        self.data = data
        super().__init__(message or self.message)


class InvalidContract(ContractError):
    """The contract's clauses do not hold together; `problems` lists every reason (Chinese)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("合同条款无效: " + "; ".join(problems), problems=problems)


class ContractNumberTaken(ContractError):
    def __init__(self, number: str):
        super().__init__(f"合同编号已存在: {number}", number=number)


class ProjectNotFound(ContractError):
    def __init__(self, project_id: int):
        super().__init__(f"项目不存在: {project_id}", project_id=project_id)


class ContractNotFound(ContractError):
    def __init__(self, contract_id: int):
        super().__init__(f"合同不存在: {contract_id}", contract_id=contract_id)


class MilestoneNotFound(ContractError):
    def __init__(self, milestone_id: int):
        super().__init__(f"付款里程碑不存在: {milestone_id}", milestone_id=milestone_id)


class PaymentNotFound(ContractError):
    def __init__(self, number: str):
        super().__init__(f"付款申请不存在: {number}", number=number)


class InvalidAmount(ContractError):
    """Money is Decimal yuan with at most two places; floats are refused, never rounded."""

    def __init__(self, field: str, value):
        super().__init__(
            f"{field} 金额无效: {value!r} (须为不超过两位小数的正数金额, 单位: 元)",
            field=field,
            value=str(value),
        )


class MilestoneStateError(ContractError):
    """The milestone is not in a state that allows the action (e.g. paying a locked one)."""

    def __init__(self, milestone_id: int, state: str, action: str):
        super().__init__(
            f"里程碑当前状态为 {STATE_LABELS.get(state, state)}, 不能{action}",
            milestone_id=milestone_id,
            state=state,
            action=action,
        )


class PaymentStateError(ContractError):
    def __init__(self, number: str, state: str, action: str):
        super().__init__(
            f"付款申请 {number} 当前状态为 {PAYMENT_STATE_LABELS.get(state, state)}, 不能{action}",
            number=number,
            state=state,
            action=action,
        )


class PaymentAlreadyRequested(ContractError):
    """One payment per milestone: a second request (double click, race) is refused."""

    def __init__(self, milestone_id: int, number: str):
        super().__init__(
            f"该里程碑已有付款申请 {number}, 不能重复申请", milestone_id=milestone_id, number=number
        )


class InvalidDisbursement(ContractError):
    """The budget system's confirmation does not match the payment request."""

    def __init__(self, number: str, problem: str):
        super().__init__(f"付款 {number} 的拨付确认无效: {problem}", number=number, problem=problem)


class BudgetSystemNotConfigured(ContractError):
    def __init__(self, setting: str):
        super().__init__(f"预算系统配置无效: BUDGET_SYSTEM={setting!r}", setting=setting)


STATE_LABELS = {
    "locked": "未解锁",
    "open": "待申请验收",
    "accepting": "验收中",
    "blocked": "付款受阻",
    "requested": "付款申请中",
    "paid": "已拨付",
}

PAYMENT_STATE_LABELS = {
    "requested": "待财政审核",
    "approved": "财政已审核",
    "submitted": "已提交预算系统",
    "disbursed": "已拨付",
    "rejected": "已退回",
}
