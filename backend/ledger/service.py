"""Ledgers: append leaves, sign checkpoints, prove inclusion and consistency, verify everything.

Keyword-only functions over a `session`; they flush, never commit. A ledger is created on its
first append with the configured hash algorithm (`LEDGER_HASH_ALG`, "sm3" unless set) and keeps
it for life: a checkpoint names the algorithm it used.
"""

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from backend.db import utcnow
from backend.ledger import merkle
from backend.ledger.models import Ledger, LedgerCheckpoint, LedgerLeaf

PAYLOAD_VERSION = 1

# ledger name -> fn(session) yielding (leaf_index, data bytes, label) in leaf order: the data each
# leaf must hash, recomputed from the domain's own rows (label names the row to a person);
# data None: the domain removed that row on purpose (e.g. a recorded retention purge).
LeafSource = Callable[[object], Iterable[tuple[int, bytes, str]]]
_SOURCES: dict[str, LeafSource] = {}
# fn(*, session, checkpoint) run after a checkpoint is written (anchors).
_CHECKPOINT_LISTENERS: list[Callable] = []


class LedgerError(ValueError):
    pass


def default_hash_alg() -> str:
    try:
        from flask import current_app

        alg = current_app.config.get("LEDGER_HASH_ALG")
    except RuntimeError:  # outside an app context
        alg = None
    alg = alg or os.environ.get("LEDGER_HASH_ALG") or merkle.DEFAULT_ALG
    if alg not in merkle.ALGORITHMS:
        raise LedgerError(f"LEDGER_HASH_ALG must be one of {', '.join(merkle.ALGORITHMS)}, not {alg!r}")
    return alg


def register_source(ledger: str, fn: LeafSource) -> None:
    """Tell `verify` how to recompute the data of each leaf of `ledger`."""
    _SOURCES[ledger] = fn


def on_checkpoint(fn: Callable) -> None:
    """`fn(*, session, checkpoint)` runs in the checkpoint's transaction (e.g. publish to an anchor)."""
    if fn not in _CHECKPOINT_LISTENERS:
        _CHECKPOINT_LISTENERS.append(fn)


# --- appending -------------------------------------------------------------------------------


def _lock_head(session, ledger: str):
    """The ledger's head (size, hash_alg), locked for this transaction, created on first use.

    Core statements on the session's connection only: appends also run inside a flush (the
    audit hooks), where the ORM may not flush again."""
    conn = session.connection()
    table = Ledger.__table__
    locked = sa.select(table.c.size, table.c.hash_alg).where(table.c.name == ledger).with_for_update()
    dialect = conn.dialect.name
    if dialect != "sqlite":
        head = conn.execute(locked).first()
        if head is not None:
            return head
    values = {"name": ledger, "hash_alg": default_hash_alg(), "size": 0, "created_at": utcnow()}
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        # On SQLite this write comes first so the write lock is held before the size is read.
        conn.execute(insert(table).values(**values).on_conflict_do_nothing(index_elements=[table.c.name]))
    else:
        conn.execute(sa.insert(table).values(**values))
    return conn.execute(locked).one()


def append(*, session, ledger: str, data: bytes) -> int:
    """Add `data` as the next leaf of `ledger`; returns its index (0-based)."""
    if not isinstance(data, bytes | bytearray):
        raise TypeError("ledger data must be bytes")
    head = _lock_head(session, ledger)
    index = int(head.size)
    conn = session.connection()
    conn.execute(
        sa.insert(LedgerLeaf.__table__).values(
            ledger=ledger,
            leaf_index=index,
            leaf_hash=merkle.leaf_hash(bytes(data), head.hash_alg).hex(),
            created_at=utcnow(),
        )
    )
    conn.execute(sa.update(Ledger.__table__).where(Ledger.__table__.c.name == ledger).values(size=index + 1))
    return index


# --- reading the tree ------------------------------------------------------------------------


def _head(session, ledger: str):
    """(size, hash_alg) read fresh (column select: never a stale identity-map object)."""
    return session.execute(sa.select(Ledger.size, Ledger.hash_alg).where(Ledger.name == ledger)).first()


def hash_alg(*, session, ledger: str) -> str:
    head = _head(session, ledger)
    return head.hash_alg if head else default_hash_alg()


def size(*, session, ledger: str) -> int:
    head = _head(session, ledger)
    return int(head.size) if head else 0


