import pytest
import sqlalchemy as sa

from backend.engine import DefinitionError
from backend.workflow.deploy import deploy_files, read_directory
from backend.workflow.models import ProcessDefinition

from .conftest import BPMN_DIR, FORMS_DIR


def _deploy(session, files):
    return deploy_files(session=session, files=files, forms_dir=FORMS_DIR, deployed_by="test")


def _problems(session, files):
    with pytest.raises(DefinitionError) as excinfo:
        _deploy(session, files)
    session.rollback()
    return excinfo.value.problems


def test_deploy_stores_each_version_once(session):
    files = read_directory(BPMN_DIR)
    first = _deploy(session, files)
    session.commit()
    assert {d.key for d in first.created} == {
        "parallel_review",
        "timed_review",
        "payment_flow",
        "registration",
        "runaway",
        "confirmer",
        "limited_review",
        "await_or_timeout",
        "three_steps",
    }
    second = _deploy(session, files)
    session.commit()
    assert second.created == []
    assert session.scalar(sa.select(sa.func.count()).select_from(ProcessDefinition)) == 9

    changed = dict(files)
    changed["parallel_review.bpmn"] = files["parallel_review.bpmn"].replace("汇总", "汇总意见")
    third = _deploy(session, changed)
    session.commit()
    assert [(d.key, d.version) for d in third.created] == [("parallel_review", 2)]
    review = session.scalar(sa.select(ProcessDefinition).filter_by(key="parallel_review", version=2))
    assert review.element("review_fg")["lane"] == "发改"
    assert review.element("review_fg")["properties"]["formJsonSchemaFilename"] == "review.json"


def test_xsd_error_reports_file_and_line(session):
    files = {
        "bad.bpmn": read_directory(BPMN_DIR)["parallel_review.bpmn"].replace(
            '<bpmn:endEvent id="end">', '<bpmn:endEvent id="end" bogus="1">'
        )
    }
    (problem,) = _problems(session, files)
    assert problem.file == "bad.bpmn"
    assert problem.line is not None and problem.line > 1
    assert "bogus" in problem.message


def test_missing_form_is_pinned_to_element_and_line(session):
    source = read_directory(BPMN_DIR)["parallel_review.bpmn"]
    source = source.replace(
        'value="review.json"/></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f3',
        'value="nope.json"/></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f3',
    )
    (problem,) = _problems(session, {"p.bpmn": source})
    assert problem.element_id == "review_cz"
    assert "nope.json" in problem.message
    expected_line = next(i for i, line in enumerate(source.splitlines(), 1) if 'id="review_cz"' in line)
    assert problem.line == expected_line


def test_unknown_operation_and_unsafe_condition_refused_whole(session):
    files = read_directory(BPMN_DIR)
    files["payment_flow.bpmn"] = files["payment_flow.bpmn"].replace(
        "test.request_payment", "no.such_operation"
    )
    files["parallel_review.bpmn"] = files["parallel_review.bpmn"].replace(
        'outcome = "approved"', 'import os\noutcome = "approved"'
    )
    problems = _problems(session, files)
    by_element = {p.element_id: p for p in problems}
    assert "no.such_operation" in by_element["request_payment"].message
    assert by_element["request_payment"].line is not None
    assert "decide" in by_element
    # Nothing was half-deployed.
    assert session.scalar(sa.select(sa.func.count()).select_from(ProcessDefinition)) == 0


def test_engine_validation_error_gets_line_from_xml(session):
    source = read_directory(BPMN_DIR)["parallel_review.bpmn"].replace(
        '<bpmn:sequenceFlow id="f7" sourceRef="decide" targetRef="route"/>',
        '<bpmn:sequenceFlow id="f7" sourceRef="decide" targetRef="nowhere"/>',
    )
    problems = _problems(session, {"p.bpmn": source})
    assert problems, "a flow to a missing element must be refused"
    assert all(p.file == "p.bpmn" for p in problems)


def test_flow_without_id_and_file_without_process_refused(session):
    source = read_directory(BPMN_DIR)["parallel_review.bpmn"].replace(
        '<bpmn:sequenceFlow id="f7" ', "<bpmn:sequenceFlow "
    )
    (problem,) = _problems(session, {"p.bpmn": source})
    assert "id" in problem.message and problem.line
    empty = (
        '<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'id="d" targetNamespace="x"/>'
    )
    (problem,) = _problems(session, {"e.bpmn": empty})
    assert "process" in problem.message


def test_xml_entities_are_not_expanded(session):
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">'
        '<bpmn:process id="p" isExecutable="true"><bpmn:documentation>&b;</bpmn:documentation></bpmn:process>'
        "</bpmn:definitions>"
    )
    problems = _problems(session, {"bomb.bpmn": bomb})
    assert problems


def test_gateway_condition_is_linted_in_the_sandbox(session):
    source = read_directory(BPMN_DIR)["parallel_review.bpmn"].replace(
        'outcome == "approved"', "().__class__.__mro__"
    )
    (problem,) = _problems(session, {"p.bpmn": source})
    assert problem.element_id == "route"
    assert problem.message.startswith("条件表达式")
    assert problem.line is not None
