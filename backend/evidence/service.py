"""Evidence ledger (存证): key documents' fingerprints as leaves of the "evidence" ledger.

A deposit hashes the document (SHA-256 and SM3), appends canonical JSON naming those hashes,
the type, project, title, depositor and time to the ledger (`backend.ledger`), and signs a
checkpoint at once, so its proof can be downloaded right away. Every checkpoint of the ledger
is published to the anchors (`anchors.py`, after commit through `jobs.py`). Keyword-only
functions over a session; they flush, never commit.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import sqlalchemy as sa

from backend import ledger
from backend.audit import record as audit
from backend.crypto import sm3
from backend.db import utcnow
from backend.evidence.models import AnchorReceipt, EvidenceRecord
from backend.files import service as files
from backend.files import sniff
from backend.ledger import merkle
from backend.projects.models import Project

LEDGER = "evidence"
BUNDLE_FORMAT = "bpm-evidence-proof/1"
LEAF_VERSION = 1
# 招标文件, 变更记录, 验收报告, 批复, 其他
DOCUMENT_TYPES = ("tender", "change", "acceptance", "approval", "other")
# What a manual deposit accepts: documents, scans, spreadsheets, archives of drawings.
DEPOSIT_FILE_TYPES = files.DOCUMENT_TYPES | {sniff.XLSX, sniff.ZIP, sniff.JSON}


class EvidenceError(ValueError):
    pass


class NoCheckpoint(EvidenceError):
    def __init__(self, record_id: int):
        super().__init__(f"存证 #{record_id} 尚无签名检查点，请稍后再下载证明")


# --- the leaf --------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def leaf_data(record: EvidenceRecord, *, project_code: str | None = None) -> bytes:
    """The exact bytes of the record's ledger leaf (compact JSON, sorted keys, UTF-8)."""
    body = {
        "v": LEAF_VERSION,
        "type": record.document_type,
        "project": project_code or (record.project.code if record.project is not None else None),
        "title": record.title,
        "sha256": record.sha256,
        "sm3": record.sm3,
        "size": int(record.size),
        "depositor": record.depositor,
        "deposited_at": _iso(record.deposited_at),
    }
    if record.region_code is not None:  # a region's document: the key only there (old leaves unchanged)
        body["region"] = record.region_code
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _leaves(session):
    """Each record's leaf, recomputed from its row, for `ledger.verify`."""
    rows = session.execute(
        sa.select(EvidenceRecord, Project.code)
        .outerjoin(Project, Project.id == EvidenceRecord.project_id)
        .order_by(EvidenceRecord.ledger_index)
    )
    for record, code in rows:
        yield record.ledger_index, leaf_data(record, project_code=code), f"存证记录 #{record.id}"


ledger.register_source(LEDGER, _leaves)


# --- depositing ------------------------------------------------------------------------------


def deposit(
    *,
    session,
    project: Project | None,
    document_type: str,
    data: bytes,
    title: str,
    depositor: str | None,
    file_sha256: str | None = None,
    source: str = "manual",
    source_ref: str | None = None,
    now: datetime | None = None,
    checkpoint: bool = True,
    region_code: str | None = None,
) -> tuple[EvidenceRecord, bool]:
    """Deposit `data` for `project`: (record, True), or (the earlier record, False) when the same
    bytes were deposited for the project before. Audited as "evidence.deposit". A region's
    document (a KPI report) has no project: project=None and its `region_code`."""
    if (project is None) == (region_code is None):
        raise EvidenceError("存证须属于一个项目或一个行政区划")
    if document_type not in DOCUMENT_TYPES:
        raise EvidenceError(f"未知的存证文件类型: {document_type}")
    if not data:
        raise EvidenceError("不能存证空文件")
    title = (title or "").strip()[:255] or "未命名文件"
    sha256_hex = hashlib.sha256(data).hexdigest()
    owner = (
        {"project_id": None, "region_code": region_code} if project is None else {"project_id": project.id}
    )
    existing = session.scalar(sa.select(EvidenceRecord).filter_by(sha256=sha256_hex, **owner))
    if existing is not None:
        return existing, False
    record = EvidenceRecord(
        project=project,
        project_id=project.id if project is not None else None,
        region_code=region_code,
        document_type=document_type,
        title=title,
        sha256=sha256_hex,
        sm3=sm3(data).hex(),
        size=len(data),
        file_sha256=file_sha256,
        source=source,
        source_ref=source_ref,
        depositor=depositor,
        deposited_at=now or utcnow(),
    )
    record.ledger_index = ledger.append(session=session, ledger=LEDGER, data=leaf_data(record))
    session.add(record)
    session.flush()
    audit(
        "evidence.deposit",
        object_type="evidence_record",
        object_id=record.id,
        detail={
            "project": project.code if project is not None else None,
            "type": document_type,
            "title": title,
            "sha256": sha256_hex,
            "ledger_index": record.ledger_index,
            "source": source,
        }
        | ({"region": region_code} if region_code is not None else {}),
        username=depositor,
        session=session,
    )
    if checkpoint:
        ledger.checkpoint(session=session, ledger=LEDGER)
    return record, True


def deposit_stored_file(
    *, session, project: Project, document_type: str, sha256: str, title: str, depositor: str | None, **kwargs
) -> tuple[EvidenceRecord, bool]:
    """Deposit a file already in the file store (by its SHA-256)."""
    with files.open_file(sha256=sha256) as f:
        data = f.read()
    return deposit(
        session=session,
        project=project,
        document_type=document_type,
        data=data,
        title=title,
        depositor=depositor,
        file_sha256=sha256,
        **kwargs,
    )


