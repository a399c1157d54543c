"""Personal data in workflow data (issue 7): SM4 at rest in process state, drafts and history,
plaintext to the engine and to the applicant's own form, masked or absent on the way out."""

import json

import pytest
import sqlalchemy as sa

from backend.accounts.service import set_password
from backend.approvals import service as approvals
from backend.config import ROOT
from backend.crypto import variables
from backend.crypto.fields import mask_sensitive
from backend.crypto.sm4 import CryptoError, is_token
from backend.files import access as file_access
from backend.forms import store as form_store
from backend.tasks import drafts
from backend.workdays.service import seed_from_chinese_calendar
from backend.workflow import live_runs
from backend.workflow import service as workflow
from backend.workflow.deploy import deploy_files
from backend.workflow.host import host_context, load_run
from backend.workflow.models import Event, HumanTask, ProcessInstance
from tests.api.conftest import PASSWORD, bearer, issue, signed_in
from tests.projects.factories import application, make_org

PHONE = "13912345678"
ID_CARD = "110101199003071234"

# A script reads the (encrypted at rest) phone, a gateway decides on another variable.
SCRIPTED = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs" targetNamespace="http://keyproject.gov.cn/bpmn/test">
  <bpmn:process id="phone_check" name="电话核对" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="fill" name="填写"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="formJsonSchemaFilename" value="approval_review.json"/><spiffworkflow:property name="assignee" value='"applicant"'/></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:scriptTask id="count" name="计数"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing><bpmn:script>phone_digits = len(contact_phone)
holder_tail = id_card[-4:]</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="size" default="f_small"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f_big</bpmn:outgoing><bpmn:outgoing>f_small</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:userTask id="big" name="大额"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="formJsonSchemaFilename" value="approval_review.json"/><spiffworkflow:property name="assignee" value='"applicant"'/></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f_big</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="small" name="小额"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="formJsonSchemaFilename" value="approval_review.json"/><spiffworkflow:property name="assignee" value='"applicant"'/></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f_small</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f4</bpmn:incoming><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fill"/>
    <bpmn:sequenceFlow id="f2" sourceRef="fill" targetRef="count"/>
    <bpmn:sequenceFlow id="f3" sourceRef="count" targetRef="size"/>
    <bpmn:sequenceFlow id="f_big" sourceRef="size" targetRef="big"><bpmn:conditionExpression>amount &gt; 100</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_small" sourceRef="size" targetRef="small"/>
    <bpmn:sequenceFlow id="f4" sourceRef="big" targetRef="end"/>
    <bpmn:sequenceFlow id="f5" sourceRef="small" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture()
def org(session):
    made = make_org(session)
    set_password(user=made.applicant, password=PASSWORD, enforce_policy=False)
    for row in made.files.values():
        file_access.record_upload(session=session, sha256=row.sha256, username="applicant", name="doc.pdf")
    session.commit()
    return made


@pytest.fixture()
def deployed(session, org):
    seed_from_chinese_calendar(session=session, first_year=2024, last_year=2027)
    files = {
        "project_approval.bpmn": (ROOT / "processes" / "project_approval.bpmn").read_text(encoding="utf-8"),
        "phone_check.bpmn": SCRIPTED,
    }
    deploy_files(session=session, files=files, forms_dir=ROOT / "forms", deployed_by="test")
    session.commit()


def _submit(session, org, **overrides) -> ProcessInstance:
    data = application(org, contact_phone=PHONE, **overrides)
    instance = approvals.submit_application(session=session, data=data, applicant=org.applicant)
    session.commit()
    return instance


def _raw(session, sql: str, **params) -> str:
    """Everything the statement returns, as the database holds it (no column types)."""
    rows = session.execute(sa.text(sql), params).all()
    return json.dumps([[str(v) for v in row] for row in rows], ensure_ascii=False)


def _open_task(session, instance_id: int, element_id: str) -> HumanTask:
    return session.scalar(
        sa.select(HumanTask).filter_by(instance_id=instance_id, element_id=element_id, state="open")
    )


def test_state_history_and_drafts_hold_no_plaintext_phone(session, org, deployed):
    instance = _submit(session, org)
    intake = _open_task(session, instance.id, "intake")
    drafts.save_draft(
        session=session,
        task_id=intake.id,
        user="fgw_window",
        data={"opinion": "核对", "contact_phone": PHONE},
    )
    session.commit()

    state = _raw(session, "SELECT state_json FROM process_instance")
    events = _raw(session, "SELECT detail FROM event")
    draft = _raw(session, "SELECT data FROM task_draft")
    for stored in (state, events, draft):
        assert PHONE not in stored
        assert "sm4:" in stored
    assert "0571" not in state  # the factory's own phone was replaced, not kept beside
    # The rest of the application stays readable (and searchable) in the database.
    assert "杭州市西湖区文三路综合管廊工程" in state

    session.expire_all()
    assert drafts.get_draft(session=session, task_id=intake.id, user="fgw_window").data == {
        "opinion": "核对",
        "contact_phone": PHONE,
    }
    started = session.scalar(sa.select(Event).filter_by(instance_id=instance.id, kind="started"))
    assert started.detail["data"]["contact_phone"] == PHONE  # the history reads it back


