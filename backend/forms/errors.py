"""What loading a form refuses, with the message a user reads (zh-CN)."""


class FormError(Exception):
    message = "表单错误"

    def __init__(self, message: str | None = None, **data):
        self.data = data
        super().__init__(message or self.message)


class FormNotFound(FormError):
    def __init__(self, name: str):
        super().__init__(f"表单不存在: {name}", name=name)


class InvalidFormName(FormError):
    def __init__(self, name: str):
        super().__init__(f"表单文件名不合法: {name}", name=name)


class InvalidFormSchema(FormError):
    def __init__(self, name: str, reason: str):
        super().__init__(f"表单定义无效: {name} ({reason})", name=name, reason=reason)
