"""电子签章: heads' countersign decisions are signed with the head's SM2 key, the issued 批复
with the platform's; each signature verifies with the public key alone, and a changed
opinion or document, or a key that is not the signer's, makes it invalid."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from backend.accounts.service import set_password
from backend.approvals.models import ApprovalDocument, ApprovalOpinion
from backend.crypto import SM2Key, platform_key, sm2_verify, sm3, user_key
from backend.crypto.keys import user_public_key
from backend.esign import service as esign
from backend.esign.models import Signature
from backend.esign.views import seal_svg
from backend.org.models import User
from tests.tasks.test_views import PASSWORD, signed_in

MONDAY = datetime(2025, 11, 3, 2, 0, tzinfo=UTC)  # Monday 3 Nov 2025, 10:00 in Shanghai


def html(response) -> str:
    return response.get_data(as_text=True)


def _user(session, username) -> User:
    return session.scalar(sa.select(User).filter_by(username=username))


@pytest.fixture()
def people(session, org):
    for name in ("applicant", "fgw_head"):
        set_password(user=_user(session, name), password=PASSWORD, enforce_policy=False)
    outsider = User(username="outsider", display_name="李四", unit_id=org.other_unit.id, roles=[])
    session.add(outsider)
    session.flush()
    set_password(user=outsider, password=PASSWORD, enforce_policy=False)
    session.commit()


def _head_opinion(session, department="fgw") -> ApprovalOpinion:
    return session.scalar(
        sa.select(ApprovalOpinion).where(
            ApprovalOpinion.department == department, ApprovalOpinion.decision.in_(("signed", "overruled"))
        )
    )


def _signature_of(session, object_type, object_id) -> Signature:
    (signature,) = session.scalars(
        sa.select(Signature).filter_by(object_type=object_type, object_id=str(object_id))
    ).all()
    return signature


def test_a_heads_decision_is_signed_with_the_heads_key(flow, session):
    with time_machine.travel(MONDAY, tick=False):
        flow.submit()
        flow.accept()
        flow.review("fgw", opinion="符合省重点建设项目布局", sign=False)
        assert session.scalar(sa.select(sa.func.count()).select_from(Signature)) == 0  # reviewers do not sign
        flow.sign("fgw", opinion="同意审查意见")
    opinion = _head_opinion(session)
    signature = _signature_of(session, esign.OPINION, opinion.id)
    head = _user(session, "fgw_head")
    assert signature.signer_user_id == head.id
    assert signature.signer_name == "fgwhead"
    assert signature.seal_name == "浙江省发展和改革委员会"
    assert signature.algorithm == "SM2-with-SM3"
    assert signature.public_key_hex == user_public_key(session=session, user_id=head.id)
    assert signature.public_key_hex.startswith("04") and len(signature.public_key_hex) == 130
    # What was signed: the canonical payload of the decision, and its SM3.
    payload = json.loads(signature.payload)
    assert payload == {
        "type": "approval_opinion",
        "id": opinion.id,
        "project": flow.instance.business_key,
        "instance": flow.instance_id,
        "task": opinion.task_id,
        "step": "sign_fgw",
        "department": "fgw",
        "signer": "fgw_head",
        "decision": "signed",
        "opinion": "同意审查意见",
        "time": opinion.decided_at.isoformat(),
        "form_data_sm3": sm3(
            json.dumps(
                {"head_approved": True, "head_opinion": "同意审查意见"},
                sort_keys=True,
                ensure_ascii=False,
                separators=(",", ":"),
            ).encode()
        ).hex(),
    }
    assert signature.payload_sm3 == sm3(signature.payload.encode("utf-8")).hex()
    assert sm2_verify(
        signature.public_key_hex, signature.payload.encode(), bytes.fromhex(signature.signature)
    )
    assert esign.verify(session=session, signature=signature).valid


def test_batch_sign_signs_each_decision(app, flow, session, people):
    with time_machine.travel(MONDAY, tick=False):
        flow.submit()
        flow.accept()
        flow.review("fgw", sign=False)
        task = flow.task("sign_fgw")
        page = html(signed_in(app, "fgw_head").post("/sign", data={"only": task.id}))
    result = page.split(f'data-result="{task.id}"')[1].split("</li>")[0]
    assert 'data-signed="true"' in result and "data-esign" in result
    signature = _signature_of(session, esign.OPINION, _head_opinion(session).id)
    assert signature.signer_user_id == _user(session, "fgw_head").id
    assert esign.verify(session=session, signature=signature).reason == "valid"


def test_tampered_opinion_text_or_payload_is_invalid(flow, session):
    with time_machine.travel(MONDAY, tick=False):
        flow.submit()
        flow.accept()
        flow.review("fgw", sign=False)
        flow.sign("fgw", agree=False, opinion="投资估算依据不足")
    opinion = _head_opinion(session)
    signature = _signature_of(session, esign.OPINION, opinion.id)
    assert esign.verify(session=session, signature=signature).valid

    # The opinion text changed in the database after signing.
    session.execute(sa.update(ApprovalOpinion).where(ApprovalOpinion.id == opinion.id).values(opinion="同意"))
    session.commit()
    session.expire_all()
    assert esign.verify(session=session, signature=signature).reason == "content_changed"
    session.execute(
        sa.update(ApprovalOpinion).where(ApprovalOpinion.id == opinion.id).values(opinion="投资估算依据不足")
    )
    session.commit()
    session.expire_all()
    assert esign.verify(session=session, signature=signature).valid

    # Payload and opinion changed together: the SM2 signature no longer matches.
    forged = signature.payload.replace("投资估算依据不足", "同意")
    assert not sm2_verify(signature.public_key_hex, forged.encode(), bytes.fromhex(signature.signature))
    session.execute(sa.update(ApprovalOpinion).where(ApprovalOpinion.id == opinion.id).values(opinion="同意"))
    signature.payload = forged
    signature.payload_sm3 = sm3(forged.encode()).hex()
    session.commit()
    assert esign.verify(session=session, signature=signature).reason == "bad_signature"
    # ... and a stored digest that is not the payload's is caught before that.
    signature.payload_sm3 = "00" * 32
    session.commit()
    assert esign.verify(session=session, signature=signature).reason == "digest_mismatch"


def test_a_signature_with_another_users_key_is_invalid(flow, session):
    with time_machine.travel(MONDAY, tick=False):
        flow.submit()
        flow.accept()
        flow.review("fgw", sign=False)
        flow.sign("fgw")
    signature = _signature_of(session, esign.OPINION, _head_opinion(session).id)
    other = user_key(session=session, user=_user(session, "cz_head"))
    data = signature.payload.encode("utf-8")
    genuine = signature.signature

    # Signed with the 财政 head's key but claiming the 发改 head's public key: SM2 fails.
    signature.signature = other.sign(data).hex()
    session.commit()
    assert esign.verify(session=session, signature=signature).reason == "bad_signature"
    # A consistent forgery (the other key and its own public key): the key is not the signer's.
    signature.public_key_hex = other.public_key_hex
    session.commit()
    assert sm2_verify(signature.public_key_hex, data, bytes.fromhex(signature.signature))
    assert esign.verify(session=session, signature=signature).reason == "key_not_signer"
    # The same with a key nobody registered (and the platform's key for a person's decision).
    for key in (SM2Key.generate(), platform_key()):
        signature.public_key_hex, signature.signature = key.public_key_hex, key.sign(data).hex()
        session.commit()
        assert esign.verify(session=session, signature=signature).reason == "key_not_signer"
    signature.public_key_hex = user_public_key(session=session, user_id=signature.signer_user_id)
    signature.signature = genuine
    session.commit()
    assert esign.verify(session=session, signature=signature).valid


def _approve(flow):
    with time_machine.travel(MONDAY, tick=False) as clock:
        flow.submit()
        flow.accept()
        clock.shift(timedelta(days=1))
        flow.approve_round()


def test_issued_document_is_signed_with_the_platform_key(flow, session):
    _approve(flow)
    document = session.scalar(sa.select(ApprovalDocument))
    signature = _signature_of(session, esign.DOCUMENT, document.id)
    assert signature.signer_user_id is None
    assert signature.public_key_hex == platform_key().public_key_hex
    assert signature.seal_name == "浙江省发展和改革委员会"
    payload = json.loads(signature.payload)
    assert payload["number"] == document.number == "浙发改审批〔2025〕1号"
    assert payload["approved_budget"] == "128000000.00"
    assert payload["content_sm3"] == sm3(esign.canonical(document.content)).hex()
    assert esign.verify(session=session, signature=signature).valid
    # Five heads signed their departments' decisions in the round.
    assert (
        session.scalar(sa.select(sa.func.count()).select_from(Signature).filter_by(object_type=esign.OPINION))
        == 5
    )

    content = dict(document.content, scale_content="新建综合管廊 30 公里")
    session.execute(
        sa.update(ApprovalDocument).where(ApprovalDocument.id == document.id).values(content=content)
    )
    session.commit()
    session.expire_all()
    assert esign.verify(session=session, signature=signature).reason == "content_changed"


def test_document_page_shows_signer_time_seal_and_verdict(app, flow, session, people):
    _approve(flow)
    document = session.scalar(sa.select(ApprovalDocument))
    applicant = signed_in(app, "applicant")
    project_page = html(applicant.get(f"/applications/{flow.instance.business_key}"))
    assert f"/esign/documents/{document.id}" in project_page

    page = html(applicant.get(f"/esign/documents/{document.id}"))
    signatures = page.split('id="document-signatures"')[1].split("</section>")[0]
    assert "平台签章密钥" in signatures  # signer
    assert "2025-11-04 10:00:00" in signatures  # signed at, Asia/Shanghai
    assert '<svg class="esign-seal"' in signatures and 'data-seal="浙江省发展和改革委员会"' in signatures
    assert 'data-verify="valid"' in signatures and "签名有效" in signatures
    assert "签名无效" not in page
    heads = page.split('id="countersign-signatures"')[1].split("</section>")[0]
    assert heads.count('data-verify="valid"') == 5
    assert "fgwhead" in heads and 'data-seal="浙江省财政厅"' in heads

    # Someone changes a head's opinion in the database: that signature shows as invalid.
    opinion = _head_opinion(session, "cz")
    session.execute(
        sa.update(ApprovalOpinion).where(ApprovalOpinion.id == opinion.id).values(opinion="改过的意见")
    )
    session.commit()
    page = html(applicant.get(f"/esign/documents/{document.id}"))
    heads = page.split('id="countersign-signatures"')[1].split("</section>")[0]
    assert heads.count('data-verify="valid"') == 4
    assert heads.count('data-verify="invalid"') == 1 and "签名无效" in heads and "签名后内容被改动" in heads
    # ... and the document's number changed: the 批复's own seal is invalid too.
    session.execute(sa.update(ApprovalDocument).values(number="浙发改审批〔2025〕99号"))
    session.commit()
    page = html(applicant.get(f"/esign/documents/{document.id}"))
    signatures = page.split('id="document-signatures"')[1].split("</section>")[0]
    assert 'data-verify="invalid"' in signatures and "签名无效" in signatures


def test_signature_json_verifies_offline_with_the_public_key_only(app, flow, session, people):
    _approve(flow)
    document = session.scalar(sa.select(ApprovalDocument))
    signature = _signature_of(session, esign.DOCUMENT, document.id)
    response = signed_in(app, "applicant").get(f"/esign/{signature.id}.json")
    assert response.status_code == 200
    body = response.get_json()
    assert body["public_key_hex"] == platform_key().public_key_hex
    assert body["algorithm"] == "SM2-with-SM3" and body["verified_by_platform"] == "valid"
    # The recipe of docs/esign.md: SM3 of the payload, then SM2 with the public key.
    payload = body["payload"].encode(body["payload_encoding"])
    assert sm3(payload).hex() == body["payload_sm3"]
    assert sm2_verify(body["public_key_hex"], payload, bytes.fromhex(body["signature_hex"]))
    altered = payload.replace(b"128000000.00", b"228000000.00")
    assert altered != payload
    assert not sm2_verify(body["public_key_hex"], altered, bytes.fromhex(body["signature_hex"]))
    assert json.loads(payload)["number"] == document.number

    assert signed_in(app, "outsider").get(f"/esign/{signature.id}.json").status_code == 403
    assert signed_in(app, "outsider").get(f"/esign/documents/{document.id}").status_code == 403
    anonymous = app.test_client().get(f"/esign/{signature.id}.json")
    assert anonymous.status_code in (302, 401, 403) and "signature_hex" not in html(anonymous)
    assert signed_in(app, "applicant").get("/esign/999999.json").status_code == 404


def test_seal_is_svg_with_the_name_escaped():
    seal = str(seal_svg("浙江省<财政>厅", uid="x1"))
    assert seal.startswith("<svg") and seal.endswith("</svg>")
    assert "&lt;财政&gt;" in seal and "<财政>" not in seal
    assert 'id="seal-arc-x1"' in seal and 'href="#seal-arc-x1"' in seal
    assert "style=" not in seal and "<script" not in seal


def test_the_standalone_verifier_checks_a_signature_without_the_platform(
    app, flow, session, people, tmp_path
):
    """docs/esign.md's second recipe: the evidence verifier file alone, in `python -I`."""
    import subprocess
    import sys
    from pathlib import Path

    verifier = Path(__file__).resolve().parents[2] / "backend" / "evidence" / "verifier.py"
    with time_machine.travel(MONDAY, tick=False):
        flow.submit()
        flow.accept()
        flow.review("fgw", sign=False)
        flow.sign("fgw", agree=False, opinion="投资估算依据不足")
    signature = _signature_of(session, esign.OPINION, _head_opinion(session).id)
    body = esign.public_record(signature)
    script = (
        "import json, runpy, sys\n"
        "v = runpy.run_path(sys.argv[1])\n"
        "b = json.load(open(sys.argv[2], encoding='utf-8'))\n"
        "ok = v['sm2_verify'](b['public_key_hex'], b['payload'].encode('utf-8'), bytes.fromhex(b['signature_hex']))\n"
        "sys.exit(0 if ok else 1)\n"
    )
    good = tmp_path / "good.json"
    good.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            dict(body, payload=body["payload"].replace("投资估算依据不足", "同意")), ensure_ascii=False
        ),
        encoding="utf-8",
    )
    run = [sys.executable, "-I", "-c", script, str(verifier)]
    assert subprocess.run([*run, str(good)], cwd=tmp_path, timeout=60).returncode == 0
    assert subprocess.run([*run, str(bad)], cwd=tmp_path, timeout=60).returncode == 1


