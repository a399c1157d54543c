"""Personal data inside process variables (issue 7): SM4 at rest, masked on the way out.

Which names are sensitive — one registry, name -> mask kind ("phone", "id_card", "bank_account"):
  1. `x-mask` on any property, at any depth ($defs, array items), of every stored form version
     and of the form files in FORMS_DIR;
  2. SENSITIVE_VARIABLES in the config (variables that scripts set, not forms);
  3. the name heuristics of `fields.SENSITIVE_KEYS` ("phone", "id_card", ...), which the
     cockpit has always masked by.
Names only ever join the registry (form versions are never deleted): a value encrypted under
a name is always found again. `fields.sensitive_kind` (cockpit masks) asks this registry.

At rest: `protect(data)` returns a copy in which every non-empty str under a sensitive key, at
any depth, is an SM4 field token; `reveal(data)` is the reverse. The engine in memory sees
plaintext (gateways and scripts work as before), the database holds tokens:
  - process state: `protect_state` / `reveal_state` around the engine's (de)serialization in
    the host; a state without tokens is not walked on load ("sm4:" not in the text);
  - task drafts, held 后加签 decisions and history events: the `SensitiveJSON` column type.
Both walks copy what they change and never mutate their input: the serializer hands out the
live workflow's own dicts.

Tokens are bound to their variable name (SM4-GCM associated data "variable:<name>"): a token
copied under another name does not decrypt there. Only str values are encrypted (the forms'
sensitive fields are strings): a number under a sensitive name keeps its type, and stays
readable. Existing rows: `encrypt_existing_variables` (the Alembic revision, and
`flask crypto encrypt-variables`, which also moves tokens to the current key after a rotation).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from backend.crypto.fields import SENSITIVE_KEYS
from backend.crypto.sm4 import (
    CryptoError,
    Keyring,
    current_keyring,
    decrypt_field,
    encrypt_field,
    is_token,
    needs_rewrap,
)
from backend.db import JSONType

log = logging.getLogger(__name__)

# Another process may store a form version with a new x-mask: looked for at most this often.
REFRESH_SECONDS = 30.0
_MEMO_LIMIT = 20_000  # names seen; scripts may invent any, keep the memo bounded


class _Registry:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.exact: dict[str, str] = {}
        self.memo: dict[str, str | None] = {}
        self.last_form_id: dict[str, int] = {}
        self.files_read = False
        self.checked_at = float("-inf")


_REG = _Registry()


def _heuristic(name: str) -> str | None:
    return next((kind for part, kind in SENSITIVE_KEYS if part in name), None)


def kind_of(name) -> str | None:
    """The mask kind of a variable or form field name, None when it is not personal data."""
    memo = _REG.memo
    try:
        return memo[name]
    except KeyError:
        pass
    lowered = str(name).lower()
    kind = _REG.exact.get(lowered) or _heuristic(lowered)
    if len(memo) < _MEMO_LIMIT:
        memo[name] = kind
    return kind


def masked_names(schema) -> dict[str, str]:
    """{property name: kind} for every property with `x-mask`, anywhere in a JSON Schema."""
    found: dict[str, str] = {}

    def walk(node):
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict):
                for name, prop in props.items():
                    if isinstance(prop, dict) and isinstance(prop.get("x-mask"), str):
                        found[str(name).lower()] = prop["x-mask"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return found


def _add(names: dict[str, str]) -> None:
    new = {k: v for k, v in names.items() if _REG.exact.get(k) != v}
    if new:
        _REG.exact = {**_REG.exact, **new}
        _REG.memo = {}


def refresh(connection=None, *, force: bool = False) -> None:
    """Bring the registry up to date: config, form files (once), form versions stored since the
    last look. `connection`: a Session or Connection to read form_version with (none: skip)."""
    now = time.monotonic()
    if not force and now - _REG.checked_at < REFRESH_SECONDS:
        return
    from flask import current_app, has_app_context

    with _REG.lock:
        if not force and now - _REG.checked_at < REFRESH_SECONDS:
            return  # another thread just did
        if has_app_context():
            configured = current_app.config.get("SENSITIVE_VARIABLES") or {}
            _add({str(k).lower(): v for k, v in configured.items()})
            if not _REG.files_read:
                _add(_file_names(current_app.config.get("FORMS_DIR")))
                _REG.files_read = True
        if connection is not None:
            _add(_stored_names(connection))
        _REG.checked_at = now


def _file_names(forms_dir) -> dict[str, str]:
    names: dict[str, str] = {}
    if not forms_dir or not Path(forms_dir).is_dir():
        return names
    for path in sorted(Path(forms_dir).glob("*.json")):
        try:
            names.update(masked_names(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            continue  # a broken file is the form store's problem, reported there
    return names


def _stored_names(connection) -> dict[str, str]:
    from backend.forms.models import FormVersion

    # A Connection (data steps), else a Session or the scoped db.session (the host).
    conn = connection if isinstance(connection, sa.engine.Connection) else connection.connection()
    database = str(conn.engine.url)  # ids are per database (tests run several)
    last = _REG.last_form_id.get(database)
    if last is None:  # a failed SELECT would abort a PostgreSQL transaction: ask first
        if not sa.inspect(conn).has_table(FormVersion.__tablename__):
            return {}
        last = 0
    names: dict[str, str] = {}
    rows = conn.execute(
        sa.select(FormVersion.id, FormVersion.schema).where(FormVersion.id > last).order_by(FormVersion.id)
    ).all()
    for form_id, schema in rows:
        if isinstance(schema, str):
            schema = json.loads(schema)
        names.update(masked_names(schema))
        last = max(last, form_id)
    _REG.last_form_id[database] = last
    return names


def _form_stored(_mapper, _connection, target) -> None:
    # This process learns a new form's names at once (others within REFRESH_SECONDS). Should
    # the transaction roll back, the names stay: an extra encrypted name is harmless.
    with _REG.lock:
        _add(masked_names(target.schema))


def _before_flush(session, _flush_context, _instances) -> None:
    # Column values are encrypted during the flush: know the names before it starts.
    from flask import has_app_context

    if has_app_context():
        refresh(session)


def install() -> None:
    from backend.forms.models import FormVersion

    if not sa_event.contains(Session, "before_flush", _before_flush):
        sa_event.listen(Session, "before_flush", _before_flush)
    if not sa_event.contains(FormVersion, "after_insert", _form_stored):
        sa_event.listen(FormVersion, "after_insert", _form_stored)


install()


def reset() -> None:
    """Forget what was learnt (tests that change forms or the config)."""
    _REG.reset()


# --- walking data --------------------------------------------------------------------------


def protect(value, *, keyring: Keyring | None = None, rotate: bool = False, _memo=None):
    """A copy of JSON-like `value` with the str values of sensitive keys SM4-encrypted.
    `rotate` (data steps over stored rows): values that already are tokens are left alone,
    or re-encrypted when an older key made them; otherwise every value is plaintext."""
    ring = keyring or current_keyring()
    memo = {} if _memo is None else _memo
    return _protect(value, ring, rotate, memo)


def _copy_on_write(value, leaf):
    """`value` with `leaf(key, text)` applied to the strings under dict keys, at any depth; the
    containers on the way to a change are copied, everything else is shared (never mutated:
    Spiff's serializer hands out live task data)."""
    if isinstance(value, dict):
        out = None
        for key, item in value.items():
            if isinstance(item, str):
                new = leaf(key, item)
            elif isinstance(item, (dict, list)):
                new = _copy_on_write(item, leaf)
            else:
                continue
            if new is not item:
                if out is None:
                    out = dict(value)
                out[key] = new
        return value if out is None else out
    if isinstance(value, list):
        out = None
        for i, item in enumerate(value):
            if isinstance(item, (dict, list)):
                new = _copy_on_write(item, leaf)
                if new is not item:
                    if out is None:
                        out = list(value)
                    out[i] = new
        return value if out is None else out
    return value


def _protect(value, ring: Keyring, rotate: bool, memo: dict):
    def leaf(key, text: str) -> str:
        if not text or not kind_of(key):
            return text
        return _encrypt(text, key, ring, rotate, memo)

    return _copy_on_write(value, leaf)


def context_of(key) -> str:
    """The token's associated data: bound to its variable name, a token copied under another
    name (a free-text field, say) does not decrypt there."""
    return f"variable:{key}"


def _encrypt(text: str, key, ring: Keyring, rotate: bool, memo: dict) -> str:
    context = context_of(key)
    if rotate and is_token(text):
        if not needs_rewrap(text, keyring=ring, context=context):
            return text
        try:
            text = decrypt_field(text, keyring=ring, context=context)
        except CryptoError as exc:  # moved or damaged: named, left for a person to look at
            log.warning("process variable %r not re-encrypted: %s", key, exc)
            return text
    token = memo.get((context, text))
    if token is None:
        # One token per distinct value, name and walk: a phone in several tasks' data is
        # encrypted once (equal values in one instance's state are no secret from each other).
        token = memo[(context, text)] = encrypt_field(text, keyring=ring, context=context)
    return token


def reveal(value, *, keyring: Keyring | None = None, _memo=None):
    """A copy of `value` with SM4 tokens decrypted. A token under a sensitive key that does not
    decrypt raises CryptoError; under another key a token-shaped text someone typed is left."""
    ring = keyring or current_keyring()
    memo = {} if _memo is None else _memo
    return _reveal(value, ring, memo)


def _reveal(value, ring: Keyring, memo: dict):
    def leaf(key, text: str) -> str:
        return _decrypt(text, key, ring, memo) if is_token(text) else text

    return _copy_on_write(value, leaf)


def _decrypt(token: str, key, ring: Keyring, memo: dict) -> str:
    context = context_of(key)
    plain = memo.get((context, token))
    if plain is None:
        try:
            plain = memo[(context, token)] = decrypt_field(token, keyring=ring, context=context)
        except CryptoError:
            if kind_of(key):
                raise
            log.warning("a token-shaped value under %r does not decrypt here; left as it is", key)
            return token
    return plain


# --- process state -------------------------------------------------------------------------


def protect_state(state: dict, *, session=None) -> dict:
    """The engine's serializer dict with personal data encrypted (the host saves this)."""
    refresh(session)
    ring, memo = current_keyring(), {}
    return _walk_workflow(state, lambda value: _protect(value, ring, False, memo))


def reveal_state(state: dict) -> dict:
    ring, memo = current_keyring(), {}
    return _walk_workflow(state, lambda value: _reveal(value, ring, memo))


# Where a serialized workflow keeps data (SpiffWorkflow 3): its own `data`, each task's `data`
# (the root task), `delta.updates` (the others: what changed), `internal_data`, the
# subprocesses (same shape) and pending events' payloads. The rest (ids, states, spec names,
# ~80% of the text) is never walked.
def _walk_workflow(wf: dict, change) -> dict:
    out = _changed(wf, "data", change, None)
    out = _changed(wf, "bpmn_events", change, out)
    for name, walk in (("tasks", _walk_task), ("subprocesses", _walk_workflow)):
        items = wf.get(name)
        if not items:
            continue
        new_items = None
        for key, item in items.items():
            new = walk(item, change) if isinstance(item, dict) else item
            if new is not item:
                if new_items is None:
                    new_items = dict(items)
                new_items[key] = new
        if new_items is not None:
            out = out if out is not None else dict(wf)
            out[name] = new_items
    return wf if out is None else out


def _walk_task(task: dict, change) -> dict:
    delta = task.get("delta")
    if not (task.get("data") or task.get("internal_data") or (delta and delta.get("updates"))):
        return task  # most tasks: nothing of their own (a start pays only this test per task)
    out = _changed(task, "data", change, None)
    out = _changed(task, "internal_data", change, out)
    if isinstance(delta, dict) and delta.get("updates"):
        new = _changed(delta, "updates", change, None)
        if new is not None:
            out = out if out is not None else dict(task)
            out["delta"] = new
    return task if out is None else out


def _changed(container: dict, key: str, change, out):
    """`out` (a copy of `container`, made when first needed) with `container[key]` changed."""
    value = container.get(key)
    if not value or not isinstance(value, (dict, list)):
        return out
    new = change(value)
    if new is value:
        return out
    out = out if out is not None else dict(container)
    out[key] = new
    return out


def state_has_tokens(state_json: str | None) -> bool:
    """Cheap test on the stored text: most states hold no personal data and are not walked."""
    return bool(state_json) and '"sm4:' in state_json


# --- columns -------------------------------------------------------------------------------


class SensitiveJSON(TypeDecorator):
    """JSON whose personal data (see the registry) is stored as SM4 tokens; dicts in Python.
    JSONB on PostgreSQL, JSON elsewhere: the same schema as `backend.db.JSONType`."""

    impl = sa.JSON
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.JSONB())
        return dialect.type_descriptor(sa.JSON())

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return protect(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return reveal(value)


# --- data step for stored rows -------------------------------------------------------------

# (table, primary key columns, JSON column) holding form data; process_instance.state_json
# is text and handled apart.
SENSITIVE_JSON_COLUMNS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("task_draft", ("task_id", "user"), "data"),
    ("held_decision", ("task_id",), "data"),
    ("event", ("id",), "detail"),
)


