"""Sensitive columns: stored as SM4 tokens (EncryptedText), shown masked (the mask_* filters).

An encrypted column cannot be searched: each write uses a fresh nonce, so `col == value`
would silently never match. The comparator refuses such comparisons loudly; equality search
needs a blind-index column (`sm4.blind_index`), range/LIKE search is not possible.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator

from backend.crypto.sm4 import decrypt_field, encrypt_field


class EncryptedText(TypeDecorator):
    """str in Python, an SM4 token ("sm4:v2:...") in the database. Needs an app context (the key).

    Each token is bound to its column: `context` defaults to "<table>.<column>", filled in when
    the column joins its table (`_bind_context` below). Declare `context=` explicitly to keep
    the old name when a table or column is renamed (or rewrap after the rename)."""

    impl = sa.Text
    cache_ok = True

    # kind: whatever a sensitive column holds, for masks in pages and exports.
    def __init__(self, kind: str = "text", *args, context: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.context = context

    class Comparator(TypeDecorator.Comparator):
        def operate(self, op, *other, **kwargs):
            allowed = op in (operators.is_, operators.is_not) or (
                op in (operators.eq, operators.ne) and other and other[0] is None
            )
            if not allowed:
                raise TypeError(
                    "an SM4-encrypted column cannot be compared or searched; add a blind index column"
                )
            return super().operate(op, *other, **kwargs)

    comparator_factory = Comparator

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return encrypt_field(str(value), context=self.context or "")

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return decrypt_field(value, context=self.context or "")


@sa.event.listens_for(sa.Column, "after_parent_attach")
def _bind_context(column, table) -> None:
    """Give an EncryptedText column without a declared context its "<table>.<column>" one."""
    if not isinstance(column.type, EncryptedText) or not isinstance(table, sa.Table):
        return
    wanted = f"{table.name}.{column.name}"
    if column.type.context is None:
        column.type.context = wanted
    elif column.type.context != wanted and getattr(column.type, "_derived", False):
        # One type instance shared by two columns: each column gets its own copy.
        column.type = column.type.copy()
        column.type.context = wanted
    else:
        return
    column.type._derived = True


def mask_phone(value) -> str:
    """13812345678 → 138****5678; a landline keeps its first 3 and last 4 characters too."""
    text = _text(value)
    if len(text) <= 7:
        return _hide(text, keep_end=2)
    return text[:3] + "*" * max(4, len(text) - 7) + text[-4:]


def mask_id_card(value) -> str:
    """身份证号: first 3 and last 4 kept (110***********1234)."""
    text = _text(value)
    if len(text) <= 7:
        return "*" * len(text)
    return text[:3] + "*" * (len(text) - 7) + text[-4:]


def mask_bank_account(value) -> str:
    """银行账号: last 4 only (****1234); the length is hidden too."""
    text = _text(value).replace(" ", "")
    if len(text) <= 4:
        return "*" * len(text)
    return "****" + text[-4:]


MASKS = {"phone": mask_phone, "id_card": mask_id_card, "bank_account": mask_bank_account}


def mask(value, kind: str) -> str:
    """Mask `value` as `kind` ("phone", "id_card", "bank_account"); unknown kinds hide all but 2."""
    fn = MASKS.get(kind)
    return fn(value) if fn else _hide(_text(value), keep_end=2)


# Names of process variables and form fields that hold personal data (key -> mask kind):
# encrypted columns are masked where shown; the same values inside workflow data are
# masked wherever the data is displayed (cockpit variables and history).
SENSITIVE_KEYS = (
    ("phone", "phone"),
    ("mobile", "phone"),
    ("id_card", "id_card"),
    ("idcard", "id_card"),
    ("id_number", "id_card"),
    ("bank_account", "bank_account"),
    ("account_no", "bank_account"),
)


def sensitive_kind(key) -> str | None:
    # One registry for masks and encryption at rest: these heuristics, forms' x-mask, config.
    from backend.crypto.variables import kind_of

    return kind_of(key)


def mask_sensitive(data):
    """A copy of JSON-like `data` with the values of sensitive keys masked, at any depth."""
    if isinstance(data, dict):
        masked = {}
        for key, value in data.items():
            kind = sensitive_kind(key)
            if kind and isinstance(value, (str, int)) and not isinstance(value, bool):
                masked[key] = mask(value, kind)
            else:
                masked[key] = mask_sensitive(value)
        return masked
    if isinstance(data, list):
        return [mask_sensitive(item) for item in data]
    return data


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _hide(text: str, *, keep_end: int) -> str:
    if len(text) <= keep_end:
        return "*" * len(text)
    return "*" * (len(text) - keep_end) + text[-keep_end:]
