"""The 批复 page with its seals and signatures, and each signature as JSON for offline checks."""

import math

import sqlalchemy as sa
from flask import Blueprint, abort, jsonify, render_template
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from markupsafe import Markup, escape

from backend.approvals import service as approvals
from backend.approvals.models import ApprovalDocument, ApprovalOpinion
from backend.approvals.views import DECISION_LABELS, _may_see
from backend.esign import service
from backend.esign.models import Signature
from backend.extensions import db
from backend.projects.models import Project

bp = Blueprint("esign", __name__, template_folder="templates")

REASON_LABELS = {
    service.VALID: _l("签名有效"),
    "object_missing": _l("签名对象已不存在"),
    "content_changed": _l("签名后内容被改动"),
    "digest_mismatch": _l("摘要不符"),
    "key_not_signer": _l("公钥不属于签署人"),
    "bad_signature": _l("SM2 验签失败"),
}


def _project_of(signature: Signature) -> Project | None:
    model = {service.OPINION: ApprovalOpinion, service.DOCUMENT: ApprovalDocument}.get(signature.object_type)
    if model is None:
        return None
    try:
        row = db.session.get(model, int(signature.object_id))
    except ValueError:
        return None
    return None if row is None else db.session.get(Project, row.project_id)


@bp.get("/esign/<int:signature_id>.json")
@login_required
def signature_json(signature_id):
    """Payload, signature and public key: verifiable offline with the public key alone
    (docs/esign.md). Readable by whoever may see the signed object's project."""
    signature = db.session.get(Signature, signature_id)
    if signature is None:
        abort(404)
    project = _project_of(signature)
    if project is None or not _may_see(project):
        abort(404 if project is None else 403)
    body = service.public_record(signature)
    body["verified_by_platform"] = service.verify(session=db.session, signature=signature).reason
    return jsonify(body)


@bp.get("/esign/documents/<int:document_id>")
@login_required
def document(document_id):
    """The 批复 as issued, with its seal and the heads' signed countersign decisions, each
    verified now against the stored content."""
    found = db.session.get(ApprovalDocument, document_id)
    if found is None:
        abort(404)
    project = db.session.get(Project, found.project_id)
    if not _may_see(project):
        abort(403)
    document_signatures = service.signatures_of(
        session=db.session, object_type=service.DOCUMENT, object_ids=[found.id]
    ).get(str(found.id), [])
    heads = list(
        db.session.scalars(
            sa.select(ApprovalOpinion)
            .where(
                ApprovalOpinion.project_id == project.id,
                ApprovalOpinion.decision.in_(approvals.HEAD_DECISIONS),
            )
            .order_by(ApprovalOpinion.decided_at, ApprovalOpinion.id)
        )
    )
    head_signatures = service.signatures_of(
        session=db.session, object_type=service.OPINION, object_ids=[o.id for o in heads]
    )
    verified = {
        s.id: service.verify(session=db.session, signature=s)
        for s in [*document_signatures, *(s for rows in head_signatures.values() for s in rows)]
    }
    return render_template(
        "esign/document.html",
        document=found,
        project=project,
        document_signatures=document_signatures,
        heads=heads,
        head_signatures=head_signatures,
        verified=verified,
        reason_labels=REASON_LABELS,
        decision_labels=DECISION_LABELS,
        department_names=approvals.DEPARTMENT_NAMES,
    )


# --- the seal --------------------------------------------------------------------------------

SEAL_RED = "#d0021b"


def seal_svg(name: str, *, uid: str, label: str = "电子签章", size: int = 132) -> Markup:
    """A red round seal: the organisation's name along the upper rim, a five-pointed star, and
    a label under it. Drawn with presentation attributes only (no inline style, CSP-safe);
    `uid` keeps the text path's id unique on the page."""
    c, rim, text_r = 80, 74, 52
    name = name or ""
    # The name runs over 240° of the circle, from lower left over the top to lower right.
    arc = 2 * math.pi * text_r * 240 / 360
    font = max(9.0, min(22.0, arc * 0.88 / max(len(name), 1)))
    # Spread over most of the arc as seals are cut, short names with wide gaps.
    spread = min(arc * 0.9, max(len(name), 1) * font * 1.8)
    x0, y = c - text_r * math.cos(math.radians(30)), c + text_r * math.sin(math.radians(30))
    x1 = c + text_r * math.cos(math.radians(30))
    star = " ".join(
        f"{c + r * math.sin(math.radians(36 * i)):.2f},{c - r * math.cos(math.radians(36 * i)):.2f}"
        for i, r in ((i, 24 if i % 2 == 0 else 9.5) for i in range(10))
    )
    path_id = f"seal-arc-{escape(uid)}"
    return Markup(
        f'<svg class="esign-seal" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 160 160" width="{size}" '
        f'height="{size}" role="img" aria-label="{escape(name)} {escape(label)}" data-seal="{escape(name)}">'
        f'<circle cx="{c}" cy="{c}" r="{rim}" fill="none" stroke="{SEAL_RED}" stroke-width="5"/>'
        f'<path id="{path_id}" d="M {x0:.2f} {y:.2f} A {text_r} {text_r} 0 1 1 {x1:.2f} {y:.2f}" fill="none"/>'
        f'<text fill="{SEAL_RED}" font-size="{font:.1f}" font-weight="bold" '
        f'font-family="SimSun, Songti SC, serif">'
        f'<textPath href="#{path_id}" startOffset="50%" text-anchor="middle" textLength="{spread:.1f}" '
        f'lengthAdjust="spacing">{escape(name)}</textPath></text>'
        f'<polygon points="{star}" fill="{SEAL_RED}"/>'
        f'<text x="{c}" y="{c + 42}" fill="{SEAL_RED}" font-size="13" text-anchor="middle" '
        f'font-family="SimSun, Songti SC, serif">{escape(label)}</text>'
        "</svg>"
    )
