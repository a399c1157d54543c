"""Import of .bpmn files made by other modelers (samples/): foreign extensions are kept and
reported, unsupported elements are named by id, nothing crashes, the result saves as a draft."""

import io
import re

import sqlalchemy as sa
from flask import g
from flask.testing import FlaskClient
from lxml import etree

from backend.designer.models import ProcessDraft

from ..helpers import login
from .conftest import PASSWORD, SAMPLES, sign_in

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "spiff": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
CJK = re.compile(r"[\u4e00-\u9fff]")


def upload(client, data: bytes, filename: str):
    return client.post(
        "/designer/api/import",
        data={"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def warned(body) -> set[tuple]:
    return {(w["element_id"], w["message"]) for w in body["warnings"]}


def test_a_camunda_modeler_file_keeps_its_extensions_with_warnings(session, designer):
    response = upload(designer, (SAMPLES / "camunda_modeler.bpmn").read_bytes(), "camunda_modeler.bpmn")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()

    assert body["key"] == "invoice_check"
    # Every warning names the element it is about.
    assert {
        ("StartEvent_1", "camunda:formKey 被忽略"),
        ("Activity_approve", "camunda:inputOutput 被忽略"),
        ("Activity_approve", "camunda:taskListener 被忽略"),
        ("Activity_archive", "camunda:class 被忽略"),
        ("invoice_check", "camunda:historyTimeToLive 被忽略"),
        ("Definitions_1x7k2pq", "modeler:executionPlatform 被忽略"),
    } <= warned(body)
    assert all(w["element_id"] for w in body["warnings"])
    assert len(body["warnings"]) == len({(w["element_id"], w["message"]) for w in body["warnings"]})
    # Literal assignments mean the same here: converted, and said so.
    assert {
        ("Activity_approve", "camunda:candidateGroups 已转换为本平台的 candidateGroups: accounting"),
        ("Activity_approve", "camunda:assignee 已转换为本平台的 assignee: 'demo'"),
    } <= warned(body)
    # A Camunda form is not one of ours: reported, not converted.
    (form,) = [w for w in body["warnings"] if w["code"] == "form_not_found"]
    assert form["element_id"] == "Activity_approve"
    assert "camunda-forms:deployment:approve.form" in form["message"]
    assert body["unsupported"] == [{"element_id": "Gateway_complex", "type": "complexGateway"}]
    problems = {(p["element_id"], p["message"]) for p in body["problems"]}
    assert ("Gateway_complex", "引擎不支持此类元素: complexGateway") in problems
    assert body["problems"][0]["line"] == 20

    # Kept, not stripped: the file can go back to Camunda Modeler unchanged.
    root = etree.fromstring(body["xml"].encode("utf-8"))
    task = root.xpath("//*[@id='Activity_approve']")[0]
    assert task.get(f"{{{CAMUNDA_NS}}}formKey") == "camunda-forms:deployment:approve.form"
    assert task.get(f"{{{CAMUNDA_NS}}}assignee") == "demo"
    assert root.xpath("//camunda:inputParameter", namespaces={"camunda": CAMUNDA_NS})
    assert spiff_properties(task) == {"candidateGroups": "accounting", "assignee": "'demo'"}

    saved = designer.put("/designer/api/processes/invoice_check/draft", json={"xml": body["xml"]})
    assert saved.status_code == 200
    assert session.scalar(sa.select(ProcessDraft.key)) == "invoice_check"


def spiff_properties(element) -> dict[str, str]:
    return {
        p.get("name"): p.get("value")
        for p in element.xpath("bpmn:extensionElements/spiff:properties/spiff:property", namespaces=NS)
    }


def test_a_flowable_file_gets_its_form_and_group_and_its_expressions_reported(session, designer):
    body = upload(designer, (SAMPLES / "flowable_modeler.bpmn").read_bytes(), "permit.bpmn20.xml").get_json()

    assert body["key"] == "permit_review"
    assert {
        ("review", "flowable:candidateGroups 已转换为本平台的 candidateGroups: fgw.reviewer"),
        ("review", "flowable:formKey 已转换为本平台的 formJsonSchemaFilename: approval_review.json"),
        ("review", "flowable:taskListener 被忽略"),
        ("start", "flowable:initiator 被忽略"),
    } <= warned(body)
    by_code = {(w["element_id"], w["code"]): w["message"] for w in body["warnings"]}
    # ${...} is an expression of another engine: reported with its text, never converted.
    assert "${initiator}" in by_code[("approve", "expression_kept")]
    assert "approveForm" in by_code[("approve", "form_not_found")]
    assert "fgw.head,cz.head" in by_code[("approve", "several_groups")]
    assert not any(w["code"] == "ignored" and w["element_id"] == "approve" for w in body["warnings"])

    root = etree.fromstring(body["xml"].encode("utf-8"))
    review, approve = (root.xpath(f"//*[@id='{i}']")[0] for i in ("review", "approve"))
    assert spiff_properties(review) == {
        "candidateGroups": "fgw.reviewer",
        "formJsonSchemaFilename": "approval_review.json",
    }
    assert spiff_properties(approve) == {}
    # Schema order kept (documentation, then extensionElements): the converted task is clean,
    # the other one still needs its form and assignment in the properties panel.
    problems = [(p["element_id"], p["message"]) for p in body["problems"]]
    assert not [m for element, m in problems if element == "review"], problems
    assert {element for element, _m in problems} == {"approve"}


def test_an_activiti_task_with_its_own_settings_keeps_them(designer):
    xml = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:activiti="http://activiti.org/bpmn" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="x">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:userTask id="t" activiti:candidateGroups="cz.reviewer" activiti:assignee="zhang">
      <bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="candidateGroups" value="fgw.reviewer"/></spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f" sourceRef="s" targetRef="t"/>
  </bpmn:process>
</bpmn:definitions>"""
    body = upload(designer, xml, "a.bpmn").get_json()
    assert {(w["element_id"], w["code"]) for w in body["warnings"]} == {
        ("t", "already_set"),
        ("t", "converted"),
    }
    task = etree.fromstring(body["xml"].encode("utf-8")).xpath("//*[@id='t']")[0]
    assert spiff_properties(task) == {"candidateGroups": "fgw.reviewer", "assignee": "'zhang'"}


class Client(FlaskClient):
    """Forget the person and the language flask-login and flask-babel cache on `g`: every
    request of a test shares the `session` fixture's app context, unlike on a real server."""

    def open(self, *args, **kwargs):
        g.pop("_login_user", None)
        g.pop("_flask_babel", None)
        return super().open(*args, **kwargs)


def test_import_warnings_and_errors_in_english(app, people):
    designer = Client(app, app.response_class, use_cookies=True)
    login.sign_in(designer, "designer", PASSWORD)
    designer.get("/lang/en")
    body = upload(designer, (SAMPLES / "flowable_modeler.bpmn").read_bytes(), "permit.bpmn").get_json()
    messages = {(w["element_id"], w["message"]) for w in body["warnings"]}
    assert ("review", "flowable:taskListener is ignored") in messages
    assert (
        "review",
        "flowable:candidateGroups was converted to this platform's candidateGroups: fgw.reviewer",
    ) in messages
    assert not any(CJK.search(w["message"]) for w in body["warnings"])
    broken = upload(designer, b"<html/>", "page.bpmn").get_json()
    assert broken["code"] == "invalid" and broken["error"] == "The diagram has errors; nothing was deployed"
    assert broken["problems"][0]["message"] == "Not a BPMN 2.0 file (wrong namespace of the root element)"
    missing = designer.get("/designer/api/processes/nothing_here/xml")
    assert missing.status_code == 404
    assert missing.get_json() == {
        "error": "Process nothing_here has not been deployed",
        "code": "not_deployed",
    }
    designer.get("/lang/zh")
    assert (
        designer.get("/designer/api/processes/nothing_here/xml").get_json()["error"]
        == "流程 nothing_here 尚未部署"
    )


def test_a_bpmn_io_file_with_zeebe_extensions_imports_without_unsupported_elements(designer):
    xml = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn" exporter="bpmn-js (https://demo.bpmn.io)" exporterVersion="17.0.0">
  <bpmn:process id="Process_1" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Task_send" name="Send">
      <bpmn:extensionElements><zeebe:taskDefinition type="send-mail" retries="3"/></bpmn:extensionElements>
      <bpmn:incoming>Flow_1</bpmn:incoming><bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_send"/>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_send" targetRef="EndEvent_1"/>
  </bpmn:process>
</bpmn:definitions>"""
    body = upload(designer, xml, "diagram.bpmn").get_json()
    assert body["key"] == "Process_1"
    assert body["warnings"] == [
        {"element_id": "Task_send", "code": "ignored", "message": "zeebe:taskDefinition 被忽略"}
    ]
    assert body["unsupported"] == []
    # The engine runs it only once the service task names an operation of the platform.
    assert [p["element_id"] for p in body["problems"]] == ["Task_send"]


def test_broken_or_foreign_files_are_422_with_a_line_never_500(designer):
    broken = upload(designer, b'<?xml version="1.0"?>\n<bpmn:definitions xmlns:bpmn="x">\n<oops', "bad.bpmn")
    assert broken.status_code == 422
    assert broken.get_json()["problems"][0]["line"] == 3

    not_bpmn = upload(designer, b"<html><body>hi</body></html>", "page.bpmn")
    assert not_bpmn.status_code == 422
    assert "BPMN" in not_bpmn.get_json()["problems"][0]["message"]

    entity = upload(
        designer,
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&x;</bpmn:definitions>',
        "xxe.bpmn",
    )
    assert entity.status_code in (200, 422)
    assert "root:" not in entity.get_data(as_text=True)

    assert designer.post("/designer/api/import", data={}).status_code == 400


def test_import_is_for_designers_only(app, people):
    reviewer = sign_in(app, "reviewer")
    response = upload(reviewer, (SAMPLES / "camunda_modeler.bpmn").read_bytes(), "x.bpmn")
    assert response.status_code == 403


def test_odd_camunda_values_never_crash_and_are_each_reported(designer):
    xml = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="x">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:userTask camunda:assignee="" camunda:candidateGroups=" "/>
    <bpmn:subProcess id="sub">
      <bpmn:userTask id="inner" camunda:assignee="o'brien" camunda:formKey="forms/approval_review.json">
        <bpmn:documentation>a</bpmn:documentation><bpmn:documentation>b</bpmn:documentation>
      </bpmn:userTask>
    </bpmn:subProcess>
    <bpmn:userTask id="t2" camunda:candidateGroups="#{groups}" camunda:formKey="../approval_review.json.txt"/>
  </bpmn:process>
</bpmn:definitions>"""
    response = upload(designer, xml, "odd.bpmn")
    assert response.status_code == 200
    body = response.get_json()
    assert {(w["element_id"], w["code"]) for w in body["warnings"]} == {
        (None, "ignored"),  # the empty values of a task without an id
        ("inner", "converted"),
        ("t2", "expression_kept"),
        ("t2", "form_not_found"),
    }
    root = etree.fromstring(body["xml"].encode("utf-8"))
    inner = root.xpath("//*[@id='inner']")[0]
    assert spiff_properties(inner) == {
        "assignee": '"o\'brien"',
        "formJsonSchemaFilename": "approval_review.json",
    }
    # extensionElements after the documentation, as the BPMN schema wants.
    assert [etree.QName(c).localname for c in inner] == [
        "documentation",
        "documentation",
        "extensionElements",
    ]
    assert spiff_properties(root.xpath("//*[@id='t2']")[0]) == {}
