"""The designer's JSON API over a real database: drafts, validation pinned to elements,
deploy, versions, diff, rollback, export, pickers and who may use it."""

import pytest
import sqlalchemy as sa

from backend.config import ROOT
from backend.designer.models import ProcessDraft
from backend.workflow import service as workflow
from backend.workflow.deploy import deploy_files, read_directory
from backend.workflow.models import HumanTask, ProcessDefinition

from .conftest import sample, sign_in

KEY = "doc_review"


def edited(xml: str, *pairs: tuple[str, str]) -> str:
    for old, new in pairs:
        assert old in xml, old
        xml = xml.replace(old, new)
    return xml


V1 = sample("doc_review.bpmn")
# v2: the review's time limit and form change, the sign step is renamed, a check step is added
# between review and sign, and nothing is removed.
V2 = edited(
    V1,
    ('<spiffworkflow:property name="timeLimitWorkingDays" value="5"/>',
     '<spiffworkflow:property name="timeLimitWorkingDays" value="3"/>'),
    ('value="approval_review.json"', 'value="approval_expert.json"'),
    ('name="分管领导签署"', 'name="分管领导审定"'),
    ('<bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="sign"/>',
     '<bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="check"/>'
     '<bpmn:sequenceFlow id="f2b" sourceRef="check" targetRef="sign"/>'
     '<bpmn:userTask id="check" name="复核"><bpmn:extensionElements><spiffworkflow:properties>'
     '<spiffworkflow:property name="formJsonSchemaFilename" value="approval_review.json"/>'
     '<spiffworkflow:property name="candidateGroups" value="fgw.reviewer"/>'
     '</spiffworkflow:properties></bpmn:extensionElements>'
     '<bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f2b</bpmn:outgoing></bpmn:userTask>'),
    ('<bpmn:incoming>f2</bpmn:incoming>\n      <bpmn:outgoing>f3</bpmn:outgoing>',
     '<bpmn:incoming>f2b</bpmn:incoming>\n      <bpmn:outgoing>f3</bpmn:outgoing>'),
)  # fmt: skip


def deploy(client, xml: str, key: str = KEY):
    return client.post(f"/designer/api/processes/{key}/deploy", json={"xml": xml})


def versions_of(session, key=KEY) -> list[int]:
    return list(session.scalars(sa.select(ProcessDefinition.version).filter_by(key=key).order_by("version")))


# --- who may use it -----------------------------------------------------------------------

ENDPOINTS = [
    ("get", "/designer/api/processes", None),
    ("get", f"/designer/api/processes/{KEY}/xml", None),
    ("put", f"/designer/api/processes/{KEY}/draft", {"xml": V1}),
    ("post", "/designer/api/validate", {"xml": V1}),
    ("post", f"/designer/api/processes/{KEY}/deploy", {"xml": V1}),
    ("get", f"/designer/api/processes/{KEY}/versions", None),
    ("get", f"/designer/api/processes/{KEY}/diff?from=1&to=1", None),
    ("post", f"/designer/api/processes/{KEY}/rollback", {"version": 1}),
    ("get", f"/designer/processes/{KEY}/versions/1.bpmn", None),
    ("get", "/designer/api/forms", None),
    ("get", "/designer/api/operations", None),
    ("get", "/designer/api/groups", None),
]


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_people_who_are_not_designers_get_403_json(app, session, people, method, url, body):
    reviewer = sign_in(app, "reviewer")
    anonymous = app.test_client()
    for client in (reviewer, anonymous):
        response = getattr(client, method)(url, json=body)
        assert response.status_code == 403
        assert response.get_json()["error"]
    assert session.scalar(sa.select(sa.func.count()).select_from(ProcessDefinition)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(ProcessDraft)) == 0


def test_the_system_admin_may_not_deploy(app, session, people):
    # 三员分立: deploying processes is the designer's work, not the system admin's.
    admin = sign_in(app, "admin")
    response = deploy(admin, V1)
    assert response.status_code == 403, response.get_json()
    assert session.scalar(sa.select(sa.func.count()).select_from(ProcessDefinition)) == 0