def deposit_upload(
    *, session, project: Project, document_type: str, stream, filename: str, depositor: str | None
) -> tuple[EvidenceRecord, bool]:
    """Store an upload in the file store (type sniffed, size limited: FileRefused) and deposit it."""
    stored = files.store(
        session=session, data=stream, declared_name=filename, allowed_types=DEPOSIT_FILE_TYPES
    )
    return deposit_stored_file(
        session=session,
        project=project,
        document_type=document_type,
        sha256=stored.sha256,
        title=filename,
        depositor=depositor,
    )


def approval_document_bytes(document) -> bytes:
    """The 批复 as a document: its fields as indented JSON (sorted keys), the bytes deposited."""
    body = {
        "number": document.number,
        "title": document.title,
        "project_code": document.content.get("project_code"),
        "approved_budget": str(document.approved_budget),
        "issued_at": _iso(document.issued_at),
        "content": document.content,
    }
    return (json.dumps(body, sort_keys=True, indent=2, ensure_ascii=False, default=str) + "\n").encode()


def deposit_approval_document(
    *, session, document, depositor: str | None = None
) -> tuple[EvidenceRecord, bool]:
    """Deposit an issued 批复 (its JSON form, kept in the file store as it was at issue)."""
    project = session.get(Project, document.project_id)
    data = approval_document_bytes(document)
    stored = files.store(
        session=session, data=data, declared_name=f"approval-{document.id}.json", allowed_types={sniff.JSON}
    )
    return deposit(
        session=session,
        project=project,
        document_type="approval",
        data=data,
        title=document.number,
        depositor=depositor,
        file_sha256=stored.sha256,
        source="approval.issued",
        source_ref=document.number,
    )


# --- finding and proving ---------------------------------------------------------------------


def find_by_digest(*, session, data: bytes) -> list[EvidenceRecord]:
    """Every deposit of exactly these bytes (matched by SHA-256 and SM3 both)."""
    return list(
        session.scalars(
            sa.select(EvidenceRecord)
            .where(
                EvidenceRecord.sha256 == hashlib.sha256(data).hexdigest(),
                EvidenceRecord.sm3 == sm3(data).hex(),
            )
            .order_by(EvidenceRecord.deposited_at, EvidenceRecord.id)
        )
    )


def covering_checkpoint(*, session, record: EvidenceRecord):
    """The newest checkpoint that includes the record (None before any)."""
    cp = ledger.latest_checkpoint(session=session, ledger=LEDGER)
    if cp is None or cp.tree_size <= record.ledger_index:
        return None
    return cp


def proof_bundle(*, session, record: EvidenceRecord) -> dict:
    """Everything the standalone verifier needs: the leaf bytes, the audit path to the newest
    checkpoint's root, and that signed checkpoint (payload, signature, public key)."""
    cp = covering_checkpoint(session=session, record=record)
    if cp is None:
        raise NoCheckpoint(record.id)
    proof = ledger.inclusion_proof(
        session=session, ledger=LEDGER, index=record.ledger_index, tree_size=cp.tree_size
    )
    data = leaf_data(record)
    if proof.root_hash != cp.root_hash or proof.leaf_hash != merkle.leaf_hash(data, proof.hash_alg).hex():
        raise EvidenceError(f"存证账本与检查点 #{cp.id} 不一致，请运行 flask --app app evidence verify")
    return {
        "format": BUNDLE_FORMAT,
        "evidence": {
            "id": record.id,
            "project_code": record.project.code if record.project is not None else None,
            "project_name": record.project.name if record.project is not None else None,
            "document_type": record.document_type,
            "title": record.title,
            "sha256": record.sha256,
            "sm3": record.sm3,
            "size": record.size,
            "depositor": record.depositor,
            "deposited_at": _iso(record.deposited_at),
        }
        | ({"region_code": record.region_code} if record.region_code is not None else {}),
        "leaf": {
            "ledger": LEDGER,
            "index": record.ledger_index,
            "data": data.decode(),
            "hash": proof.leaf_hash,
        },
        "proof": {
            "hash_alg": proof.hash_alg,
            "leaf_index": proof.leaf_index,
            "tree_size": proof.tree_size,
            "audit_path": list(proof.path),
        },
        "checkpoint": ledger.checkpoint_dict(cp) | {"signer_id": "1234567812345678"},
    }


# --- checkpoints and anchors -----------------------------------------------------------------


def make_checkpoint(*, session, only_if_grown: bool = False):
    """Sign the evidence ledger's head now (published to the anchors by the listener below)."""
    return ledger.checkpoint(session=session, ledger=LEDGER, only_if_grown=only_if_grown)


def publish_checkpoint(*, session, checkpoint) -> None:
    """A new evidence checkpoint goes to every anchor after it commits (`jobs.py`): an anchor
    never sees a checkpoint that was rolled back, and a slow chain holds no lock."""
    if checkpoint.ledger == LEDGER:
        from backend.evidence.jobs import enqueue_publication

        enqueue_publication(session=session, checkpoint_id=checkpoint.id)


ledger.on_checkpoint(publish_checkpoint)


def receipts_of(*, session, checkpoint_id: int) -> list[AnchorReceipt]:
    return list(
        session.scalars(
            sa.select(AnchorReceipt).filter_by(checkpoint_id=checkpoint_id).order_by(AnchorReceipt.id)
        )
    )
