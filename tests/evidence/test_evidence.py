"""Deposits (批复 on issue, manual upload), proof bundles checked by the standalone verifier in a
plain Python, altered documents refused, verify-by-upload, anchors, pages and their permissions."""

import hashlib
import io
import json
import subprocess
import sys

import sqlalchemy as sa

from backend import jobs, ledger
from backend.approvals.service import issue_document
from backend.evidence import anchors, service
from backend.evidence.models import AnchorReceipt, EvidenceRecord
from backend.jobs.models import OutboxJob
from backend.ledger.models import LedgerCheckpoint
from tests.evidence.conftest import NOW, OTHER_CODE, PROJECT_CODE, signed_in

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _pdf(text: str) -> bytes:
    return PDF.replace(b"1 0 obj", f"% {text}\n1 0 obj".encode())


def _deposit(session, world, data: bytes, *, document_type="tender", title="招标文件.pdf", project=None):
    record, created = service.deposit(
        session=session,
        project=project or world.project,
        document_type=document_type,
        data=data,
        title=title,
        depositor="window",
    )
    session.commit()
    return record


# --- deposits ----------------------------------------------------------------------------------


def test_issuing_a_pifu_deposits_it(session, world, anchor_file):
    document = issue_document(session=session, project=world.project, now=NOW)
    session.commit()

    (record,) = session.scalars(sa.select(EvidenceRecord)).all()
    assert (record.document_type, record.source, record.source_ref) == (
        "approval",
        "approval.issued",
        document.number,
    )
    assert record.project_id == world.project.id and record.depositor == "system"
    data = service.approval_document_bytes(document)
    assert json.loads(data)["number"] == document.number
    assert record.sha256 == hashlib.sha256(data).hexdigest()
    assert record.file_sha256 == record.sha256  # the bytes are kept in the file store as issued
    assert record.ledger_index == 0 and ledger.size(session=session, ledger="evidence") == 1
    # Signed at once, so the proof can be downloaded right away; the checkpoint is anchored.
    cp = service.covering_checkpoint(session=session, record=record)
    assert cp is not None and ledger.checkpoint_signature_valid(cp)
    assert not anchor_file.exists()  # published after commit, by the outbox
    jobs.drain()
    (line,) = anchor_file.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["root_hash"] == cp.root_hash

    # A project gets one 批复, and the same bytes are deposited once.
    issue_document(session=session, project=world.project, now=NOW)
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(EvidenceRecord)) == 1


def test_a_deposit_is_audited(session, world):
    from backend.audit import models as audit_models

    record = _deposit(session, world, _pdf("tender"))
    rows = session.scalars(
        sa.select(audit_models.AuditRecord).where(audit_models.AuditRecord.action == "evidence.deposit")
    ).all()
    assert [(r.object_type, str(r.object_id)) for r in rows] == [("evidence_record", str(record.id))]


def test_ledger_verify_names_an_altered_evidence_row(session, world):
    _deposit(session, world, _pdf("a"))
    second = _deposit(session, world, _pdf("b"), document_type="change")
    assert ledger.verify(session=session, ledger="evidence").ok
    session.execute(
        sa.text("UPDATE evidence_record SET sha256 = :h WHERE id = :id"), {"h": "0" * 64, "id": second.id}
    )
    session.commit()
    report = ledger.verify(session=session, ledger="evidence")
    assert not report.ok
    assert f"存证记录 #{second.id}" in report.first_problem.message


# --- the proof bundle and the standalone verifier -----------------------------------------------