def leaf_hashes(*, session, ledger: str, tree_size: int | None = None) -> list[bytes]:
    """Stored leaf hashes in index order (the first `tree_size`)."""
    stmt = sa.select(LedgerLeaf.leaf_hash).where(LedgerLeaf.ledger == ledger).order_by(LedgerLeaf.leaf_index)
    if tree_size is not None:
        stmt = stmt.where(LedgerLeaf.leaf_index < tree_size)
    return [bytes.fromhex(h) for h in session.scalars(stmt)]


def _tree(session, ledger: str, tree_size: int | None) -> tuple[list[bytes], str]:
    current = size(session=session, ledger=ledger)
    if tree_size is None:
        tree_size = current
    if not 0 <= tree_size <= current:
        raise LedgerError(f"账本 {ledger} 只有 {current} 条记录，没有大小为 {tree_size} 的树")
    leaves = leaf_hashes(session=session, ledger=ledger, tree_size=tree_size)
    if len(leaves) != tree_size:
        raise LedgerError(f"账本 {ledger} 缺少记录（应有 {tree_size} 条，实有 {len(leaves)} 条）")
    return leaves, hash_alg(session=session, ledger=ledger)


def root_hash(*, session, ledger: str, tree_size: int | None = None) -> bytes:
    leaves, alg = _tree(session, ledger, tree_size)
    return merkle.root(leaves, alg)


@dataclass(frozen=True)
class InclusionProof:
    ledger: str
    leaf_index: int
    tree_size: int
    leaf_hash: str
    path: list[str]
    root_hash: str
    hash_alg: str

    def to_dict(self) -> dict:
        return {
            "ledger": self.ledger,
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "leaf_hash": self.leaf_hash,
            "path": list(self.path),
            "root_hash": self.root_hash,
            "hash_alg": self.hash_alg,
        }

    def verify(self) -> bool:
        return merkle.verify_inclusion(
            bytes.fromhex(self.leaf_hash),
            self.leaf_index,
            self.tree_size,
            [bytes.fromhex(p) for p in self.path],
            bytes.fromhex(self.root_hash),
            self.hash_alg,
        )


@dataclass(frozen=True)
class ConsistencyProof:
    ledger: str
    old_size: int
    new_size: int
    old_root: str
    new_root: str
    path: list[str]
    hash_alg: str

    def to_dict(self) -> dict:
        return {
            "ledger": self.ledger,
            "old_size": self.old_size,
            "new_size": self.new_size,
            "old_root": self.old_root,
            "new_root": self.new_root,
            "path": list(self.path),
            "hash_alg": self.hash_alg,
        }

    def verify(self) -> bool:
        return merkle.verify_consistency(
            self.old_size,
            self.new_size,
            [bytes.fromhex(p) for p in self.path],
            bytes.fromhex(self.old_root),
            bytes.fromhex(self.new_root),
            self.hash_alg,
        )


def inclusion_proof(*, session, ledger: str, index: int, tree_size: int | None = None) -> InclusionProof:
    """Audit path of leaf `index` in the tree of `tree_size` leaves (default: the whole ledger;
    pass a checkpoint's `tree_size` to prove against that signed root)."""
    leaves, alg = _tree(session, ledger, tree_size)
    if not 0 <= index < len(leaves):
        raise LedgerError(f"账本 {ledger} 中没有第 {index} 条记录（树大小 {len(leaves)}）")
    path = merkle.inclusion_proof(leaves, index, alg)
    return InclusionProof(
        ledger=ledger,
        leaf_index=index,
        tree_size=len(leaves),
        leaf_hash=leaves[index].hex(),
        path=[p.hex() for p in path],
        root_hash=merkle.root(leaves, alg).hex(),
        hash_alg=alg,
    )


def consistency_proof(
    *, session, ledger: str, old_size: int, new_size: int | None = None
) -> ConsistencyProof:
    """Proof that the tree of `old_size` leaves is a prefix of the tree of `new_size` leaves."""
    leaves, alg = _tree(session, ledger, new_size)
    if not 0 <= old_size <= len(leaves):
        raise LedgerError(f"旧树大小 {old_size} 超出 0..{len(leaves)}")
    path = merkle.consistency_proof(leaves, old_size, alg)
    return ConsistencyProof(
        ledger=ledger,
        old_size=old_size,
        new_size=len(leaves),
        old_root=merkle.root(leaves[:old_size], alg).hex(),
        new_root=merkle.root(leaves, alg).hex(),
        path=[p.hex() for p in path],
        hash_alg=alg,
    )


