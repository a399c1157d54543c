"""BPMN/DMN and imported diagrams: billion laughs and XXE are refused with a clear Chinese
message, through the deploy API, validation and the designer's import, and nothing is read."""

import io
from pathlib import Path

import pytest
import sqlalchemy as sa
from lxml import etree

from backend.engine import DefinitionError, parse_files
from backend.security.xml import UNSAFE_MESSAGE, UnsafeXML, parse_untrusted
from backend.workflow.models import ProcessDefinition
from tests.security.conftest import sign_in

SAMPLE = (Path(__file__).parent.parent / "designer" / "samples" / "doc_review.bpmn").read_text("utf-8")
HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n'

BILLION_LAUGHS_DTD = """<!DOCTYPE bpmn:definitions [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
"""


def _with_entity(dtd: str, entity: str) -> str:
    """The sample with a DOCTYPE and the entity used in the process's documentation."""
    body = SAMPLE.removeprefix(HEADER)
    body = body.replace(
        '<bpmn:startEvent id="start"',
        f'<bpmn:documentation>&{entity};</bpmn:documentation>\n    <bpmn:startEvent id="start"',
        1,
    )
    return HEADER + dtd + body


@pytest.fixture()
def secret_file(tmp_path) -> Path:
    path = tmp_path / "passwd"
    path.write_text("root:x:0:0:SECRET-MARKER-4711:/root:/bin/bash\n", encoding="utf-8")
    return path


def _files(secret_file: Path) -> dict[str, str]:
    return {
        "billion_laughs": _with_entity(BILLION_LAUGHS_DTD, "lol9"),
        "xxe_file": _with_entity(
            f'<!DOCTYPE bpmn:definitions [<!ENTITY xxe SYSTEM "file://{secret_file}">]>\n', "xxe"
        ),
        "xxe_http": _with_entity(
            '<!DOCTYPE bpmn:definitions [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/xxe">]>\n', "xxe"
        ),
        "external_dtd": _with_entity(f'<!DOCTYPE bpmn:definitions SYSTEM "file://{secret_file}">\n', "amp"),
        "parameter_entity": _with_entity(
            f'<!DOCTYPE bpmn:definitions [<!ENTITY % p SYSTEM "file://{secret_file}"> %p;]>\n', "amp"
        ),
    }


ATTACKS = ["billion_laughs", "xxe_file", "xxe_http", "external_dtd", "parameter_entity"]


def test_the_sample_itself_is_accepted():
    """Control: without the DOCTYPE the same file parses (the refusals below are the DOCTYPE's)."""
    assert parse_untrusted(SAMPLE).get("id") == "doc_review_definitions"
    assert [m.key for m in parse_files({"doc_review.bpmn": SAMPLE})] == ["doc_review"]


@pytest.mark.parametrize("attack", ATTACKS)
def test_parse_untrusted_refuses(attack, secret_file):
    with pytest.raises(UnsafeXML) as refused:
        parse_untrusted(_files(secret_file)[attack])
    assert refused.value.line == 2
    assert "DOCTYPE" in str(refused.value)


def test_a_doctype_in_utf16_is_refused_too(secret_file):
    text = _files(secret_file)["xxe_file"].replace('encoding="UTF-8"', 'encoding="UTF-16"')
    for data in (text.encode("utf-16"), text.encode("utf-16-le")):
        with pytest.raises((UnsafeXML, etree.XMLSyntaxError)):
            parse_untrusted(data)


@pytest.mark.parametrize("attack", ATTACKS)
def test_parse_files_refuses_with_a_chinese_problem(attack, secret_file):
    with pytest.raises(DefinitionError) as refused:
        parse_files({"attack.bpmn": _files(secret_file)[attack]})
    (problem,) = refused.value.problems
    assert problem.message == UNSAFE_MESSAGE
    assert problem.line == 2
    assert "SECRET-MARKER" not in str(refused.value)


def test_a_dmn_with_a_doctype_is_refused(secret_file):
    dmn = (
        HEADER
        + f'<!DOCTYPE definitions [<!ENTITY xxe SYSTEM "file://{secret_file}">]>\n'
        + '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="&xxe;"/>'
    )
    with pytest.raises(DefinitionError) as refused:
        parse_files({"rules.dmn": dmn, "doc_review.bpmn": SAMPLE})
    assert [p.file for p in refused.value.problems] == ["rules.dmn"]
    assert refused.value.problems[0].message == UNSAFE_MESSAGE


@pytest.mark.parametrize("attack", ATTACKS)
def test_deploy_api_refuses(app, session, people, attack, secret_file):
    client = sign_in(app, "designer")
    response = client.post(
        "/designer/api/processes/doc_review/deploy", json={"xml": _files(secret_file)[attack]}
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 422, text
    assert any(p["message"] == UNSAFE_MESSAGE for p in response.get_json()["problems"])
    assert "SECRET-MARKER" not in text
    assert session.scalar(sa.select(sa.func.count()).select_from(ProcessDefinition)) == 0


@pytest.mark.parametrize("attack", ATTACKS)
def test_validate_api_reports_it(app, session, people, attack, secret_file):
    client = sign_in(app, "designer")
    response = client.post("/designer/api/validate", json={"xml": _files(secret_file)[attack]})
    body = response.get_json()
    assert body["ok"] is False, body
    assert any(p["message"] == UNSAFE_MESSAGE for p in body["problems"])
    assert "SECRET-MARKER" not in response.get_data(as_text=True)


@pytest.mark.parametrize("attack", ATTACKS)
def test_designer_import_refuses(app, session, people, attack, secret_file):
    client = sign_in(app, "designer")
    data = _files(secret_file)[attack].encode("utf-8")
    response = client.post(
        "/designer/api/import",
        data={"file": (io.BytesIO(data), "attack.bpmn")},
        content_type="multipart/form-data",
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 422, text
    assert any(p["message"] == UNSAFE_MESSAGE for p in response.get_json()["problems"])
    assert "SECRET-MARKER" not in text
