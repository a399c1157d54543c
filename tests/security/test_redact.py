"""No secrets in logs: the filter on the platform's log handler masks passwords, tokens, API
keys, Authorization headers, webhook secrets and TOTP/recovery codes, in the message and in
`extra=` fields, whatever logger wrote them."""

import io
import json
import logging

import pytest

from backend.logs import JsonFormatter
from backend.security.redact import MASK, redact_text


@pytest.fixture()
def platform_log(app):
    """What the platform's own JSON handler (configured by create_app) writes."""
    handler = next(h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter))
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


def _entries(stream) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


SECRETS = [
    "Hunter2-Secret!",
    "bpm_AbCdEfGh12345678IjKlMnOpQrStUvWxYz0123456789ab",
    "whsec_demo_budget_disbursement_2026",
    "eyJhbGciOiJIUzI1NiJ9.payload.sig",
    "482913",
    "dXNlcjpwYXNzd29yZA==",
]


def test_extra_fields_named_like_secrets_are_masked(app, platform_log):
    log = logging.getLogger("backend.anything")
    log.warning(
        "user.signed_in",
        extra={
            "username": "zhangsan",
            "password": SECRETS[0],
            "api_key": SECRETS[1],
            "hook_secret": SECRETS[2],
            "headers": {"Authorization": "Bearer " + SECRETS[3], "Accept": "application/json"},
            "totp_code": SECRETS[4],
            "form": {"new_password": SECRETS[0], "recovery_codes": ["abcd-efgh"], "remark": "ok"},
        },
    )
    (entry,) = _entries(platform_log)
    text = json.dumps(entry, ensure_ascii=False)
    for secret in SECRETS[:5]:
        assert secret not in text
    assert entry["username"] == "zhangsan"  # what is not a secret stays readable
    assert entry["password"] == MASK
    assert entry["headers"] == {"Authorization": MASK, "Accept": "application/json"}
    assert entry["form"]["remark"] == "ok" and entry["form"]["new_password"] == MASK


def test_secrets_inside_messages_are_masked(app, platform_log):
    log = logging.getLogger("some.library")
    log.info("connect password=%s token: %s", SECRETS[0], "abc123def456")
    log.info('payload {"api_key": "%s", "name": "x"}', SECRETS[1])
    log.info("Authorization: Basic %s", SECRETS[5])
    log.info("outbound call signed with %s", SECRETS[2])
    log.info("The CSRF token is missing.")  # prose about a token stays as it was
    text = platform_log.getvalue()
    for secret in (SECRETS[0], SECRETS[1], SECRETS[2], SECRETS[5], "abc123def456"):
        assert secret not in text
    events = [e["event"] for e in _entries(platform_log)]
    assert events[0] == f"connect password={MASK} token: {MASK}"
    assert events[1] == f'payload {{"api_key": "{MASK}", "name": "x"}}'
    assert events[-1] == "The CSRF token is missing."


def test_exception_text_is_masked(app, platform_log):
    try:
        raise ValueError(f"could not connect: password={SECRETS[0]}")
    except ValueError:
        logging.getLogger("backend.x").exception("failed")
    (entry,) = _entries(platform_log)
    assert SECRETS[0] not in entry["exc"] and "password=***" in entry["exc"]


def test_a_failed_sign_in_logs_no_password(app, session, platform_log, caplog):
    caplog.set_level(logging.DEBUG)
    app.test_client().post("/login", data={"username": "nobody", "password": SECRETS[0]})
    assert SECRETS[0] not in platform_log.getvalue()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "DATABASE_URL=postgresql://bpm:pw@db/bpm secret=abc",
            "DATABASE_URL=postgresql://bpm:***@db/bpm secret=***",
        ),
        ("redis://:s3cret@redis:6379/0", "redis://:***@redis:6379/0"),
        ("see https://example.gov.cn/a:b", "see https://example.gov.cn/a:b"),
        ("X-Signature: sha256=abcdef0123", "X-Signature: ***"),
        ("idempotency_key=abc-123", "idempotency_key=abc-123"),
        ("basic information about the project", "basic information about the project"),
    ],
)
def test_redact_text(text, expected):
    assert redact_text(text) == expected
