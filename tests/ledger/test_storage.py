"""Ledger storage: appends, proofs against stored trees, signed checkpoints, verification."""

import threading

import pytest
import sqlalchemy as sa

from backend import ledger
from backend.extensions import db
from backend.ledger import jobs as ledger_jobs
from backend.ledger import merkle
from backend.ledger.models import LedgerCheckpoint, LedgerLeaf
from tests.ledger.conftest import tamper


def _fill(session, n, name="t"):
    return [ledger.append(session=session, ledger=name, data=f"r{i}".encode()) for i in range(n)]


def test_append_numbers_leaves_and_hashes_with_sm3(session):
    assert _fill(session, 5) == [0, 1, 2, 3, 4]
    assert ledger.size(session=session, ledger="t") == 5
    assert ledger.hash_alg(session=session, ledger="t") == "sm3"
    expected = merkle.root([merkle.leaf_hash(f"r{i}".encode(), "sm3") for i in range(5)], "sm3")
    assert ledger.root_hash(session=session, ledger="t") == expected
    # Ledgers are independent.
    assert ledger.append(session=session, ledger="other", data=b"x") == 0


def test_sha256_ledger_matches_ct_root(app, session):
    app.config["LEDGER_HASH_ALG"] = "sha256"
    try:
        for d in (
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ):
            ledger.append(session=session, ledger="ct", data=bytes.fromhex(d))
    finally:
        app.config["LEDGER_HASH_ALG"] = "sm3"
    root = ledger.root_hash(session=session, ledger="ct")
    assert root.hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    proof = ledger.inclusion_proof(session=session, ledger="ct", index=5, tree_size=8)
    assert proof.hash_alg == "sha256" and proof.verify()


def test_proofs_against_a_checkpoint(session):
    _fill(session, 6)
    cp = ledger.checkpoint(session=session, ledger="t")
    assert (cp.tree_size, cp.hash_alg) == (6, "sm3")
    assert ledger.checkpoint_signature_valid(cp)
    _fill(session, 5)
    proof = ledger.inclusion_proof(session=session, ledger="t", index=3, tree_size=cp.tree_size)
    assert proof.root_hash == cp.root_hash and proof.verify()
    whole = ledger.inclusion_proof(session=session, ledger="t", index=3)
    assert whole.tree_size == 11 and whole.verify()
    cons = ledger.consistency_proof(session=session, ledger="t", old_size=cp.tree_size)
    assert cons.old_root == cp.root_hash and cons.new_size == 11 and cons.verify()
    with pytest.raises(ledger.LedgerError):
        ledger.inclusion_proof(session=session, ledger="t", index=11)
    with pytest.raises(ledger.LedgerError):
        ledger.inclusion_proof(session=session, ledger="t", index=0, tree_size=12)


def test_checkpoint_signature_covers_every_field(session):
    _fill(session, 3)
    cp = ledger.checkpoint(session=session, ledger="t")
    d = ledger.checkpoint_dict(cp)
    assert d["payload"] == ledger.checkpoint_payload(cp).decode()
    cp.tree_size = 2
    assert not ledger.checkpoint_signature_valid(cp)
    cp.tree_size = 3
    assert ledger.checkpoint_signature_valid(cp)
    cp.root_hash = "00" * 32
    assert not ledger.checkpoint_signature_valid(cp)


def test_checkpoint_listeners_and_only_if_grown(session):
    seen = []

    def listener(*, session, checkpoint):
        seen.append(checkpoint.tree_size)

    ledger.on_checkpoint(listener)
    try:
        assert ledger.checkpoint(session=session, ledger="t", only_if_grown=True) is None
        _fill(session, 2)
        first = ledger.checkpoint(session=session, ledger="t", only_if_grown=True)
        assert ledger.checkpoint(session=session, ledger="t", only_if_grown=True).id == first.id
        _fill(session, 1)
        assert [c.tree_size for c in ledger_jobs.checkpoint_all(session=session)] == [3]
    finally:
        ledger.service._CHECKPOINT_LISTENERS.remove(listener)
    assert seen == [2, 3]


def test_periodic_job_enqueued_once_per_interval(app, session):
    from backend.jobs.models import OutboxJob

    assert ledger_jobs.schedule_checkpoints(session=session, now=7200.0)
    assert not ledger_jobs.schedule_checkpoints(session=session, now=7300.0)
    assert ledger_jobs.schedule_checkpoints(session=session, now=10800.0)
    rows = session.scalars(sa.select(OutboxJob).where(OutboxJob.actor == "ledger.checkpoint")).all()
    assert len(rows) == 2
    _fill(session, 2)
    ledger_jobs.run_checkpoints({})
    assert session.scalar(sa.select(sa.func.count()).select_from(LedgerCheckpoint)) == 1


