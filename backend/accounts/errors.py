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
