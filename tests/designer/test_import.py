"""Import of .bpmn files made by other modelers (samples/): foreign extensions are kept and
reported, unsupported elements are named by id, nothing crashes, the result saves as a draft."""

import io

import sqlalchemy as sa
from lxml import etree

from backend.designer.models import ProcessDraft

from .conftest import SAMPLES, sign_in

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"


def upload(client, data: bytes, filename: str):
    return client.post(
        "/designer/api/import",
        data={"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def test_a_camunda_modeler_file_keeps_its_extensions_with_warnings(session, designer):
    response = upload(designer, (SAMPLES / "camunda_modeler.bpmn").read_bytes(), "camunda_modeler.bpmn")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()

    assert body["key"] == "invoice_check"
    for expected in (
        "camunda:formKey 被忽略",
        "camunda:assignee 被忽略",
        "camunda:candidateGroups 被忽略",
        "camunda:inputOutput 被忽略",
        "camunda:taskListener 被忽略",
        "camunda:class 被忽略",
    ):
        assert expected in body["warnings"]
    assert len(body["warnings"]) == len(set(body["warnings"]))
    assert body["unsupported"] == [{"element_id": "Gateway_complex", "type": "complexGateway"}]
    assert {k: v for k, v in body["problems"][0].items() if k != "severity"} == {
        "element_id": "Gateway_complex",
        "line": 20,
        "message": "引擎不支持此类元素: complexGateway",
    }

    # Kept, not stripped: the file can go back to Camunda Modeler unchanged.
    root = etree.fromstring(body["xml"].encode("utf-8"))
    task = root.xpath("//*[@id='Activity_approve']")[0]
    assert task.get(f"{{{CAMUNDA_NS}}}formKey") == "camunda-forms:deployment:approve.form"
    assert root.xpath("//camunda:inputParameter", namespaces={"camunda": CAMUNDA_NS})

    saved = designer.put("/designer/api/processes/invoice_check/draft", json={"xml": body["xml"]})
    assert saved.status_code == 200
    assert session.scalar(sa.select(ProcessDraft.key)) == "invoice_check"


def test_a_signavio_export_is_made_executable_and_its_metadata_reported(session, designer):
    body = upload(
        designer, (SAMPLES / "signavio_export.bpmn").read_bytes(), "Purchase request.bpmn"
    ).get_json()

    key = "sid-0d3c5a1b-purchase"
    assert body["key"] == key
    assert 'isExecutable="true"' in body["xml"]
    assert any("isExecutable" in w and key in w for w in body["warnings"])
    assert "signavio:signavioMetaData 被忽略" in body["warnings"]
    assert "signavio:signavioDiagramMetaData 被忽略" in body["warnings"]
    assert body["unsupported"] == [{"element_id": "sid-gw-complex", "type": "complexGateway"}]
    assert designer.put(f"/designer/api/processes/{key}/draft", json={"xml": body["xml"]}).status_code == 200


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
    assert body["warnings"] == ["zeebe:taskDefinition 被忽略"]
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