def test_the_instance_runs_on_and_the_applicant_sees_the_value(app, session, org, deployed):
    instance = _submit(session, org)
    live_runs.clear()  # as another worker: the state comes from the database
    intake = _open_task(session, instance.id, "intake")
    workflow.complete_task(
        session=session,
        task_id=intake.id,
        data={"accepted": False, "return_reasons": ["联系电话请核实"], "opinion": "退回补正"},
        actor="fgw_window",
    )
    session.commit()
    supplement = _open_task(session, instance.id, "supplement")
    assert supplement is not None
    live_runs.clear()
    assert workflow.task_data(session=session, task_id=supplement.id)["contact_phone"] == PHONE
    assert PHONE not in _raw(session, "SELECT state_json FROM process_instance")

    page = signed_in(app, "applicant").get(f"/tasks/{supplement.id}")
    assert page.status_code == 200
    assert f'value="{PHONE}"' in page.get_data(as_text=True)  # the applicant edits their own phone


def test_scripts_and_gateways_read_variables_as_before(session, org, deployed):
    instance = workflow.start_instance(
        session=session,
        process_key="phone_check",
        data={"contact_phone": PHONE, "id_card": ID_CARD, "amount": 500},
        started_by="applicant",
    )
    session.commit()
    stored = _raw(session, "SELECT state_json FROM process_instance WHERE id = :id", id=instance.id)
    assert PHONE not in stored and ID_CARD not in stored
    live_runs.clear()
    fill = _open_task(session, instance.id, "fill")
    workflow.complete_task(session=session, task_id=fill.id, data={}, actor="applicant")
    session.commit()
    big = _open_task(session, instance.id, "big")
    assert big is not None  # the gateway read `amount`
    live_runs.clear()
    data = workflow.task_data(session=session, task_id=big.id)
    assert (data["phone_digits"], data["holder_tail"], data["contact_phone"]) == (11, "1234", PHONE)
    stored = _raw(session, "SELECT state_json FROM process_instance WHERE id = :id", id=instance.id)
    assert PHONE not in stored and ID_CARD not in stored
    text = session.scalar(
        sa.text("SELECT state_json FROM process_instance WHERE id = :id"), {"id": instance.id}
    )
    assert '"phone_digits":11' in text  # a number derived from it is no personal data


def test_the_api_gives_integrators_no_plaintext(app, session, org, deployed):
    instance = _submit(session, org)
    secret = issue(session, "applicant")
    client = app.test_client()
    detail = client.get(f"/api/v1/instances/{instance.id}", headers=bearer(secret))
    assert detail.status_code == 200
    tasks = client.get("/api/v1/tasks?tab=initiated", headers=bearer(secret))
    assert tasks.status_code == 200
    for response in (detail, tasks):
        assert PHONE not in response.get_data(as_text=True)


def test_cockpit_masks_by_the_same_registry(session, org, deployed):
    # A form of the editor marks a field no name heuristic would catch.
    schema = {
        "type": "object",
        "properties": {
            "guarantor": {
                "type": "object",
                "properties": {"cert_no": {"type": "string", "title": "证件号", "x-mask": "id_card"}},
            },
            "payees": {"type": "array", "items": {"$ref": "#/$defs/payee"}},
        },
        "$defs": {
            "payee": {"type": "object", "properties": {"acct": {"type": "string", "x-mask": "bank_account"}}}
        },
    }
    assert variables.masked_names(schema) == {"cert_no": "id_card", "acct": "bank_account"}
    form_store.save(session=session, name="guarantee.json", schema=schema, saved_by="admin")
    session.commit()  # the flush brings the registry up to date
    assert variables.kind_of("cert_no") == "id_card"
    masked = mask_sensitive({"guarantor": {"cert_no": ID_CARD}, "payees": [{"acct": "6222021234567890"}]})
    assert masked == {"guarantor": {"cert_no": "110***********1234"}, "payees": [{"acct": "****7890"}]}
    # ... and the same names are encrypted at rest, at any depth.
    protected = variables.protect(
        {"guarantor": {"cert_no": ID_CARD}, "payees": [{"acct": "6222021234567890"}]}
    )
    assert is_token(protected["guarantor"]["cert_no"]) and is_token(protected["payees"][0]["acct"])
    assert variables.reveal(protected) == {
        "guarantor": {"cert_no": ID_CARD},
        "payees": [{"acct": "6222021234567890"}],
    }


