"""Loading form schemas from FORMS_DIR and reading what a schema node asks for: its widget
kind, its options, its conditional sections."""

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app

from backend.forms.errors import FormNotFound, InvalidFormName, InvalidFormSchema

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\.json$")
_cache: dict[str, tuple[int, dict]] = {}
_lock = threading.Lock()

# The pattern real forms use for money kept as strings (yuan, at most two decimals).
MONEY_PATTERN = r"^\d{1,16}(\.\d{1,2})?$"
HASH_PATTERN = "^[0-9a-f]{64}$"


def check_name(name: str) -> None:
    """A form's name is a safe file name `x.json`, stored or in FORMS_DIR alike."""
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise InvalidFormName(name)


def load_form(name: str, *, forms_dir: str | Path | None = None) -> dict:
    """The parsed schema of forms/<name>, re-read only when the file changed."""
    check_name(name)
    base = Path(forms_dir or current_app.config["FORMS_DIR"]).resolve()
    path = (base / name).resolve()
    if path.parent != base:
        raise InvalidFormName(name)
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise FormNotFound(name) from None
    key = str(path)
    with _lock:
        cached = _cache.get(key)
        if cached and cached[0] == mtime:
            return cached[1]
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InvalidFormSchema(name, str(exc)) from None
    if not isinstance(schema, dict):
        raise InvalidFormSchema(name, "顶层须为对象")
    with _lock:
        _cache[key] = (mtime, schema)
    return schema


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def resolve(node, root: dict) -> dict:
    """`node` with a local `$ref` ("#/$defs/x") replaced by its target, sibling keywords kept."""
    if not isinstance(node, dict):
        return {}
    seen = 0
    while "$ref" in node and seen < 20:
        ref = node["$ref"]
        target = _pointer(root, ref)
        rest = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **rest}
        seen += 1
    return node


def _pointer(root: dict, ref: str) -> dict:
    if not isinstance(ref, str) or not ref.startswith("#"):
        return {}
    target = root
    for part in ref[1:].split("/")[1:] if ref != "#" else []:
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(target, dict) or part not in target:
            return {}
        target = target[part]
    return target if isinstance(target, dict) else {}


def type_of(node: dict) -> str | None:
    t = node.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    if t is None and "properties" in node:
        return "object"
    return t


def options_of(node: dict) -> list[tuple[object, str]] | None:
    """[(value, label)] of an enum (labels from x-enumNames) or a oneOf/anyOf of consts."""
    if node.get("x-widget") == "approve":
        return [(True, "同意"), (False, "不同意")]
    if isinstance(node.get("enum"), list):
        names = node.get("x-enumNames") or []
        return [(v, str(names[i]) if i < len(names) else _label(v)) for i, v in enumerate(node["enum"])]
    for key in ("oneOf", "anyOf"):
        branches = node.get(key)
        if (
            isinstance(branches, list)
            and branches
            and all(isinstance(b, dict) and "const" in b for b in branches)
        ):
            return [(b["const"], str(b.get("title", _label(b["const"])))) for b in branches]
    return None


def _label(value) -> str:
    if value is True:
        return "是"
    if value is False:
        return "否"
    return str(value)


def option_value(value) -> str:
    """How an option's value is written in HTML (and read back)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def kind_of(node: dict, root: dict) -> str:
    """The widget a (resolved) schema node is rendered with."""
    widget = node.get("x-widget")
    t = type_of(node)
    if t == "object":
        props = node.get("properties") or {}
        return "file" if widget == "file" or ("sha256" in props and "name" in props) else "object"
    if t == "array":
        items = resolve(node.get("items"), root)
        if options_of(items) is not None:
            return "multi"
        if type_of(items) == "object":
            return "rows"
        if widget == "file" or items.get("x-widget") == "file" or items.get("pattern") == HASH_PATTERN:
            return "hashes"
        return "list"
    if t == "boolean":
        if widget == "approve":
            return "radio"
        return "radio" if options_of(node) is not None else "checkbox"
    if widget == "money" or node.get("format") == "money":
        return "money"
    options = options_of(node)
    if options is not None:
        if widget == "select":
            return "select"
        return "radio" if widget == "radio" or len(options) <= 3 else "select"
    if t == "integer":
        return "integer"
    if t == "number":
        return "number"
    if node.get("pattern") == MONEY_PATTERN:
        return "money"
    fmt = node.get("format")
    if fmt == "date":
        return "date"
    if fmt == "date-time":
        return "datetime"
    if fmt == "textarea" or widget == "textarea" or (node.get("maxLength") or 0) > 200:
        return "textarea"
    return "text"


@dataclass
class Condition:
    """A field shown only while `controller`'s value is (or, negated, is not) one of `values`."""

    controller: str
    values: list
    negate: bool = False

    def holds(self, data: dict) -> bool | None:
        """None when the controller has no value yet (neither branch is decided)."""
        if not isinstance(data, dict) or data.get(self.controller) is None:
            return None
        current = data[self.controller]
        inside = any(_same(current, v) for v in self.values)
        return not inside if self.negate else inside

    def attribute(self) -> str:
        op = "!=" if self.negate else "="
        return f"{self.controller}{op}{'|'.join(option_value(v) for v in self.values)}"


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b


@dataclass
class Layout:
    """An object's fields in order, with the conditions of those in if/then/else sections."""

    fields: dict[str, dict] = field(default_factory=dict)
    sections: dict[str, Condition] = field(default_factory=dict)
    # Fields always shown but required only while a condition holds.
    required_when: dict[str, Condition] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)


def layout_of(node: dict, root: dict) -> Layout:
    props = node.get("properties") or {}
    layout = Layout(fields=dict(props), required=set(node.get("required") or []))
    condition = _condition_of(node.get("if"))
    if condition is None:
        return layout
    then = resolve(node.get("then"), root)
    other = resolve(node.get("else"), root)
    negated = Condition(condition.controller, condition.values, negate=True)
    then_names = _mentioned(then)
    else_names = _mentioned(other)
    for branch, names, others, cond in (
        (then, then_names, else_names, condition),
        (other, else_names, then_names, negated),
    ):
        for name in names:
            if name == condition.controller:
                continue
            if name not in props:
                # A field that exists only in a branch is a conditional section.
                layout.fields[name] = (branch.get("properties") or {}).get(name, {})
                layout.sections[name] = cond
            elif "then" in node and "else" in node and name not in others and name not in layout.required:
                layout.sections[name] = cond
            elif name in (branch.get("required") or []) and name not in layout.required:
                layout.required_when[name] = cond
    return layout


def _mentioned(branch: dict) -> list[str]:
    names = list((branch.get("properties") or {}).keys())
    names += [n for n in branch.get("required") or [] if n not in names]
    return names


def _condition_of(node) -> Condition | None:
    if not isinstance(node, dict):
        return None
    props = node.get("properties") or {}
    if len(props) != 1:
        return None
    ((name, test),) = props.items()
    if not isinstance(test, dict):
        return None
    if "const" in test:
        return Condition(name, [test["const"]])
    if isinstance(test.get("enum"), list):
        return Condition(name, list(test["enum"]))
    return None


def schema_at(root: dict, path: list) -> dict:
    """The (resolved) schema node of a data path like ["funding_sources", 1, "amount"]."""
    node = resolve(root, root)
    for part in path:
        if isinstance(part, int) or (isinstance(part, str) and part.isdigit() and type_of(node) == "array"):
            node = resolve(node.get("items"), root)
            continue
        props = layout_of(node, root).fields
        if part not in props:
            return {}
        node = resolve(props[part], root)
    return node
