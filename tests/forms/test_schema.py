import os

import lxml.html
import pytest

from backend.forms.errors import FormNotFound, InvalidFormName, InvalidFormSchema
from backend.forms.schema import clear_cache, load_form


def test_loads_a_real_form(app):
    with app.app_context():
        assert load_form("approval_review.json")["title"] == "部门审查意见"


@pytest.mark.parametrize(
    "name",
    [
        "../pyproject.toml",
        "../forms/approval_review.json",
        "/etc/passwd",
        "sub/x.json",
        "..json",
        "x.txt",
        "",
    ],
)
def test_refuses_paths_outside_the_forms_dir(app, name):
    with app.app_context(), pytest.raises(InvalidFormName) as caught:
        load_form(name)
    assert "表单文件名不合法" in str(caught.value)


def test_missing_and_broken_forms(tmp_path):
    with pytest.raises(FormNotFound) as caught:
        load_form("nope.json", forms_dir=tmp_path)
    assert str(caught.value) == "表单不存在: nope.json"
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(InvalidFormSchema):
        load_form("bad.json", forms_dir=tmp_path)


def test_cached_until_the_file_changes(tmp_path):
    clear_cache()
    path = tmp_path / "f.json"
    path.write_text('{"title": "一"}', encoding="utf-8")
    first = load_form("f.json", forms_dir=tmp_path)
    assert load_form("f.json", forms_dir=tmp_path) is first
    path.write_text('{"title": "二"}', encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert load_form("f.json", forms_dir=tmp_path)["title"] == "二"


def test_init_app_exposes_render_form_and_the_form_macro():
    from flask import Flask, render_template_string

    from backend.forms import init_app

    app = Flask(__name__)
    init_app(app)
    init_app(app)  # idempotent
    schema = {
        "description": "说明<1>",
        "type": "object",
        "properties": {"a": {"type": "string", "title": "<甲>"}},
    }
    with app.test_request_context():
        html = render_template_string(
            '{% from "forms/macros.html" import task_form %}{{ task_form(s, {"a": "x"}, {}, action="/t/1", hidden={"_v": 3}) }}',
            s=schema,
        )
    tree = lxml.html.fromstring(html)
    form = tree if tree.tag == "form" else tree.xpath("//form")[0]
    assert form.get("enctype") == "multipart/form-data" and form.get("action") == "/t/1"
    assert form.xpath('.//input[@name="a"]/@value') == ["x"] and form.xpath(
        './/input[@name="_v"]/@value'
    ) == ["3"]
    assert "&lt;甲&gt;" in html and "说明&lt;1&gt;" in html
    assert form.xpath('.//button[@type="submit"]')[0].text == "提交"