def test_verify_intact_then_leaf_hash_rewritten(session):
    _fill(session, 10)
    ledger.checkpoint(session=session, ledger="t")
    _fill(session, 3)
    ledger.checkpoint(session=session, ledger="t")
    report = ledger.verify(session=session, ledger="t")
    assert report.ok, report.summary()
    assert report.checkpoints_checked == 2
    # Rewrite a leaf hash directly (no domain source for ledger "t"): the checkpoints catch it.
    tamper(
        session,
        "UPDATE ledger_leaf SET leaf_hash = :h WHERE ledger = 't' AND leaf_index = 11",
        h=merkle.leaf_hash(b"forged").hex(),
    )
    report = ledger.verify(session=session, ledger="t")
    assert not report.ok
    first = report.first_problem
    assert first.kind == "altered" and first.leaf_index == 10  # between the two checkpoints
    assert "10 至 12" in first.message


def test_verify_names_deleted_leaf_and_truncated_tail(session):
    _fill(session, 8)
    ledger.checkpoint(session=session, ledger="t")
    tamper(session, "DELETE FROM ledger_leaf WHERE ledger = 't' AND leaf_index = 4")
    report = ledger.verify(session=session, ledger="t")
    assert report.first_problem.kind == "missing" and report.first_problem.leaf_index == 4


def test_verify_uses_registered_source(session):
    rows = {i: f"r{i}".encode() for i in range(4)}
    ledger.register_source("src", lambda s: ((i, d, f"行 {i}") for i, d in sorted(rows.items())))
    try:
        for i in range(4):
            ledger.append(session=session, ledger="src", data=rows[i])
        assert ledger.verify(session=session, ledger="src").ok
        rows[2] = b"changed"
        report = ledger.verify(session=session, ledger="src")
        assert report.first_problem.kind == "altered" and report.first_problem.leaf_index == 2
        assert "行 2" in report.first_problem.message
        rows[2] = b"r2"
        del rows[1]
        report = ledger.verify(session=session, ledger="src")
        assert report.first_problem.kind == "missing" and report.first_problem.leaf_index == 1
    finally:
        ledger.service._SOURCES.pop("src", None)


def test_concurrent_appends_never_share_an_index(app, session):
    errors = []

    def worker(n):
        try:
            with app.app_context():
                for i in range(10):
                    ledger.append(session=db.session, ledger="c", data=f"{n}-{i}".encode())
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
    indexes = session.scalars(sa.select(LedgerLeaf.leaf_index).where(LedgerLeaf.ledger == "c")).all()
    assert sorted(indexes) == list(range(40))
    assert ledger.size(session=session, ledger="c") == 40
    assert ledger.verify(session=session, ledger="c").ok


def test_verify_of_a_large_ledger_is_quick(session):
    import time

    from backend.db import utcnow
    from backend.ledger.models import Ledger

    n = 100_000
    now = utcnow()
    session.add(Ledger(name="big", hash_alg="sm3", size=n, created_at=now))
    session.execute(
        sa.insert(LedgerLeaf),
        [
            {
                "ledger": "big",
                "leaf_index": i,
                "leaf_hash": merkle.leaf_hash(str(i).encode()).hex(),
                "created_at": now,
            }
            for i in range(n)
        ],
    )
    ledger.checkpoint(session=session, ledger="big")
    started = time.monotonic()
    report = ledger.verify(session=session, ledger="big")
    elapsed = time.monotonic() - started
    assert report.ok
    assert elapsed < 10, elapsed


def test_checkpoint_signed_by_another_key_is_refused_unless_trusted(app, session):
    from backend.crypto import SM2Key

    _fill(session, 3)
    cp = ledger.checkpoint(session=session, ledger="t")
    assert ledger.verify(session=session, ledger="t").ok
    # A forger re-signs the head with their own key: the signature is valid, the key is not ours.
    other = SM2Key.generate()
    forged = other.sign(ledger.checkpoint_payload(cp)).hex()
    tamper(
        session,
        "UPDATE ledger_checkpoint SET public_key = :k, signature = :s WHERE id = :id",
        k=other.public_key_hex,
        s=forged,
        id=cp.id,
    )
    session.expire_all()
    assert ledger.checkpoint_signature_valid(session.get(LedgerCheckpoint, cp.id))
    report = ledger.verify(session=session, ledger="t")
    assert not report.ok and "不是平台密钥签署的" in report.first_problem.message
    app.config["LEDGER_TRUSTED_PUBLIC_KEYS"] = other.public_key_hex  # a former platform key
    try:
        assert ledger.verify(session=session, ledger="t").ok
    finally:
        app.config["LEDGER_TRUSTED_PUBLIC_KEYS"] = ""


def test_scheduler_pass_enqueues_the_checkpoint_job(app):
    from backend.workflow import scheduler

    assert ledger_jobs.schedule_checkpoints in scheduler._tick_hooks
