"""Server-side HTML for a form schema: Bootstrap 5 markup, every value escaped, errors
shown next to their field, conditional sections hidden server-side, array rows added and
removed by submit buttons so the form works without JavaScript."""

from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from backend.crypto.fields import mask
from backend.forms.schema import Condition, kind_of, layout_of, option_value, options_of, resolve, type_of
from backend.i18n import gettext

SHANGHAI = ZoneInfo("Asia/Shanghai")


def render_form(
    schema: dict, *, values: dict | None = None, errors: dict | None = None, readonly: bool = False
) -> Markup:
    """The form's fields as HTML (without the <form> element and its submit buttons)."""
    ctx = _Context(root=schema, errors=dict(errors or {}), readonly=readonly)
    body = ctx.object_fields(resolve(schema, schema), values if isinstance(values, dict) else {}, ())
    left = [msg for path, msg in ctx.errors.items() if path not in ctx.shown]
    head = ""
    if left:
        items = "".join(f"<li>{escape(m)}</li>" for m in left)
        head = f'<div class="alert alert-danger" role="alert"><ul class="mb-0">{items}</ul></div>'
    return Markup(head + body)


def field_name(path: tuple) -> str:
    """`funding_sources[0][amount]` for ("funding_sources", 0, "amount")."""
    return str(path[0]) + "".join(f"[{p}]" for p in path[1:])


def field_id(path: tuple) -> str:
    return "f-" + "-".join(str(p) for p in path)


def dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path)


def _attrs(**attrs) -> str:
    out = []
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        key = key.rstrip("_").replace("_", "-")
        out.append(f" {key}" if value is True else f' {key}="{escape(value)}"')
    return "".join(out)


