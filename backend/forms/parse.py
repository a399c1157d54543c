"""Posted form fields back into the JSON data a schema describes. Nothing the user typed is
dropped: a value that does not fit its type is kept as the string typed, so validation
reports it and the form shows it again."""

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from backend.forms.render import dotted, field_name
from backend.forms.schema import kind_of, layout_of, option_value, options_of, resolve

SHANGHAI = ZoneInfo("Asia/Shanghai")
_MISSING = object()


def parse_submission(schema: dict, form, files_map: dict | None = None) -> dict:
    """The posted `form` (a werkzeug MultiDict) typed per `schema`.

    Read-only fields are not read: the caller keeps them from the task's data.
    `files_map` holds files the view stored from this request, by the dotted path of the
    field they were chosen in (see `upload_paths`): a dict {sha256, name} for a file object
    ("documents.0"), a list of them for a list of file hashes ("attachments").
    """
    parser = _Parser(schema, form, files_map or {})
    return parser.object(resolve(schema, schema), ())


def upload_paths(files) -> dict[str, list]:
    """The uploads of a request (`request.files`) by the dotted path of their field, empty ones left out."""
    out: dict[str, list] = {}
    for name in files:
        if not name.endswith("[_file]"):
            continue
        path = _split_name(name[: -len("[_file]")])
        chosen = [f for f in files.getlist(name) if getattr(f, "filename", "")]
        if chosen:
            out[".".join(path)] = chosen
    return out


def _split_name(name: str) -> list[str]:
    head, _, rest = name.partition("[")
    return [head] + (re.findall(r"([^\[\]]*)\]", "[" + rest) if rest else [])


def row_action(form) -> tuple[str, str] | None:
    """("add", "funding_sources") or ("remove", "funding_sources.1") when a row button was pressed."""
    if form.get("_add"):
        return ("add", form["_add"])
    if form.get("_remove"):
        return ("remove", form["_remove"])
    return None


def apply_row_action(schema: dict, data: dict, form) -> bool:
    """Add or remove the array row a submit button asked for; True when one was pressed."""
    action = row_action(form)
    if action is None:
        return False
    op, target = action
    parts = [int(p) if p.isdigit() else p for p in target.split(".")]
    if op == "remove":
        parts, index = parts[:-1], parts[-1]
        if not isinstance(index, int):
            return True
    container = data
    node = resolve(schema, schema)
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(part, int):
            if not isinstance(container, list) or part >= len(container):
                return True
            node = resolve(node.get("items"), schema)
            container = container[part]
            continue
        if not isinstance(container, dict):
            return True
        node = resolve(layout_of(node, schema).fields.get(part, {}), schema)
        if last and op == "add":
            container = container.setdefault(part, [])
        else:
            container = container.get(part) if last else container.setdefault(part, {})
    if not isinstance(container, list):
        return True
    if op == "add":
        items = resolve(node.get("items"), schema)
        container.append(
            {} if kind_of(node, schema) == "rows" else ("" if items.get("type") == "string" else None)
        )
    elif 0 <= index < len(container):
        container.pop(index)
    return True


