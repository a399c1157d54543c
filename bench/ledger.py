"""Checkpoint time of a large ledger: full recomputation (before) vs incremental (after).

    .venv/bin/python bench/ledger.py [--leaves 100000] [--runs 5] [--database-url URL]

Builds a ledger of --leaves leaves in a fresh SQLite file (or an empty database at URL), then:

- `before`: what `checkpoint()` did until session 16 and what a first checkpoint (no stored
  frontier) still does: read every leaf hash, compute the root, sign;
- `after +k`: `checkpoint()` after k more appends, resuming from the previous checkpoint's
  frontier (reads k leaves plus one checkpoint row, checks its signature, signs).

Each figure is the median of --runs runs, in ms, on a shared machine. Run by people, not by CI.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from backend import create_app  # noqa: E402
from backend.crypto.sm2 import SM2Key  # noqa: E402
from backend.db import utcnow  # noqa: E402
from backend.extensions import db  # noqa: E402
from backend.ledger import merkle, service  # noqa: E402
from backend.ledger.models import Ledger, LedgerCheckpoint, LedgerLeaf  # noqa: E402

NAME = "bench"


def build(session, n: int) -> None:
    now = utcnow()
    session.add(Ledger(name=NAME, hash_alg="sm3", size=n, created_at=now))
    batch = 20_000
    for start in range(0, n, batch):
        session.execute(
            sa.insert(LedgerLeaf),
            [
                {
                    "ledger": NAME,
                    "leaf_index": i,
                    "leaf_hash": merkle.leaf_hash(str(i).encode()).hex(),
                    "created_at": now,
                }
                for i in range(start, min(n, start + batch))
            ],
        )
    session.commit()


def full_checkpoint(session) -> float:
    """The pre-frontier checkpoint: every leaf read, root recomputed, payload signed."""
    from backend.crypto import platform_key

    started = time.perf_counter()
    leaves = service.leaf_hashes(session=session, ledger=NAME)
    root = merkle.root(leaves, "sm3")
    cp = LedgerCheckpoint(
        ledger=NAME,
        tree_size=len(leaves),
        root_hash=root.hex(),
        hash_alg="sm3",
        created_at=utcnow(),
        public_key=platform_key().public_key_hex,
        signature="",
    )
    platform_key().sign(service.checkpoint_payload(cp))
    return time.perf_counter() - started


def timed_checkpoint(session) -> tuple[float, LedgerCheckpoint]:
    started = time.perf_counter()
    cp = service.checkpoint(session=session, ledger=NAME)
    elapsed = time.perf_counter() - started
    session.commit()
    return elapsed, cp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{tmp.name}/ledger.db"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "EMBEDDED_WORKERS": False,
            "PLATFORM_SM2_KEY": SM2Key.generate().private_key_hex,
            "SM4_MASTER_KEY": "00" * 16,
        }
    )
    ms = lambda xs: f"{statistics.median(xs) * 1000:9.1f} ms"  # noqa: E731
    with app.app_context():
        db.create_all()
        session = db.session
        started = time.perf_counter()
        build(session, args.leaves)
        print(f"built {args.leaves} leaves in {time.perf_counter() - started:.1f} s ({url.split(':')[0]})")

        before = [full_checkpoint(session) for _ in range(args.runs)]
        print(f"before  (read all {args.leaves} leaves): {ms(before)}")
        first, cp = timed_checkpoint(session)  # no frontier yet: the full read, frontier stored
        print(f"after   first checkpoint (full read, stores frontier): {first * 1000:9.1f} ms")
        expected = merkle.root(service.leaf_hashes(session=session, ledger=NAME), "sm3").hex()
        assert cp.root_hash == expected, "incremental root differs from the full recomputation"

        index = args.leaves
        for k in (1, 100, 1000):
            times = []
            for _ in range(args.runs):
                for _ in range(k):
                    service.append(session=session, ledger=NAME, data=f"more{index}".encode())
                    index += 1
                session.commit()
                elapsed, cp = timed_checkpoint(session)
                times.append(elapsed)
            print(f"after   +{k:<5} appends since the last checkpoint:  {ms(times)}")
        full = merkle.root(service.leaf_hashes(session=session, ledger=NAME), "sm3").hex()
        assert cp.root_hash == full and cp.tree_size == index, "incremental root differs"
        print(f"check: incremental root of {index} leaves equals the full recomputation")
        db.session.remove()
        db.engine.dispose()
    tmp.cleanup()


if __name__ == "__main__":
    main()
