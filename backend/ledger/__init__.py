"""Tamper-evident ledgers (issue 7): RFC 6962 Merkle trees by name ("audit", "evidence"),
signed checkpoints (platform SM2 key), inclusion/consistency proofs and verification.

Public API (keyword-only, over a `session`; flush, never commit):
- `append(session=, ledger=, data: bytes) -> index`
- `checkpoint(session=, ledger=, only_if_grown=False) -> LedgerCheckpoint`
- `inclusion_proof(session=, ledger=, index=, tree_size=None) -> InclusionProof` (`.to_dict()`, `.verify()`)
- `consistency_proof(session=, ledger=, old_size=, new_size=None) -> ConsistencyProof`
- `verify(session=, ledger=) -> VerifyReport` (`.ok`, `.first_problem`, `.summary()`)
- `latest_checkpoint`, `list_checkpoints`, `checkpoint_dict`, `checkpoint_payload`,
  `checkpoint_signature_valid`, `register_source`, `on_checkpoint`
"""

from backend.ledger.service import (
    ConsistencyProof,
    InclusionProof,
    LedgerError,
    Problem,
    VerifyReport,
    append,
    checkpoint,
    checkpoint_dict,
    checkpoint_payload,
    checkpoint_signature_valid,
    consistency_proof,
    hash_alg,
    inclusion_proof,
    latest_checkpoint,
    leaf_hashes,
    list_checkpoints,
    on_checkpoint,
    register_source,
    root_hash,
    size,
    verify,
)

__all__ = [
    "ConsistencyProof",
    "InclusionProof",
    "LedgerError",
    "Problem",
    "VerifyReport",
    "append",
    "checkpoint",
    "checkpoint_dict",
    "checkpoint_payload",
    "checkpoint_signature_valid",
    "consistency_proof",
    "hash_alg",
    "inclusion_proof",
    "latest_checkpoint",
    "leaf_hashes",
    "list_checkpoints",
    "on_checkpoint",
    "register_source",
    "root_hash",
    "size",
    "verify",
]


def init_app(app):
    from backend.ledger import jobs, models  # noqa: F401  (tables, periodic checkpoint job)
    from backend.workflow import scheduler

    # Settings in backend/config.py: LEDGER_HASH_ALG, LEDGER_CHECKPOINT_INTERVAL_SECONDS.
    scheduler.on_tick(jobs.schedule_checkpoints)
