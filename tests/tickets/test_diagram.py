"""processes/rectification.bpmn opens in bpmn.io: every flow node and lane has a shape and
every sequence flow an edge with waypoints; its forms exist and are valid JSON Schema."""

import json

from jsonschema import Draft202012Validator
from lxml import etree

from tests.tickets.conftest import BPMN, FORMS

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
FLOW_NODES = (
    "startEvent",
    "endEvent",
    "intermediateCatchEvent",
    "userTask",
    "serviceTask",
    "subProcess",
    "parallelGateway",
    "exclusiveGateway",
)


def test_every_element_is_drawn():
    tree = etree.parse(str(BPMN))
    nodes = {e.get("id") for tag in FLOW_NODES for e in tree.iterfind(f".//bpmn:{tag}", NS)}
    lanes = {e.get("id") for e in tree.iterfind(".//bpmn:lane", NS)}
    flows = {e.get("id") for e in tree.iterfind(".//bpmn:sequenceFlow", NS)}
    shapes = {e.get("bpmnElement") for e in tree.iterfind(".//bpmndi:BPMNShape", NS)}
    edges = {
        e.get("bpmnElement"): len(e.findall("di:waypoint", NS))
        for e in tree.iterfind(".//bpmndi:BPMNEdge", NS)
    }
    assert nodes and lanes and flows
    assert nodes | lanes <= shapes
    assert set(edges) == flows
    assert min(edges.values()) >= 2
    in_lanes = {r.text for r in tree.iterfind(".//bpmn:lane/bpmn:flowNodeRef", NS)}
    assert nodes - in_lanes == {"rectification_rounds"}  # drawn across the unit and inspector lanes


def test_forms_are_valid_and_accept_what_the_services_send():
    submit = json.loads((FORMS / "rectification_submit.json").read_text(encoding="utf-8"))
    verify = json.loads((FORMS / "rectification_verify.json").read_text(encoding="utf-8"))
    supervise = json.loads((FORMS / "rectification_supervise.json").read_text(encoding="utf-8"))
    for schema in (submit, verify, supervise):
        Draft202012Validator.check_schema(schema)
    assert Draft202012Validator(submit).is_valid(
        {"rectification_description": "已整改", "rectification_photos": ["a" * 64]}
    )
    assert not Draft202012Validator(submit).is_valid(
        {"rectification_description": "已整改", "rectification_photos": []}
    )
    assert Draft202012Validator(verify).is_valid({"passed": True})
    assert not Draft202012Validator(verify).is_valid({"passed": False})  # a failure needs an opinion
    assert Draft202012Validator(verify).is_valid({"passed": False, "verification_opinion": "补设警示标志"})
    assert not Draft202012Validator(supervise).is_valid(
        {"supervision_opinion": "限期", "supervision_measure": "x"}
    )
