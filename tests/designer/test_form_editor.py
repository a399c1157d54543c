"""The form editor over a real database: the live preview drawn by the task page's macro, the
schema's problems (JSON syntax with line and column, meta-schema with the JSON path, the
platform's and the renderer's rules), trial validation, versions, save, redeploy of the
processes using a form, and who may use it."""

import copy
import json

import pytest
import sqlalchemy as sa

from backend.forms.models import FormVersion
from backend.workflow import service as workflow
from backend.workflow.models import ProcessDefinition

from .conftest import sample, sign_in

API = "/designer/api/forms"
FORM = {
    "title": "试用表单",
    "type": "object",
    "properties": {
        "approved": {
            "type": "boolean",
            "title": "结论",
            "oneOf": [{"const": True, "title": "同意"}, {"const": False, "title": "不同意"}],
        },
        "opinion": {"type": "string", "title": "意见", "maxLength": 500},
        "amount": {"type": "string", "title": "金额 (元)", "format": "money"},
        "items": {
            "type": "array",
            "title": "明细",
            "items": {
                "type": "object",
                "title": "明细",
                "properties": {"what": {"type": "string", "title": "内容"}},
            },
        },
    },
    "required": ["approved"],
    "if": {"properties": {"approved": {"const": False}}, "required": ["approved"]},
    "then": {
        "properties": {"reason": {"type": "string", "title": "不同意的理由", "minLength": 2}},
        "required": ["reason"],
    },
}


def text_of(schema) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2)


def preview(client, text: str):
    return client.post(f"{API}/preview", json={"text": text})


# --- live preview -------------------------------------------------------------------------


def test_the_preview_is_the_task_pages_form_with_every_field(session, designer):
    response = preview(designer, text_of(FORM))
    assert response.status_code == 200
    body = response.get_json()
    assert body["ok"] is True and body["problems"] == []
    html = body["html"]
    assert '<form method="post"' in html and 'class="task-form"' in html
    for field in ('name="approved"', 'name="opinion"', 'name="amount"', "data-row-add"):
        assert field in html, field
    # The conditional section is there, hidden until 不同意 is chosen (forms.js shows it).
    assert 'data-show-when="approved=false"' in html and 'name="reason"' in html
    assert "试填校验" in html


def test_broken_json_is_reported_with_its_line_and_column(session, designer):
    text = '{\n  "type": "object",\n  "properties": {\n    "a": {"type": "string"},\n  }\n}'
    body = preview(designer, text).get_json()
    assert body["html"] is None and body["ok"] is False
    (problem,) = body["problems"]
    assert problem["source"] == "json" and problem["severity"] == "error"
    assert (problem["line"], problem["column"]) == (5, 3)


def test_meta_schema_errors_name_their_json_path_and_line(session, designer):
    broken = copy.deepcopy(FORM)
    broken["properties"]["opinion"]["type"] = "strin"
    broken["properties"]["opinion"]["maxLength"] = -1
    text = text_of(broken)
    body = preview(designer, text).get_json()
    assert body["ok"] is False
    meta = {p["path"]: p for p in body["problems"] if p["source"] == "meta"}
    assert set(meta) == {"$.properties.opinion.type", "$.properties.opinion.maxLength"}
    line = text.splitlines()[meta["$.properties.opinion.type"]["line"] - 1]
    assert '"type": "strin"' in line
    assert "2020-12" in meta["$.properties.opinion.type"]["message"]