# --- reading ------------------------------------------------------------------------------


def test_processes_lists_each_file_once_by_its_main_process(session, designer):
    deploy_files(
        session=session,
        files=read_directory(ROOT / "processes"),
        forms_dir=ROOT / "forms",
        deployed_by="cli",
    )
    session.commit()
    designer.put(
        "/designer/api/processes/brand_new/draft",
        json={"xml": edited(V1, ('id="doc_review"', 'id="brand_new"'))},
    )

    rows = {r["key"]: r for r in designer.get("/designer/api/processes").get_json()}

    # project_review_round lives in project_approval.bpmn: the file is one unit of design.
    assert set(rows) == {
        "project_approval",
        "rectification",
        "milestone_payment",
        "risk_response",
        "brand_new",
    }
    assert rows["project_approval"]["file_name"] == "project_approval.bpmn"
    assert rows["project_approval"]["latest_version"] == 1
    assert rows["project_approval"]["deployed_by"] == "cli"
    assert rows["project_approval"]["deployed_at"]
    assert rows["project_approval"]["has_draft"] is False
    assert rows["brand_new"] == {
        "key": "brand_new",
        "name": "材料审查",
        "file_name": "brand_new.bpmn",
        "latest_version": None,
        "deployed_at": None,
        "deployed_by": None,
        "has_draft": True,
    }


def test_xml_of_the_latest_a_version_and_the_draft(session, designer):
    assert designer.get(f"/designer/api/processes/{KEY}/xml").status_code == 404
    deploy(designer, V1)
    deploy(designer, V2)
    designer.put(f"/designer/api/processes/{KEY}/draft", json={"xml": V2 + "<!-- wip -->"})

    latest = designer.get(f"/designer/api/processes/{KEY}/xml").get_json()
    assert latest == {"key": KEY, "xml": V2, "source": "latest", "version": 2}
    first = designer.get(f"/designer/api/processes/{KEY}/xml?source=1").get_json()
    assert (first["xml"], first["version"]) == (V1, 1)
    draft = designer.get(f"/designer/api/processes/{KEY}/xml?source=draft").get_json()
    assert draft["xml"].endswith("<!-- wip -->") and draft["source"] == "draft"
    assert designer.get(f"/designer/api/processes/{KEY}/xml?source=9").status_code == 404
    assert designer.get(f"/designer/api/processes/{KEY}/xml?source=bogus").status_code == 400


# --- drafts and validation ----------------------------------------------------------------


def test_a_draft_is_saved_even_with_problems(session, designer):
    broken = edited(V1, ('value="approval_review.json"', 'value="missing.json"'))
    response = designer.put(f"/designer/api/processes/{KEY}/draft", json={"xml": broken})
    assert response.status_code == 200
    body = response.get_json()
    assert body["saved_at"]
    assert [p["element_id"] for p in body["problems"]] == ["review"]

    draft = session.scalar(sa.select(ProcessDraft).filter_by(key=KEY))
    assert (draft.xml, draft.saved_by, draft.file_name) == (broken, "designer", "doc_review.bpmn")

    designer.put(f"/designer/api/processes/{KEY}/draft", json={"xml": V1})
    session.expire_all()
    assert session.scalars(sa.select(ProcessDraft.xml)).all() == [V1]


def test_validate_accepts_a_good_diagram(designer):
    assert designer.post("/designer/api/validate", json={"xml": V1}).get_json() == {
        "ok": True,
        "problems": [],
    }


def problems_of(designer, xml):
    body = designer.post("/designer/api/validate", json={"xml": xml}).get_json()
    assert body["ok"] is False
    return body["problems"]


def test_validate_pins_a_missing_form_to_its_user_task(designer):
    xml = edited(V1, ('value="approval_head_sign.json"', 'value="no_such_form.json"'))
    [problem] = problems_of(designer, xml)
    assert problem["element_id"] == "sign"
    assert problem["severity"] == "error"
    assert "no_such_form.json" in problem["message"]
    assert xml.splitlines()[problem["line"] - 1].lstrip().startswith('<bpmn:userTask id="sign"')


