"""What the file store refuses, with the message a user reads (zh-CN) and the data a caller needs."""


class FileRefused(Exception):
    """An upload was not stored. `reason` is one of: bad_name, empty, too_large,
    name_mismatch, type_not_allowed; `data` carries the details (name, size, type, limits)."""

    def __init__(self, reason: str, message: str, **data):
        self.reason = reason
        self.data = data
        super().__init__(message)


class FileMissing(LookupError):
    """No blob with this hash in FILES_DIR."""

    def __init__(self, sha256: str):
        self.sha256 = sha256
        super().__init__(f"文件不存在: {sha256}")
