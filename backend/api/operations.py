"""The operations of /api/v1: each one routed, authenticated (scope), its query and body loaded
with its marshmallow schemas, and recorded for the OpenAPI document (spec.py)."""

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps

from flask import Blueprint, request
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError

from backend.api.auth import Refused, authenticate
from backend.api.problems import problem

bp = Blueprint("api", __name__, url_prefix="/api/v1", template_folder="templates")


@dataclass
class Operation:
    method: str
    rule: str  # Flask's, e.g. /tasks/<task_id>/claim
    endpoint: str
    scope: str | None
    summary: str
    tag: str
    query: type[Schema] | None
    body: type[Schema] | None
    responses: dict[int, type[Schema] | None]
    path_params: dict[str, str] = field(default_factory=dict)  # name -> OpenAPI type
    description: str = ""

    @property
    def path(self) -> str:
        """The OpenAPI path: /api/v1/tasks/{task_id}/claim."""
        path = self.rule
        for name in self.path_params:
            path = path.replace(f"<int:{name}>", f"{{{name}}}").replace(f"<{name}>", f"{{{name}}}")
        return bp.url_prefix + path


OPERATIONS: list[Operation] = []
# The ids the API names (instances, projects, contracts, ...) are PostgreSQL `integer`
# columns: a larger one in a path or cursor names nothing, and must not reach the database
# (PostgreSQL refuses it with "integer out of range"; SQLite would not notice).
MAX_ID = 2**31 - 1


def operation(
    method: str,
    rule: str,
    *,
    scope: str,
    summary: str,
    tag: str,
    query: type[Schema] | None = None,
    body: type[Schema] | None = None,
    responses: dict[int, type[Schema] | None],
    path_params: dict[str, str] | None = None,
    description: str = "",
):
    """`view(principal, *, args, body, **path)` returns (payload, status[, headers]) or a Response.
    The problem statuses every operation can answer are added to `responses` here."""

    def register(view: Callable):
        documented = dict(responses)
        documented.update({400: None, 401: None, 403: None, 500: None})
        if path_params:
            documented[404] = None
        if body is not None:
            documented.update({413: None, 415: None, 422: None})

        @wraps(view)
        def endpoint(**path):
            try:
                principal = authenticate(scope)
                args = _load_query(query) if query else None
                payload = _load_body(body) if body else None
                return view(principal, args=args, body=payload, **path)
            except Refused as refused:
                return refused.response

        bp.add_url_rule(rule, endpoint=view.__name__, view_func=endpoint, methods=[method])
        OPERATIONS.append(
            Operation(
                method=method.lower(),
                rule=rule,
                endpoint=f"api.{view.__name__}",
                scope=scope,
                summary=summary,
                tag=tag,
                query=query,
                body=body,
                responses=documented,
                path_params=path_params or {},
                description=description or (view.__doc__ or "").strip(),
            )
        )
        return endpoint

    return register


def _load_query(schema: type[Schema]) -> dict:
    try:
        return schema().load(request.args.to_dict())
    except ValidationError as exc:
        raise Refused(
            problem(400, _("查询参数无效"), _("请检查查询参数"), errors=field_errors(exc.messages))
        ) from None


def _load_body(schema: type[Schema]) -> dict:
    if not request.is_json:
        raise Refused(problem(415, _("不支持的媒体类型"), _("请求体须为 application/json")))
    data = request.get_json()  # malformed JSON: a 400 problem from the error handler
    if not isinstance(data, dict):
        raise Refused(problem(422, _("请求数据校验失败"), _("请求体须为 JSON 对象")))
    try:
        return schema().load(data)
    except ValidationError as exc:
        raise Refused(
            problem(422, _("请求数据校验失败"), _("请检查标出的字段"), errors=field_errors(exc.messages))
        ) from None


def field_errors(messages, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as {dotted field: [messages]} in the request's language."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for sub, texts in field_errors(value, name).items():
                flat.setdefault(sub, []).extend(texts)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        flat[prefix or "_body"] = [_translate(m) for m in messages]
    elif isinstance(messages, list):
        for i, value in enumerate(messages):
            flat.update(field_errors(value, f"{prefix}.{i}" if prefix else str(i)))
    else:
        flat[prefix or "_body"] = [_translate(str(messages))]
    return flat


def _translate(message: str) -> str:
    """marshmallow's English messages, the usual ones, said in the request's language."""
    known = {
        "Missing data for required field.": lambda: _("缺少必填字段"),
        "Unknown field.": lambda: _("未知字段"),
        "Field may not be null.": lambda: _("不能为空值"),
        "Not a valid string.": lambda: _("须为字符串"),
        "Not a valid integer.": lambda: _("须为整数"),
        "Not a valid boolean.": lambda: _("须为布尔值"),
        "Not a valid datetime.": lambda: _("须为 ISO 8601 日期时间"),
        "Not a valid mapping type.": lambda: _("须为 JSON 对象"),
        "Not a valid date.": lambda: _("须为日期 (YYYY-MM-DD)"),
        "Not a valid aware datetime.": lambda: _("须为带时区的 ISO 8601 日期时间"),
    }
    if message in known:
        return known[message]()
    if message.startswith("Must be one of:"):
        return _("须为以下之一: %(choices)s", choices=message.removeprefix("Must be one of:").strip(" ."))
    if message.startswith("Must be greater than or equal to") or message.startswith("Length must be"):
        return _("超出允许的范围: %(rule)s", rule=message)
    return message


# --- cursors ---------------------------------------------------------------------------------


def encode_cursor(values: list) -> str:
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, types: tuple[type, ...]) -> list:
    """The values of a cursor of ours; a 400 problem for anything else."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError(cursor)
        for value, kind in zip(values, types, strict=True):
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ValueError(cursor)
            if kind is int and not 0 <= value <= MAX_ID:
                raise ValueError(cursor)
        return values
    except (ValueError, TypeError, UnicodeDecodeError):
        raise Refused(bad_cursor()) from None


def bad_cursor():
    return problem(
        400, _("查询参数无效"), _("分页游标无效, 请从第一页重新开始"), errors={"cursor": [_("分页游标无效")]}
    )