def test_validate_pins_an_unknown_operation_to_its_service_task(designer):
    xml = edited(
        V1,
        ('<bpmn:sequenceFlow id="f3" sourceRef="sign" targetRef="end"/>',
         '<bpmn:sequenceFlow id="f3" sourceRef="sign" targetRef="notify"/>'
         '<bpmn:sequenceFlow id="f4" sourceRef="notify" targetRef="end"/>\n'
         '<bpmn:serviceTask id="notify" name="通知"><bpmn:extensionElements>'
         '<spiffworkflow:serviceTaskOperator id="sms.send_everything"><spiffworkflow:parameters/>'
         '</spiffworkflow:serviceTaskOperator></bpmn:extensionElements>'
         '<bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing></bpmn:serviceTask>'),
        ('<bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>', '<bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>'),
    )  # fmt: skip
    [problem] = problems_of(designer, xml)
    assert problem["element_id"] == "notify"
    assert "sms.send_everything" in problem["message"]
    assert problem["line"]


def test_validate_pins_an_uncompilable_expression(designer):
    xml = edited(
        V1,
        ('<spiffworkflow:property name="candidateGroups" value="fgw.head"/>',
         '<spiffworkflow:property name="assignee" value="applicant +"/>'),
    )  # fmt: skip
    [problem] = problems_of(designer, xml)
    assert problem["element_id"] == "sign"
    assert problem["message"].startswith("assignee: ")


def test_validate_reports_broken_xml_at_its_line(designer):
    lines = V1.splitlines()
    lines[4] = lines[4].replace("<bpmn:userTask", "<bpmn:userTask <<")
    [problem] = problems_of(designer, "\n".join(lines))
    assert problem["line"] == 5
    assert problem["element_id"] is None
    assert problem["message"].startswith("XML 格式错误")


def test_validate_pins_xsd_errors_to_the_enclosing_element(designer):
    xml = edited(
        V1,
        ('<spiffworkflow:property name="candidateGroups" value="fgw.head"/>',
         '<spiffworkflow:property name="candidateGroups" value="fgw.head"/>\n'
         '<spiffworkflow:property value="no name"/>'),
    )  # fmt: skip
    problems = problems_of(designer, xml)
    assert problems
    assert {p["element_id"] for p in problems} == {"sign"}
    assert all(p["line"] for p in problems)


# --- deploy -------------------------------------------------------------------------------


def test_deploy_makes_a_version_running_instances_keep_theirs(session, designer):
    designer.put(f"/designer/api/processes/{KEY}/draft", json={"xml": V1})
    assert deploy(designer, V1).get_json() == {"version": 1, "created": True}
    # The draft is dropped once deployed.
    assert session.scalar(sa.select(sa.func.count()).select_from(ProcessDraft)) == 0
    first = workflow.start_instance(session=session, process_key=KEY, started_by="applicant")
    session.commit()

    designer.put(f"/designer/api/processes/{KEY}/draft", json={"xml": V2})
    assert deploy(designer, V2).get_json() == {"version": 2, "created": True}
    second = workflow.start_instance(session=session, process_key=KEY, started_by="applicant")
    session.commit()

    assert first.definition.version == 1 and second.definition.version == 2
    v2 = session.scalar(sa.select(ProcessDefinition).filter_by(key=KEY, version=2))
    assert v2.deployed_by == "designer"
    assert session.scalar(sa.select(sa.func.count()).select_from(ProcessDraft)) == 0
    # The old instance still runs the old diagram: after its review comes sign, not check.
    review = session.scalar(sa.select(HumanTask).filter_by(instance_id=first.id, element_id="review"))
    workflow.complete_task(
        session=session, task_id=review.id, data={"approved": True, "opinion": "同意"}, actor="reviewer"
    )
    session.commit()
    open_steps = session.scalars(
        sa.select(HumanTask.element_id).filter_by(instance_id=first.id, state="open")
    ).all()
    assert open_steps == ["sign"]

    # The same content again is not a new version.
    assert deploy(designer, V2).get_json() == {"version": 2, "created": False}
    assert versions_of(session) == [1, 2]


