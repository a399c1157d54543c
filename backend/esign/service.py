"""电子签章: SM2 signatures of the heads' countersign decisions and of the issued 批复.

What is signed is the canonical JSON of a few fields of the object (`canonical`): sorted keys,
no spaces, UTF-8. A head's decision is signed with the head's own key (`crypto.user_key`), a
批复 with the platform's key (`crypto.platform_key`) on behalf of the issuing department.

Verification (`verify`) checks, in order: the object still gives the same payload (a changed
opinion or document shows as invalid), the stored SM3 digest, the public key belongs to the
signer (the person's registered key, or the platform's), and the SM2 signature itself.
Anyone holding the payload, the signature and the public key can do the last step alone:
see docs/esign.md.

Keyword-only functions over the session; they flush, never commit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from backend import crypto
from backend.approvals.models import ApprovalDocument, ApprovalOpinion
from backend.audit import record
from backend.crypto.keys import user_public_key
from backend.db import utcnow
from backend.esign.models import ALGORITHM, Signature
from backend.org import service as org
from backend.org.models import User
from backend.projects.models import Project
from backend.workflow.models import HumanTask

OPINION = "approval_opinion"
DOCUMENT = "approval_document"
PLATFORM_SIGNER = "平台签章密钥"
# The 批复 is issued by 浙江省发展和改革委员会: its seal goes on the document.
ISSUER = "fgw"
DEPARTMENT_FULL_NAMES = {code: name for code, name, _short in org.DEPARTMENTS}


def canonical(payload: dict[str, Any]) -> bytes:
    """The bytes that are signed: stable JSON (sorted keys, no whitespace, UTF-8 as is)."""
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode(
        "utf-8"
    )


def sm3_hex(data: bytes) -> str:
    return crypto.sm3(data).hex()


# --- payloads, from the objects as stored ----------------------------------------------------


def opinion_payload(*, session, opinion: ApprovalOpinion, form_data_sm3: str) -> dict[str, Any]:
    """A head's decision: instance, task, signer, decision, opinion text, time and the SM3 of
    the submitted form data. The form data lives in the engine state, so its digest is taken
    from the signature when the payload is rebuilt; everything else comes from the rows."""
    instance_id = (
        session.scalar(sa.select(HumanTask.instance_id).where(HumanTask.id == opinion.task_id))
        if opinion.task_id
        else None
    )
    return {
        "type": OPINION,
        "id": opinion.id,
        "project": session.scalar(sa.select(Project.code).where(Project.id == opinion.project_id)),
        "instance": instance_id,
        "task": opinion.task_id,
        "step": opinion.step,
        "department": opinion.department,
        "signer": opinion.reviewer,
        "decision": opinion.decision,
        "opinion": opinion.opinion or "",
        "time": opinion.decided_at.isoformat(),
        "form_data_sm3": form_data_sm3,
    }


def document_payload(*, session, document: ApprovalDocument) -> dict[str, Any]:
    """A 批复: its number, title, budget, date and the SM3 of its whole content."""
    return {
        "type": DOCUMENT,
        "id": document.id,
        "project": session.scalar(sa.select(Project.code).where(Project.id == document.project_id)),
        "number": document.number,
        "title": document.title,
        "approved_budget": _money(document.approved_budget),
        "issued_at": document.issued_at.isoformat(),
        "content_sm3": sm3_hex(canonical(document.content or {})),
    }


def _money(value) -> str:
    return f"{Decimal(value):.2f}" if value is not None else ""


# --- signing ---------------------------------------------------------------------------------


def sign_opinion(*, session, opinion: ApprovalOpinion, signer: User, data: dict[str, Any]) -> Signature:
    """Sign a head's decision with the head's own key; once per opinion."""
    existing = _first(session, OPINION, opinion.id)
    if existing is not None:
        return existing
    session.flush()  # the opinion's id is part of what is signed
    payload = opinion_payload(session=session, opinion=opinion, form_data_sm3=sm3_hex(canonical(data or {})))
    key = crypto.user_key(session=session, user=signer)
    department = DEPARTMENT_FULL_NAMES.get(opinion.department or "", opinion.department or "")
    signature = _store(
        session,
        payload=payload,
        key=key,
        signer_user_id=signer.id,
        signer_name=signer.display_name or signer.username,
        seal_name=department,
    )
    record(
        "esign.sign",
        object_type=OPINION,
        object_id=opinion.id,
        detail={"signature_id": signature.id, "decision": opinion.decision},
        user=signer,
        session=session,
    )
    return signature


def sign_document(*, session, document: ApprovalDocument) -> Signature:
    """Sign an issued 批复 with the platform's key; once per document."""
    existing = _first(session, DOCUMENT, document.id)
    if existing is not None:
        return existing
    session.flush()
    payload = document_payload(session=session, document=document)
    signature = _store(
        session,
        payload=payload,
        key=crypto.platform_key(),
        signer_user_id=None,
        signer_name=PLATFORM_SIGNER,
        seal_name=DEPARTMENT_FULL_NAMES[ISSUER],
    )
    record(
        "esign.sign",
        object_type=DOCUMENT,
        object_id=document.id,
        detail={"signature_id": signature.id, "number": document.number},
        username="platform",
        session=session,
    )
    return signature