def test_the_registry_reads_stored_forms_through_any_handle(session, org, deployed):
    form_store.save(
        session=session,
        name="payee.json",
        schema={"type": "object", "properties": {"acct_no2": {"type": "string", "x-mask": "bank_account"}}},
        saved_by="admin",
    )
    session.commit()
    for handle in (session, session(), session.connection()):  # scoped, Session, Connection
        variables.reset()  # as another process that did not store it
        assert variables.kind_of("acct_no2") is None
        variables.refresh(handle, force=True)
        assert variables.kind_of("acct_no2") == "bank_account"
    variables.reset()
    variables.protect_state({"data": {}}, session=session)  # the host's save refreshes too
    assert variables.kind_of("acct_no2") == "bank_account"


def test_configured_names_are_sensitive(app, session):
    assert app.config["SENSITIVE_VARIABLES"]["contact_phone"] == "phone"
    app.config["SENSITIVE_VARIABLES"] = {**app.config["SENSITIVE_VARIABLES"], "legal_rep_no": "id_card"}
    try:
        variables.refresh(force=True)
        assert is_token(variables.protect({"legal_rep_no": ID_CARD})["legal_rep_no"])
    finally:
        app.config["SENSITIVE_VARIABLES"].pop("legal_rep_no")
        variables.reset()


def test_a_token_moved_under_another_name_does_not_decrypt(app, session):
    token = variables.protect({"contact_phone": PHONE})["contact_phone"]
    # Pasted into a free-text field: not revealed there.
    assert variables.reveal({"opinion": token}) == {"opinion": token}
    # Under another sensitive name: refused loudly.
    with pytest.raises(CryptoError):
        variables.reveal({"id_card": token})
    # Text that only looks like a token, typed into a free-text field, is left alone.
    assert variables.reveal({"opinion": "sm4:abc:def"}) == {"opinion": "sm4:abc:def"}


def test_walks_copy_and_never_change_their_input(app, session):
    data = {"contact_phone": PHONE, "items": [{"id_card": ID_CARD}], "n": 3, "flag": True}
    before = json.dumps(data)
    protected = variables.protect(data)
    assert json.dumps(data) == before
    assert protected["n"] == 3 and protected["flag"] is True
    plain = {"opinion": "同意", "items": [{"amount": "1"}]}
    assert variables.protect(plain) is plain  # nothing to encrypt: nothing copied
    assert not variables.state_has_tokens(json.dumps(plain))


def test_data_step_encrypts_rows_written_before(session, org, deployed):
    instance = _submit(session, org)
    intake = _open_task(session, instance.id, "intake")
    drafts.save_draft(session=session, task_id=intake.id, user="fgw_window", data={"contact_phone": PHONE})
    session.commit()
    conn = session.connection()
    # Rows as they were before this change: plaintext everywhere.
    assert variables.decrypt_existing_variables(conn) >= 3
    session.commit()
    for sql in (
        "SELECT state_json FROM process_instance",
        "SELECT detail FROM event",
        "SELECT data FROM task_draft",
    ):
        assert PHONE in _raw(session, sql)

    written = variables.encrypt_existing_variables(session.connection())
    session.commit()
    assert written >= 3
    for sql in (
        "SELECT state_json FROM process_instance",
        "SELECT detail FROM event",
        "SELECT data FROM task_draft",
    ):
        assert PHONE not in _raw(session, sql)
    assert variables.encrypt_existing_variables(session.connection()) == 0  # idempotent
    live_runs.clear()
    session.expire_all()
    assert (
        load_run(host_context(session), session.get(ProcessInstance, instance.id)).data["contact_phone"]
        == PHONE
    )


def test_cli_command_runs_the_data_step(app, session, org, deployed):
    instance = _submit(session, org)
    variables.decrypt_existing_variables(session.connection())
    session.commit()
    assert PHONE in _raw(session, "SELECT state_json FROM process_instance WHERE id = :id", id=instance.id)
    result = app.test_cli_runner().invoke(args=["crypto", "encrypt-variables"])
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert PHONE not in _raw(
        session, "SELECT state_json FROM process_instance WHERE id = :id", id=instance.id
    )


def test_crypto_rewrap_covers_process_variables_too(app, session, org, deployed, monkeypatch):
    """One command after a key rotation: `crypto rewrap` leaves no variable plaintext behind."""
    from backend.crypto import SM2Key

    monkeypatch.setitem(app.config, "PLATFORM_SM2_KEY", SM2Key.generate().private_key_hex)
    instance = _submit(session, org)
    variables.decrypt_existing_variables(session.connection())
    session.commit()
    result = app.test_cli_runner().invoke(args=["crypto", "rewrap"])
    assert result.exit_code == 0, result.output
    assert "row(s) of process variables" in result.output
    session.expire_all()
    assert PHONE not in _raw(
        session, "SELECT state_json FROM process_instance WHERE id = :id", id=instance.id
    )