# --- checkpoints -----------------------------------------------------------------------------


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def checkpoint_payload(cp: LedgerCheckpoint) -> bytes:
    """The exact bytes the platform key signs: compact JSON with sorted keys, UTF-8."""
    body = {
        "v": PAYLOAD_VERSION,
        "ledger": cp.ledger,
        "tree_size": int(cp.tree_size),
        "root_hash": cp.root_hash,
        "hash_alg": cp.hash_alg,
        "time": _iso(cp.created_at),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def checkpoint_dict(cp: LedgerCheckpoint) -> dict:
    """A checkpoint for export (proof bundles, anchors): fields, signed payload and signature."""
    return {
        "id": cp.id,
        "ledger": cp.ledger,
        "tree_size": int(cp.tree_size),
        "root_hash": cp.root_hash,
        "hash_alg": cp.hash_alg,
        "time": _iso(cp.created_at),
        "payload": checkpoint_payload(cp).decode(),
        "signature": cp.signature,
        "signature_alg": cp.signature_alg,
        "public_key": cp.public_key,
    }


def checkpoint(*, session, ledger: str, only_if_grown: bool = False) -> LedgerCheckpoint | None:
    """Sign the ledger's current tree head with the platform's SM2 key.

    Incremental: resumes from the previous checkpoint's stored frontier (`_resume`) and reads
    only the leaves appended since; the new checkpoint stores its own frontier. Proofs still
    read the leaves of the tree they prove (`_tree`); `verify` recomputes everything.

    With `only_if_grown` (the periodic job) nothing is written while the ledger has not grown
    since its latest checkpoint; returns that checkpoint then (None for an empty ledger)."""
    from backend.crypto import platform_key

    head = _lock_head(session, ledger)  # no append slips in between reading and signing
    latest = latest_checkpoint(session=session, ledger=ledger)
    if only_if_grown and (head.size == 0 or (latest is not None and latest.tree_size >= head.size)):
        return latest
    alg, tree_size = head.hash_alg, int(head.size)
    compact = _resume(session, ledger, alg, tree_size)
    new_leaves = session.scalars(
        sa.select(LedgerLeaf.leaf_hash)
        .where(
            LedgerLeaf.ledger == ledger,
            LedgerLeaf.leaf_index >= compact.size,
            LedgerLeaf.leaf_index < tree_size,
        )
        .order_by(LedgerLeaf.leaf_index)
    ).all()
    if len(new_leaves) != tree_size - compact.size:
        raise LedgerError(
            f"账本 {ledger} 缺少记录（第 {compact.size} 至 {tree_size - 1} 条应有 {tree_size - compact.size} 条，"
            f"实有 {len(new_leaves)} 条）"
        )
    compact.extend([bytes.fromhex(leaf) for leaf in new_leaves])
    key = platform_key()
    cp = LedgerCheckpoint(
        ledger=ledger,
        tree_size=tree_size,
        root_hash=compact.root().hex(),
        hash_alg=alg,
        created_at=utcnow(),
        public_key=key.public_key_hex,
        signature="",
        signature_alg="sm2-sm3",
        frontier=",".join(h.hex() for h in compact.frontier()),
    )
    cp.signature = key.sign(checkpoint_payload(cp)).hex()
    session.add(cp)
    session.flush()
    _signed_here[ledger] = _resume_key(cp)
    for fn in list(_CHECKPOINT_LISTENERS):
        fn(session=session, checkpoint=cp)
    return cp


# ledger -> the fields of the last checkpoint this process signed: resuming from it needs no
# signature check (half the time of an incremental checkpoint). A changed row does not match.
_signed_here: dict[str, tuple] = {}


def _resume_key(cp: LedgerCheckpoint) -> tuple:
    return (cp.id, int(cp.tree_size), cp.root_hash, cp.hash_alg, cp.frontier, cp.public_key, cp.signature)


def _resume(session, ledger: str, alg: str, tree_size: int) -> merkle.CompactRange:
    """Where the next checkpoint starts: the frontier of the largest earlier checkpoint that
    is trustworthy (signed by a platform key, frontier leading to its signed root), so only
    the leaves after it are read; an empty range (read everything) when there is none.
    Extending a signed tree also keeps every new root consistent with the signed ones: leaves
    altered below it are left for `verify` to name, never signed over."""
    rows = session.scalars(
        sa.select(LedgerCheckpoint)
        .where(
            LedgerCheckpoint.ledger == ledger,
            LedgerCheckpoint.hash_alg == alg,
            LedgerCheckpoint.tree_size <= tree_size,
            LedgerCheckpoint.frontier.is_not(None),
        )
        .order_by(LedgerCheckpoint.tree_size.desc(), LedgerCheckpoint.id.desc())
        .limit(3)  # a damaged one falls back to the one before, then to a full read
    ).all()
    known_keys = _platform_public_keys()
    for cp in rows:
        if _signed_here.get(ledger) == _resume_key(cp):  # this process signed exactly this row
            return merkle.CompactRange.from_frontier(
                int(cp.tree_size), [bytes.fromhex(h) for h in cp.frontier.split(",") if h], alg
            )
        try:
            hashes = [bytes.fromhex(h) for h in cp.frontier.split(",") if h]
            compact = merkle.CompactRange.from_frontier(int(cp.tree_size), hashes, alg)
        except (ValueError, merkle.ProofError):
            continue
        if compact.root().hex() != cp.root_hash:
            continue
        if known_keys is not None and cp.public_key.lower() not in known_keys:
            continue
        if not checkpoint_signature_valid(cp):
            continue
        return compact
    return merkle.CompactRange(alg)


def latest_checkpoint(*, session, ledger: str, at_least: int | None = None) -> LedgerCheckpoint | None:
    """The newest checkpoint; with `at_least`, the oldest one covering that many leaves."""
    stmt = sa.select(LedgerCheckpoint).where(LedgerCheckpoint.ledger == ledger)
    if at_least is not None:
        stmt = stmt.where(LedgerCheckpoint.tree_size >= at_least).order_by(
            LedgerCheckpoint.tree_size, LedgerCheckpoint.id
        )
    else:
        stmt = stmt.order_by(LedgerCheckpoint.id.desc())
    return session.scalars(stmt.limit(1)).first()


def list_checkpoints(
    *, session, ledger: str, limit: int = 50, before_id: int | None = None
) -> list[LedgerCheckpoint]:
    stmt = sa.select(LedgerCheckpoint).where(LedgerCheckpoint.ledger == ledger)
    if before_id is not None:
        stmt = stmt.where(LedgerCheckpoint.id < before_id)
    return list(session.scalars(stmt.order_by(LedgerCheckpoint.id.desc()).limit(limit)))


def checkpoint_signature_valid(cp: LedgerCheckpoint) -> bool:
    from backend.crypto import sm2_verify

    try:
        return sm2_verify(cp.public_key, checkpoint_payload(cp), bytes.fromhex(cp.signature))
    except (ValueError, TypeError):
        return False


# --- verification ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    kind: str  # "altered" | "missing" | "extra" | "checkpoint"
    leaf_index: int | None
    message: str
    label: str = ""
    checkpoint_id: int | None = None

    def __str__(self) -> str:
        return self.message


@dataclass
class VerifyReport:
    ledger: str
    size: int = 0
    hash_alg: str = ""
    leaves_checked: int = 0
    records_checked: int = 0
    checkpoints_checked: int = 0
    # checkpoint id -> True (root and signature good) / False
    checkpoint_status: dict[int, bool] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        """The problem at the lowest leaf index (checkpoint-only problems after those)."""
        if not self.problems:
            return None
        return min(self.problems, key=lambda p: (p.leaf_index is None, p.leaf_index or 0))

    def summary(self) -> str:
        if self.ok:
            return (
                f"账本 {self.ledger} 完好：{self.size} 条记录，{self.checkpoints_checked} 个签名检查点均一致"
                f"（{self.hash_alg}）"
            )
        return f"账本 {self.ledger} 已被篡改：{self.first_problem.message}"


def verify(*, session, ledger: str) -> VerifyReport:
    """Recompute every leaf from its domain row, the tree from the leaves, and every checkpoint's
    root and signature. Reports each problem found, the first altered or missing record first."""
    head = _head(session, ledger)
    report = VerifyReport(
        ledger=ledger, size=int(head.size) if head else 0, hash_alg=head.hash_alg if head else ""
    )
    if head is None:
        return report
    alg = head.hash_alg
    head_size = int(head.size)
    rows = session.execute(
        sa.select(LedgerLeaf.leaf_index, LedgerLeaf.leaf_hash)
        .where(LedgerLeaf.ledger == ledger)
        .order_by(LedgerLeaf.leaf_index)
    ).all()
    stored = {int(i): h for i, h in rows}
    report.leaves_checked = len(stored)
    problems = report.problems

    # 1. Every index 0..size-1 has a leaf (a deleted leaf row leaves a gap or a short ledger).
    for index in range(head_size):
        if index not in stored:
            problems.append(Problem("missing", index, f"第 {index} 条记录的叶子已被删除（账本 {ledger}）"))
    for index in stored:
        if index >= head_size:
            problems.append(Problem("extra", index, f"第 {index} 条叶子超出账本长度 {head_size}"))

    # 2. Each domain row still hashes to its leaf; each leaf still has its row.
    source = _SOURCES.get(ledger)
    if source is not None:
        seen: set[int] = set()
        for index, data, label in source(session):
            seen.add(index)
            if data is None:  # removed on purpose by the domain (retention purge it recorded)
                continue
            report.records_checked += 1
            leaf = stored.get(index)
            if leaf is None:
                if index < head_size:
                    continue  # already reported as a missing leaf
                problems.append(Problem("extra", index, f"{label} 不在账本中（叶子序号 {index}）", label))
            elif merkle.leaf_hash(data, alg).hex() != leaf:
                problems.append(Problem("altered", index, f"{label} 已被篡改（叶子序号 {index}）", label))
        for index in sorted(set(stored) - seen):
            problems.append(
                Problem("missing", index, f"第 {index} 条记录已被删除（账本 {ledger} 的叶子仍在）")
            )

    # 3. Checkpoints: the stored tree at each checkpoint's size has its signed root.
    checkpoints = list(
        session.scalars(
            sa.select(LedgerCheckpoint)
            .where(LedgerCheckpoint.ledger == ledger)
            .order_by(LedgerCheckpoint.tree_size, LedgerCheckpoint.id)
        )
    )
    known_keys = _platform_public_keys()
    compact = merkle.CompactRange(alg)
    leaves = [bytes.fromhex(stored[i]) for i in sorted(stored)]
    position = 0
    previous_good = 0
    for cp in checkpoints:
        report.checkpoints_checked += 1
        good = True
        if not checkpoint_signature_valid(cp):
            good = False
            problems.append(
                Problem(
                    "checkpoint",
                    None,
                    f"检查点 #{cp.id}（树大小 {cp.tree_size}）签名无效",
                    checkpoint_id=cp.id,
                )
            )
        elif known_keys is not None and cp.public_key.lower() not in known_keys:
            good = False
            problems.append(
                Problem("checkpoint", None, f"检查点 #{cp.id} 不是平台密钥签署的", checkpoint_id=cp.id)
            )
        if cp.hash_alg != alg:
            good = False
            problems.append(
                Problem("checkpoint", None, f"检查点 #{cp.id} 的哈希算法与账本不符", checkpoint_id=cp.id)
            )
        if cp.tree_size > len(leaves):
            good = False
            problems.append(
                Problem(
                    "missing",
                    len(leaves),
                    f"检查点 #{cp.id} 签署了 {cp.tree_size} 条记录，账本只剩 {len(leaves)} 条："
                    f"从第 {len(leaves)} 条起的记录缺失",
                    checkpoint_id=cp.id,
                )
            )
        else:
            while position < cp.tree_size:
                compact.append(leaves[position])
                position += 1
            if compact.root().hex() != cp.root_hash:
                good = False
                problems.append(
                    Problem(
                        "altered",
                        previous_good,
                        f"检查点 #{cp.id}（树大小 {cp.tree_size}）的根哈希不符：第 {previous_good} 至 "
                        f"{cp.tree_size - 1} 条之间的叶子被改动",
                        checkpoint_id=cp.id,
                    )
                )
        if good:
            previous_good = cp.tree_size
        report.checkpoint_status[cp.id] = good
    return report


def _platform_public_keys() -> set[str] | None:
    """Public keys the platform signs or signed with: the current key and former ones kept
    in `LEDGER_TRUSTED_PUBLIC_KEYS` (comma-separated hex) after a key change. None: no key
    configured, any valid signature is accepted (its validity is still checked)."""
    keys: set[str] = set()
    try:
        from flask import current_app

        former = current_app.config.get("LEDGER_TRUSTED_PUBLIC_KEYS", "") or ""
    except RuntimeError:
        former = os.environ.get("LEDGER_TRUSTED_PUBLIC_KEYS", "")
    keys.update(k.strip().lower() for k in former.split(",") if k.strip())
    try:
        from backend.crypto import platform_key

        keys.add(platform_key().public_key_hex.lower())
    except Exception:  # noqa: BLE001 - no key configured: signature validity is still checked
        return keys or None
    return keys
