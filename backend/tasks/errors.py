"""What the inbox operations refuse, with the message a user reads (zh-CN) and the data a caller needs.

Messages are lazy: `str(exc)` gives them in the language of the request that shows them
(English from backend/translations), and in Chinese outside a request.
"""

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from backend.i18n import LazyJoin
from backend.workdays.service import SHANGHAI

# The operation words services pass to NotAssignee: "只有当前办理人可以<word>".
_ACTIONS = {
    "办理该任务": lazy_pgettext("action", "办理该任务"),
    "退回签收": lazy_pgettext("action", "退回签收"),
    "转办": lazy_pgettext("action", "转办"),
    "委托": lazy_pgettext("action", "委托"),
    "抄送": lazy_pgettext("action", "抄送"),
    "加签": lazy_pgettext("action", "加签"),
    "移除加签人": lazy_pgettext("action", "移除加签人"),
    "签署": lazy_pgettext("action", "签署"),
}
# ReasonRequired's messages, whole (the English differs per operation).
_REASON_REQUIRED = {
    "转办": _l("请填写转办的理由"),
    "委托": _l("请填写委托的理由"),
    "意见": _l("请填写意见的理由"),
    "加签": _l("请填写加签的理由"),
}


class TaskActionError(Exception):
    message = _l("任务操作失败")

    def __init__(self, message: str | None = None, **data):
        self.data = data
        super().__init__(message or self.message)


class TaskNotOpen(TaskActionError):
    def __init__(self, task_id: str, state: str):
        super().__init__(_l("该任务已被处理, 请刷新待办列表"), task_id=task_id, state=state)


class NotCandidate(TaskActionError):
    def __init__(self, task_id: str, group: str | None, label=None):
        # `label`: the group in words (backend.org.groups); the data keeps the code.
        super().__init__(
            _l("您不在该任务的候选组 (%(group)s) 中, 不能签收", group=label or group or _l("无")),
            task_id=task_id,
            group=group,
        )


class AlreadyClaimed(TaskActionError):
    def __init__(self, task_id: str, assignee: str):
        super().__init__(
            _l("该任务已被 %(assignee)s 签收", assignee=assignee), task_id=task_id, assignee=assignee
        )


class NotAssignee(TaskActionError):
    def __init__(self, task_id: str, assignee: str | None, action: str):
        holder = _l("当前办理人为 %(assignee)s", assignee=assignee) if assignee else _l("该任务尚未签收")
        super().__init__(
            _l(
                "只有当前办理人可以%(action)s (%(holder)s)",
                action=_ACTIONS.get(action, action),
                holder=holder,
            ),
            task_id=task_id,
            assignee=assignee,
        )


class NotInGroupQueue(TaskActionError):
    def __init__(self, task_id: str):
        super().__init__(_l("该任务是直接指派给您的, 没有候选组可退回"), task_id=task_id)


class DelegationPending(TaskActionError):
    def __init__(self, task_id: str, delegate: str):
        super().__init__(
            _l("该任务正委托 %(delegate)s 提出意见, 等其答复后才能办理", delegate=delegate),
            task_id=task_id,
            delegate=delegate,
        )


class NoPendingDelegation(TaskActionError):
    def __init__(self, task_id: str):
        super().__init__(_l("没有委托您对该任务提出意见"), task_id=task_id)


class UnknownUser(TaskActionError):
    def __init__(self, username: str):
        super().__init__(_l("用户不存在或已停用: %(username)s", username=username), username=username)


class InvalidTarget(TaskActionError):
    def __init__(self, username: str):
        super().__init__(_l("不能转办、委托或抄送给自己"), username=username)


class ReasonRequired(TaskActionError):
    def __init__(self, action: str):
        message = _REASON_REQUIRED.get(action) or _l("请填写%(action)s的理由", action=action)
        super().__init__(message, action=action)


class NotInvolved(TaskActionError):
    def __init__(self, task_id: str):
        super().__init__(_l("只有流程参与人或承办部门负责人可以催办"), task_id=task_id)


class UrgedTooSoon(TaskActionError):
    def __init__(self, task_id: str, last_at):
        shown = last_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
        super().__init__(
            _l("该任务已于 %(time)s 催办过, 每个工作日最多催办一次", time=shown),
            task_id=task_id,
            last_at=last_at,
        )


class SignersPending(TaskActionError):
    def __init__(self, task_id: str, signers: list[str]):
        super().__init__(
            _l("加签人 %(signers)s 尚未签署, 签署后才能办理", signers=LazyJoin(signers, _l("、"))),
            task_id=task_id,
            signers=signers,
        )


class DecisionHeld(TaskActionError):
    def __init__(self, task_id: str, signers: list[str]):
        super().__init__(
            _l("您的决定已提交, 正等待后加签人 %(signers)s 签署", signers=LazyJoin(signers, _l("、"))),
            task_id=task_id,
            signers=signers,
        )


class InvalidSignPosition(TaskActionError):
    def __init__(self, position: str):
        super().__init__(_l("请选择在您之前还是之后加签"), position=position)


class AlreadySigner(TaskActionError):
    def __init__(self, username: str):
        super().__init__(_l("%(username)s 已是该任务的加签人", username=username), username=username)


class NotASigner(TaskActionError):
    def __init__(self, task_id: str):
        super().__init__(_l("该加签人已签署或已被移除, 不能再移除"), task_id=task_id)


class SignOnly(TaskActionError):
    def __init__(self, task_id: str):
        super().__init__(_l("这是加签任务, 只能签署意见"), task_id=task_id)
