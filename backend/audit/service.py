"""Writing, searching, exporting and verifying the audit log.

Each record's canonical bytes (compact JSON, sorted keys, UTF-8) are a leaf of the "audit"
ledger, appended under the ledger's lock in the same transaction as the record (when that
transaction commits), so the record and its leaf commit together or not at all.

Records of a failure or a refusal (a failed sign-in, a denied page) must survive the rollback
of the request that caused them: they are written in their own transaction, once the caller's
transaction has ended (writing them meanwhile from a second connection would wait on the
caller's own write lock on SQLite, or on the ledger row lock on PostgreSQL).
"""

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, scoped_session

from backend import ledger
from backend.audit.models import RESULTS, AuditRecord
from backend.db import utcnow, write_after_reading

LEDGER = "audit"
MIN_RETENTION_DAYS = 180
PENDING = "audit.pending"  # Session.info: records to write in their own transaction after this one
QUEUED = "audit.queued"  # Session.info: records of this transaction, appended when it commits
COMMITTING = "audit.committing"  # Session.info: the commit has begun, append at once
CANONICAL_FIELDS = (
    "at",
    "user_id",
    "username",
    "source_addr",
    "action",
    "object_type",
    "object_id",
    "result",
    "detail",
)
log = logging.getLogger("backend.audit")


class AuditError(ValueError):
    pass


class RetentionError(AuditError):
    """Deleting audit records younger than the retention period is refused."""


class AppendOnlyError(AuditError):
    """Audit records are never changed or deleted through the application."""


def retention_days() -> int:
    """`AUDIT_RETENTION_DAYS`, never below 180 (GB/T 22239-2019 8.1.4.3: at least six months)."""
    try:
        from flask import current_app

        value = current_app.config.get("AUDIT_RETENTION_DAYS")
    except RuntimeError:
        value = None
    if value is None:
        value = os.environ.get("AUDIT_RETENTION_DAYS", MIN_RETENTION_DAYS)
    return max(MIN_RETENTION_DAYS, int(value))


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def json_safe(value) -> dict:
    return json.loads(json.dumps(value or {}, default=str, ensure_ascii=False, sort_keys=True))


def canonical_bytes(record) -> bytes:
    """The leaf data of a record (an AuditRecord or a dict with the same fields)."""
    get = record.get if isinstance(record, dict) else lambda name: getattr(record, name)
    body = {name: get(name) for name in CANONICAL_FIELDS}
    body["at"] = _iso(body["at"])
    body["detail"] = body["detail"] or {}
    body["v"] = 1
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _plain(session):
    return session() if isinstance(session, scoped_session) else session


# --- writing ---------------------------------------------------------------------------------


def make_entry(
    action: str,
    *,
    result: str = "success",
    object_type: str | None = None,
    object_id=None,
    detail: dict | None = None,
    user=None,
    username: str | None = None,
    source_addr: str | None = None,
) -> dict:
    """The fields of one record; who and from where default to the current request."""
    if result not in RESULTS:
        raise AuditError(f"result must be one of {', '.join(RESULTS)}, not {result!r}")
    if not action or len(action) > 80:
        raise AuditError("audit action must be a dotted name of at most 80 characters")
    from flask import has_request_context, request

    if has_request_context():
        if user is None:
            user = _current_user()
        if source_addr is None:
            source_addr = request.remote_addr
    user_id = getattr(user, "id", None) if user is not None else None
    if username is None and user is not None:
        username = getattr(user, "username", None)
    return {
        "at": utcnow(),
        "user_id": int(user_id) if user_id is not None else None,
        "username": username[:120] if username else None,
        "source_addr": (source_addr or "")[:64] or None,
        "action": action,
        "object_type": object_type[:60] if object_type else None,
        "object_id": str(object_id)[:120] if object_id is not None else None,
        "result": result,
        "detail": json_safe(detail),
    }


def _current_user():
    try:
        from flask_login import current_user

        if current_user and current_user.is_authenticated:
            return current_user._get_current_object()
    except Exception:  # noqa: BLE001 - no login manager (CLI, jobs): nobody
        return None
    return None


def write(session, entry: dict, *, flush: bool = True) -> AuditRecord:
    """Append the entry's leaf and add its row in `session`'s transaction."""
    index = ledger.append(session=session, ledger=LEDGER, data=canonical_bytes(entry))
    row = AuditRecord(leaf_index=index, **entry)
    session.add(row)
    if flush:
        session.flush()
    return row


