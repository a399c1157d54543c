"""What sign-in and password changes refuse, with the message a user reads (zh-CN)."""


class AccountError(Exception):
    message = "账号操作失败"

    def __init__(self, message: str | None = None, **data):
        self.data = data
        super().__init__(message or self.message)


class InvalidCredentials(AccountError):
    """Unknown user, wrong password, no password yet or disabled: never say which."""

    message = "用户名或密码错误"

    def __init__(self):
        super().__init__()


class WeakPassword(AccountError):
    """The new password breaks the policy; `problems` lists every rule it breaks."""

    def __init__(self, problems: list[str]):
        super().__init__("密码不符合要求: " + "; ".join(problems), problems=problems)
        self.problems = problems


class WrongCurrentPassword(AccountError):
    message = "当前密码不正确"

    def __init__(self):
        super().__init__()
