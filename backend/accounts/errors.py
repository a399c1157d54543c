"""What sign-in and password changes refuse, with the message a user reads (zh-CN).

Messages are lazy: `str(exc)` gives them in the language of the request that shows them
(English from backend/translations), and in Chinese outside a request.
"""

from flask_babel import lazy_gettext as _l

from backend.i18n import LazyJoin


class AccountError(Exception):
    message = _l("账号操作失败")

    def __init__(self, message: str | None = None, **data):
        self.data = data
        super().__init__(message or self.message)


class InvalidCredentials(AccountError):
    """Unknown user, wrong password, no password yet or disabled: never say which."""

    message = _l("用户名或密码错误")

    def __init__(self):
        super().__init__()


class WeakPassword(AccountError):
    """The new password breaks the policy; `problems` lists every rule it breaks."""

    def __init__(self, problems: list[str]):
        super().__init__(
            _l("密码不符合要求: %(problems)s", problems=LazyJoin(problems, "; ")), problems=problems
        )
        self.problems = problems


class WrongCurrentPassword(AccountError):
    message = _l("当前密码不正确")

    def __init__(self):
        super().__init__()


class PasswordReused(AccountError):
    def __init__(self, count: int):
        super().__init__(_l("新密码不能与最近 %(n)s 次使用过的密码相同", n=count))


class AccountLocked(AccountError):
    """Too many failures for the account or from the address: said before any password check."""

    def __init__(self, scope: str, minutes: int):
        if scope == "address":
            message = _l("该地址登录失败次数过多, 已被锁定, 请 %(n)s 分钟后再试", n=minutes)
        else:
            message = _l("账号因连续登录失败已被锁定, 请 %(n)s 分钟后再试或联系系统管理员解锁", n=minutes)
        super().__init__(message, scope=scope, minutes=minutes)
        self.scope = scope
        self.minutes = minutes
