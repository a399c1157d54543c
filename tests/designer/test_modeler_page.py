"""The designer's pages (processes list and modeler shell) and the bpmn-js files they load."""

import json
import re

import pytest

from .conftest import sign_in


def html(response) -> str:
    return response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/designer", "/designer/new", "/designer/processes/rectification"])
def test_the_system_admin_does_not_get_the_pages(app, people, path):
    assert sign_in(app, "admin").get(path).status_code == 403


@pytest.mark.parametrize("path", ["/designer", "/designer/new", "/designer/processes/rectification"])
@pytest.mark.parametrize("username", ["designer"])
def test_designers_get_the_pages(app, people, path, username):
    response = sign_in(app, username).get(path)
    assert response.status_code == 200
    page = html(response)
    assert 'name="csrf-token"' in page
    assert "designer/common.js" in page
    # The translated strings the JS shows are valid JSON.
    strings = re.search(r'<script type="application/json" id="designer-strings">(.*?)</script>', page, re.S)
    assert json.loads(strings.group(1))["savedDraft"] == "草稿已保存"


def test_the_modeler_loads_bpmn_js_the_moddle_extension_and_the_panel(app, people):
    page = html(sign_in(app, "designer").get("/designer/processes/rectification"))
    for asset in (
        "/vendor/bpmn-js/bpmn-modeler.production.min.js",
        "/vendor/bpmn-js/diagram-js.css",
        "/vendor/bpmn-js/bpmn-js.css",
        "/vendor/bpmn-js/bpmn-font/css/bpmn.css",
        "designer/spiffworkflow-moddle.js",
        "designer/panel.js",
        "designer/modeler.js",
    ):
        assert asset in page, asset
    assert '"key": "rectification"' in page or 'key: "rectification"' in page
    for button in ("保存草稿", "校验", "发布", "版本", "导出 .bpmn", "导入"):
        assert f">{button}<" in page or f"{button}\n" in page, button


def test_the_pages_speak_english_too(app, people):
    client = sign_in(app, "designer")
    page = html(client.get("/designer/processes/rectification", headers={"Accept-Language": "en"}))
    assert "Save draft" in page
    assert "保存草稿" not in page


@pytest.mark.parametrize("path", ["/designer", "/designer/new", "/designer/processes/rectification"])
def test_others_are_refused(app, people, path):
    assert sign_in(app, "reviewer").get(path).status_code == 403


def test_anonymous_people_are_sent_to_sign_in(app, people):
    response = app.test_client().get("/designer")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize(
    ("path", "marker"),
    [
        ("bpmn-js/bpmn-modeler.production.min.js", b"BpmnJS"),
        ("bpmn-js/diagram-js.css", b".djs-"),
        ("bpmn-js/bpmn-js.css", b".bjs-"),
        ("bpmn-js/bpmn-font/css/bpmn.css", b"../font/bpmn.woff2"),
        ("bpmn-js/bpmn-font/font/bpmn.woff2", b"wOF2"),
        ("bpmn-js/bpmn-font/font/bpmn.woff", b"wOFF"),
    ],
)
def test_the_vendor_files_are_served(app, path, marker):
    response = app.test_client().get(f"/vendor/{path}")
    assert response.status_code == 200
    assert marker in response.get_data()
    assert response.cache_control.immutable


def test_the_static_designer_scripts_are_served(app):
    client = app.test_client()
    for name in (
        "common.js",
        "index.js",
        "panel.js",
        "modeler.js",
        "spiffworkflow-moddle.js",
        "designer.css",
    ):
        response = client.get(f"/static/designer/{name}")
        assert response.status_code == 200, name
        response.close()


def test_the_navbar_links_designers_to_the_designer(app, people):
    assert "data-designer-link" in html(sign_in(app, "designer").get("/designer"))
    home = sign_in(app, "reviewer").get("/", follow_redirects=True)
    assert home.status_code == 200
    assert "data-designer-link" not in html(home)