def _store(session, *, payload, key, signer_user_id, signer_name, seal_name) -> Signature:
    data = canonical(payload)
    signature = Signature(
        object_type=payload["type"],
        object_id=str(payload["id"]),
        payload=data.decode("utf-8"),
        payload_sm3=sm3_hex(data),
        signer_user_id=signer_user_id,
        signer_name=signer_name,
        seal_name=seal_name,
        public_key_hex=key.public_key_hex,
        signature=key.sign(data).hex(),
        algorithm=ALGORITHM,
        signed_at=utcnow(),
    )
    session.add(signature)
    session.flush()
    return signature


def _first(session, object_type: str, object_id) -> Signature | None:
    return session.scalar(
        sa.select(Signature)
        .where(Signature.object_type == object_type, Signature.object_id == str(object_id))
        .order_by(Signature.id)
        .limit(1)
    )


# --- reading and verifying -------------------------------------------------------------------


def signatures_of(*, session, object_type: str, object_ids) -> dict[str, list[Signature]]:
    """The signatures of some objects, oldest first, by object id (text)."""
    ids = [str(i) for i in object_ids]
    found: dict[str, list[Signature]] = {}
    if not ids:
        return found
    for signature in session.scalars(
        sa.select(Signature)
        .where(Signature.object_type == object_type, Signature.object_id.in_(ids))
        .order_by(Signature.signed_at, Signature.id)
    ):
        found.setdefault(signature.object_id, []).append(signature)
    return found


# Why a signature is not valid; the page shows 签名无效 with the reason.
VALID = "valid"
REASONS = (
    VALID,
    "object_missing",  # the signed opinion or document is gone
    "content_changed",  # the object no longer gives the payload that was signed
    "digest_mismatch",  # the stored SM3 is not the payload's
    "key_not_signer",  # the public key is not the signer's (or the platform's) key
    "bad_signature",  # SM2 verification failed
)


@dataclass(frozen=True)
class Verification:
    reason: str

    @property
    def valid(self) -> bool:
        return self.reason == VALID


def verify(*, session, signature: Signature) -> Verification:
    """Check a stored signature against the object as it is now (see the module's doc)."""
    try:
        stored = json.loads(signature.payload)
    except ValueError:
        return Verification("content_changed")
    current = _current_payload(session, signature, stored)
    if current is None:
        return Verification("object_missing")
    data = signature.payload.encode("utf-8")
    if data != canonical(current):
        return Verification("content_changed")
    if sm3_hex(data) != signature.payload_sm3:
        return Verification("digest_mismatch")
    if signature.public_key_hex.lower() != (_expected_public_key(session, signature) or "").lower():
        return Verification("key_not_signer")
    if not verify_detached(signature.public_key_hex, data, signature.signature):
        return Verification("bad_signature")
    return Verification(VALID)


def verify_detached(public_key_hex: str, payload: bytes, signature_hex: str) -> bool:
    """The offline check: SM2 (with SM3 and the default user id) over the payload bytes."""
    try:
        raw = bytes.fromhex(signature_hex)
    except ValueError:
        return False
    try:
        return bool(crypto.sm2_verify(public_key_hex, payload, raw))
    except (ValueError, TypeError):
        return False


def _current_payload(session, signature: Signature, stored: dict) -> dict | None:
    try:
        object_id = int(signature.object_id)
    except ValueError:
        return None
    if signature.object_type == OPINION:
        opinion = session.get(ApprovalOpinion, object_id)
        if opinion is None:
            return None
        return opinion_payload(
            session=session, opinion=opinion, form_data_sm3=stored.get("form_data_sm3", "")
        )
    if signature.object_type == DOCUMENT:
        document = session.get(ApprovalDocument, object_id)
        return None if document is None else document_payload(session=session, document=document)
    return None


def _expected_public_key(session, signature: Signature) -> str | None:
    """The key the signer is known by: the platform's, or the person's registered key (a
    signature made with anyone else's key, even a valid one over the same bytes, is refused)."""
    if signature.signer_user_id is None:
        return crypto.platform_key().public_key_hex
    return registered_public_key(session=session, user_id=signature.signer_user_id)


def registered_public_key(*, session, user_id: int) -> str | None:
    return user_public_key(session=session, user_id=user_id)


def public_record(signature: Signature) -> dict[str, Any]:
    """What `GET /esign/<id>.json` gives: enough to verify with the public key alone."""
    return {
        "id": signature.id,
        "object_type": signature.object_type,
        "object_id": signature.object_id,
        "algorithm": signature.algorithm,
        "signer": signature.signer_name,
        "signer_user_id": signature.signer_user_id,
        "seal": signature.seal_name,
        "signed_at": signature.signed_at.isoformat(),
        "payload": signature.payload,
        "payload_encoding": "utf-8",
        "payload_sm3": signature.payload_sm3,
        "public_key_hex": signature.public_key_hex,
        "signature_hex": signature.signature,
        "user_id": "1234567812345678",
    }