def test_renderer_and_platform_problems(session, designer):
    dangling = {**FORM, "properties": {**FORM["properties"], "x": {"$ref": "#/$defs/missing"}}}
    body = preview(designer, text_of(dangling)).get_json()
    (problem,) = body["problems"]
    assert problem["source"] == "render" and problem["path"] == "$.properties.x.$ref"
    assert body["ok"] is False

    odd_widget = {**FORM, "properties": {**FORM["properties"], "x": {"type": "string", "x-widget": "slider"}}}
    body = preview(designer, text_of(odd_widget)).get_json()
    assert [p["source"] for p in body["problems"]] == ["platform"]
    assert "slider" in body["problems"][0]["message"]

    # Something the renderer cannot read is reported, not a server error.
    bad_names = {**FORM, "properties": {"x": {"type": "string", "enum": ["a", "b"], "x-enumNames": 5}}}
    body = preview(designer, text_of(bad_names)).get_json()
    assert [p["source"] for p in body["problems"]] == ["render"] and body["ok"] is False
    assert "TypeError" in body["problems"][0]["message"]
    assert designer.put(f"{API}/trial_form.json", json={"text": text_of(bad_names)}).status_code == 422

    # A form without fields still draws, with a warning only.
    body = preview(designer, '{"type": "object"}').get_json()
    assert body["html"] is not None and body["ok"] is True
    assert [p["severity"] for p in body["problems"]] == ["warning"]


def test_duplicate_keys_are_reported(session, designer):
    text = '{"type": "object", "properties": {\n"a": {"type": "string"},\n"a": {"type": "integer"}}}'
    (problem,) = preview(designer, text).get_json()["problems"]
    assert problem["source"] == "json" and problem["line"] == 3 and problem["path"] == "$.properties.a"


# --- trial validation ---------------------------------------------------------------------


def test_trial_validation_uses_the_task_submit_validator(session, designer):
    url = f"{API}/preview/validate"
    body = designer.post(
        url, data={"_schema": text_of(FORM), "approved": "false", "amount": "12.345"}
    ).get_json()
    assert set(body["errors"]) == {"reason", "amount"}
    assert body["data"]["approved"] is False
    # The errors are drawn next to their fields, values kept.
    assert 'id="f-reason-error"' in body["html"] and 'value="12.345"' in body["html"]

    body = designer.post(
        url, data={"_schema": text_of(FORM), "approved": "true", "amount": "12.30"}
    ).get_json()
    assert body["errors"] == {}


def test_trial_row_buttons_add_a_row_like_the_task_page(session, designer):
    body = designer.post(
        f"{API}/preview/validate", data={"_schema": text_of(FORM), "_add": "items"}
    ).get_json()
    assert body["row_action"] is True and body["errors"] == {}
    assert 'name="items[0][what]"' in body["html"]


def test_trial_validation_of_a_broken_schema_is_422(session, designer):
    response = designer.post(f"{API}/preview/validate", data={"_schema": "{"})
    assert response.status_code == 422 and response.get_json()["problems"]


# --- save and versions --------------------------------------------------------------------


def stored_versions(session, name) -> list[int]:
    return list(
        session.scalars(sa.select(FormVersion.version).filter_by(name=name).order_by(FormVersion.version))
    )


def test_save_versions_view_and_download(session, designer):
    name = "trial_form.json"
    response = designer.put(f"{API}/{name}", json={"text": text_of(FORM)})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["version"], body["created"]) == (1, True)
    assert body["versions"][0]["saved_by"] == "designer" and body["versions"][0]["source"] == "editor"

    # The same schema, differently indented: no new version.
    again = designer.put(f"{API}/{name}", json={"text": json.dumps(FORM, ensure_ascii=False)}).get_json()
    assert (again["version"], again["created"]) == (1, False)

    changed = copy.deepcopy(FORM)
    changed["properties"]["phone"] = {"type": "string", "title": "电话"}
    body = designer.put(f"{API}/{name}", json={"text": text_of(changed)}).get_json()
    assert (body["version"], body["created"]) == (2, True)
    assert stored_versions(session, name) == [1, 2]

    detail = designer.get(f"{API}/{name}").get_json()
    assert [v["version"] for v in detail["versions"]] == [2, 1]
    assert "phone" in detail["current"]["schema"]["properties"]
    old = designer.get(f"{API}/{name}/versions/1").get_json()
    assert "phone" not in old["schema"]["properties"] and old["version"] == 1
    # The editor's text keeps the fields in their order (a JSON response sorts object keys).
    assert list(json.loads(old["text"])["properties"]) == ["approved", "opinion", "amount", "items"]
    assert list(json.loads(detail["current"]["text"])["properties"])[-1] == "phone"

    download = designer.get(f"/designer/forms/{name}/versions/1.json")
    assert download.status_code == 200
    assert 'filename="trial_form_v1.json"' in download.headers["Content-Disposition"]
    assert json.loads(download.get_data(as_text=True)) == FORM
    assert designer.get(f"{API}/{name}/versions/9").status_code == 404