def test_an_invalid_diagram_is_refused_whole_with_pinned_problems(session, designer):
    designer.put(f"/designer/api/processes/{KEY}/draft", json={"xml": V1})
    bad = edited(
        V1,
        ('value="approval_review.json"', 'value="missing.json"'),
        ('<spiffworkflow:property name="candidateGroups" value="fgw.head"/>', ""),
    )
    response = deploy(designer, bad)
    assert response.status_code == 422
    problems = response.get_json()["problems"]
    assert {p["element_id"] for p in problems} == {"review", "sign"}
    assert all(p["line"] and p["severity"] == "error" for p in problems)
    assert versions_of(session) == []
    # The draft survives a refused deploy.
    assert session.scalar(sa.select(sa.func.count()).select_from(ProcessDraft)) == 1


def test_deploy_of_broken_xml_is_422_not_500(session, designer):
    response = deploy(designer, V1[:300])
    assert response.status_code == 422
    [problem] = response.get_json()["problems"]
    assert problem["line"] and problem["message"].startswith("XML 格式错误")


def test_deploy_refuses_a_file_whose_main_process_is_another_key(session, designer):
    response = deploy(designer, V1, key="other_key")
    assert response.status_code == 422
    assert "doc_review" in response.get_json()["problems"][0]["message"]
    assert versions_of(session, "doc_review") == versions_of(session, "other_key") == []


def test_deploy_needs_xml(designer):
    response = designer.post(f"/designer/api/processes/{KEY}/deploy", json={"nope": 1})
    assert response.status_code == 400
    assert response.get_json()["error"]


# --- versions, diff, rollback, export -----------------------------------------------------


def test_versions_with_who_when_and_instances(session, designer):
    assert designer.get(f"/designer/api/processes/{KEY}/versions").status_code == 404
    deploy(designer, V1)
    workflow.start_instance(session=session, process_key=KEY, started_by="a")
    workflow.start_instance(session=session, process_key=KEY, started_by="b")
    session.commit()
    deploy(designer, V2)

    rows = designer.get(f"/designer/api/processes/{KEY}/versions").get_json()
    assert [(r["version"], r["deployed_by"], r["instances"]) for r in rows] == [
        (2, "designer", 0),
        (1, "designer", 2),
    ]
    assert all(r["deployed_at"] and len(r["content_hash"]) == 64 for r in rows)


def test_diff_names_added_removed_and_changed_elements(session, designer):
    deploy(designer, V1)
    deploy(designer, V2)

    forward = designer.get(f"/designer/api/processes/{KEY}/diff?from=1&to=2").get_json()
    assert forward["added"] == [{"id": "check", "type": "userTask", "name": "复核"}]
    assert forward["removed"] == []
    changed = {c["id"]: c for c in forward["changed"]}
    assert set(changed) == {"review", "sign"}
    assert changed["review"]["changes"] == ["表单", "时限"]
    assert changed["sign"] == {"id": "sign", "type": "userTask", "name": "分管领导审定", "changes": ["名称"]}

    backward = designer.get(f"/designer/api/processes/{KEY}/diff?from=2&to=1").get_json()
    assert backward["removed"] == [{"id": "check", "type": "userTask", "name": "复核"}]
    assert backward["added"] == []

    assert designer.get(f"/designer/api/processes/{KEY}/diff?from=1&to=7").status_code == 404
    assert designer.get(f"/designer/api/processes/{KEY}/diff?from=x&to=1").status_code == 400


def test_diff_notices_a_changed_condition(session, designer):
    deploy(designer, V1)
    deploy(
        designer,
        edited(V1, ('name="审查完成"', 'name="审查完成"><bpmn:documentation>改</bpmn:documentation')),
    )
    # Only the end event's content changed; its name and properties did not.
    diff = designer.get(f"/designer/api/processes/{KEY}/diff?from=1&to=2").get_json()
    assert diff["changed"] == [{"id": "end", "type": "EndEvent", "name": "审查完成", "changes": ["其他设置"]}]


