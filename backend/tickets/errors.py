"""What ticket actions refuse, with the message a user reads (zh-CN) and the data a caller needs."""


class TicketError(Exception):
    message = "整改工单操作失败"

    def __init__(self, message: str | None = None, **data):
        self.data = data
        super().__init__(message or self.message)


class InvalidTicketInput(TicketError):
    """Input refused; `errors` maps each field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("整改工单信息有误: " + "; ".join(errors.values()), errors=errors)


class TicketNotFound(TicketError):
    def __init__(self, ticket_id: int):
        super().__init__(f"整改工单不存在: {ticket_id}", ticket_id=ticket_id)


class TicketClosed(TicketError):
    def __init__(self, number: str):
        super().__init__(f"整改工单 {number} 已关闭, 不能再办理", number=number)


class NotATicketTask(TicketError):
    """The task is not the expected step of a rectification ticket (or is already handled)."""

    def __init__(self, task_id: str, expected: str):
        super().__init__(f"任务 {task_id} 不是待办的{expected}任务", task_id=task_id, expected=expected)