def record(
    action: str,
    *,
    result: str = "success",
    object_type: str | None = None,
    object_id: str | int | None = None,
    detail: dict | None = None,
    user=None,
    username: str | None = None,
    session=None,
) -> None:
    """Append one audit record. Successes go into the caller's transaction (`session`, default
    `db.session`); failures and refusals into their own, so a rollback cannot erase them."""
    entry = make_entry(
        action,
        result=result,
        object_type=object_type,
        object_id=object_id,
        detail=detail,
        user=user,
        username=username,
    )
    if session is None:
        from backend.extensions import db

        session = db.session
    plain = _plain(session)
    if result == "success":
        # A GET that audits (an export, a download) writes: its read transaction ends here so
        # the write queues behind other writers instead of failing on the lock upgrade (SQLite).
        write_after_reading(plain)
        queue(plain, entry)
    else:
        defer(plain, entry)


def queue(session, entry: dict) -> None:
    """Append `entry` in `session`'s transaction, at its commit: the ledger's lock is then held
    only for the commit, and always after the transaction's other locks (no lock-order
    deadlocks on PostgreSQL). A rollback drops it with everything else."""
    plain = _plain(session)
    if plain.info.get(COMMITTING):
        write(plain, entry, flush=not getattr(plain, "_flushing", False))
    else:
        plain.info.setdefault(QUEUED, []).append(entry)


