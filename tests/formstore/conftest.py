"""A forms folder of the test's own (FORMS_DIR), the three_steps process over its review.json,
and signed-in clients for the task pages."""

import json

import pytest

from backend.workflow.deploy import deploy_files

from ..tasks.conftest import World
from ..tasks.test_views import person, signed_in  # noqa: F401  (re-exported for the tests)
from ..workflow.conftest import BPMN_DIR

THREE_STEPS = (BPMN_DIR / "three_steps.bpmn").read_text(encoding="utf-8")

REVIEW_V1 = {
    "title": "审核",
    "type": "object",
    "properties": {
        "approved": {"type": "boolean", "title": "同意"},
        "opinion": {"type": "string", "title": "审批意见", "minLength": 2},
    },
    "required": ["approved", "opinion"],
}

# The same form with a new required field.
REVIEW_V2 = {
    **REVIEW_V1,
    "properties": {**REVIEW_V1["properties"], "budget_note": {"type": "string", "title": "预算说明"}},
    "required": ["approved", "opinion", "budget_note"],
}


def write_form(folder, name: str, schema) -> None:
    text = schema if isinstance(schema, str) else json.dumps(schema, ensure_ascii=False)
    (folder / name).write_text(text, encoding="utf-8")


@pytest.fixture()
def forms_dir(app, tmp_path, monkeypatch):
    folder = tmp_path / "forms"
    folder.mkdir()
    monkeypatch.setitem(app.config, "FORMS_DIR", str(folder))
    return folder


@pytest.fixture()
def world(session):
    return World(session)


def deploy_three_steps(session, forms_dir, xml: str = THREE_STEPS, **options):
    return deploy_files(
        session=session, files={"three_steps.bpmn": xml}, forms_dir=forms_dir, deployed_by="test", **options
    )
