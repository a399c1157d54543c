"""Rules of the form editor: checking a schema as typed (JSON syntax with line and column,
the Draft 2020-12 meta-schema with the JSON path, the platform's and the renderer's rules),
saving versions through the form store, and redeploying the processes that use a form so
new instances take its newest version (running ones keep theirs)."""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from json.decoder import scanstring
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from backend.designer.service import DesignerError, Invalid, NotFound, _problem
from backend.engine import DefinitionError
from backend.forms import store
from backend.forms.errors import FormError, InvalidFormName
from backend.forms.schema import _pointer
from backend.forms.schema import check_name as check_form_name
from backend.workflow.deploy import deploy_files
from backend.workflow.models import ProcessDefinition

_META = Draft202012Validator(Draft202012Validator.META_SCHEMA)
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
MAX_PROBLEMS = 50

# What the editor tells a designer: lazy (as designer/messages.py), so str() inside a request
# gives the page's language and outside one the Chinese text.
TEXTS = {
    "empty": _l("表单定义为空"),
    "json_syntax": _l("JSON 语法错误: %(error)s"),
    "duplicate_key": _l("键 %(key)s 重复, 只有最后一个生效"),
    "meta_schema": _l("不符合 JSON Schema 2020-12: %(error)s"),
    "bad_ref": _l("引用无法解析: %(ref)s (只支持本表单内的 #/$defs/...)"),
    "no_fields": _l("表单没有字段 (properties 为空)"),
    "bad_name": _l("表单名称无效: %(name)s (字母、数字、_ . - 组成, 以 .json 结尾)"),
    "no_such_form": _l("表单不存在: %(name)s"),
    "no_such_version": _l("表单 %(name)s 没有版本 %(version)s"),
    "form_invalid": _l("表单定义有错误, 未保存"),
    "render_failed": _l("渲染失败: %(error)s"),
}


def _text(code: str, **params) -> str:
    text = str(TEXTS[code])
    return text % params if params else text


class FormInvalid(Invalid):
    """The schema has problems; nothing was stored (422 with the problems)."""

    def __init__(self, problems: list[dict]):
        super().__init__(problems)
        self.message = _text("form_invalid")
        self.code = "form_invalid"


@dataclass
class Checked:
    """A schema as typed: the parsed object (None when the JSON is broken) and its problems."""

    text: str
    schema: object = None
    problems: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.schema is not None and not any(p["severity"] == "error" for p in self.problems)


def _problem_at(source: str, message: str, *, text: str = "", offset: int | None = None, path=None) -> dict:
    line = column = None
    if offset is not None:
        line = text.count("\n", 0, offset) + 1
        column = offset - text.rfind("\n", 0, offset)
    return {
        "source": source,
        "severity": "error",
        "message": message,
        "path": _json_path(path) if path is not None else None,
        "line": line,
        "column": column,
    }


def _json_path(path) -> str:
    out = "$"
    for part in path:
        out += (
            f"[{part}]"
            if isinstance(part, int)
            else (
                f".{part}" if re.fullmatch(r"[\w$-]+", part) else f"[{json.dumps(part, ensure_ascii=False)}]"
            )
        )
    return out


# --- checking -----------------------------------------------------------------------------


def check(text: str) -> Checked:
    """Everything wrong with a schema as typed in the editor, most basic first."""
    checked = Checked(text=text)
    if not isinstance(text, str) or not text.strip():
        checked.problems.append(_problem_at("json", _text("empty")))
        return checked
    duplicates: list[str] = []
    try:
        schema = json.loads(text, object_pairs_hook=_pairs(duplicates))
    except json.JSONDecodeError as exc:
        checked.problems.append(
            _problem_at("json", _text("json_syntax", error=exc.msg), text=text, offset=exc.pos)
        )
        return checked
    checked.schema = schema
    positions = _positions(text)
    for key in dict.fromkeys(duplicates):
        # The hook saw only the key's name: point at the last place it is used.
        path = max((p for p in positions if p and p[-1] == key), key=positions.get, default=(key,))
        checked.problems.append(
            _problem_at(
                "json", _text("duplicate_key", key=key), text=text, offset=positions.get(path), path=path
            )
        )
    found = meta_problems(schema, text=text, positions=positions)
    if isinstance(schema, dict):
        found += ref_problems(schema, text=text, positions=positions)
    if not found:
        # The store's rules start with the same two checks and stop at them: asked only when
        # they pass, so a problem is not listed twice (once with its line, once without).
        try:
            found = [_problem_at("platform", m) for m in store.schema_problems(schema)]
        except Exception as exc:  # noqa: BLE001  (its rules read the schema as the renderer does)
            found = [render_failure(exc)]
    checked.problems.extend(found)
    if (
        isinstance(schema, dict)
        and not schema.get("properties")
        and not (schema.get("then") or schema.get("else"))
    ):
        warning = _problem_at("render", _text("no_fields"))
        warning["severity"] = "warning"
        checked.problems.append(warning)
    del checked.problems[MAX_PROBLEMS:]
    return checked