def _before_commit(session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: the records wait for the real commit
    session.info[COMMITTING] = True
    queued = session.info.pop(QUEUED, None)
    for entry in queued or ():
        write(session, entry, flush=False)  # the commit's flush writes the rows


def defer(session, entry: dict) -> None:
    """Write `entry` in its own transaction: now if `session` has none open, else as soon as
    that transaction ends, whether it commits or rolls back."""
    plain = _plain(session)
    if plain.in_transaction():
        plain.info.setdefault(PENDING, []).append(entry)
    else:
        write_separately([entry])


def write_separately(entries: list[dict]) -> None:
    """Write entries in a transaction of their own (a fresh connection), committed at once."""
    from backend.db import _sqlite_begin
    from backend.extensions import db

    token = _sqlite_begin.set("BEGIN IMMEDIATE")
    try:
        with Session(db.engine) as own, own.begin():
            for entry in entries:
                write(own, entry)
    finally:
        _sqlite_begin.reset(token)


def _after_transaction_end(session, transaction) -> None:
    if transaction.parent is not None:
        return
    session.info.pop(COMMITTING, None)
    session.info.pop(QUEUED, None)  # rolled back (a commit has written them)
    pending = session.info.pop(PENDING, None)
    if not pending:
        return
    try:
        write_separately(pending)
    except Exception:  # the caller's unit of work is over: nothing left to fail but the log
        log.exception("audit.write_failed", extra={"actions": [e["action"] for e in pending]})


def _refuse_changes(session, _flush_context, _instances) -> None:
    for obj in session.dirty:
        if isinstance(obj, AuditRecord) and session.is_modified(obj):
            raise AppendOnlyError("审计记录只能追加，不能修改")
    for obj in session.deleted:
        if isinstance(obj, AuditRecord):
            raise AppendOnlyError("审计记录只能追加，不能删除（保存期满后用 purge 清理）")


def install() -> None:
    if not sa_event.contains(Session, "after_transaction_end", _after_transaction_end):
        sa_event.listen(Session, "after_transaction_end", _after_transaction_end)
    if not sa_event.contains(Session, "before_commit", _before_commit):
        sa_event.listen(Session, "before_commit", _before_commit)
    if not sa_event.contains(Session, "before_flush", _refuse_changes):
        sa_event.listen(Session, "before_flush", _refuse_changes)
    ledger.register_source(LEDGER, _leaf_source)


# --- retention -------------------------------------------------------------------------------


def purge(*, session, before: datetime, user=None) -> int:
    """Delete records older than `before`, which must itself be older than the retention
    period. The purge is audited; `verify` then accepts the leaves whose rows it removed."""
    limit = utcnow() - timedelta(days=retention_days())
    if before > limit:
        raise RetentionError(
            f"审计记录至少保存 {retention_days()} 天：不能删除 {limit:%Y-%m-%d %H:%M} (UTC) 之后的记录"
        )
    upto = session.scalar(sa.select(sa.func.max(AuditRecord.leaf_index)).where(AuditRecord.at < before))
    if upto is None:
        return 0
    count = session.execute(sa.delete(AuditRecord).where(AuditRecord.at < before)).rowcount
    entry = make_entry(
        "audit.purge",
        detail={"before": _iso(before), "count": count, "up_to_leaf_index": int(upto)},
        user=user,
    )
    write(session, entry)
    return count


def _purged_up_to(session) -> int:
    """The highest leaf index a recorded purge removed (-1: none)."""
    highest = -1
    for detail in session.scalars(sa.select(AuditRecord.detail).where(AuditRecord.action == "audit.purge")):
        highest = max(highest, int((detail or {}).get("up_to_leaf_index", -1)))
    return highest


def _leaf_source(session):
    """For ledger.verify: each record's canonical bytes by leaf index; purged leaves as None."""
    purged = _purged_up_to(session)
    columns = [AuditRecord.id, AuditRecord.leaf_index, *(getattr(AuditRecord, n) for n in CANONICAL_FIELDS)]
    rows = session.execute(
        sa.select(*columns).order_by(AuditRecord.leaf_index).execution_options(yield_per=2000)
    )
    expected = 0
    for row in rows:
        index = int(row.leaf_index)
        while expected < min(index, purged + 1):
            yield expected, None, ""
            expected += 1
        expected = max(expected, index + 1)
        data = {n: getattr(row, n) for n in CANONICAL_FIELDS}
        label = f"审计记录 #{row.id}（{row.action}，{row.at:%Y-%m-%d %H:%M:%S} UTC）"
        yield index, canonical_bytes(data), label
    while expected <= purged:
        yield expected, None, ""
        expected += 1


def verify(*, session) -> ledger.VerifyReport:
    return ledger.verify(session=session, ledger=LEDGER)


# --- searching -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    start: datetime | None = None
    end: datetime | None = None
    username: str | None = None
    action: str | None = None  # a prefix: "task." matches every task action
    actions: tuple[str, ...] | None = None  # exact codes (a category, a code chosen in the filter)
    result: str | None = None
    object_type: str | None = None
    object_id: str | None = None

    def as_args(self) -> dict:
        return {
            k: (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in self.__dict__.items()
            if v not in (None, "")
        }


def _filtered(stmt, f: AuditFilter):
    if f.start is not None:
        stmt = stmt.where(AuditRecord.at >= f.start)
    if f.end is not None:
        stmt = stmt.where(AuditRecord.at < f.end)
    if f.username:
        stmt = stmt.where(AuditRecord.username == f.username)
    if f.action:
        escaped = f.action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(AuditRecord.action.like(escaped + "%", escape="\\"))
    if f.actions is not None:
        stmt = stmt.where(AuditRecord.action.in_(f.actions))
    if f.result:
        stmt = stmt.where(AuditRecord.result == f.result)
    if f.object_type:
        stmt = stmt.where(AuditRecord.object_type == f.object_type)
    if f.object_id:
        stmt = stmt.where(AuditRecord.object_id == f.object_id)
    return stmt


def search(
    *, session, filters: AuditFilter, before_id: int | None = None, limit: int = 50
) -> tuple[list[AuditRecord], int | None]:
    """Newest first, keyset-paged on id: (rows, the cursor of the next page or None)."""
    stmt = _filtered(sa.select(AuditRecord), filters)
    if before_id is not None:
        stmt = stmt.where(AuditRecord.id < before_id)
    rows = list(session.scalars(stmt.order_by(AuditRecord.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def iter_filtered(*, session, filters: AuditFilter, max_rows: int = 100_000):
    """Every matching record, newest first (exports)."""
    stmt = _filtered(sa.select(AuditRecord), filters).order_by(AuditRecord.id.desc()).limit(max_rows)
    yield from session.scalars(stmt.execution_options(yield_per=1000))


def distinct_actions(*, session) -> list[str]:
    return list(session.scalars(sa.select(AuditRecord.action).distinct().order_by(AuditRecord.action)))


def distinct_object_types(*, session) -> list[str]:
    stmt = (
        sa.select(AuditRecord.object_type)
        .where(AuditRecord.object_type.is_not(None))
        .distinct()
        .order_by(AuditRecord.object_type)
    )
    return list(session.scalars(stmt))