def _run_verifier(tmp_path, client, document: bytes, bundle: dict, *extra):
    """Download verifier.py from the platform and run it alone: a plain Python (the base
    interpreter, not the venv) in isolated mode, in a folder holding only the two files."""
    work = tmp_path / "offline"
    work.mkdir(exist_ok=True)
    response = client.get("/evidence/verifier.py")
    assert response.status_code == 200
    (work / "verifier.py").write_bytes(response.data)
    (work / "document.bin").write_bytes(document)
    (work / "proof.json").write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
    python = getattr(sys, "_base_executable", None) or sys.executable
    return subprocess.run(
        [python, "-I", "verifier.py", *extra, "document.bin", "proof.json"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_proof_bundle_verifies_offline_and_an_altered_document_is_refused(app, session, world, tmp_path):
    for i in range(4):  # a tree with some shape: the record is neither first nor last
        _deposit(session, world, _pdf(f"earlier {i}"), document_type="change")
    document = _pdf("acceptance report")
    record = _deposit(session, world, document, document_type="acceptance", title="验收报告.pdf")
    _deposit(session, world, _pdf("later"), document_type="other")

    client = signed_in(app, "window")
    response = client.get(f"/evidence/{record.id}/proof.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    bundle = json.loads(response.data)
    assert bundle["proof"]["leaf_index"] == record.ledger_index == 4
    assert bundle["proof"]["tree_size"] == 6

    ok = _run_verifier(tmp_path, client, document, bundle)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "VERIFIED" in ok.stdout and "SM2 signature of the checkpoint verifies" in ok.stdout
    pure = _run_verifier(tmp_path, client, document, bundle, "--pure-sm3")
    assert pure.returncode == 0, pure.stdout + pure.stderr

    altered = bytearray(document)
    altered[10] ^= 0x01
    refused = _run_verifier(tmp_path, client, bytes(altered), bundle)
    assert refused.returncode == 1, refused.stdout
    assert "NOT VERIFIED" in refused.stdout and "does NOT match" in refused.stdout


def test_verifier_refuses_a_doctored_bundle(app, session, world, tmp_path):
    document = _pdf("tender")
    record = _deposit(session, world, document)
    _deposit(session, world, _pdf("other"))
    client = signed_in(app, "window")
    bundle = json.loads(client.get(f"/evidence/{record.id}/proof.json").data)
    assert _run_verifier(tmp_path, client, document, bundle).returncode == 0

    # Another leaf time (a backdated deposit): the leaf no longer reaches the signed root.
    forged = json.loads(json.dumps(bundle))
    leaf = json.loads(forged["leaf"]["data"])
    leaf["deposited_at"] = "2020-01-01T00:00:00.000000Z"
    forged["leaf"]["data"] = json.dumps(leaf, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    forged["leaf"].pop("hash")
    assert _run_verifier(tmp_path, client, document, forged).returncode == 1

    # A root the platform never signed.
    forged = json.loads(json.dumps(bundle))
    forged["checkpoint"]["root_hash"] = "00" * 32
    assert _run_verifier(tmp_path, client, document, forged).returncode == 1

    # A signature that is not the platform key's over this checkpoint.
    forged = json.loads(json.dumps(bundle))
    signature = bytearray.fromhex(forged["checkpoint"]["signature"])
    signature[5] ^= 1
    forged["checkpoint"]["signature"] = signature.hex()
    result = _run_verifier(tmp_path, client, document, forged)
    assert result.returncode == 1 and "does NOT verify" in result.stdout

    # Re-signed with someone else's key: valid on its own, refused once the platform key is pinned.
    from backend.crypto import SM2Key, platform_key

    forger = SM2Key.generate()
    forged = json.loads(json.dumps(bundle))
    forged["checkpoint"]["public_key"] = forger.public_key_hex
    forged["checkpoint"]["signature"] = forger.sign(forged["checkpoint"]["payload"].encode()).hex()
    assert _run_verifier(tmp_path, client, document, forged).returncode == 0
    platform = platform_key().public_key_hex
    pinned = _run_verifier(tmp_path, client, document, forged, "--public-key", platform)
    assert pinned.returncode == 1 and "does NOT match the given platform key" in pinned.stdout
    assert _run_verifier(tmp_path, client, document, bundle, "--public-key", platform).returncode == 0


def test_bundle_of_the_pifu_verifies_against_its_downloaded_document(app, session, world, tmp_path):
    issue_document(session=session, project=world.project, now=NOW)
    session.commit()
    record = session.scalars(sa.select(EvidenceRecord)).one()
    client = signed_in(app, "window")
    document = client.get(f"/evidence/{record.id}/document")
    assert document.status_code == 200 and ".json" in document.headers["Content-Disposition"]
    bundle = json.loads(client.get(f"/evidence/{record.id}/proof.json").data)
    assert _run_verifier(tmp_path, client, document.data, bundle).returncode == 0


# --- pages ----------------------------------------------------------------------------------------


def test_manual_deposit_page(app, session, world):
    client = signed_in(app, "window")
    assert client.get("/evidence/deposit").status_code == 200
    data = _pdf("change record")
    response = client.post(
        "/evidence/deposit",
        data={"project": PROJECT_CODE, "type": "change", "document": (io.BytesIO(data), "变更记录.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    record = session.scalars(sa.select(EvidenceRecord)).one()
    assert (record.document_type, record.title, record.depositor) == ("change", "变更记录.pdf", "window")
    assert record.sha256 == hashlib.sha256(data).hexdigest()
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert record.sm3 in page and 'data-signature-valid="true"' in page

    # Again: the earlier deposit is found, nothing is appended.
    again = client.post(
        "/evidence/deposit",
        data={"project": PROJECT_CODE, "type": "change", "document": (io.BytesIO(data), "copy.pdf")},
        content_type="multipart/form-data",
    )
    assert again.status_code == 302
    assert ledger.size(session=session, ledger="evidence") == 1

    # A file whose content is no document is refused with the file store's message.
    refused = client.post(
        "/evidence/deposit",
        data={
            "project": PROJECT_CODE,
            "type": "tender",
            "document": (io.BytesIO(b"MZ\x90\x00binary"), "x.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert refused.status_code == 400


def test_deposit_needs_the_permission(app, session, world):
    client = signed_in(app, "applicant")  # owner: reads evidence, deposits nothing
    assert client.get("/evidence").status_code == 200
    # The project page links to its deposits.
    page = client.get(f"/applications/{PROJECT_CODE}").get_data(as_text=True)
    assert f'href="/evidence?project={PROJECT_CODE}" data-evidence-link' in page
    assert client.get("/evidence/deposit").status_code == 403
    response = client.post(
        "/evidence/deposit",
        data={"project": PROJECT_CODE, "type": "tender", "document": (io.BytesIO(_pdf("x")), "x.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403
    assert session.scalar(sa.select(sa.func.count()).select_from(EvidenceRecord)) == 0
    assert client.post("/evidence/checkpoint").status_code == 403


def test_verify_by_upload(app, session, world):
    document = _pdf("acceptance")
    record = _deposit(session, world, document, document_type="acceptance")
    client = signed_in(app, "hz_reviewer")
    assert client.get("/evidence/verify").status_code == 200

    page = client.post(
        "/evidence/verify",
        data={"document": (io.BytesIO(document), "a.pdf")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert 'data-verify-result="deposited"' in page
    assert f'data-record="{record.id}"' in page and PROJECT_CODE in page

    altered = document[:-1] + b" "
    page = client.post(
        "/evidence/verify",
        data={"document": (io.BytesIO(altered), "a.pdf")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert 'data-verify-result="not-deposited"' in page


def test_list_filters_pages_and_scope(app, session, world):
    for i in range(23):
        _deposit(session, world, _pdf(f"tender {i}"))
    acceptance = _deposit(session, world, _pdf("acceptance"), document_type="acceptance")
    ningbo = _deposit(session, world, _pdf("ningbo"), project=world.other)

    client = signed_in(app, "window")
    page = client.get("/evidence").get_data(as_text=True)
    assert page.count("data-record=") == 20 and "data-next-page" in page
    second = client.get(f"/evidence?before={_first_page_last_id(session)}").get_data(as_text=True)
    assert second.count("data-record=") == 5 and "data-next-page" not in second

    only = client.get("/evidence?type=acceptance").get_data(as_text=True)
    assert only.count("data-record=") == 1 and f'data-record="{acceptance.id}"' in only
    per_project = client.get(f"/evidence?project={OTHER_CODE}").get_data(as_text=True)
    assert per_project.count("data-record=") == 1 and f'data-record="{ningbo.id}"' in per_project

    # A Hangzhou reviewer sees neither Ningbo's deposit nor its proof.
    hz = signed_in(app, "hz_reviewer")
    page = hz.get(f"/evidence?project={OTHER_CODE}").get_data(as_text=True)
    assert "data-record=" not in page.split("data-records", 1)[1].split("</table>")[0].replace(
        "data-records", ""
    )
    assert hz.get(f"/evidence/{ningbo.id}").status_code == 404
    assert hz.get(f"/evidence/{ningbo.id}/proof.json").status_code == 404


def _first_page_last_id(session) -> int:
    ids = session.scalars(sa.select(EvidenceRecord.id).order_by(EvidenceRecord.id.desc()).limit(20)).all()
    return ids[-1]


def test_english_page(app, session, world):
    _deposit(session, world, _pdf("x"))
    client = signed_in(app, "window")
    client.get("/lang/en")
    page = client.get("/evidence").get_data(as_text=True)
    assert "Evidence records" in page and "Tender document" in page


# --- anchors ---------------------------------------------------------------------------------------


class _BrokenChain:
    name = "broken-chain"

    def publish(self, checkpoint):
        raise ConnectionError("node unreachable")


class _Recorder:
    name = "recorder"

    def __init__(self):
        self.published = []

    def publish(self, checkpoint):
        self.published.append(checkpoint)
        return {"tx": f"0x{len(self.published):04x}"}


def test_checkpoints_are_published_to_every_anchor(app, session, world, anchor_file):
    recorder, broken = _Recorder(), _BrokenChain()
    anchors.register_anchor(recorder)
    anchors.register_anchor(broken)
    try:
        _deposit(session, world, _pdf("one"))
        _deposit(session, world, _pdf("two"))
        # On demand with nothing new: no third checkpoint.
        client = signed_in(app, "window")
        assert client.post("/evidence/checkpoint").status_code == 302
        assert session.scalar(sa.select(sa.func.count()).select_from(LedgerCheckpoint)) == 2
        jobs.drain()
    finally:
        anchors.unregister_anchor(recorder)
        anchors.unregister_anchor(broken)

    lines = [json.loads(line) for line in anchor_file.read_text(encoding="utf-8").splitlines()]
    assert [line["tree_size"] for line in lines] == [1, 2]
    assert [c["tree_size"] for c in recorder.published] == [1, 2]
    # The published checkpoint is the signed one: its payload verifies with its public key.
    from backend.evidence import verifier

    last = lines[-1]
    assert verifier.sm2_verify(last["public_key"], last["payload"].encode(), bytes.fromhex(last["signature"]))
    session.expire_all()
    receipts = session.scalars(
        sa.select(AnchorReceipt).order_by(AnchorReceipt.checkpoint_id, AnchorReceipt.anchor)
    ).all()
    assert [r.anchor for r in receipts] == ["file", "recorder"] * 2
    assert {r.receipt.get("tx") for r in receipts if r.anchor == "recorder"} == {"0x0001", "0x0002"}
    # The unreachable chain is retried later, with its error kept on the job.
    failed = session.scalars(sa.select(OutboxJob).filter_by(actor="evidence.anchor", state="pending")).all()
    assert len(failed) == 2 and all("node unreachable" in (j.last_error or "") for j in failed)


def test_a_rolled_back_checkpoint_is_never_published(session, world, anchor_file):
    service.deposit(
        session=session,
        project=world.project,
        document_type="tender",
        data=_pdf("x"),
        title="x.pdf",
        depositor="w",
    )
    session.rollback()
    jobs.drain()
    assert not anchor_file.exists()


def test_periodic_checkpoint_publishes_to_the_anchor_file(app, session, world, anchor_file):
    from backend.ledger.jobs import checkpoint_all

    service.deposit(
        session=session,
        project=world.project,
        document_type="tender",
        data=_pdf("no checkpoint yet"),
        title="t.pdf",
        depositor="window",
        checkpoint=False,
    )
    session.commit()
    jobs.drain()
    assert not anchor_file.exists()
    checkpoint_all(session=session)
    session.commit()
    jobs.drain()
    (line,) = anchor_file.read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["ledger"] == "evidence" and json.loads(line)["tree_size"] == 1


def test_cli_checkpoint_and_verify(app, session, world):
    record = _deposit(session, world, _pdf("cli"))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["evidence", "checkpoint"])
    assert result.exit_code == 0 and "tree size 1" in result.output
    result = runner.invoke(args=["evidence", "verify"])
    assert result.exit_code == 0, result.output

    session.execute(sa.text("UPDATE evidence_record SET title = 'x.pdf' WHERE id = :id"), {"id": record.id})
    session.commit()
    result = runner.invoke(args=["evidence", "verify"])
    assert result.exit_code == 1 and f"存证记录 #{record.id}" in result.output
