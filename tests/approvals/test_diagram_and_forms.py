"""The shipped diagram and forms hold together: time limits match their timers, every element
is drawn inside its lane, and the forms accept and refuse what the steps send."""

import json

import pytest
from lxml import etree

from backend.workflow.deploy import deploy_files
from backend.workflow.models import ProcessDefinition

from .conftest import BPMN, FORMS, form_errors

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
TREE = etree.parse(str(BPMN))
PROCESSES = TREE.findall("bpmn:process", NS)
FLOW_NODES = [
    el
    for process in PROCESSES
    for el in process
    if etree.QName(el).localname not in ("laneSet", "sequenceFlow", "documentation")
]


def _all(path):
    return [el for process in PROCESSES for el in process.iterfind(path, NS)]


def _one(path):
    (found,) = _all(path)
    return found


def _props(element) -> dict:
    return {p.get("name"): p.get("value") for p in element.iterfind(".//spiffworkflow:property", NS)}


def _bounds(element_id):
    shape = TREE.find(f".//bpmndi:BPMNShape[@bpmnElement='{element_id}']/dc:Bounds", NS)
    assert shape is not None, f"{element_id} is not drawn"
    return tuple(float(shape.get(k)) for k in ("x", "y", "width", "height"))


def test_deploys_with_the_platform_lint(session):
    result = deploy_files(
        session=session,
        files={BPMN.name: BPMN.read_text(encoding="utf-8")},
        forms_dir=FORMS,
        deployed_by="test",
    )
    definitions = {d.key: d for d in result.created}
    assert set(definitions) == {"project_approval", "project_review_round"}
    assert all(isinstance(d, ProcessDefinition) for d in definitions.values())
    # The round is part of the approval's spec: an instance never looks another definition up.
    definition = definitions["project_approval"]
    operations = {e["operation"] for e in definition.elements if e["type"] == "serviceTask"}
    assert operations == {
        "projects.mark_returned",
        "projects.resubmit",
        "projects.register_approved",
        "approval.open_round",
        "approval.close_round",
        "approval.issue_document",
        "tasks.remind",
        "tasks.escalate",
    }


def test_every_time_limit_has_its_reminder_and_escalation():
    limited = {
        t.get("id"): int(_props(t)["timeLimitWorkingDays"])
        for t in _all("bpmn:userTask")
        if "timeLimitWorkingDays" in _props(t)
    }
    assert limited == {
        "intake": 2,
        "review_fgw": 5,
        "review_cz": 5,
        "review_zj": 5,
        "review_zrzy": 7,
        "review_sthj": 10,
        "expert_review": 5,
        # each department head signs the reviewer's opinion within 2 working days
        **{f"sign_{d}": 2 for d in ("fgw", "cz", "zj", "zrzy", "sthj")},
    }
    flows = {f.get("sourceRef"): f.get("targetRef") for f in _all("bpmn:sequenceFlow")}
    for task_id, days in limited.items():
        timers = {}
        for boundary in _all(f"bpmn:boundaryEvent[@attachedToRef='{task_id}']"):
            assert boundary.get("cancelActivity") == "false", "a time limit never takes the task away"
            expression = boundary.find(".//bpmn:timeDate", NS).text
            service = _one(f"bpmn:serviceTask[@id='{flows[boundary.get('id')]}']")
            operator = service.find(".//spiffworkflow:serviceTaskOperator", NS)
            params = {
                p.get("id"): p.get("value") for p in operator.iterfind(".//spiffworkflow:parameter", NS)
            }
            assert params["element"] == f"'{task_id}'"
            timers[operator.get("id")] = (expression, params.get("to"))
        props = _props(_one(f"bpmn:userTask[@id='{task_id}']"))
        department = props["department"]
        head = "fgw.head" if department == "expert" else f"{department}.head"
        if props["approvalStage"] == "head":
            head = "inspector"  # a head's own overdue signature goes to 督查
        assert timers == {
            "tasks.remind": (f"working_days_from_now({days - 1})", None),
            "tasks.escalate": (f"working_days_from_now({days})", f"'{head}'"),
        }


