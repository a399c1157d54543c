"""Inbound hooks: configuration by an admin, and the rules of one signed call.

Order of checks (each its own status): unknown/disabled hook 404, body too large 413 (the
view reads at most the limit), missing/stale timestamp 401, bad signature 401, missing
idempotency key 400, malformed JSON 400, reused key with another body 422, mapping 422.
An accepted call writes its `inbound_delivery` row *before* acting, in the same
transaction: concurrent retries with one key meet on the unique (hook, key) index, the
losers wait for the winner's commit and answer with its stored result.
"""

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from sqlalchemy.exc import IntegrityError

from backend.db import utcnow
from backend.nul_guard import nul_paths
from backend.webhooks import signing
from backend.webhooks.models import ACTIONS, CORRELATE, START, InboundDelivery, InboundHook
from backend.workflow import service as workflow
from backend.workflow.errors import WorkflowError

log = logging.getLogger("backend.webhooks")

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,79}")
MAX_KEY_CHARS = 255


class HookRejected(Exception):
    """A refused call: `status`, a stable `code` for logs and clients, a Chinese message and,
    for mapping failures, the fields at fault (field -> messages)."""

    def __init__(self, status: int, code: str, message: str, *, errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors or {}


class HookConfigInvalid(ValueError):
    def __init__(self, problems: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


@dataclass
class Outcome:
    status: int
    body: dict
    replayed: bool = False
    delivery: InboundDelivery | None = field(default=None, repr=False)


# --- configuration ------------------------------------------------------------------------


def find_hook(*, session, name: str) -> InboundHook | None:
    return session.scalar(sa.select(InboundHook).filter_by(name=name))


def list_hooks(*, session) -> list[InboundHook]:
    return list(session.scalars(sa.select(InboundHook).order_by(InboundHook.name)))


def recent_deliveries(*, session, hook_id: int | None = None, limit: int = 50) -> list[InboundDelivery]:
    stmt = sa.select(InboundDelivery).order_by(InboundDelivery.id.desc()).limit(limit)
    if hook_id is not None:
        stmt = stmt.filter_by(hook_id=hook_id)
    return list(session.scalars(stmt))


HOOK_FIELDS = (
    "description",
    "action",
    "target",
    "variables",
    "payload_schema",
    "business_key_pointer",
    "correlation_key_pointer",
    "enabled",
    "replay_window_seconds",
    "max_body_bytes",
)


def create_hook(*, session, name: str, created_by: str | None = None, **config) -> tuple[InboundHook, str]:
    """A new hook and its secret (returned once: show it to the admin now)."""
    problems = _config_problems(config)
    if not NAME.fullmatch(name or ""):
        problems["name"] = "名称只能包含小写字母、数字、- 和 _ (最多 80 个字符)"
    elif find_hook(session=session, name=name) is not None:
        problems["name"] = "名称已被使用"
    if problems:
        raise HookConfigInvalid(problems)
    secret = signing.new_secret()
    now = utcnow()
    hook = InboundHook(
        name=name, secret=secret, created_by=created_by, created_at=now, updated_at=now, **_defaults(config)
    )
    session.add(hook)
    session.flush()
    return hook, secret


def update_hook(*, session, hook: InboundHook, **config) -> InboundHook:
    problems = _config_problems(config)
    if problems:
        raise HookConfigInvalid(problems)
    for key, value in _defaults(config).items():
        setattr(hook, key, value)
    hook.updated_at = utcnow()
    session.flush()
    return hook


def rotate_hook_secret(*, session, hook: InboundHook) -> str:
    """A new secret at once; calls signed with the old one are refused from now on."""
    hook.secret = signing.new_secret()
    hook.secret_rotated_at = hook.updated_at = utcnow()
    session.flush()
    return hook.secret


def _defaults(config: dict) -> dict:
    values = {key: config[key] for key in HOOK_FIELDS if key in config}
    values.setdefault("variables", {})
    values.setdefault("payload_schema", {})
    for key in ("business_key_pointer", "correlation_key_pointer"):
        if key in values:
            values[key] = values[key] or None
    return values


def _config_problems(config: dict) -> dict[str, str]:
    problems: dict[str, str] = {}
    unknown = set(config) - set(HOOK_FIELDS)
    if unknown:
        raise TypeError(f"unknown hook settings: {', '.join(sorted(unknown))}")
    if config.get("action") not in ACTIONS:
        problems["action"] = "动作必须是 start (发起流程) 或 correlate (关联消息)"
    if not str(config.get("target") or "").strip():
        problems["target"] = "请填写流程标识或消息名称"
    variables = config.get("variables") or {}
    if not isinstance(variables, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str) for k, v in variables.items()
    ):
        problems["variables"] = "变量映射必须是 {变量名: JSON 指针} 的对象"
    elif any(not _is_pointer(v) for v in variables.values()):
        problems["variables"] = "JSON 指针必须为空或以 / 开头"
    schema = config.get("payload_schema") or {}
    if not isinstance(schema, dict):
        problems["payload_schema"] = "JSON Schema 必须是对象"
    else:
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            problems["payload_schema"] = f"JSON Schema 无效: {exc.message}"
    for key in ("business_key_pointer", "correlation_key_pointer"):
        if config.get(key) and not _is_pointer(config[key]):
            problems[key] = "JSON 指针必须以 / 开头"
    for key, low, high in (("replay_window_seconds", 10, 86400), ("max_body_bytes", 1, 10 * 1024 * 1024)):
        value = config.get(key)
        if value is not None and (not isinstance(value, int) or not low <= value <= high):
            problems[key] = f"必须是 {low} 到 {high} 之间的整数"
    return problems


def _is_pointer(text: str) -> bool:
    return text == "" or text.startswith("/")


# --- one call -----------------------------------------------------------------------------


def receive(
    *,
    session,
    hook: InboundHook,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    idempotency_key: str | None,
    remote_addr: str | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Check, then act once per idempotency key. Raises HookRejected; flushes, never commits."""
    now = now or utcnow()
    _check_timestamp(hook, timestamp, now)
    if not signing.signature_matches(hook.secret, timestamp, body, signature):
        raise HookRejected(401, "bad_signature", "签名无效")
    key = (idempotency_key or "").strip()
    if not key:
        raise HookRejected(400, "missing_idempotency_key", "缺少 Idempotency-Key 请求头")
    if len(key) > MAX_KEY_CHARS:
        raise HookRejected(400, "idempotency_key_too_long", f"Idempotency-Key 最多 {MAX_KEY_CHARS} 个字符")
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise HookRejected(400, "malformed_json", f"请求体不是有效的 JSON: {exc}") from None
    if nul_paths(payload):  # PostgreSQL text cannot hold it: refused here, not a 500 later
        raise HookRejected(400, "malformed_json", "请求体包含 NUL (\\u0000) 字符")
    digest = hashlib.sha256(body).hexdigest()
    variables, business_key, correlation_key = map_payload(hook, payload)

    delivery = InboundDelivery(
        hook_id=hook.id,
        idempotency_key=key,
        body_sha256=digest,
        received_at=now,
        status="accepted",
        response_status=202,
        result={},
        remote_addr=(remote_addr or "")[:64] or None,
    )
    try:
        with session.begin_nested():
            session.add(delivery)
    except IntegrityError:
        # A retry: the unique key refuses the row (no read first: most calls are new keys).
        # Or another call with this key committed first (we waited on its index entry).
        earlier = _delivery(session, hook.id, key)
        if earlier is None:
            raise
        return _replay(earlier, digest)

    status, result = _act(session, hook, variables, business_key, correlation_key)
    delivery.response_status = status
    delivery.result = result
    session.flush()
    log.info(
        "webhook.inbound.accepted",
        extra={"hook": hook.name, "delivery_id": delivery.id, "idempotency_key": key, "result": result},
    )
    return Outcome(status, response_body(delivery, hook), delivery=delivery)


def _check_timestamp(hook: InboundHook, timestamp: str | None, now: datetime) -> None:
    try:
        sent = int((timestamp or "").strip())
    except ValueError:
        raise HookRejected(401, "missing_timestamp", "缺少或无法识别 X-Timestamp (Unix 秒)") from None
    if abs(now.timestamp() - sent) > hook.replay_window_seconds:
        raise HookRejected(
            401, "stale_timestamp", f"X-Timestamp 超出允许的时间窗口 ({hook.replay_window_seconds} 秒)"
        )


def _delivery(session, hook_id: int, key: str) -> InboundDelivery | None:
    return session.scalar(
        sa.select(InboundDelivery)
        .filter_by(hook_id=hook_id, idempotency_key=key)
        .execution_options(populate_existing=True)
    )


def _replay(earlier: InboundDelivery, digest: str) -> Outcome:
    if earlier.body_sha256 != digest:
        raise HookRejected(
            422, "idempotency_key_reused", "该 Idempotency-Key 已用于另一个不同的请求体", errors={}
        )
    return Outcome(
        earlier.response_status, response_body(earlier, earlier.hook), replayed=True, delivery=earlier
    )


def response_body(delivery: InboundDelivery, hook: InboundHook) -> dict:
    """The answer to a call, rebuilt from the stored row: a replay gets exactly this."""
    return {
        "delivery_id": delivery.id,
        "hook": hook.name,
        "idempotency_key": delivery.idempotency_key,
        "status": delivery.status,
        "received_at": delivery.received_at.isoformat(),
        "result": delivery.result,
    }


def map_payload(hook: InboundHook, payload) -> tuple[dict, str | None, str | None]:
    """Validate the payload against the hook's schema, then pick the variables and keys.
    Raises HookRejected(422) naming every field at fault."""
    errors: dict[str, list[str]] = {}
    if hook.payload_schema:
        validator = Draft202012Validator(hook.payload_schema)
        for error in sorted(validator.iter_errors(payload), key=lambda e: list(e.absolute_path)):
            where = _pointer_of(error.absolute_path)
            if error.validator == "required":
                missing = [name for name in error.validator_value if not _has(error.instance, name)]
                for name in missing:
                    errors.setdefault(f"{where}/{name}", []).append("必填")
                continue
            errors.setdefault(where or "/", []).append(error.message)
    if errors:
        raise HookRejected(422, "mapping_failed", "请求体不符合该接口的数据要求", errors=errors)

    variables = {}
    for name, pointer in (hook.variables or {}).items():
        try:
            variables[name] = resolve_pointer(payload, pointer)
        except LookupError:
            errors.setdefault(pointer or "/", []).append(f"缺少该字段 (映射到变量 {name})")
    keys = []
    for label, pointer in (("业务键", hook.business_key_pointer), ("关联键", hook.correlation_key_pointer)):
        if not pointer:
            keys.append(None)
            continue
        try:
            value = resolve_pointer(payload, pointer)
        except LookupError:
            errors.setdefault(pointer, []).append(f"缺少该字段 ({label})")
            keys.append(None)
            continue
        if not isinstance(value, str | int) or isinstance(value, bool) or str(value) == "":
            errors.setdefault(pointer, []).append(f"{label}必须是非空字符串或整数")
        keys.append(str(value))
    if errors:
        raise HookRejected(422, "mapping_failed", "请求体无法映射为流程变量", errors=errors)
    return variables, keys[0], keys[1]


def _has(instance, name: str) -> bool:
    return isinstance(instance, dict) and name in instance


def _pointer_of(path) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def resolve_pointer(document, pointer: str):
    """RFC 6901. Raises LookupError when the pointer names nothing."""
    if pointer == "":
        return document
    if not pointer.startswith("/"):
        raise LookupError(pointer)
    value = document
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
            value = value[int(token)]
        else:
            raise LookupError(pointer)
    return value


def _act(session, hook: InboundHook, variables: dict, business_key, correlation_key) -> tuple[int, dict]:
    actor = f"hook:{hook.name}"
    try:
        if hook.action == START:
            instance = workflow.start_instance(
                session=session,
                process_key=hook.target,
                data=variables,
                business_key=business_key,
                started_by=actor,
            )
            return 201, {
                "action": START,
                "instance_id": instance.id,
                "process_key": instance.process_key,
                "business_key": instance.business_key,
            }
        assert hook.action == CORRELATE
        outcome = workflow.correlate_message(
            session=session,
            name=hook.target,
            payload=variables,
            business_key=business_key,
            correlation_key=correlation_key,
            actor=actor,
        )
    except WorkflowError as exc:
        raise HookRejected(409, "workflow_refused", str(exc)) from exc
    if not outcome.delivered_to and not outcome.started:
        # Nothing stored: the sender may retry once the instance waits for the message.
        raise HookRejected(409, "no_receiver", f"没有流程实例在等待消息 {hook.target}")
    return 200, {
        "action": CORRELATE,
        "message": hook.target,
        "business_key": business_key,
        "correlation_key": correlation_key,
        "correlated_instances": list(outcome.delivered_to),
        "started_instances": list(outcome.started),
    }
