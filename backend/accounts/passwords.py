"""Password hashing (argon2id) and the password policy."""

import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l

from backend.accounts.errors import WeakPassword
from backend.i18n import LazyJoin

MIN_LENGTH = 8
MIN_CLASSES = 3
MAX_LENGTH = 128  # hashing cost is per byte; refuse absurd input before hashing

_hasher = PasswordHasher()  # argon2id with the library's recommended (RFC 9106 low-memory) parameters
# Verified against when the username is unknown, so a miss costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

_CLASSES = (
    (_l("小写字母"), lambda c: c in string.ascii_lowercase),
    (_l("大写字母"), lambda c: c in string.ascii_uppercase),
    (_l("数字"), lambda c: c in string.digits),
    (_l("符号"), lambda c: not c.isalnum() and not c.isspace()),
)
_CLASS_NAMES = LazyJoin([name for name, _test in _CLASSES], _l("、"))


def password_problems(password: str) -> list[str]:
    """Every policy rule the password breaks (empty when it is acceptable): lazy texts, Chinese
    outside a request."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(_l("长度至少 %(n)s 位", n=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        problems.append(_l("长度不能超过 %(n)s 位", n=MAX_LENGTH))
    present = sum(1 for _name, test in _CLASSES if any(test(c) for c in password))
    if present < MIN_CLASSES:
        problems.append(_l("需包含%(classes)s中的至少 %(n)s 类", classes=_CLASS_NAMES, n=MIN_CLASSES))
    return problems


def check_policy(password: str) -> None:
    """Raise WeakPassword listing the broken rules."""
    problems = password_problems(password)
    if problems:
        raise WeakPassword(problems)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches; a missing or corrupt hash never matches."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
