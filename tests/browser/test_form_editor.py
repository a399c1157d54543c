"""The form editor in a real browser: a designer creates a form from the forms list, sees the
live preview follow the JSON (conditional sections live through forms.js, a broken JSON pinned
to its line), trial-validates the filled preview, saves, adds a field, saves again and sees
the new version; an older version comes back into the editor."""

import json

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from backend.forms.models import FormVersion
from tests.browser.helpers import sign_in, sign_out

pytestmark = pytest.mark.browser

NAME = "browser_trial_form.json"
FORM = {
    "title": "浏览器试用表单",
    "type": "object",
    "properties": {
        "project": {"type": "string", "title": "项目名称", "maxLength": 100},
        "approved": {
            "type": "boolean",
            "title": "结论",
            "oneOf": [{"const": True, "title": "同意"}, {"const": False, "title": "不同意"}],
        },
    },
    "required": ["project", "approved"],
    "if": {"properties": {"approved": {"const": False}}, "required": ["approved"]},
    "then": {"properties": {"reason": {"type": "string", "title": "不同意的理由"}}, "required": ["reason"]},
}


def text_of(schema) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2) + "\n"


def test_a_designer_edits_a_form_with_a_live_preview_and_saves_versions(page, live_server, screenshot):
    server = live_server
    sign_in(page, server, "designer")
    page.goto(f"{server.url}/designer")
    page.locator("[data-forms-link]").click()
    expect(page.locator('#forms tr[data-form="approval_review.json"]')).to_be_visible()
    page.get_by_role("link", name="新建表单").click()

    editor = page.get_by_label("表单的 JSON Schema")
    preview = page.locator("#preview")
    expect(page.locator("#preview-state")).to_have_text("已更新")
    page.get_by_label("表单文件名").fill(NAME)

    editor.fill(text_of(FORM))
    expect(preview.get_by_label("项目名称")).to_be_visible()
    expect(page.locator("#problems")).to_contain_text("没有问题")
    # 不同意 shows the reason at once (forms.js on the preview), 同意 hides it again.
    expect(preview.get_by_label("不同意的理由")).to_be_hidden()
    preview.get_by_label("不同意", exact=True).check()
    expect(preview.get_by_label("不同意的理由")).to_be_visible()
    preview.get_by_label("同意", exact=True).check()
    expect(preview.get_by_label("不同意的理由")).to_be_hidden()

    # A trailing comma: the problem names its line, the last good preview stays (dimmed).
    broken = text_of(FORM).replace('"maxLength": 100', '"maxLength": 100,')
    editor.fill(broken)
    problem = page.locator('#problems li[data-source="json"]')
    line = next(i for i, text in enumerate(broken.splitlines(), 1) if '"maxLength": 100,' in text) + 1
    expect(problem).to_contain_text(f"第 {line} 行")
    expect(preview).to_have_class("form-preview stale")
    editor.fill(text_of(FORM))
    expect(preview).to_have_class("form-preview")

    # 试填校验: the task page's validator on the filled preview.
    preview.get_by_label("不同意", exact=True).check()
    preview.get_by_role("button", name="试填校验").click()
    expect(page.locator("#trial-result")).to_contain_text("有 2 个字段未通过校验")
    expect(page.locator("#trial-errors")).to_contain_text("reason")
    preview.get_by_label("项目名称").fill("排水管网改造")
    preview.get_by_label("不同意的理由").fill("投资估算依据不足")
    preview.get_by_role("button", name="试填校验").click()
    expect(page.locator("#trial-result")).to_contain_text("校验通过")
    screenshot(page, "form-editor", full_page=False)

    page.get_by_role("button", name="保存为新版本").click()
    expect(page.locator("#status")).to_contain_text("已保存为版本 v1")
    assert page.url.endswith(f"/designer/forms/{NAME}")
    expect(page.locator('#versions tr[data-version="1"]')).to_be_visible()

    # Add a field in the JSON: the preview shows it; saving makes version 2.
    with_phone = json.loads(text_of(FORM))
    with_phone["properties"]["phone"] = {"type": "string", "title": "联系电话"}
    editor.fill(text_of(with_phone))
    expect(preview.get_by_label("联系电话")).to_be_visible()
    page.get_by_role("button", name="保存为新版本").click()
    expect(page.locator("#status")).to_contain_text("已保存为版本 v2")
    expect(page.locator('#versions tr[data-version="2"]')).to_contain_text("最新")
    expect(page.locator('#versions tr[data-version="1"]')).to_be_visible()

    with server.engine.connect() as conn:
        rows = conn.execute(
            sa.select(FormVersion.version, FormVersion.saved_by, FormVersion.schema)
            .where(FormVersion.name == NAME)
            .order_by(FormVersion.version)
        ).all()
    assert [(r.version, r.saved_by) for r in rows] == [(1, "designer"), (2, "designer")]
    assert "phone" in rows[1].schema["properties"] and "phone" not in rows[0].schema["properties"]

    # Version 1 back into the editor: the preview follows, nothing is saved until asked.
    page.locator('#versions tr[data-version="1"]').get_by_role("button", name="载入编辑器").click()
    expect(page.locator("#status")).to_contain_text("已载入版本 v1")
    expect(preview.get_by_label("项目名称")).to_be_visible()
    expect(preview.get_by_label("联系电话")).to_have_count(0)

    # The list shows the form at version 2; on a phone the preview stacks below the editor.
    page.goto(f"{server.url}/designer/forms")
    expect(page.locator(f'#forms tr[data-form="{NAME}"]')).to_contain_text("v2")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server.url}/designer/forms/{NAME}")
    expect(preview.get_by_label("联系电话")).to_be_visible()
    fields = preview.locator("[data-field]").evaluate_all("(nodes) => nodes.map((n) => n.dataset.field)")
    assert fields == ["project", "approved", "phone", "reason"]  # the order of the JSON, kept
    editor_box = editor.bounding_box()
    preview_box = preview.bounding_box()
    assert preview_box["y"] > editor_box["y"] + editor_box["height"]
    screenshot(page, "form-editor-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_out(page)
