"""Validating form data against its schema: JSON Schema 2020-12 with date and date-time
formats checked, each error a Chinese message keyed by the field's dotted path."""

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators

from backend.forms.schema import kind_of, option_value, options_of, resolve, schema_at

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})$")

FORMATS = FormatChecker(formats=())


@FORMATS.checks("date", raises=ValueError)
def _is_date(value) -> bool:
    if not isinstance(value, str):
        return True
    return bool(_DATE.match(value)) and bool(date.fromisoformat(value))


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value) -> bool:
    if not isinstance(value, str):
        return True
    return bool(_DATE_TIME.match(value)) and bool(datetime.fromisoformat(value.replace("z", "Z")))


@FORMATS.checks("money", raises=InvalidOperation)
def _is_money(value) -> bool:
    if not isinstance(value, str):
        return True
    amount = Decimal(value)
    return amount.is_finite() and amount.as_tuple().exponent >= -2


def _widget(validator, widget, instance, schema):
    """`x-widget: money` checks a money string like `format: money` does."""
    if widget == "money" and isinstance(instance, str) and "format" not in schema and not _money_ok(instance):
        yield ValidationError(f"{instance!r} is not money")


def _money_ok(value: str) -> bool:
    try:
        return _is_money(value)
    except InvalidOperation:
        return False


FormValidator = validators.extend(Draft202012Validator, {"x-widget": _widget})

_TYPE_NAMES = {
    "integer": "整数",
    "number": "数字",
    "string": "文本",
    "boolean": "是/否",
    "array": "列表",
    "object": "对象",
}

# Keywords whose failure at a path is reported before any other at that path.
_FIRST = ("required", "type", "format")


def validate(schema: dict, data: dict) -> dict[str, str]:
    """{"funding_sources.1.amount": "金额 (元)格式不正确", ...}; empty when the data is valid."""
    validator = FormValidator(schema, format_checker=FORMATS)
    found: dict[str, tuple[int, str]] = {}
    for error in validator.iter_errors(data):
        for path, message in _messages(schema, error):
            rank = _FIRST.index(error.validator) if error.validator in _FIRST else len(_FIRST)
            if path not in found or rank < found[path][0]:
                found[path] = (rank, message)
    return {path: message for path, (_, message) in found.items()}


def _messages(root: dict, error) -> list[tuple[str, str]]:
    path = list(error.absolute_path)
    keyword = error.validator
    if keyword == "required":
        instance = error.instance if isinstance(error.instance, dict) else {}
        out = []
        parent = schema_at(root, path)
        for name in error.validator_value:
            if name not in instance:
                if name in ("sha256", "name") and kind_of(parent, root) == "file":
                    message = f"请上传{parent.get('title') or '文件'}"
                else:
                    message = _required(schema_at(root, path + [name]), name, root)
                out.append((_dotted(path + [name]), message))
        return out
    node = schema_at(root, path)
    return [(_dotted(path), _message(root, node, _title(root, node, path), error))]


def _title(root: dict, node: dict, path: list) -> str:
    """The field's title; an untitled array item borrows its array's title."""
    if node.get("title"):
        return node["title"]
    if path and isinstance(path[-1], int):
        return _title(root, schema_at(root, path[:-1]), path[:-1])
    return str(path[-1]) if path else "表单"


def _dotted(path: list) -> str:
    return ".".join(str(p) for p in path)


def _custom(node: dict, keyword: str) -> str | None:
    custom = node.get("x-errorMessage")
    if isinstance(custom, str):
        return custom if keyword in ("pattern", "format") else None
    if isinstance(custom, dict):
        return custom.get(keyword)
    return None


def _required(node: dict, name: str, root: dict) -> str:
    custom = _custom(node, "required")
    if custom:
        return custom
    title = node.get("title") or name
    kind = kind_of(node, root) if node else "text"
    if kind in ("radio", "select", "multi", "checkbox"):
        return f"请选择{title}"
    if kind in ("file", "hashes"):
        return f"请上传{title}"
    return f"请填写{title}"


def _message(root: dict, node: dict, title: str, error) -> str:
    keyword = error.validator
    value = error.validator_value
    custom = _custom(node, keyword)
    if custom:
        return custom
    if keyword == "minLength":
        return f"请填写{title}" if value == 1 else f"{title}至少需要 {value} 个字"
    if keyword == "maxLength":
        return f"{title}不能超过 {value} 个字"
    if keyword == "minimum":
        return f"{title}不能小于 {value}"
    if keyword == "maximum":
        return f"{title}不能大于 {value}"
    if keyword == "exclusiveMinimum":
        return f"{title}须大于 {value}"
    if keyword == "exclusiveMaximum":
        return f"{title}须小于 {value}"
    if keyword == "multipleOf":
        return f"{title}须为 {value} 的整数倍"
    if keyword == "pattern":
        if re.search(r"\\S", value) and isinstance(error.instance, str) and not error.instance.strip():
            return f"请填写{title}"
        return f"{title}格式不正确"
    if keyword == "format":
        if value == "date":
            return "请输入有效日期"
        if value == "date-time":
            return "请输入有效的日期和时间"
        if value == "money":
            return f"{title}须为金额, 最多两位小数"
        return f"{title}格式不正确"
    if keyword == "x-widget":
        return f"{title}须为金额, 最多两位小数"
    if keyword == "type":
        wanted = value[0] if isinstance(value, list) else value
        if wanted == "boolean":
            return f"请选择{title}"
        if wanted in ("integer", "number"):
            return f"{title}须为{_TYPE_NAMES[wanted]}"
        return f"{title}格式不正确"
    if keyword in ("enum", "const") or (keyword in ("oneOf", "anyOf") and options_of(node) is not None):
        return f"请选择有效的{title}"
    if keyword == "minItems":
        return f"{title}至少需要 {value} 项"
    if keyword == "maxItems":
        return f"{title}最多 {value} 项"
    if keyword == "uniqueItems":
        return f"{title}不能有重复项"
    if keyword == "contains":
        return _contains(root, node, title, value)
    if keyword == "additionalProperties":
        extra = (
            sorted(set(error.instance) - set(node.get("properties") or {}))
            if isinstance(error.instance, dict)
            else []
        )
        return f"包含不允许的字段: {', '.join(extra)}"
    return f"{title}不符合要求"


def _contains(root: dict, node: dict, title: str, wanted) -> str:
    """ "申报材料须包含: 可行性研究报告" for `contains: {properties: {kind: {const: ...}}}`."""
    items = resolve(node.get("items"), root)
    props = (wanted or {}).get("properties") or {}
    for name, test in props.items():
        if isinstance(test, dict) and "const" in test:
            label = option_value(test["const"])
            options = options_of(resolve((items.get("properties") or {}).get(name), root)) or []
            for value, option_title in options:
                if option_value(value) == label:
                    label = option_title
            return f"{title}须包含: {label}"
    return f"{title}缺少必需的项"
