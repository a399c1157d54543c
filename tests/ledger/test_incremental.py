"""Incremental checkpoints: each checkpoint stores its Merkle frontier and the next one reads
only the leaves appended since (the root always equals the full recomputation)."""

import random

import pytest
import sqlalchemy as sa

from backend import ledger
from backend.crypto import SM2Key
from backend.ledger import merkle
from backend.ledger.models import LedgerCheckpoint, LedgerLeaf
from backend.ledger.service import checkpoint_payload
from tests.ledger.conftest import tamper


def _leaf(i: int, alg: str = "sm3") -> bytes:
    return merkle.leaf_hash(f"r{i}".encode(), alg)


def _fill(session, start: int, count: int, name: str = "inc") -> None:
    for i in range(start, start + count):
        ledger.append(session=session, ledger=name, data=f"r{i}".encode())


@pytest.mark.parametrize("alg", ["sha256", "sm3"])
def test_frontier_resumes_to_the_full_root_for_every_size(alg):
    rng = random.Random(7)
    leaves = [_leaf(i, alg) for i in range(340)]
    for size in range(0, 301):
        compact = merkle.CompactRange(alg)
        for leaf in leaves[:size]:
            compact.append(leaf)
        assert compact.root() == merkle.root(leaves[:size], alg)
        frontier = compact.frontier()
        assert len(frontier) == bin(size).count("1")
        bulk = merkle.CompactRange(alg)
        bulk.extend(leaves[:size])  # the full read's path
        assert (bulk.size, bulk.frontier()) == (size, frontier)
        resumed = merkle.CompactRange.from_frontier(size, frontier, alg)
        more = rng.randint(1, 40)
        for leaf in leaves[size : size + more]:
            resumed.append(leaf)
        assert resumed.size == size + more
        assert resumed.root() == merkle.root(leaves[: size + more], alg), (size, more)
    with pytest.raises(merkle.ProofError):
        merkle.CompactRange.from_frontier(5, [leaves[0]], alg)  # 5 = 4 + 1: two hashes


def test_checkpoints_with_random_appends_match_the_full_root(session):
    rng = random.Random(2026)
    size = 0
    seen = 0
    while size < 300:
        batch = rng.randint(1, 9)
        _fill(session, size, batch)
        size += batch
        cp = ledger.checkpoint(session=session, ledger="inc")
        expected = merkle.root([_leaf(i) for i in range(size)])
        assert (cp.tree_size, cp.root_hash) == (size, expected.hex())
        assert len(cp.frontier.split(",")) == bin(size).count("1")
        assert ledger.checkpoint_signature_valid(cp)
        seen += 1
    assert seen > 30
    assert ledger.verify(session=session, ledger="inc").ok
    # A checkpoint without growth signs the same root again.
    again = ledger.checkpoint(session=session, ledger="inc")
    assert again.root_hash == cp.root_hash and again.tree_size == cp.tree_size


def test_checkpoint_reads_only_the_new_leaves(session):
    """Proof by tampering: an old leaf changed after a checkpoint does not reach the next root
    (it is not re-read); the new root extends the signed one and verify names the change."""
    _fill(session, 0, 20)
    first = ledger.checkpoint(session=session, ledger="inc")
    tamper(
        session, "UPDATE ledger_leaf SET leaf_hash = :h WHERE ledger = 'inc' AND leaf_index = 3", h="00" * 32
    )
    statements = []

    def spy(conn, cursor, statement, parameters, context, executemany):
        if "ledger_leaf" in statement and statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    engine = session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", spy)
    try:
        _fill(session, 20, 7)
        second = ledger.checkpoint(session=session, ledger="inc")
    finally:
        sa.event.remove(engine, "before_cursor_execute", spy)
    assert second.root_hash == merkle.root([_leaf(i) for i in range(27)]).hex()
    assert merkle.verify_consistency(
        20,
        27,
        merkle.consistency_proof([_leaf(i) for i in range(27)], 20),
        bytes.fromhex(first.root_hash),
        bytes.fromhex(second.root_hash),
    )
    assert any(20 in tuple(p.values() if isinstance(p, dict) else p) for _, p in statements)
    report = ledger.verify(session=session, ledger="inc")
    # Without a registered source verify narrows it to the first signed range (0..19).
    assert not report.ok and report.first_problem.checkpoint_id == first.id


def test_a_missing_new_leaf_refuses_the_checkpoint(session):
    _fill(session, 0, 10)
    ledger.checkpoint(session=session, ledger="inc")
    _fill(session, 10, 5)
    tamper(session, "DELETE FROM ledger_leaf WHERE ledger = 'inc' AND leaf_index = 12")
    with pytest.raises(ledger.LedgerError, match="缺少记录"):
        ledger.checkpoint(session=session, ledger="inc")


def test_old_checkpoints_without_frontier_and_damaged_frontiers_fall_back(session):
    _fill(session, 0, 13)
    ledger.checkpoint(session=session, ledger="inc")
    tamper(session, "UPDATE ledger_checkpoint SET frontier = NULL")  # as written before frontiers
    _fill(session, 13, 4)
    cp = ledger.checkpoint(session=session, ledger="inc")  # full read
    assert cp.root_hash == merkle.root([_leaf(i) for i in range(17)]).hex() and cp.frontier

    # A changed frontier no longer leads to its signed root: the one before it is used.
    _fill(session, 17, 6)
    latest = ledger.checkpoint(session=session, ledger="inc")
    forged = ",".join("11" * 32 for _ in latest.frontier.split(","))
    tamper(session, "UPDATE ledger_checkpoint SET frontier = :f WHERE id = :i", f=forged, i=latest.id)
    session.expire_all()
    _fill(session, 23, 2)
    cp = ledger.checkpoint(session=session, ledger="inc")
    assert cp.root_hash == merkle.root([_leaf(i) for i in range(25)]).hex()


def test_a_checkpoint_forged_with_another_key_is_not_resumed_from(session):
    _fill(session, 0, 8)
    ledger.checkpoint(session=session, ledger="inc")
    _fill(session, 8, 8)
    # An attacker inserts a self-consistent checkpoint (frontier, root, signature) over fake
    # leaves at the current size, signed with a key of their own.
    fake = merkle.CompactRange()
    for i in range(16):
        fake.append(merkle.leaf_hash(f"fake{i}".encode()))
    mallory = SM2Key.generate()
    cp = LedgerCheckpoint(
        ledger="inc",
        tree_size=16,
        root_hash=fake.root().hex(),
        hash_alg="sm3",
        created_at=ledger.latest_checkpoint(session=session, ledger="inc").created_at,
        public_key=mallory.public_key_hex,
        signature="",
        frontier=",".join(h.hex() for h in fake.frontier()),
    )
    cp.signature = mallory.sign(checkpoint_payload(cp)).hex()
    session.add(cp)
    session.flush()
    _fill(session, 16, 1)
    made = ledger.checkpoint(session=session, ledger="inc")
    assert made.root_hash == merkle.root([_leaf(i) for i in range(17)]).hex()
    count = session.scalar(
        sa.select(sa.func.count()).select_from(LedgerLeaf).where(LedgerLeaf.ledger == "inc")
    )
    assert count == 17
