"""No secrets in logs: a logging filter that masks passwords, tokens, API keys, Authorization
headers, webhook secrets and TOTP/recovery codes in log records, whatever logged them.

Two nets: attributes passed through `extra=` (and dicts inside them) whose *name* says secret,
and secret-looking *text* anywhere in the message (key=value, "key": "value", Bearer/Basic
credentials, our own API-key and webhook-secret formats).
"""

from __future__ import annotations

import logging
import re

MASK = "***"

# Names (of extra attributes, dict keys, form fields, headers) whose values are secrets.
_SECRET_NAME = re.compile(
    r"(pass(word|wd)?|pwd|secret|token|api[_-]?key|apikey|authorization|cookie|credential"
    r"|totp|otp|recovery[_-]?codes?|private[_-]?key|signature|session[_-]?id)",
    re.IGNORECASE,
)
# key=value / key: value / "key": "value" where the key names a secret.
_KEY_VALUE = re.compile(
    r"""(?P<key>["']?[\w-]*(?:pass(?:word|wd)?|pwd|secret|token|api[_-]?key|apikey|totp|otp"""
    r"""|recovery[_-]?codes?|private[_-]?key|signature)["']?\s*[=:]\s*)"""
    r"""(?P<value>"[^"]*"|'[^']*'|[^\s,;&}\]]+)""",
    re.IGNORECASE,
)
# Credentials after an auth scheme ("Basic" capitalised: "basic information" is prose).
_AUTH_HEADER = re.compile(r"(?P<key>\b(?:[Bb]earer|BEARER|Basic|Digest)\s+)[A-Za-z0-9._~+/=-]{8,}")
# Our own secret formats: API keys (backend/api/keys.py) and webhook secrets (webhooks/signing.py).
# The password in a connection URL (postgresql://user:password@host/db, redis://:pw@host).
_URL_PASSWORD = re.compile(r"(?P<key>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s/]+(?=@)", re.IGNORECASE)
_OWN_FORMATS = re.compile(r"\b(?:bpm_[A-Za-z0-9_-]{16,}|whsec_[A-Za-z0-9_-]{8,})")


def redact_text(text: str) -> str:
    if not text:
        return text

    def _kv(match: re.Match) -> str:
        value = match.group("value")
        quote = value[0] if value[:1] in ("'", '"') else ""
        return f"{match.group('key')}{quote}{MASK}{quote}"

    text = _KEY_VALUE.sub(_kv, text)
    text = _AUTH_HEADER.sub(lambda m: m.group("key") + MASK, text)
    text = _URL_PASSWORD.sub(lambda m: m.group("key") + MASK, text)
    return _OWN_FORMATS.sub(MASK, text)


def redact_value(name: str | None, value):
    """A value found under `name`: masked when the name says secret, else searched inside."""
    if name and _SECRET_NAME.search(name) and value not in (None, "", [], {}):
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(None, v) for v in value)
    return value


_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class RedactingFilter(logging.Filter):
    """Rewrites the record in place (so every later handler sees the masked version); running
    it twice changes nothing more."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the formatter to report
            return True
        record.msg = redact_text(message)
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD:
                setattr(record, key, redact_value(key, value))
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Put the filter on every handler of the root logger (handler filters see every record
    that propagates to them; logger filters would see only the logger's own)."""
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
