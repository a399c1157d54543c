"""存证 pages: the deposits of the projects a person sees, a manual deposit, a record with its
proof bundle, verify-by-upload, the standalone verifier, and an on-demand checkpoint.
Thin: the rules are in service.py; what a person sees is `backend.authz.scope`."""

import hashlib
import json
from io import BytesIO
from pathlib import Path

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from backend import ledger
from backend.audit import record as audit
from backend.authz import has_permission, require_permission
from backend.authz import scope as authz_scope
from backend.crypto import sm3
from backend.evidence import service
from backend.evidence.models import EvidenceRecord
from backend.extensions import db
from backend.files.errors import FileMissing, FileRefused
from backend.files.service import open_file
from backend.projects.models import Project

bp = Blueprint("evidence", __name__, template_folder="templates")

PAGE_SIZE = 20
# The verify page reads the upload into memory to hash it; nothing is stored.
MAX_VERIFY_BYTES = 50 * 1024 * 1024
VERIFIER_FILE = Path(__file__).with_name("verifier.py")
TYPE_LABELS = {
    "tender": _l("招标文件"),
    "change": _l("变更记录"),
    "acceptance": _l("验收报告"),
    "approval": _l("批复"),
    "other": _l("其他"),
}
SOURCE_LABELS = {
    "manual": _l("手工存证"),
    "approval.issued": _l("批复印发"),
    "acceptance": _l("验收申请"),
    "completion": _l("竣工验收"),  # the report of a 竣工验收 (backend/projects/completion.py)
}


def _scope():
    return authz_scope.scope_of(current_user, session=db.session)


def _visible_projects():
    return list(
        db.session.scalars(
            sa.select(Project).where(authz_scope.project_clause(_scope())).order_by(Project.code)
        )
    )


def _sees(record: EvidenceRecord) -> bool:
    """A project's record: whoever sees the project; a region's (a performance report): whoever
    sees the whole region."""
    if record.project_id is None:
        return authz_scope.region_in(_scope(), record.region_code)
    return authz_scope.sees_project(current_user, record.project, session=db.session)


def _record_or_404(record_id: int) -> EvidenceRecord:
    record = db.session.get(EvidenceRecord, record_id)
    if record is None or not _sees(record):
        abort(404)
    return record


@bp.get("/evidence")
@require_permission("evidence.read")
def index():
    project_code = (request.args.get("project") or "").strip()
    document_type = request.args.get("type") or ""
    before = request.args.get("before", type=int)
    stmt = (
        sa.select(EvidenceRecord)
        .join(Project, Project.id == EvidenceRecord.project_id)
        .where(authz_scope.project_clause(_scope()))
    )
    if project_code:
        stmt = stmt.where(Project.code == project_code)
    if document_type in service.DOCUMENT_TYPES:
        stmt = stmt.where(EvidenceRecord.document_type == document_type)
    if before:
        stmt = stmt.where(EvidenceRecord.id < before)
    rows = list(db.session.scalars(stmt.order_by(EvidenceRecord.id.desc()).limit(PAGE_SIZE + 1)))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    project = (
        db.session.scalar(sa.select(Project).where(Project.code == project_code)) if project_code else None
    )
    return render_template(
        "evidence/index.html",
        records=rows,
        next_before=rows[-1].id if more else None,
        project_code=project_code,
        project=project,
        document_type=document_type,
        type_labels=TYPE_LABELS,
        source_labels=SOURCE_LABELS,
        may_deposit=has_permission(current_user, "evidence.deposit"),
        latest=ledger.latest_checkpoint(session=db.session, ledger=service.LEDGER),
    )


@bp.get("/evidence/deposit")
@require_permission("evidence.deposit")
def deposit_form():
    return _render_deposit({"project": request.args.get("project", ""), "type": "tender"})


def _render_deposit(values: dict, error: str | None = None, status: int = 200):
    return (
        render_template(
            "evidence/deposit.html",
            values=values,
            error=error,
            projects=_visible_projects(),
            type_labels=TYPE_LABELS,
        ),
        status,
    )