def test_every_element_is_drawn_inside_its_lane():
    lanes = {
        lane.get("id"): [ref.text for ref in lane.iterfind("bpmn:flowNodeRef", NS)]
        for lane in _all("bpmn:laneSet/bpmn:lane")
    }
    placed = [node for refs in lanes.values() for node in refs]
    assert sorted(placed) == sorted(n.get("id") for n in FLOW_NODES)  # each node in exactly one lane
    for lane_id, nodes in lanes.items():
        lx, ly, lw, lh = _bounds(lane_id)
        for node in nodes:
            x, y, w, h = _bounds(node)
            assert lx <= x and x + w <= lx + lw and ly <= y and y + h <= ly + lh, (
                f"{node} leaves lane {lane_id}"
            )
    for sequence_flow in _all("bpmn:sequenceFlow"):
        edge = TREE.find(f".//bpmndi:BPMNEdge[@bpmnElement='{sequence_flow.get('id')}']", NS)
        points = edge.findall("di:waypoint", NS)
        assert len(points) >= 2
        for a, b in zip(points, points[1:], strict=False):  # orthogonal routing
            assert a.get("x") == b.get("x") or a.get("y") == b.get("y"), sequence_flow.get("id")


def test_revise_form_carries_the_application_fields_unchanged():
    application = json.loads((FORMS / "project_application.json").read_text(encoding="utf-8"))
    revise = json.loads((FORMS / "approval_revise.json").read_text(encoding="utf-8"))
    fields = [
        f for f in application["properties"] if f not in ("return_reasons", "resubmission", "revision_note")
    ]
    assert {f: revise["properties"][f] for f in fields} == {f: application["properties"][f] for f in fields}
    assert (
        set(application["required"]) < set(revise["required"]) == {*application["required"], "revision_note"}
    )
    assert revise["$defs"] == application["$defs"]


@pytest.mark.parametrize(
    ("form", "data", "refused"),
    [
        ("approval_intake.json", {"accepted": True, "experts": ["expert1"]}, False),
        ("approval_intake.json", {"accepted": True}, True),  # accepting assigns the panel
        ("approval_intake.json", {"accepted": True, "experts": []}, True),
        ("approval_intake.json", {"accepted": True, "experts": ["expert1", "expert1"]}, True),
        ("approval_intake.json", {"accepted": False, "return_reasons": ["缺少初步设计"]}, False),
        ("approval_intake.json", {"accepted": False}, True),  # returning lists the reasons
        ("approval_intake.json", {"accepted": False, "return_reasons": []}, True),
        ("approval_review.json", {"approved": True}, False),
        ("approval_review.json", {"approved": False}, True),  # rejecting needs an opinion
        ("approval_review.json", {"approved": False, "opinion": "  "}, True),
        ("approval_review.json", {"approved": False, "opinion": "用地未落实"}, False),
        ("approval_expert.json", {"approved": False}, True),
        ("approval_expert.json", {"approved": True, "opinion": "同意"}, False),
        ("approval_head_sign.json", {"head_approved": True}, False),
        ("approval_head_sign.json", {"head_approved": True, "head_opinion": "请注意工期"}, False),
        ("approval_head_sign.json", {}, True),
        ("approval_head_sign.json", {"head_approved": False}, True),  # overruling needs an opinion
        ("approval_head_sign.json", {"head_approved": False, "head_opinion": " "}, True),
        ("approval_head_sign.json", {"head_approved": False, "head_opinion": "投资估算偏高"}, False),
    ],
)
def test_decision_forms(form, data, refused):
    assert bool(form_errors(form, data)) is refused


def test_application_form_requires_the_three_documents(org):
    from tests.projects.factories import application

    data = application(org)
    assert form_errors("project_application.json", data) == []
    data["documents"] = data["documents"][:2]
    assert form_errors("project_application.json", data) != []
    assert form_errors("approval_revise.json", application(org)) == ["'revision_note' is a required property"]
