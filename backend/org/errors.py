"""What the org services refuse, with the message a user reads (zh-CN) and the data a caller needs."""


class OrgError(Exception):
    message = "组织机构数据错误"

    def __init__(self, message: str | None = None, **data):
        self.data = data
        super().__init__(message or self.message)


class RegionNotFound(OrgError):
    def __init__(self, code: str):
        super().__init__(f"行政区划代码不存在: {code}", code=code)
