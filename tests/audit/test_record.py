"""The audit log: records as ledger leaves, tamper and deletion detection, retention,
failures written in their own transaction."""

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from backend import ledger
from backend.audit import record, service
from backend.audit.models import AuditRecord
from backend.db import utcnow
from backend.extensions import db
from backend.ledger import merkle
from tests.audit.conftest import tamper


def _rows(session, **where):
    return session.scalars(sa.select(AuditRecord).filter_by(**where).order_by(AuditRecord.leaf_index)).all()


def _fill(session, n=5):
    for i in range(n):
        record("test.action", object_type="thing", object_id=i, detail={"n": i, "名": "值"}, username=f"u{i}")
    session.commit()


def test_record_is_a_leaf_of_the_audit_ledger(session):
    _fill(session, 3)
    rows = _rows(session)
    assert [r.leaf_index for r in rows] == [0, 1, 2]
    assert rows[1].username == "u1" and rows[1].object_id == "1" and rows[1].result == "success"
    leaves = ledger.leaf_hashes(session=session, ledger="audit")
    assert leaves[1] == merkle.leaf_hash(service.canonical_bytes(rows[1]))
    report = service.verify(session=session)
    assert report.ok, report.summary()
    assert report.records_checked == 3


def test_success_records_roll_back_with_the_caller(session):
    _fill(session, 1)
    record("test.rolled_back", username="x")
    session.rollback()
    assert [r.action for r in _rows(session)] == ["test.action"]
    assert ledger.size(session=session, ledger="audit") == 1
    assert service.verify(session=session).ok


def test_failure_survives_the_callers_rollback(session):
    _fill(session, 1)
    record("auth.login", result="failure", username="mallory", detail={"reason": "password"})
    session.rollback()
    rows = _rows(session, action="auth.login")
    assert [(r.username, r.result) for r in rows] == [("mallory", "failure")]
    assert service.verify(session=session).ok


def test_tampered_row_is_named(session):
    _fill(session, 6)
    ledger.checkpoint(session=session, ledger="audit")
    session.commit()
    victim = _rows(session)[3]
    tamper(session, "UPDATE audit_record SET username = 'someone_else' WHERE id = :id", id=victim.id)
    session.commit()
    report = service.verify(session=session)
    assert not report.ok
    first = report.first_problem
    assert (first.kind, first.leaf_index) == ("altered", 3)
    assert f"审计记录 #{victim.id}" in first.message


def test_deleted_row_is_named(session):
    _fill(session, 6)
    victim = _rows(session)[2]
    tamper(session, "DELETE FROM audit_record WHERE id = :id", id=victim.id)
    session.commit()
    report = service.verify(session=session)
    assert (report.first_problem.kind, report.first_problem.leaf_index) == ("missing", 2)


def test_row_and_leaf_rewritten_together_is_caught_by_the_checkpoint(session):
    _fill(session, 6)
    ledger.checkpoint(session=session, ledger="audit")
    session.commit()
    victim = _rows(session)[4]
    tamper(session, "UPDATE audit_record SET result = 'denied' WHERE id = :id", id=victim.id)
    session.expire_all()
    forged = merkle.leaf_hash(service.canonical_bytes(session.get(AuditRecord, victim.id))).hex()
    tamper(
        session, "UPDATE ledger_leaf SET leaf_hash = :h WHERE ledger = 'audit' AND leaf_index = 4", h=forged
    )
    session.commit()
    report = service.verify(session=session)
    assert not report.ok
    assert report.first_problem.kind == "altered"
    assert "检查点" in report.first_problem.message


def test_deleted_tail_is_caught_by_the_checkpoint(session):
    _fill(session, 4)
    ledger.checkpoint(session=session, ledger="audit")
    session.commit()
    tamper(session, "DELETE FROM audit_record WHERE leaf_index = 3")
    tamper(session, "DELETE FROM ledger_leaf WHERE ledger = 'audit' AND leaf_index = 3")
    tamper(session, "UPDATE ledger SET size = 3 WHERE name = 'audit'")
    session.commit()
    report = service.verify(session=session)
    assert (report.first_problem.kind, report.first_problem.leaf_index) == ("missing", 3)


def test_orm_refuses_changes_and_deletes(session):
    _fill(session, 1)
    row = _rows(session)[0]
    row.username = "changed"
    with pytest.raises(service.AppendOnlyError):
        session.flush()
    session.rollback()
    session.delete(_rows(session)[0])
    with pytest.raises(service.AppendOnlyError):
        session.flush()
    session.rollback()


def test_retention_refuses_young_deletion_and_purge_keeps_verify_intact(app, session):
    assert service.retention_days() == 180
    app.config["AUDIT_RETENTION_DAYS"] = 30
    try:
        assert service.retention_days() == 180  # never below 180
    finally:
        app.config["AUDIT_RETENTION_DAYS"] = 180
    _fill(session, 3)
    with pytest.raises(service.RetentionError):
        service.purge(session=session, before=utcnow())
    with pytest.raises(service.RetentionError):
        service.purge(session=session, before=utcnow() - timedelta(days=179))
    assert len(_rows(session)) == 3
    # Age the first two records past the retention period, then purge them.
    old = utcnow() - timedelta(days=400)
    ids = [r.id for r in _rows(session)[:2]]
    tamper(
        session,
        "UPDATE audit_record SET at = :at WHERE id IN (:a, :b)",
        at=old.replace(tzinfo=None),
        a=ids[0],
        b=ids[1],
    )
    session.commit()
    # (aging rewrote the rows: their leaves no longer match, as verify says)
    assert not service.verify(session=session).ok
    assert service.purge(session=session, before=utcnow() - timedelta(days=181)) == 2
    session.commit()
    assert [r.action for r in _rows(session)] == ["test.action", "audit.purge"]
    report = service.verify(session=session)
    assert report.ok, report.summary()


def test_concurrent_records_get_distinct_leaves(app, session):
    errors = []

    def worker(n):
        try:
            with app.app_context():
                for i in range(5):
                    record("test.concurrent", username=f"t{n}", detail={"i": i})
                    db.session.commit()
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(r.leaf_index for r in _rows(session)) == list(range(20))
    assert service.verify(session=session).ok


def test_unknown_result_refused(session):
    with pytest.raises(service.AuditError):
        record("x", result="maybe")


@pytest.mark.postgres
def test_postgres_guards_refuse_update_and_young_delete(session):
    from sqlalchemy.exc import ProgrammingError

    _fill(session, 2)
    statements = [
        "UPDATE audit_record SET username = 'x'",
        "DELETE FROM audit_record",
        "UPDATE ledger_leaf SET leaf_hash = 'x'",
        "DELETE FROM ledger_leaf",
        "DELETE FROM ledger_checkpoint",
    ]
    ledger.checkpoint(session=session, ledger="audit")
    session.commit()
    for sql in statements:
        with pytest.raises(ProgrammingError, match="append-only|retention"):
            session.execute(sa.text(sql))
        session.rollback()
    # A row older than the retention period may be deleted (what purge does).
    tamper(session, "UPDATE audit_record SET at = at - interval '400 days' WHERE leaf_index = 0")
    session.commit()
    assert service.purge(session=session, before=utcnow() - timedelta(days=200)) == 1
    session.commit()
    assert service.verify(session=session).ok
