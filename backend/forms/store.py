"""Versioned forms: every schema a process was deployed with is kept, so a running instance
keeps the form it started with while new deploys pick up the newest version.

The files in FORMS_DIR stay a source: a file whose content is not yet any stored version of
its name becomes the newest version the next time the form is asked for. An editor save is
therefore not undone by the unchanged file, and an edited file still wins once it changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import load_only

from backend.db import write_after_reading
from backend.forms.errors import FormError, FormNotFound, InvalidFormName, InvalidFormSchema
from backend.forms.models import FormVersion
from backend.forms.schema import check_name, kind_of, layout_of, load_form, resolve, type_of

FORM_PROPERTY = "formJsonSchemaFilename"
WIDGETS = {"file", "approve", "money", "select", "radio", "textarea"}

# Versions never change once stored: their schema is cached by id for the life of the process.
_cache: dict[int, dict] = {}
_lock = threading.Lock()


class InvalidForm(FormError):
    """A schema the platform refuses; `problems` are Chinese messages for the user."""

    def __init__(self, problems: list[str]):
        self.problems: list[str] = list(problems)
        super().__init__("；".join(self.problems), problems=self.problems)


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def content_hash(schema) -> str:
    canonical = json.dumps(schema, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- what a form must be ------------------------------------------------------------------


def schema_problems(schema) -> list[str]:
    """Why `schema` cannot be a form: not an object, not a Draft 2020-12 schema, or asking
    for something the renderer cannot draw. Empty when it is fine."""
    if not isinstance(schema, dict):
        return ["表单须是 JSON 对象"]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return [f"不是有效的 JSON Schema: {exc.message}"]
    problems: list[str] = []
    _check_refs(schema, schema, problems)
    if problems:
        return problems
    root = resolve(schema, schema)
    if type_of(root) != "object":
        return ['顶层须是对象 ("type": "object"), 字段列在 properties 中']
    _check_object(root, schema, (), problems, depth=0)
    return problems


def _check_refs(node, root: dict, problems: list[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _check_refs(item, root, problems)
        return
    if not isinstance(node, dict):
        return
    ref = node.get("$ref")
    if isinstance(ref, str):
        if not ref.startswith("#"):
            problems.append(f"只支持表单内的引用 ($ref 以 # 开头): {ref}")
        elif not _points_to_object(root, ref):
            problems.append(f"引用的定义不存在: {ref}")
    for key, value in node.items():
        if key not in ("const", "enum", "default", "examples"):
            _check_refs(value, root, problems)


def _points_to_object(root: dict, ref: str) -> bool:
    target = root
    for part in ref[1:].split("/")[1:] if ref != "#" else []:
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(target, dict) or part not in target:
            return False
        target = target[part]
    return isinstance(target, dict)


def _check_object(node: dict, root: dict, path: tuple, problems: list[str], *, depth: int) -> None:
    if depth > 20:
        problems.append(f"字段嵌套过深或循环引用: {_where(path)}")
        return
    if "if" in node and not _simple_condition(node["if"]):
        problems.append(f"{_where(path)}的条件 (if) 只能按一个字段的取值 (const 或 enum) 判断")
    for name, raw in layout_of(node, root).fields.items():
        field_path = (*path, name)
        if not isinstance(raw, dict):
            problems.append(f"字段 {'.'.join(field_path)} 的定义须是对象")
            continue
        sub = resolve(raw, root)
        widget = sub.get("x-widget")
        if widget is not None and widget not in WIDGETS:
            problems.append(f"字段 {'.'.join(field_path)} 的 x-widget 不受支持: {widget}")
        kind = kind_of(sub, root)
        if kind == "object":
            _check_object(sub, root, field_path, problems, depth=depth + 1)
        elif kind == "rows":
            _check_object(
                resolve(sub.get("items"), root), root, (*field_path, "[]"), problems, depth=depth + 1
            )


def _simple_condition(node) -> bool:
    if not isinstance(node, dict):
        return False
    props = node.get("properties") or {}
    if len(props) != 1:
        return False
    (test,) = props.values()
    return isinstance(test, dict) and ("const" in test or isinstance(test.get("enum"), list))


def _where(path: tuple) -> str:
    return f"字段 {'.'.join(path)} " if path else "表单顶层"


# --- reading and storing ------------------------------------------------------------------


def _forms_dir(forms_dir) -> Path:
    return Path(forms_dir or current_app.config["FORMS_DIR"])


def _file_schema(name: str, forms_dir) -> dict | None:
    """forms/<name> parsed, None when there is no such file."""
    try:
        return load_form(name, forms_dir=_forms_dir(forms_dir))
    except FormNotFound:
        return None


def _newest(session, name: str) -> FormVersion | None:
    return session.scalar(
        sa.select(FormVersion).filter_by(name=name).order_by(FormVersion.version.desc()).limit(1)
    )


def _stored(session, name: str, digest: str) -> bool:
    return (
        session.scalar(sa.select(FormVersion.id).filter_by(name=name, content_hash=digest).limit(1))
        is not None
    )


def _unseeded_file(session, name: str, forms_dir) -> tuple[dict, str] | None:
    """The file's schema and hash when that content is no stored version of the form yet."""
    schema = _file_schema(name, forms_dir)
    if schema is None:
        return None
    digest = content_hash(schema)
    return None if _stored(session, name, digest) else (schema, digest)


