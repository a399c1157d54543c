"""What workflow actions refuse, with the message a user reads (zh-CN) and the data a caller needs.

Messages are lazy, as in tasks/errors.py: `str(exc)` gives them in the language of the request
that shows them (the cockpit's and the task page's refusals in English on English pages), and in
Chinese outside a request.
"""

from flask_babel import lazy_gettext as _l

# Reasons the service passes as text, shown in the request's language.
_REASONS = {
    "只能退回到本任务之前已办理的步骤": _l("只能退回到本任务之前已办理的步骤"),
    "下一步已有人办理, 不能撤回": _l("下一步已有人办理, 不能撤回"),
    "只能撤回本人办理的任务": _l("只能撤回本人办理的任务"),
    "变量名无效": _l("变量名无效"),
    "变量名须为字母、数字或下划线组成的标识符": _l("变量名须为字母、数字或下划线组成的标识符"),
}


class WorkflowError(Exception):
    message = _l("流程操作失败")

    def __init__(self, message: str | None = None, **data):
        self.data = data
        super().__init__(message or self.message)


class ProcessNotFound(WorkflowError):
    def __init__(self, key: str):
        super().__init__(_l("流程未部署: %(key)s", key=key), key=key)


class InstanceNotFound(WorkflowError):
    def __init__(self, instance_id: int):
        super().__init__(_l("流程实例不存在: %(id)s", id=instance_id), instance_id=instance_id)


class TaskNotFound(WorkflowError):
    def __init__(self, task_id: str):
        super().__init__(_l("任务不存在: %(id)s", id=task_id), task_id=task_id)


class TaskAlreadyHandled(WorkflowError):
    """Someone else completed (or the process cancelled) the task first."""

    def __init__(self, task_id: str):
        super().__init__(_l("该任务已被处理, 请刷新待办列表"), task_id=task_id)


class InstanceNotActive(WorkflowError):
    def __init__(self, instance_id: int, state: str):
        super().__init__(
            _l("流程实例当前状态为 %(state)s, 不能执行该操作", state=state),
            instance_id=instance_id,
            state=state,
        )


class ConcurrentModification(WorkflowError):
    def __init__(self, instance_id: int):
        super().__init__(_l("流程实例已被其他操作修改, 请重试"), instance_id=instance_id)


class IncidentNotFound(WorkflowError):
    def __init__(self, incident_id: int):
        super().__init__(_l("异常记录不存在或已处理: %(id)s", id=incident_id), incident_id=incident_id)


class CannotReturn(WorkflowError):
    def __init__(self, task_id: str, reason: str = "只能退回到本任务之前已办理的步骤"):
        super().__init__(_REASONS.get(reason, reason), task_id=task_id)


class CannotWithdraw(WorkflowError):
    def __init__(self, task_id: str, reason: str = "下一步已有人办理, 不能撤回"):
        super().__init__(_REASONS.get(reason, reason), task_id=task_id)


class ReasonRequired(WorkflowError):
    def __init__(self):
        super().__init__(_l("请填写理由"))


class NotAnEngineTask(WorkflowError):
    """A 加签 step the inbox made: it is signed, never completed, returned or withdrawn."""

    def __init__(self, task_id: str):
        super().__init__(_l("这是加签任务, 只能签署意见"), task_id=task_id)


class InstanceSuspended(WorkflowError):
    """An operator suspended the instance (挂起): nothing moves until it is resumed."""

    def __init__(self, instance_id: int):
        super().__init__(_l("流程实例已挂起, 暂不能办理; 请联系运维人员恢复后再试"), instance_id=instance_id)


class VariableNotEditable(WorkflowError):
    def __init__(self, instance_id: int, reason: str = "变量名无效"):
        super().__init__(_REASONS.get(reason, reason), instance_id=instance_id)
