"""What the inbox operations refuse, with the message a user reads (zh-CN) and the data a caller needs."""

from backend.workdays.service import SHANGHAI


class TaskActionError(Exception):
    message = "任务操作失败"

    def __init__(self, message: str | None = None, **data):
        self.data = data
        super().__init__(message or self.message)


class TaskNotOpen(TaskActionError):
    def __init__(self, task_id: str, state: str):
        super().__init__("该任务已被处理, 请刷新待办列表", task_id=task_id, state=state)


class NotCandidate(TaskActionError):
    def __init__(self, task_id: str, group: str | None):
        super().__init__(f"您不在该任务的候选组 ({group or '无'}) 中, 不能签收", task_id=task_id, group=group)


class AlreadyClaimed(TaskActionError):
    def __init__(self, task_id: str, assignee: str):
        super().__init__(f"该任务已被 {assignee} 签收", task_id=task_id, assignee=assignee)


class NotAssignee(TaskActionError):
    def __init__(self, task_id: str, assignee: str | None, action: str):
        holder = f"当前办理人为 {assignee}" if assignee else "该任务尚未签收"
        super().__init__(f"只有当前办理人可以{action} ({holder})", task_id=task_id, assignee=assignee)


class NotInGroupQueue(TaskActionError):
    def __init__(self, task_id: str):
        super().__init__("该任务是直接指派给您的, 没有候选组可退回", task_id=task_id)


class DelegationPending(TaskActionError):
    def __init__(self, task_id: str, delegate: str):
        super().__init__(
            f"该任务正委托 {delegate} 提出意见, 等其答复后才能办理", task_id=task_id, delegate=delegate
        )


class NoPendingDelegation(TaskActionError):
    def __init__(self, task_id: str):
        super().__init__("没有委托您对该任务提出意见", task_id=task_id)


class UnknownUser(TaskActionError):
    def __init__(self, username: str):
        super().__init__(f"用户不存在或已停用: {username}", username=username)


class InvalidTarget(TaskActionError):
    def __init__(self, username: str):
        super().__init__("不能转办、委托或抄送给自己", username=username)


class ReasonRequired(TaskActionError):
    def __init__(self, action: str):
        super().__init__(f"请填写{action}的理由", action=action)


class NotInvolved(TaskActionError):
    def __init__(self, task_id: str):
        super().__init__("只有流程参与人或承办部门负责人可以催办", task_id=task_id)


class UrgedTooSoon(TaskActionError):
    def __init__(self, task_id: str, last_at):
        shown = last_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        super().__init__(
            f"该任务已于 {shown} 催办过, 每个工作日最多催办一次", task_id=task_id, last_at=last_at
        )


class SignersPending(TaskActionError):
    def __init__(self, task_id: str, signers: list[str]):
        super().__init__(
            f"加签人 {'、'.join(signers)} 尚未签署, 签署后才能办理", task_id=task_id, signers=signers
        )


class DecisionHeld(TaskActionError):
    def __init__(self, task_id: str, signers: list[str]):
        super().__init__(
            f"您的决定已提交, 正等待后加签人 {'、'.join(signers)} 签署", task_id=task_id, signers=signers
        )


class InvalidSignPosition(TaskActionError):
    def __init__(self, position: str):
        super().__init__("请选择在您之前还是之后加签", position=position)


class AlreadySigner(TaskActionError):
    def __init__(self, username: str):
        super().__init__(f"{username} 已是该任务的加签人", username=username)


class NotASigner(TaskActionError):
    def __init__(self, task_id: str):
        super().__init__("该加签人已签署或已被移除, 不能再移除", task_id=task_id)


class SignOnly(TaskActionError):
    def __init__(self, task_id: str):
        super().__init__("这是加签任务, 只能签署意见", task_id=task_id)
