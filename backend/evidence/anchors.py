"""Anchors: publish the evidence ledger's signed checkpoints somewhere the platform does not
control, so that rewriting the ledger later would contradict what was published.

An anchor is any object with a `name` and `publish(checkpoint: dict) -> dict` (the receipt).
The checkpoint dict is the one in the proof bundle (`service.checkpoint_dict`): ledger,
tree_size, root_hash, hash_alg, created_at, signed_b64, signature, public_key.
The platform ships `FileAnchor` (JSON lines appended to a file, `EVIDENCE_ANCHOR_FILE`); a chain
client (FISCO BCOS, ChainMaker) is another class with the same method, added with
`register_anchor` — see docs/architecture.md, "Evidence ledger".
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path
from typing import Protocol

from flask import current_app


class Anchor(Protocol):
    name: str

    def publish(self, checkpoint: dict) -> dict:
        """Publish one signed checkpoint; return a receipt (where it is, how to find it again).
        Raise on failure: the caller records the failure and the next checkpoint tries again."""


class FileAnchor:
    """Appends each checkpoint as one JSON line. Point EVIDENCE_ANCHOR_FILE at storage another
    party keeps (a WORM share, a mounted bucket): the file alone is then the external record."""

    name = "file"

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def publish(self, checkpoint: dict) -> dict:
        line = json.dumps(checkpoint, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
        data = line.encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # one whole line per writer, also across processes
            offset = os.lseek(fd, 0, os.SEEK_END)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        return {
            "anchor": self.name,
            "path": str(self.path),
            "offset": offset,
            "line_sha256": hashlib.sha256(data).hexdigest(),
        }


_EXTRA: list[Anchor] = []


def register_anchor(anchor: Anchor) -> Anchor:
    """Add an anchor (a chain client) that every checkpoint of the evidence ledger is published to."""
    if anchor not in _EXTRA:
        _EXTRA.append(anchor)
    return anchor


def unregister_anchor(anchor: Anchor) -> None:
    if anchor in _EXTRA:
        _EXTRA.remove(anchor)


def anchor_file() -> Path:
    configured = current_app.config.get("EVIDENCE_ANCHOR_FILE")
    return Path(configured) if configured else Path(current_app.instance_path) / "evidence-anchor.jsonl"


def configured_anchors() -> list[Anchor]:
    return [FileAnchor(anchor_file()), *_EXTRA]