class _Parser:
    def __init__(self, root: dict, form, files_map: dict):
        self.root = root
        self.form = form
        self.files = files_map

    def object(self, node: dict, path: tuple) -> dict:
        data = {}
        for name, raw in layout_of(node, self.root).fields.items():
            sub = resolve(raw, self.root)
            if sub.get("readOnly"):
                continue
            value = self.field(sub, path + (name,))
            if value is not _MISSING:
                data[name] = value
        return data

    def field(self, node: dict, path: tuple):
        kind = kind_of(node, self.root)
        return getattr(self, f"k_{kind}")(node, path)

    def _raw(self, path):
        value = self.form.get(field_name(path))
        if value is None or value == "":
            return _MISSING
        return value

    def k_text(self, node, path):
        return self._raw(path)

    k_date = k_text

    def k_textarea(self, node, path):
        value = self._raw(path)
        return value if value is _MISSING else value.replace("\r\n", "\n")

    def k_integer(self, node, path):
        value = self._raw(path)
        if value is _MISSING:
            return value
        try:
            return int(value.strip())
        except ValueError:
            return value

    def k_number(self, node, path):
        value = self._raw(path)
        if value is _MISSING:
            return value
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return value
        if not number.is_finite():
            return value
        if node.get("type") == "integer" or (
            number == number.to_integral_value() and "." not in value and "e" not in value.lower()
        ):
            return int(number) if number == number.to_integral_value() else value
        return float(number)

    def k_money(self, node, path):
        value = self._raw(path)
        if value is _MISSING:
            return value
        cleaned = re.sub(r"[\s,，¥￥]", "", value)
        try:
            amount = Decimal(cleaned)
        except InvalidOperation:
            return value
        if not amount.is_finite() or amount.as_tuple().exponent < -2:
            return value
        if node.get("type") in ("number", "integer"):
            return int(amount) if amount == amount.to_integral_value() else float(amount)
        return f"{amount:.2f}"

    def k_datetime(self, node, path):
        value = self._raw(path)
        if value is _MISSING:
            return value
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return value
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=SHANGHAI)
        # Stored in UTC like every other time; shown again in Asia/Shanghai.
        return moment.astimezone(UTC).isoformat()

    def _option(self, node, raw):
        for value, _ in options_of(node) or []:
            if option_value(value) == raw:
                return value
        if node.get("type") == "boolean" or (options_of(node) is None and node.get("type") == "boolean"):
            return {"true": True, "false": False}.get(raw, raw)
        return raw

    def k_select(self, node, path):
        value = self._raw(path)
        return value if value is _MISSING else self._option(node, value)

    k_radio = k_select

    def k_checkbox(self, node, path):
        return self.form.get(field_name(path)) in ("true", "on", "1")

    def k_multi(self, node, path):
        items = resolve(node.get("items"), self.root)
        chosen = [self._option(items, raw) for raw in self.form.getlist(field_name(path)) if raw != ""]
        return chosen if chosen else _MISSING

    def _indices(self, path) -> list[int]:
        prefix = re.escape(field_name(path)) + r"\[(\d+)\]"
        found = set()
        for key in self.form:
            match = re.match(prefix, key)
            if match:
                found.add(int(match.group(1)))
        return sorted(found)

    def k_list(self, node, path):
        items = resolve(node.get("items"), self.root)
        kind = kind_of(items, self.root)
        if kind not in ("text", "textarea", "integer", "number", "money", "date", "datetime", "select"):
            kind = "text"
        out = []
        for i in self._indices(path):
            value = getattr(self, f"k_{kind}")(items, path + (i,))
            # An emptied row stays, so row numbers (and the remove buttons) keep matching.
            out.append("" if value is _MISSING else value)
        return out if out else _MISSING

    def k_hashes(self, node, path):
        out = [self.form.get(field_name(path + (i,)), "") for i in self._indices(path)]
        for upload in self.files.get(dotted(path)) or []:
            out.append(upload["sha256"] if isinstance(upload, dict) else str(upload))
        return out if out else _MISSING

    def k_rows(self, node, path):
        items = resolve(node.get("items"), self.root)
        rows = []
        for i in self._indices(path):
            if kind_of(items, self.root) == "file":
                rows.append(self._file(items, path + (i,)))
            else:
                rows.append(self.object(items, path + (i,)))
        return rows if rows else _MISSING

    def k_object(self, node, path):
        data = self.object(node, path)
        return data if data else _MISSING

    def _file(self, node, path) -> dict:
        data = self.object(node, path)
        upload = self.files.get(dotted(path))
        if isinstance(upload, list):
            upload = upload[0] if upload else None
        if isinstance(upload, dict):
            data["sha256"] = upload["sha256"]
            data["name"] = upload.get("name") or data.get("name") or upload["sha256"][:12]
        return data

    def k_file(self, node, path):
        data = self._file(node, path)
        return data if data else _MISSING