def _add(session, *, name: str, schema: dict, digest: str, source: str, saved_by: str | None) -> FormVersion:
    latest = session.scalar(sa.select(sa.func.max(FormVersion.version)).filter_by(name=name)) or 0
    version = FormVersion(
        name=name,
        version=latest + 1,
        content_hash=digest,
        schema=json.loads(json.dumps(schema)),  # the caller's dict stays the caller's
        source=source,
        saved_by=saved_by,
    )
    session.flush()  # the savepoint below then holds this row alone
    try:
        with session.begin_nested():
            session.add(version)
    except IntegrityError:
        # Someone stored the same version number meanwhile; theirs is the newest now.
        found = _newest(session, name)
        if found is None:
            raise
        return found
    return version


def peek(*, session, name: str, forms_dir=None) -> dict | None:
    """The schema current() would give, without storing anything (for read-only requests)."""
    check_name(name)
    unseeded = _unseeded_file(session, name, forms_dir)
    if unseeded is not None:
        return unseeded[0]
    newest = _newest(session, name)
    return newest.schema if newest is not None else None


def current(*, session, name: str, forms_dir=None) -> FormVersion | None:
    """The newest version; a file whose content is no stored version is stored first, as the
    newest. Raises InvalidForm when that file is not a form the platform can show."""
    check_name(name)
    unseeded = _unseeded_file(session, name, forms_dir)
    if unseeded is not None:
        schema, digest = unseeded
        problems = schema_problems(schema)
        if problems:
            raise InvalidForm([f"表单 {name}: {p}" for p in problems])
        write_after_reading(session)  # seeding is a write, also under a GET
        return _add(session, name=name, schema=schema, digest=digest, source="file", saved_by=None)
    return _newest(session, name)


def save(*, session, name: str, schema: dict, saved_by: str | None, forms_dir=None) -> FormVersion:
    """Store an editor's schema as the newest version (the newest itself when unchanged)."""
    check_name(name)
    problems = schema_problems(schema)
    if problems:
        raise InvalidForm(problems)
    try:
        newest = current(session=session, name=name, forms_dir=forms_dir)
    except (InvalidFormSchema, InvalidForm):
        # A broken file is no version to keep; the editor's schema replaces it.
        newest = _newest(session, name)
    digest = content_hash(schema)
    if newest is not None and newest.content_hash == digest:
        return newest
    return _add(session, name=name, schema=schema, digest=digest, source="editor", saved_by=saved_by)


def versions(*, session, name: str) -> list[FormVersion]:
    """Every stored version, newest first."""
    check_name(name)
    with contextlib.suppress(InvalidFormSchema, InvalidForm):  # stored versions are still worth listing
        current(session=session, name=name)
    return list(
        session.scalars(sa.select(FormVersion).filter_by(name=name).order_by(FormVersion.version.desc()))
    )


def names(*, session, forms_dir=None) -> list[str]:
    stored = set(session.scalars(sa.select(FormVersion.name).distinct()))
    files = set()
    for path in _forms_dir(forms_dir).glob("*.json"):
        try:
            check_name(path.name)
        except InvalidFormName:
            continue
        files.add(path.name)
    return sorted(stored | files)


def used_by(*, session, name: str) -> list:
    """The latest version of each process whose user tasks show this form."""
    from backend.workflow.models import ProcessDefinition

    newest = (
        sa.select(ProcessDefinition.key, sa.func.max(ProcessDefinition.version).label("version"))
        .group_by(ProcessDefinition.key)
        .subquery()
    )
    rows = session.scalars(
        sa.select(ProcessDefinition)
        .join(
            newest,
            sa.and_(ProcessDefinition.key == newest.c.key, ProcessDefinition.version == newest.c.version),
        )
        .options(
            load_only(
                ProcessDefinition.id,
                ProcessDefinition.key,
                ProcessDefinition.version,
                ProcessDefinition.name,
                ProcessDefinition.forms,
                ProcessDefinition.elements,
            )
        )
        .order_by(ProcessDefinition.key)
    )
    return [d for d in rows if name in _form_names(d)]


def _form_names(definition) -> set[str]:
    if definition.forms:
        return set(definition.forms)
    # Deployed before forms were versioned: the forms its user tasks name.
    return {
        e["properties"][FORM_PROPERTY]
        for e in definition.elements or []
        if e.get("type") == "userTask" and (e.get("properties") or {}).get(FORM_PROPERTY)
    }


def schema_of(*, session, form_version_id: int) -> dict:
    with _lock:
        cached = _cache.get(form_version_id)
    if cached is not None:
        return cached
    schema = session.scalar(sa.select(FormVersion.schema).filter_by(id=form_version_id))
    if schema is None:
        raise FormNotFound(f"#{form_version_id}")
    with _lock:
        _cache[form_version_id] = schema
    return schema


def for_task(*, session, task) -> dict:
    """The schema a task shows and validates with: its instance's snapshot of the form, else
    (a definition deployed before forms were versioned, or an inbox-made row such as a 加签
    signer's) the newest version. Raises FormError when there is none."""
    from backend.workflow.models import ProcessDefinition, ProcessInstance

    name = task.form
    if not name:
        raise FormNotFound("")
    pinned = session.scalar(
        sa.select(ProcessDefinition.forms)
        .join(ProcessInstance, ProcessInstance.definition_id == ProcessDefinition.id)
        .where(ProcessInstance.id == task.instance_id)
    )
    if pinned and name in pinned:
        return schema_of(session=session, form_version_id=pinned[name])
    schema = peek(session=session, name=name)
    if schema is None:
        raise FormNotFound(name)
    return schema
