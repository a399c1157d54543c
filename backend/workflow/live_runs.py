"""Live workflows kept between units of work, so the next action on an instance skips
deserializing it (the largest per-action cost on big instances).

Safety rules:
- A run is taken out exclusively (`take` pops it): two threads never share one.
- It is put back only after its transaction COMMITTED, tagged with the lock_version that
  commit wrote; a rollback drops it (the live object may hold changes that never happened).
- `take` returns it only if the instance row, read under the row lock, still has that
  lock_version: a write by another process makes it stale and the state is restored from
  the database instead.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from sqlalchemy import event
from sqlalchemy.orm import Session

MAX_KEPT = 256
_PENDING = "bpm.live_runs.pending"

_lock = threading.Lock()
_kept: OrderedDict[int, tuple[int, object]] = OrderedDict()


def take(instance_id: int, lock_version: int):
    with _lock:
        entry = _kept.pop(instance_id, None)
    if entry is None or entry[0] != lock_version:
        return None
    return entry[1]


def keep_after_commit(session: Session, instance, run) -> None:
    """Call after the flush that wrote the run's state; later flushes update the version."""
    session.info.setdefault(_PENDING, {})[instance.id] = [
        instance,
        run,
        instance.__dict__.get("lock_version"),
    ]


def clear() -> None:
    with _lock:
        _kept.clear()


def _after_flush(session: Session, _context) -> None:
    # Remember the lock_version each flush wrote: after commit the attributes are expired.
    for entry in session.info.get(_PENDING, {}).values():
        entry[2] = entry[0].__dict__.get("lock_version", entry[2])


def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the outer transaction may still roll back
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    with _lock:
        for instance_id, (_instance, run, version) in pending.items():
            if version is None:
                continue
            _kept[instance_id] = (version, run)
            _kept.move_to_end(instance_id)
        while len(_kept) > MAX_KEPT:
            _kept.popitem(last=False)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def install() -> None:
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_flush_postexec", _after_flush)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", lambda s, _prev: _after_rollback(s))