def render_failure(exc: Exception) -> dict:
    """A schema that breaks the renderer's reading of it (e.g. `x-enumNames` not a list)."""
    return _problem_at("render", _text("render_failed", error=f"{type(exc).__name__}: {exc}"))


def _pairs(duplicates: list):
    # json.loads builds objects innermost first, so the path of a duplicate is unknown here;
    # record the key and find its path afterwards from the text.
    def hook(pairs):
        seen = set()
        for key, _value in pairs:
            if key in seen:
                duplicates.append(key)
            seen.add(key)
        return dict(pairs)

    return hook


def meta_problems(schema, *, text: str = "", positions: dict | None = None) -> list[dict]:
    """The schema checked against the JSON Schema Draft 2020-12 meta-schema."""
    out = []
    for error in sorted(_META.iter_errors(schema), key=lambda e: list(map(str, e.absolute_path))):
        shown = best_match(error.context) if error.context else error
        path = tuple(shown.absolute_path)
        offset = (positions or {}).get(path)
        out.append(
            _problem_at(
                "meta",
                _text("meta_schema", error=shown.message),
                text=text,
                offset=offset,
                path=path,
            )
        )
    return out


def ref_problems(schema: dict, *, text: str = "", positions: dict | None = None) -> list[dict]:
    """References the renderer cannot follow (it reads only this form's own #/... targets)."""
    out = []

    def walk(node, path):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and (
                not ref.startswith("#") or (ref != "#" and not _pointer(schema, ref))
            ):
                at = path + ("$ref",)
                out.append(
                    _problem_at(
                        "render",
                        _text("bad_ref", ref=ref),
                        text=text,
                        offset=(positions or {}).get(at),
                        path=at,
                    )
                )
            for key, value in node.items():
                if key not in ("const", "enum", "default", "examples"):
                    walk(value, path + (key,))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, path + (i,))

    walk(schema, ())
    return out


def _positions(text: str) -> dict[tuple, int]:
    """Where each value of a valid JSON text starts, by its path (keys of a duplicate: the last)."""
    out: dict[tuple, int] = {}

    def skip(i):
        return _WS.match(text, i).end()

    def value(i, path):
        i = skip(i)
        out[path] = i
        c = text[i]
        if c == "{":
            i = skip(i + 1)
            if text[i] == "}":
                return i + 1
            while True:
                key, i = scanstring(text, skip(i) + 1)
                i = value(skip(i) + 1, path + (key,))  # past the ':'
                i = skip(i)
                if text[i] == "}":
                    return i + 1
                i += 1  # ','
        if c == "[":
            i = skip(i + 1)
            if text[i] == "]":
                return i + 1
            n = 0
            while True:
                i = skip(value(i, path + (n,)))
                n += 1
                if text[i] == "]":
                    return i + 1
                i += 1
        _obj, end = _DECODER.scan_once(text, i)
        return end

    with contextlib.suppress(IndexError, StopIteration, ValueError):  # positions only help
        value(0, ())
    return out


# --- reading ------------------------------------------------------------------------------


def check_name(name: str) -> None:
    try:
        check_form_name(name)
        if len(name) > 200:  # the column's length
            raise InvalidFormName(name)
    except InvalidFormName:
        raise DesignerError(_text("bad_name", name=name[:200])) from None


def version_dict(row) -> dict:
    return {
        "id": row.id,
        "name": row.name,
        "version": row.version,
        "content_hash": row.content_hash,
        "source": row.source,
        "saved_by": row.saved_by,
        "saved_at": row.saved_at.isoformat() if row.saved_at else None,
        "title": (row.schema or {}).get("title") if isinstance(row.schema, dict) else None,
    }