def test_rollback_redeploys_an_earlier_version_as_a_new_one(session, designer):
    deploy(designer, V1)
    deploy(designer, V2)

    response = designer.post(f"/designer/api/processes/{KEY}/rollback", json={"version": 1})
    assert response.get_json() == {"version": 3}
    v1, v3 = (session.scalar(sa.select(ProcessDefinition).filter_by(key=KEY, version=n)) for n in (1, 3))
    assert v3.elements == v1.elements
    assert v3.deployed_by == "designer"
    diff = designer.get(f"/designer/api/processes/{KEY}/diff?from=1&to=3").get_json()
    assert diff == {"added": [], "removed": [], "changed": []}
    instance = workflow.start_instance(session=session, process_key=KEY, started_by="a")
    assert instance.definition.version == 3

    # Rolling back again to the same version still makes a new version.
    assert designer.post(f"/designer/api/processes/{KEY}/rollback", json={"version": 1}).get_json() == {
        "version": 4
    }
    # A rollback of a rollback carries one mark, not two.
    assert designer.post(f"/designer/api/processes/{KEY}/rollback", json={"version": 4}).get_json() == {
        "version": 5
    }
    v5 = session.scalar(sa.select(ProcessDefinition).filter_by(key=KEY, version=5))
    assert v5.source_xml.count("keyproject-rollback") == 1
    assert v5.source_xml.startswith(V1.rstrip())
    assert designer.post(f"/designer/api/processes/{KEY}/rollback", json={"version": 9}).status_code == 404


def test_export_downloads_the_stored_xml(session, designer):
    deploy(designer, V1)
    deploy(designer, V2)
    response = designer.get(f"/designer/processes/{KEY}/versions/1.bpmn")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == V1
    assert "attachment" in response.headers["Content-Disposition"]
    assert "doc_review_v1.bpmn" in response.headers["Content-Disposition"]
    assert designer.get(f"/designer/processes/{KEY}/versions/5.bpmn").status_code == 404


# --- pickers for the properties panel -----------------------------------------------------


def test_forms_operations_and_groups(designer):
    forms = designer.get("/designer/api/forms").get_json()
    assert {"name": "approval_review.json", "title": "部门审查意见", "version": 1} in forms
    assert len(forms) == len(list((ROOT / "forms").glob("*.json")))

    operations = {o["name"]: o for o in designer.get("/designer/api/operations").get_json()}
    assert operations["tasks.escalate"]["params"] == ["element", "to"]
    assert operations["tasks.escalate"]["doc"]

    groups = {g["group"]: g for g in designer.get("/designer/api/groups").get_json()}
    assert {"fgw.window", "fgw.reviewer", "cz.head", "cz.finance", "expert", "inspector"} <= set(groups)
    assert "cz.window" not in groups
    assert groups["fgw.head"]["label"] == "发改 分管领导"
    assert any(g["expression"] and "unit." in g["group"] for g in groups.values())


def test_a_file_of_two_processes_deploys_as_one_unit(session, designer):
    source = (ROOT / "processes" / "project_approval.bpmn").read_text(encoding="utf-8")
    deploy_files(
        session=session, files={"project_approval.bpmn": source}, forms_dir=ROOT / "forms", deployed_by="cli"
    )
    session.commit()
    shown = designer.get("/designer/api/processes/project_approval/xml").get_json()
    assert shown["xml"] == source

    changed = source.replace('name="项目申报与并联审批"', 'name="项目申报与并联审批 (新)"', 1)
    assert changed != source
    response = deploy(designer, changed, key="project_approval")
    assert response.get_json() == {"version": 2, "created": True}
    latest = session.scalar(sa.select(ProcessDefinition).filter_by(key="project_approval", version=2))
    assert latest.file_name == "project_approval.bpmn"
    # The second process of the file cannot be deployed on its own under its key.
    assert deploy(designer, changed, key="project_review_round").status_code == 422


def test_a_key_that_is_no_process_id_is_refused(session, designer):
    for key in ("1abc", "x" * 121, "bad key"):
        response = designer.put(f"/designer/api/processes/{key}/draft", json={"xml": V1})
        assert response.status_code == 400, key
        assert "key" in response.get_json()["error"]
    assert session.scalar(sa.select(sa.func.count()).select_from(ProcessDraft)) == 0