class _Context:
    def __init__(self, *, root: dict, errors: dict, readonly: bool):
        self.root = root
        self.errors = errors
        self.readonly = readonly
        self.shown: set[str] = set()
        self.parents: dict[tuple, dict] = {}
        self.in_section = 0

    def error(self, path: tuple) -> str | None:
        key = dotted(path)
        if key in self.errors:
            self.shown.add(key)
            return self.errors[key]
        return None

    # --- objects ---------------------------------------------------------------------------

    def object_fields(self, node: dict, values: dict, path: tuple) -> str:
        layout = layout_of(node, self.root)
        self.parents[path] = values if isinstance(values, dict) else {}
        out = []
        for name, raw in layout.fields.items():
            sub = resolve(raw, self.root)
            value = values.get(name) if isinstance(values, dict) else None
            condition = layout.sections.get(name)
            shown_before = set(self.shown)
            # A browser would refuse to submit a hidden section's required inputs; the
            # server-side validation decides instead.
            self.in_section += condition is not None
            try:
                html = self.field(
                    sub,
                    value,
                    path + (name,),
                    required=name in layout.required,
                    required_when=layout.required_when.get(name),
                )
            finally:
                self.in_section -= condition is not None
            if condition is not None:
                hidden = condition.holds(values) is not True
                if hidden:
                    # Errors inside a hidden section would go unseen: list them on top instead.
                    self.shown = shown_before
                html = f'<div class="form-section"{_attrs(data_show_when=condition.attribute(), hidden=hidden)}>{html}</div>'
            out.append(html)
        return "".join(out)

    # --- one field -------------------------------------------------------------------------

    def field(
        self, node: dict, value, path: tuple, *, required: bool, required_when: Condition | None = None
    ) -> str:
        if node.get("readOnly") and not self.readonly and value in (None, "", [], {}):
            return ""  # earlier data to show, and there is none (e.g. a first submission)
        if self.readonly or node.get("readOnly"):
            return self.display_field(node, value, path)
        kind = kind_of(node, self.root)
        label = self.label(
            node,
            path,
            required,
            required_when,
            for_=kind not in ("radio", "multi", "rows", "list", "hashes", "object"),
        )
        help_ = self.help(node, path)
        error = self.error(path)
        method = getattr(self, f"w_{kind}")
        control = method(
            node,
            value,
            path,
            error=error,
            required=required,
            help_id=f"{field_id(path)}-help" if help_ else None,
        )
        feedback = (
            f'<div class="invalid-feedback d-block" id="{field_id(path)}-error">{escape(error)}</div>'
            if error
            else ""
        )
        if kind == "checkbox":
            label = label.replace('class="form-label"', 'class="form-check-label"', 1)
            return f'<div class="mb-3 form-check" data-field="{escape(dotted(path))}">{control}{label}{help_}{feedback}</div>'
        if kind in ("radio", "multi", "rows", "list", "hashes", "object", "file"):
            legend = label.replace("<label", "<legend", 1).replace("</label>", "</legend>")
            return (
                f'<fieldset class="mb-3" id="{field_id(path)}" data-field="{escape(dotted(path))}">'
                f"{legend}{help_}{control}{feedback}</fieldset>"
            )
        return (
            f'<div class="mb-3" data-field="{escape(dotted(path))}">{label}{control}{feedback}{help_}</div>'
        )

    def label(self, node, path, required, required_when, *, for_: bool) -> str:
        title = escape(node.get("title") or path[-1])
        mark = ""
        required_word = gettext("必填")  # outside the f-strings: babel extracts no call inside one
        if required:
            mark = f' <span class="text-danger"{_attrs(title=required_word)}>*</span>'
        elif required_when is not None:
            hidden = required_when.holds(self._parent_values(path)) is not True
            mark = f' <span class="text-danger"{_attrs(data_show_when=required_when.attribute(), hidden=hidden, title=required_word)}>*</span>'
        target = f' for="{field_id(path)}"' if for_ else ""
        return f'<label class="form-label"{target} id="{field_id(path)}-label">{title}{mark}</label>'

    def _parent_values(self, path):
        return self.parents.get(path[:-1], {})

    def help(self, node, path) -> str:
        text = node.get("description")
        if not text:
            return ""
        return f'<div class="form-text" id="{field_id(path)}-help">{escape(text)}</div>'

    def _input_attrs(self, path, error, required, help_id, **extra) -> str:
        described = " ".join(x for x in (help_id, f"{field_id(path)}-error" if error else None) if x) or None
        return _attrs(
            id=field_id(path),
            name=field_name(path),
            required=required and not self.in_section,
            aria_describedby=described,
            aria_invalid="true" if error else None,
            **extra,
        )

    # --- widgets ---------------------------------------------------------------------------

    def _text_input(self, type_, node, value, path, error, required, help_id, **extra) -> str:
        cls = "form-control" + (" is-invalid" if error else "")
        return f"<input{_attrs(type=type_, class_=cls)}{self._input_attrs(path, error, required, help_id, value=_text(value), **extra)}>"

    def w_text(self, node, value, path, *, error, required, help_id):
        return self._text_input(
            "text", node, value, path, error, required, help_id, maxlength=node.get("maxLength")
        )

    def w_textarea(self, node, value, path, *, error, required, help_id):
        cls = "form-control" + (" is-invalid" if error else "")
        attrs = self._input_attrs(path, error, required, help_id, maxlength=node.get("maxLength"))
        # The leading newline is eaten by the HTML parser, so text starting with one survives.
        return f'<textarea class="{cls}" rows="4"{attrs}>\n{escape(_text(value))}</textarea>'

    def w_integer(self, node, value, path, *, error, required, help_id):
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            extra = {"step": "1", "min": node.get("minimum"), "max": node.get("maximum")}
            return self._text_input("number", node, value, path, error, required, help_id, **extra)
        # Something that is not a number: a text box, so the user sees what they typed.
        return self._text_input("text", node, value, path, error, required, help_id, inputmode="numeric")

    def w_number(self, node, value, path, *, error, required, help_id):
        if value is None or (isinstance(value, int | float | Decimal) and not isinstance(value, bool)):
            extra = {"step": "any", "min": node.get("minimum"), "max": node.get("maximum")}
            return self._text_input("number", node, value, path, error, required, help_id, **extra)
        return self._text_input("text", node, value, path, error, required, help_id, inputmode="decimal")

    def w_money(self, node, value, path, *, error, required, help_id):
        return self._text_input(
            "text",
            node,
            money_text(value),
            path,
            error,
            required,
            help_id,
            inputmode="decimal",
            autocomplete="off",
        )

    def w_date(self, node, value, path, *, error, required, help_id):
        text = _text(value)
        type_ = "date" if not text or _is_date(text) else "text"
        return self._text_input(type_, node, text, path, error, required, help_id)

    def w_datetime(self, node, value, path, *, error, required, help_id):
        local = datetime_local_text(value)
        type_ = "datetime-local" if local is not None else "text"
        return self._text_input(
            type_, node, local if local is not None else _text(value), path, error, required, help_id
        )

    def w_select(self, node, value, path, *, error, required, help_id):
        cls = "form-select" + (" is-invalid" if error else "")
        current = option_value(value) if value is not None else None
        choose = gettext("请选择")
        options = [f'<option value="">{escape(choose)}</option>']
        known = False
        for v, title in options_of(node) or []:
            selected = current is not None and option_value(v) == current
            known = known or selected
            options.append(
                f"<option{_attrs(value=option_value(v), selected=selected)}>{escape(title)}</option>"
            )
        if current and not known:
            options.append(f"<option{_attrs(value=current, selected=True)}>{escape(current)}</option>")
        return f'<select class="{cls}"{self._input_attrs(path, error, required, help_id)}>{"".join(options)}</select>'

    def w_radio(self, node, value, path, *, error, required, help_id):
        current = option_value(value) if value is not None else None
        out = []
        for i, (v, title) in enumerate(options_of(node) or [(True, gettext("是")), (False, gettext("否"))]):
            oid = f"{field_id(path)}-{i}"
            cls = "form-check-input" + (" is-invalid" if error else "")
            checked = current is not None and option_value(v) == current
            attrs = _attrs(
                class_=cls,
                type="radio",
                id=oid,
                name=field_name(path),
                value=option_value(v),
                checked=checked,
                required=required and not self.in_section,
            )
            out.append(
                f'<div class="form-check form-check-inline"><input{attrs}><label class="form-check-label" for="{oid}">{escape(title)}</label></div>'
            )
        return f'<div role="radiogroup" aria-labelledby="{field_id(path)}-label">{"".join(out)}</div>'

    def w_checkbox(self, node, value, path, *, error, required, help_id):
        cls = "form-check-input" + (" is-invalid" if error else "")
        return f"<input{_attrs(class_=cls, type='checkbox')}{self._input_attrs(path, error, False, help_id, value='true', checked=value is True)}>"

    def w_multi(self, node, value, path, *, error, required, help_id):
        items = resolve(node.get("items"), self.root)
        chosen = {option_value(v) for v in value} if isinstance(value, list) else set()
        out = []
        for i, (v, title) in enumerate(options_of(items) or []):
            oid = f"{field_id(path)}-{i}"
            cls = "form-check-input" + (" is-invalid" if error else "")
            attrs = _attrs(
                class_=cls,
                type="checkbox",
                id=oid,
                name=field_name(path),
                value=option_value(v),
                checked=option_value(v) in chosen,
            )
            out.append(
                f'<div class="form-check"><input{attrs}><label class="form-check-label" for="{oid}">{escape(title)}</label></div>'
            )
        known = {option_value(v) for v, _ in options_of(items) or []}
        for extra in sorted(chosen - known):
            out.append(f"<input{_attrs(type='hidden', name=field_name(path), value=extra)}>")
        return "".join(out)

    def _row_buttons(self, path, index) -> str:
        remove = gettext("删除")
        return (
            f"<button{_attrs(type='submit', name='_remove', value=dotted(path + (index,)), formnovalidate=True)} "
            f'class="btn btn-sm btn-outline-danger" data-row-remove>{escape(remove)}</button>'
        )

    def _add_button(self, node, path) -> str:
        add = gettext("添加%(item)s", item=node.get("title") or path[-1])
        return (
            f"<button{_attrs(type='submit', name='_add', value=dotted(path), formnovalidate=True)} "
            f'class="btn btn-sm btn-outline-primary" data-row-add>{escape(add)}</button>'
        )

    def _rows(self, node, value) -> list:
        rows = value if isinstance(value, list) else []
        if not rows and (node.get("minItems") or 0) > 0 and value is None:
            rows = [None]
        return rows

    def w_list(self, node, value, path, *, error, required, help_id):
        items = resolve(node.get("items"), self.root)
        out = []
        for i, item in enumerate(self._rows(node, value)):
            sub = path + (i,)
            item_error = self.error(sub)
            kind = kind_of(items, self.root)
            if kind not in ("text", "textarea", "integer", "number", "money", "date", "datetime", "select"):
                kind = "text"
            control = getattr(self, f"w_{kind}")(
                items, item, sub, error=item_error, required=False, help_id=None
            )
            row_label = f"{node.get('title') or path[-1]} {i + 1}"
            control = (
                f'<label class="visually-hidden" for="{field_id(sub)}">{escape(row_label)}</label>{control}'
            )
            feedback = (
                f'<div class="invalid-feedback" id="{field_id(sub)}-error">{escape(item_error)}</div>'
                if item_error
                else ""
            )
            out.append(
                f'<div class="input-group mb-2 has-validation" data-row="{i}">{control}{self._row_buttons(path, i)}{feedback}</div>'
            )
        return f'<div data-rows="{escape(dotted(path))}">{"".join(out)}</div>{self._add_button(node, path)}'

    def w_hashes(self, node, value, path, *, error, required, help_id):
        out = []
        uploaded = gettext("已上传:")
        for i, item in enumerate(value if isinstance(value, list) else []):
            sub = path + (i,)
            item_error = self.error(sub)
            text = _text(item)
            hidden = f"<input{_attrs(type='hidden', id=field_id(sub), name=field_name(sub), value=text)}>"
            shown = (
                f'<span class="font-monospace text-break">{escape(text[:12])}…</span>'
                if len(text) > 12
                else escape(text)
            )
            feedback = (
                f'<div class="invalid-feedback d-block">{escape(item_error)}</div>' if item_error else ""
            )
            out.append(
                f'<div class="d-flex gap-2 align-items-center mb-2" data-row="{i}">{hidden}<span class="flex-grow-1">{escape(uploaded)} {shown}</span>{self._row_buttons(path, i)}</div>{feedback}'
            )
        upload = _attrs(
            type="file",
            id=f"{field_id(path)}-file",
            name=field_name(path + ("_file",)),
            multiple=True,
            class_="form-control" + (" is-invalid" if error else ""),
            aria_labelledby=f"{field_id(path)}-label",
        )
        return f'<div data-rows="{escape(dotted(path))}">{"".join(out)}</div><input{upload}>'

    def w_rows(self, node, value, path, *, error, required, help_id):
        items = resolve(node.get("items"), self.root)
        title = items.get("title") or node.get("title") or path[-1]
        out = []
        for i, row in enumerate(self._rows(node, value)):
            sub = path + (i,)
            row_error = self.error(sub)
            inner = self.object_body(items, row if isinstance(row, dict) else {}, sub)
            feedback = f'<div class="invalid-feedback d-block">{escape(row_error)}</div>' if row_error else ""
            out.append(
                f'<fieldset class="border rounded p-2 mb-2" data-row="{i}" id="{field_id(sub)}">'
                f'<legend class="fs-6">{escape(title)} {i + 1}</legend>{feedback}{inner}{self._row_buttons(path, i)}</fieldset>'
            )
        return f'<div data-rows="{escape(dotted(path))}">{"".join(out)}</div>{self._add_button(items if items.get("title") else node, path)}'

    def object_body(self, node, values, path) -> str:
        if kind_of(node, self.root) == "file":
            return self.w_file(node, values, path, error=None, required=False, help_id=None)
        return self.object_fields(node, values, path)

    def w_object(self, node, value, path, *, error, required, help_id):
        return self.object_fields(node, value if isinstance(value, dict) else {}, path)

    def w_file(self, node, value, path, *, error, required, help_id):
        value = value if isinstance(value, dict) else {}
        props = node.get("properties") or {}
        others = {k: v for k, v in props.items() if k not in ("sha256", "name")}
        inner = self.object_fields({**node, "properties": others, "if": None}, value, path)
        hidden = "".join(
            f"<input{_attrs(type='hidden', id=field_id(path + (k,)), name=field_name(path + (k,)), value=_text(value.get(k)))}>"
            for k in ("sha256", "name")
        )
        for k in ("sha256", "name"):
            self.error(path + (k,))
        sub_errors = [
            self.errors[dotted(path + (k,))] for k in ("sha256", "name") if dotted(path + (k,)) in self.errors
        ]
        current = ""
        if value.get("sha256"):
            uploaded = gettext("已上传:")
            current = f'<div class="form-text" data-file="{escape(value["sha256"])}">{escape(uploaded)} {escape(value.get("name") or value["sha256"][:12])}</div>'
        bad = bool(error or sub_errors)
        upload = _attrs(
            type="file",
            id=f"{field_id(path)}-file",
            name=field_name(path + ("_file",)),
            class_="form-control" + (" is-invalid" if bad else ""),
            aria_label=gettext("选择文件"),
        )
        feedback = "".join(f'<div class="invalid-feedback d-block">{escape(m)}</div>' for m in sub_errors)
        return f"{inner}{hidden}{current}<input{upload}>{feedback}"

    # --- read-only -------------------------------------------------------------------------

    def display_field(self, node, value, path) -> str:
        title = escape(node.get("title") or path[-1])
        error = self.error(path)
        feedback = f'<div class="invalid-feedback d-block">{escape(error)}</div>' if error else ""
        content = self.display_value(node, value)
        if type_of(node) in ("object", "array"):
            return (
                f'<div class="mb-3" data-field="{escape(dotted(path))}" data-readonly>'
                f'<div class="form-label" id="{field_id(path)}-label">{title}</div>'
                f'<div id="{field_id(path)}" aria-labelledby="{field_id(path)}-label">{content}</div>{feedback}</div>'
            )
        return (
            f'<div class="mb-3" data-field="{escape(dotted(path))}" data-readonly>'
            f'<label class="form-label" for="{field_id(path)}">{title}</label>'
            f'<output class="form-control-plaintext d-block" id="{field_id(path)}">{content}</output>{feedback}</div>'
        )

    def display_value(self, node, value) -> str:
        node = resolve(node, self.root)
        if value is None or value == "" or value == []:
            return '<span class="text-muted">—</span>'
        t = type_of(node)
        if t == "object" and isinstance(value, dict):
            kind = kind_of(node, self.root)
            props = node.get("properties") or {}
            rows = []
            for name, raw in props.items():
                if name not in value or (kind == "file" and name == "sha256"):
                    continue
                sub = resolve(raw, self.root)
                rows.append(
                    f"<dt>{escape(sub.get('title') or name)}</dt><dd>{self.display_value(sub, value[name])}</dd>"
                )
            known = set(props)
            for name in value:
                if name not in known:
                    rows.append(f"<dt>{escape(name)}</dt><dd>{escape(_text(value[name]))}</dd>")
            return f'<dl class="mb-0">{"".join(rows)}</dl>'
        if t == "array" and isinstance(value, list):
            items = resolve(node.get("items"), self.root)
            return (
                '<ul class="mb-0">'
                + "".join(f"<li>{self.display_value(items, v)}</li>" for v in value)
                + "</ul>"
            )
        options = options_of(node)
        if options:
            for v, title in options:
                if option_value(v) == option_value(value):
                    return str(escape(title))
        kind = kind_of(node, self.root)
        if kind == "money":
            return str(escape(money_text(value)))
        if kind == "datetime":
            local = datetime_local_text(value)
            return str(escape(local.replace("T", " ") if local else _text(value)))
        if isinstance(value, bool):
            return gettext("是") if value else gettext("否")
        if node.get("x-mask"):  # sensitive (issue 7): "phone", "id_card", "bank_account"
            return str(escape(mask(value, node["x-mask"])))
        return str(escape(_text(value)))


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def money_text(value) -> str:
    """A money value with two decimals; anything that is not a number comes back as typed."""
    if value is None or value == "" or isinstance(value, bool):
        return "" if value is None else _text(value)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not amount.is_finite() or amount.as_tuple().exponent < -2:
        return str(value)
    return f"{amount:.2f}"


def _is_date(text: str) -> bool:
    from datetime import date

    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def datetime_local_text(value) -> str | None:
    """An RFC 3339 time as the Asia/Shanghai `YYYY-MM-DDTHH:MM` a datetime-local input shows."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")
