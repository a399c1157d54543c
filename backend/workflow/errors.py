"""What workflow actions refuse, with the message a user reads (zh-CN) and the data a caller needs."""


class WorkflowError(Exception):
    message = "流程操作失败"

    def __init__(self, message: str | None = None, **data):
        self.data = data
        super().__init__(message or self.message)


class ProcessNotFound(WorkflowError):
    def __init__(self, key: str):
        super().__init__(f"流程未部署: {key}", key=key)


class InstanceNotFound(WorkflowError):
    def __init__(self, instance_id: int):
        super().__init__(f"流程实例不存在: {instance_id}", instance_id=instance_id)


class TaskNotFound(WorkflowError):
    def __init__(self, task_id: str):
        super().__init__(f"任务不存在: {task_id}", task_id=task_id)


class TaskAlreadyHandled(WorkflowError):
    """Someone else completed (or the process cancelled) the task first."""

    def __init__(self, task_id: str):
        super().__init__("该任务已被处理, 请刷新待办列表", task_id=task_id)


class InstanceNotActive(WorkflowError):
    def __init__(self, instance_id: int, state: str):
        super().__init__(f"流程实例当前状态为 {state}, 不能执行该操作", instance_id=instance_id, state=state)


class ConcurrentModification(WorkflowError):
    def __init__(self, instance_id: int):
        super().__init__("流程实例已被其他操作修改, 请重试", instance_id=instance_id)


class IncidentNotFound(WorkflowError):
    def __init__(self, incident_id: int):
        super().__init__(f"异常记录不存在或已处理: {incident_id}", incident_id=incident_id)


class CannotReturn(WorkflowError):
    def __init__(self, task_id: str, reason: str = "只能退回到本任务之前已办理的步骤"):
        super().__init__(reason, task_id=task_id)


class CannotWithdraw(WorkflowError):
    def __init__(self, task_id: str, reason: str = "下一步已有人办理, 不能撤回"):
        super().__init__(reason, task_id=task_id)


class ReasonRequired(WorkflowError):
    def __init__(self):
        super().__init__("请填写理由")


class NotAnEngineTask(WorkflowError):
    """A 加签 step the inbox made: it is signed, never completed, returned or withdrawn."""

    def __init__(self, task_id: str):
        super().__init__("这是加签任务, 只能签署意见", task_id=task_id)


class InstanceSuspended(WorkflowError):
    """An operator suspended the instance (挂起): nothing moves until it is resumed."""

    def __init__(self, instance_id: int):
        super().__init__("流程实例已挂起, 暂不能办理; 请联系运维人员恢复后再试", instance_id=instance_id)


class VariableNotEditable(WorkflowError):
    def __init__(self, instance_id: int, reason: str = "变量名无效"):
        super().__init__(reason, instance_id=instance_id)
