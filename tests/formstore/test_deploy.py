"""Deploy snapshots the forms of its user tasks; the stored hash covers them; a rollback
deploys the earlier version with the earlier forms."""

import pytest
import sqlalchemy as sa

from backend.designer import service as designer
from backend.engine import DefinitionError
from backend.forms import store
from backend.forms.models import FormVersion
from backend.workflow.deploy import deploy_files
from backend.workflow.models import ProcessDefinition

from .conftest import REVIEW_V1, REVIEW_V2, THREE_STEPS, deploy_three_steps, write_form


def _version(session, form_version_id: int) -> int:
    return session.get(FormVersion, form_version_id).version


def test_deploy_snapshots_the_newest_form_versions(session, forms_dir):
    write_form(forms_dir, "review.json", REVIEW_V1)
    (definition,) = deploy_three_steps(session, forms_dir).created
    assert set(definition.forms) == {"review.json"}
    assert store.schema_of(session=session, form_version_id=definition.forms["review.json"]) == REVIEW_V1
    # The diagram's own hash is not the stored one: the forms are part of the content.
    assert definition.content_hash != store.content_hash(REVIEW_V1)
    assert len(definition.content_hash) == 64


def test_unchanged_diagram_and_forms_stay_unchanged(session, forms_dir):
    write_form(forms_dir, "review.json", REVIEW_V1)
    (first,) = deploy_three_steps(session, forms_dir).created
    again = deploy_three_steps(session, forms_dir)
    assert again.created == [] and [d.id for d in again.unchanged] == [first.id]
    assert session.scalar(sa.select(sa.func.count()).select_from(FormVersion)) == 1


def test_a_changed_form_makes_a_new_process_version(session, forms_dir):
    write_form(forms_dir, "review.json", REVIEW_V1)
    (first,) = deploy_three_steps(session, forms_dir).created
    write_form(forms_dir, "review.json", REVIEW_V2)
    (second,) = deploy_three_steps(session, forms_dir).created
    assert (first.version, second.version) == (1, 2)
    assert first.source_xml == second.source_xml and first.content_hash != second.content_hash
    assert _version(session, first.forms["review.json"]) == 1
    assert _version(session, second.forms["review.json"]) == 2

    # An editor save is a change too.
    store.save(session=session, name="review.json", schema={**REVIEW_V2, "title": "审核 v3"}, saved_by="d")
    (third,) = deploy_three_steps(session, forms_dir).created
    assert third.version == 3 and _version(session, third.forms["review.json"]) == 3
    # And back to unchanged once nothing changes.
    assert deploy_three_steps(session, forms_dir).created == []


def test_lint_accepts_a_form_only_in_the_store_and_refuses_missing_or_broken(session, forms_dir):
    with pytest.raises(DefinitionError) as caught:
        deploy_three_steps(session, forms_dir)
    assert "表单文件不存在: forms/review.json" in {p.message for p in caught.value.problems}

    write_form(forms_dir, "review.json", {"type": "object", "properties": {"a": {"x-widget": "dial"}}})
    with pytest.raises(DefinitionError) as caught:
        deploy_three_steps(session, forms_dir)
    assert any("x-widget 不受支持: dial" in p.message for p in caught.value.problems)

    (forms_dir / "review.json").unlink()
    store.save(session=session, name="review.json", schema=REVIEW_V1, saved_by="designer")
    (definition,) = deploy_three_steps(session, forms_dir).created
    assert store.schema_of(session=session, form_version_id=definition.forms["review.json"]) == REVIEW_V1


def test_a_pinned_form_version_is_used_as_given(session, forms_dir):
    old = store.save(session=session, name="review.json", schema=REVIEW_V1, saved_by="designer")
    store.save(session=session, name="review.json", schema=REVIEW_V2, saved_by="designer")
    (definition,) = deploy_three_steps(session, forms_dir, forms={"review.json": old.id}).created
    assert definition.forms == {"review.json": old.id}
    with pytest.raises(DefinitionError) as caught:
        deploy_three_steps(session, forms_dir, xml=THREE_STEPS + "<!-- x -->", forms={"review.json": 999999})
    assert any("表单版本不存在" in p.message for p in caught.value.problems)


def test_used_by_names_the_latest_version_of_each_process(session, forms_dir):
    write_form(forms_dir, "review.json", REVIEW_V1)
    deploy_three_steps(session, forms_dir)
    write_form(forms_dir, "review.json", REVIEW_V2)
    deploy_three_steps(session, forms_dir)
    used = store.used_by(session=session, name="review.json")
    assert [(d.key, d.version) for d in used] == [("three_steps", 2)]
    assert store.used_by(session=session, name="other.json") == []


def test_rollback_restores_the_earlier_forms(session, forms_dir):
    write_form(forms_dir, "review.json", REVIEW_V1)
    (first,) = deploy_three_steps(session, forms_dir).created
    write_form(forms_dir, "review.json", REVIEW_V2)
    (second,) = deploy_three_steps(session, forms_dir).created

    rolled = designer.rollback(
        session=session, key="three_steps", version=1, deployed_by="designer", forms_dir=forms_dir
    )
    assert rolled.version == 3 and rolled.forms == first.forms != second.forms
    assert store.schema_of(session=session, form_version_id=rolled.forms["review.json"]) == REVIEW_V1
    # The newest form is still the file's; only the rolled-back process pins the old one.
    assert store.current(session=session, name="review.json").schema == REVIEW_V2


def test_the_called_process_forms_are_snapshot_with_the_caller(session, forms_dir):
    write_form(forms_dir, "review.json", REVIEW_V1)
    caller = THREE_STEPS.replace('id="three_steps"', 'id="caller"').replace(
        '<bpmn:userTask id="approve" name="审定">',
        '<bpmn:callActivity id="approve" name="审定" calledElement="callee">',
    )
    caller = caller.replace(
        '<spiffworkflow:property name="formJsonSchemaFilename" value="review.json"/></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing></bpmn:userTask>',
        "</spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing></bpmn:callActivity>",
    )
    write_form(forms_dir, "sign.json", {**REVIEW_V1, "title": "签署"})
    callee = (
        THREE_STEPS.replace('id="three_steps"', 'id="callee"')
        .replace('id="defs"', 'id="defs2"')
        .replace('value="review.json"', 'value="sign.json"')
    )
    result = deploy_files(
        session=session,
        files={"caller.bpmn": caller, "callee.bpmn": callee},
        forms_dir=forms_dir,
        deployed_by="test",
    )
    by_key = {d.key: d for d in result.created}
    assert set(by_key["callee"].forms) == {"sign.json"}
    assert set(by_key["caller"].forms) == {"review.json", "sign.json"}
    assert (
        session.scalar(sa.select(ProcessDefinition).filter_by(key="caller")).forms == by_key["caller"].forms
    )