def test_a_decision_held_for_after_signers_is_signed_with_the_holders_key(flow, session):
    """后加签: the head's decision takes effect when the after-signer agrees; it is the head's
    decision, so it carries the head's signature, not the after-signer's."""
    from backend.tasks import add_sign
    from backend.tasks import service as tasks

    with time_machine.travel(MONDAY, tick=False):
        flow.submit()
        flow.accept()
        flow.review("fgw", sign=False)
        task = flow.task("sign_fgw")
        head = _user(session, "fgw_head")
        tasks.claim(session=session, user=head, task_id=task.id)
        (row,) = add_sign.add_signers(
            session=session,
            user=head,
            task_id=task.id,
            usernames=["cz_head"],
            position="after",
            reason="会签",
        )
        assert (
            add_sign.submit(session=session, user=head, task_id=task.id, data={"head_approved": True})
            == "held"
        )
        session.commit()
        assert session.scalar(sa.select(sa.func.count()).select_from(Signature)) == 0  # not in effect yet
        add_sign.sign(
            session=session, user=_user(session, "cz_head"), task_id=row.id, data={"approved": True}
        )
        session.commit()
    signature = _signature_of(session, esign.OPINION, _head_opinion(session).id)
    assert signature.signer_user_id == head.id
    assert json.loads(signature.payload)["signer"] == "fgw_head"
    assert esign.verify(session=session, signature=signature).valid