def _json_dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def encrypt_existing_variables(connection, *, keyring: Keyring | None = None, batch: int = 500) -> int:
    """Encrypt the plaintext personal data already stored in process state, drafts, held
    decisions and history events; re-encrypt older keys' tokens under the current key.
    Idempotent (tokens are recognised). For the Alembic revision and
    `flask crypto encrypt-variables`. Returns how many rows were rewritten."""
    ring = keyring or current_keyring()
    refresh(connection, force=True)
    return _rewrite(connection, lambda v: protect(v, keyring=ring, rotate=True), batch)


def decrypt_existing_variables(connection, *, keyring: Keyring | None = None, batch: int = 500) -> int:
    """Back to plaintext (the downgrade of the revision that encrypted them)."""
    ring = keyring or current_keyring()
    return _rewrite(connection, lambda v: reveal(v, keyring=ring), batch)


def _rewrite(connection, change, batch: int) -> int:
    inspector = sa.inspect(connection)
    written = 0
    if inspector.has_table("process_instance"):
        t = sa.table("process_instance", sa.column("id"), sa.column("state_json"))
        last = 0
        while True:
            rows = connection.execute(
                sa.select(t.c.id, t.c.state_json).where(t.c.id > last).order_by(t.c.id).limit(batch)
            ).all()
            if not rows:
                break
            last = rows[-1][0]
            for key, text in rows:
                if not text:
                    continue
                state = json.loads(text)
                new = change(state)
                if new is not state:
                    connection.execute(t.update().where(t.c.id == key).values(state_json=_json_dumps(new)))
                    written += 1
    for table, pks, column in SENSITIVE_JSON_COLUMNS:
        if not inspector.has_table(table):
            continue
        t = sa.table(table, *(sa.column(pk) for pk in pks), sa.column(column, JSONType))
        for row in _batches(connection, t, pks, column, batch):
            value = row[-1]
            if isinstance(value, str):  # a driver that hands JSON back as text
                value = json.loads(value)
            if not isinstance(value, (dict, list)):
                continue
            new = change(value)
            if new is not value:
                where = sa.and_(*(t.c[pk] == row[i] for i, pk in enumerate(pks)))
                connection.execute(t.update().where(where).values({column: new}))
                written += 1
    return written


def _batches(connection, t, pks: tuple[str, ...], column: str, batch: int):
    """The rows, read a batch at a time before any is updated (no open cursor while writing)."""
    columns = (*(t.c[pk] for pk in pks), t.c[column])
    if len(pks) > 1:  # drafts and the like: few rows
        yield from connection.execute(sa.select(*columns)).all()
        return
    last = None
    while True:
        query = sa.select(*columns).order_by(t.c[pks[0]]).limit(batch)
        if last is not None:
            query = query.where(t.c[pks[0]] > last)
        rows = connection.execute(query).all()
        if not rows:
            return
        last = rows[-1][0]
        yield from rows