def test_an_invalid_schema_is_not_saved(session, designer):
    name = "trial_form.json"
    broken = copy.deepcopy(FORM)
    broken["properties"]["opinion"]["type"] = "strin"
    for text in ("{", text_of(broken), "[1, 2]"):
        response = designer.put(f"{API}/{name}", json={"text": text})
        assert response.status_code == 422
        assert response.get_json()["problems"]
    assert stored_versions(session, name) == []
    assert designer.put(f"{API}/bad name.json", json={"text": text_of(FORM)}).status_code == 400
    assert designer.put(f"{API}/{name}", json={}).status_code == 400


def test_files_in_forms_are_listed_as_their_first_versions(session, designer):
    page = designer.get("/designer/forms")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-form="approval_review.json"' in html and "部门审查意见" in html
    detail = designer.get(f"{API}/approval_review.json").get_json()
    assert (
        detail["versions"][0]["source"] == "file" and detail["current"]["schema"]["title"] == "部门审查意见"
    )
    assert designer.get(f"{API}/no_such_form.json").status_code == 404


def test_a_file_found_by_a_get_is_stored_in_a_writing_transaction(session, designer):
    """The list is a GET (a deferred read transaction on SQLite). Storing a form file found on
    the way must start its own BEGIN IMMEDIATE transaction: upgrading the read one fails with
    "database is locked" once any other writer (the scheduler's tick) committed in between."""
    from backend.extensions import db

    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's transaction modes")
    seen: list[str] = []

    def watch(conn, cursor, statement, *args):
        word = statement.lstrip().upper()
        if word.startswith("BEGIN") or word.startswith("INSERT INTO FORM_VERSION"):
            seen.append("INSERT" if word.startswith("INSERT") else word)

    sa.event.listen(db.engine, "before_cursor_execute", watch)
    try:
        assert designer.get("/designer/forms").status_code == 200
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", watch)
    assert "INSERT" in seen
    assert seen[seen.index("INSERT") - 1] == "BEGIN IMMEDIATE"
    assert stored_versions(session, "approval_review.json") == [1]


# --- redeploy -----------------------------------------------------------------------------


def test_redeploy_gives_new_instances_the_new_form_and_running_ones_keep_theirs(session, designer):
    name = "approval_review.json"
    assert designer.post(
        "/designer/api/processes/doc_review/deploy", json={"xml": sample("doc_review.bpmn")}
    ).get_json() == {
        "version": 1,
        "created": True,
    }
    first = workflow.start_instance(session=session, process_key="doc_review", started_by="applicant")
    session.commit()
    detail = designer.get(f"{API}/{name}").get_json()
    assert [(p["key"], p["version"]) for p in detail["used_by"]] == [("doc_review", 1)]

    schema = detail["current"]["schema"]
    schema["properties"]["phone"] = {"type": "string", "title": "联系电话"}
    saved = designer.put(f"{API}/{name}", json={"text": text_of(schema)}).get_json()
    assert saved["created"] is True
    new_form = session.scalar(sa.select(FormVersion).filter_by(name=name, version=saved["version"]))

    response = designer.post(f"{API}/{name}/redeploy")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert [(d["key"], d["version"], d["created"]) for d in body["deployed"]] == [("doc_review", 2, True)]
    assert [(p["key"], p["version"]) for p in body["used_by"]] == [("doc_review", 2)]
    v1, v2 = session.scalars(
        sa.select(ProcessDefinition).filter_by(key="doc_review").order_by("version")
    ).all()
    assert v2.deployed_by == "designer" and v2.source_xml == v1.source_xml
    assert v2.forms[name] == new_form.id and v1.forms[name] != new_form.id
    second = workflow.start_instance(session=session, process_key="doc_review", started_by="applicant")
    session.commit()
    assert (first.definition.version, second.definition.version) == (1, 2)

    # Nothing changed since: a second redeploy makes no version.
    body = designer.post(f"{API}/{name}/redeploy").get_json()
    assert [(d["version"], d["created"]) for d in body["deployed"]] == [(2, False)]