def schema_of(row) -> dict:
    """The schema, and as the editor's text: a JSON response sorts the keys of objects, and
    the order of `properties` is the order of the fields on the form."""
    return {"schema": row.schema, "text": json.dumps(row.schema, ensure_ascii=False, indent=2) + "\n"}


def process_dict(definition: ProcessDefinition) -> dict:
    return {
        "key": definition.key,
        "name": definition.name,
        "version": definition.version,
        "deployed_by": definition.deployed_by,
        "deployed_at": definition.deployed_at.isoformat() if definition.deployed_at else None,
    }


def list_forms(*, session) -> list[dict]:
    """Every form with its newest version and the processes (latest versions) that use it.
    Asking for the newest version stores a changed file as one (the store's seeding)."""
    rows = []
    for name in store.names(session=session):
        problem = None
        try:
            newest = store.current(session=session, name=name)
        except FormError as exc:
            problem = str(exc)
            stored = store.versions(session=session, name=name)
            newest = stored[0] if stored else None
        rows.append(
            {
                "name": name,
                "current": version_dict(newest) if newest is not None else None,
                "saved_at": newest.saved_at if newest is not None else None,
                "problem": problem,
                "used_by": [process_dict(d) for d in store.used_by(session=session, name=name)],
            }
        )
    return rows


def form_detail(*, session, name: str, forms_dir=None) -> dict:
    """The newest version's schema, every version and the processes using the form. A file
    that is no valid form yet comes as its raw text, for the designer to repair."""
    check_name(name)
    versions = store.versions(session=session, name=name)
    broken = None
    try:
        store.current(session=session, name=name, forms_dir=forms_dir)
    except FormError as exc:
        broken = {"message": str(exc), "text": _file_text(name, forms_dir)}
    if not versions and broken is None:
        raise NotFound(_text("no_such_form", name=name))
    return {
        "name": name,
        "current": {**version_dict(versions[0]), **schema_of(versions[0])} if versions else None,
        "broken_file": broken,
        "versions": [version_dict(v) for v in versions],
        "used_by": [process_dict(d) for d in store.used_by(session=session, name=name)],
    }


def _file_text(name: str, forms_dir) -> str | None:
    path = Path(forms_dir or current_app.config["FORMS_DIR"]) / name
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def version_of(*, session, name: str, version: int):
    check_name(name)
    found = next((v for v in store.versions(session=session, name=name) if v.version == version), None)
    if found is None:
        raise NotFound(_text("no_such_version", name=name, version=version))
    return found


# --- changing -----------------------------------------------------------------------------


def save(*, session, name: str, text: str, saved_by: str | None):
    """A new version when the schema changed (the newest one when it did not): (row, created)."""
    check_name(name)
    checked = check(text)
    if not checked.ok:
        raise FormInvalid([p for p in checked.problems if p["severity"] == "error"])
    before = store.current(session=session, name=name)
    try:
        row = store.save(session=session, name=name, schema=checked.schema, saved_by=saved_by)
    except store.InvalidForm as exc:
        raise FormInvalid([_problem_at("platform", m) for m in exc.problems]) from None
    return row, before is None or row.id != before.id


def redeploy(*, session, name: str, deployed_by: str | None, forms_dir) -> list[dict]:
    """Deploy the latest version of each process using the form again, so that it snapshots
    the form's newest version. A diagram file is deployed once (a file may hold several
    processes); drafts are left alone, they are someone's work in progress."""
    check_name(name)
    files: dict[str, ProcessDefinition] = {}
    for definition in store.used_by(session=session, name=name):
        latest = files.get(definition.file_name)
        if latest is None or definition.id > latest.id:
            files[definition.file_name] = definition
    results = []
    for file_name, definition in sorted(files.items()):
        try:
            result = deploy_files(
                session=session,
                files={file_name: definition.source_xml},
                forms_dir=forms_dir,
                deployed_by=deployed_by,
            )
        except DefinitionError as exc:
            raise Invalid([{**_problem(p), "process": definition.key} for p in exc.problems]) from None
        for row in result.created:
            results.append({**process_dict(row), "created": True})
        for row in result.unchanged:
            results.append({**process_dict(row), "created": False})
    session.flush()
    return results