@bp.post("/evidence/deposit")
@require_permission("evidence.deposit")
def deposit():
    values = {"project": (request.form.get("project") or "").strip(), "type": request.form.get("type") or ""}
    project = db.session.scalar(sa.select(Project).where(Project.code == values["project"]))
    if project is None or not authz_scope.sees_project(current_user, project, session=db.session):
        return _render_deposit(values, _("请选择项目"), 400)
    if values["type"] not in service.DOCUMENT_TYPES:
        return _render_deposit(values, _("请选择文件类型"), 400)
    upload = request.files.get("document")
    if upload is None or not upload.filename:
        return _render_deposit(values, _("请选择要存证的文件"), 400)
    try:
        record, created = service.deposit_upload(
            session=db.session,
            project=project,
            document_type=values["type"],
            stream=upload.stream,
            filename=upload.filename,
            depositor=current_user.username,
        )
    except FileRefused as exc:
        db.session.rollback()
        return _render_deposit(values, str(exc), 400)
    db.session.commit()
    if created:
        flash(_("已存证: 账本第 %(index)s 条", index=record.ledger_index), "success")
    else:
        flash(_("该文件已于 %(at)s 存证", at=record.deposited_at.strftime("%Y-%m-%d %H:%M UTC")), "info")
    return redirect(url_for("evidence.detail", record_id=record.id))


@bp.get("/evidence/<int:record_id>")
@require_permission("evidence.read")
def detail(record_id):
    record = _record_or_404(record_id)
    checkpoint = service.covering_checkpoint(session=db.session, record=record)
    return render_template(
        "evidence/detail.html",
        record=record,
        checkpoint=checkpoint,
        signature_valid=checkpoint is not None and ledger.checkpoint_signature_valid(checkpoint),
        receipts=service.receipts_of(session=db.session, checkpoint_id=checkpoint.id) if checkpoint else [],
        type_labels=TYPE_LABELS,
        source_labels=SOURCE_LABELS,
    )


@bp.get("/evidence/<int:record_id>/proof.json")
@require_permission("evidence.read")
def proof(record_id):
    record = _record_or_404(record_id)
    try:
        bundle = service.proof_bundle(session=db.session, record=record)
    except service.EvidenceError as exc:
        abort(409, description=str(exc))
    body = json.dumps(bundle, ensure_ascii=False, indent=2).encode()
    return send_file(
        BytesIO(body),
        mimetype="application/json",
        as_attachment=True,
        download_name=f"evidence-{record.id}-proof.json",
        max_age=0,
    )


@bp.get("/evidence/<int:record_id>/document")
@require_permission("evidence.read")
def document(record_id):
    """The deposited bytes, for checking them with the verifier."""
    record = _record_or_404(record_id)
    if record.file_sha256 is None:
        abort(404)
    try:
        f = open_file(sha256=record.file_sha256)
    except FileMissing:
        abort(404)
    audit("evidence.download", object_type="evidence_record", object_id=record.id)
    db.session.commit()
    name = f"{record.title}.json" if record.source == "approval.issued" else record.title
    return send_file(f, as_attachment=True, download_name=name, mimetype="application/octet-stream")


@bp.get("/evidence/verify")
@require_permission("evidence.read")
def verify_form():
    return render_template("evidence/verify.html", checked=False, matches=[], type_labels=TYPE_LABELS)


@bp.post("/evidence/verify")
@require_permission("evidence.read")
def verify():
    upload = request.files.get("document")
    if upload is None or not upload.filename:
        flash(_("请选择要核验的文件"), "warning")
        return redirect(url_for("evidence.verify_form"))
    data = upload.stream.read(MAX_VERIFY_BYTES + 1)
    if len(data) > MAX_VERIFY_BYTES:
        flash(_("文件过大, 无法在线核验; 请下载离线核验工具"), "warning")
        return redirect(url_for("evidence.verify_form"))
    matches = service.find_by_digest(session=db.session, data=data)
    visible = {r.id for r in matches if _sees(r)}
    return render_template(
        "evidence/verify.html",
        checked=True,
        name=upload.filename,
        sha256=hashlib.sha256(data).hexdigest(),
        sm3=sm3(data).hex(),
        matches=matches,
        visible=visible,
        type_labels=TYPE_LABELS,
    )


@bp.get("/evidence/verifier.py")
def verifier():
    """The standalone verifier: no sign-in needed, it holds nothing secret."""
    return send_file(VERIFIER_FILE, mimetype="text/x-python", as_attachment=True, download_name="verifier.py")


@bp.post("/evidence/checkpoint")
@require_permission("evidence.deposit")
def make_checkpoint():
    cp = service.make_checkpoint(session=db.session, only_if_grown=True)
    if cp is not None:
        audit(
            "evidence.checkpoint",
            object_type="ledger_checkpoint",
            object_id=cp.id,
            detail={"tree_size": cp.tree_size},
        )
    db.session.commit()
    if cp is None:
        flash(_("存证账本为空"), "info")
    else:
        flash(_("检查点: 树大小 %(size)s", size=cp.tree_size), "success")
    return redirect(url_for("evidence.index"))