def test_redeploy_keeps_a_designers_draft(session, designer):
    xml = sample("doc_review.bpmn")
    designer.post("/designer/api/processes/doc_review/deploy", json={"xml": xml})
    designer.put(
        "/designer/api/processes/doc_review/draft", json={"xml": xml.replace("分管领导签署", "签署 (草稿)")}
    )
    designer.put(f"{API}/approval_review.json", json={"text": text_of(FORM)})
    assert designer.post(f"{API}/approval_review.json/redeploy").status_code == 200
    draft = designer.get("/designer/api/processes/doc_review/xml?source=draft").get_json()
    assert "签署 (草稿)" in json.dumps(draft, ensure_ascii=False)


# --- who may use it -----------------------------------------------------------------------

ENDPOINTS = [
    ("post", f"{API}/preview", {"text": "{}"}),
    ("post", f"{API}/preview/validate", None),
    ("get", f"{API}/approval_review.json", None),
    ("get", f"{API}/approval_review.json/versions/1", None),
    ("get", "/designer/forms/approval_review.json/versions/1.json", None),
    ("put", f"{API}/approval_review.json", {"text": "{}"}),
    ("post", f"{API}/approval_review.json/redeploy", None),
]


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_people_who_are_not_designers_get_403_json(app, session, people, method, url, body):
    for client in (sign_in(app, "reviewer"), app.test_client()):
        response = getattr(client, method)(url, json=body)
        assert response.status_code == 403
        assert response.get_json()["error"]
    assert stored_versions(session, "approval_review.json") == []


@pytest.mark.parametrize(
    "url", ["/designer/forms", "/designer/forms/new", "/designer/forms/approval_review.json"]
)
def test_the_pages_are_for_designers(app, session, people, url):
    assert app.test_client().get(url).status_code == 302  # to the login page
    assert sign_in(app, "reviewer").get(url).status_code == 403
    assert sign_in(app, "admin").get(url).status_code == 403  # the system admin: not their work
    for who in ("designer",):
        page = sign_in(app, who).get(url)
        assert page.status_code == 200
        assert "data-forms-link" in page.get_data(as_text=True)


def test_the_editor_page_carries_its_urls_and_strings(session, designer):
    html = designer.get("/designer/forms/approval_review.json").get_data(as_text=True)
    assert 'data-name="approval_review.json"' in html
    assert 'data-api="/designer/api/forms"' in html
    assert 'data-download-url="/designer/forms/__NAME__/versions/__VERSION__.json"' in html
    assert "form-editor.js" in html and 'id="form-editor-strings"' in html
    assert designer.get("/designer/forms/bad%20name").status_code == 404


def test_problems_and_pages_in_english(session, designer):
    english = {"Accept-Language": "en"}
    (problem,) = designer.post(f"{API}/preview", json={"text": "{"}, headers=english).get_json()["problems"]
    assert problem["message"].startswith("JSON syntax error")
    response = designer.put(f"{API}/trial_form.json", json={"text": "{"}, headers=english)
    assert response.get_json()["error"] == "The form definition has errors; not saved"
    html = designer.get("/designer/forms/new", headers=english).get_data(as_text=True)
    assert "Save as new version" in html and "Try validation" not in html  # the preview is drawn later
    assert (
        designer.post(f"{API}/preview", json={"text": text_of(FORM)}, headers=english)
        .get_json()["html"]
        .count("Try validation")
        == 1
    )
