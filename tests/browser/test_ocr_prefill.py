"""OCR on the application form in a real browser (issue 11): upload a proposal, watch the
reading finish (ocr.js polls), fill the form from it; what the applicant typed stays, the
filled fields carry the "来自文件，请核对" mark with the page and snippet."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import sign_in, summary_pdf

pytestmark = pytest.mark.browser

CODE = "2025-330106-48-01-00777C"
TYPED_NAME = "申请人先填的项目名称"


PROPOSAL = (
    ("项目名称", "杭州市西湖区紫金港路地下综合管廊工程"),
    ("项目代码", CODE),
    ("建设单位", "杭州市城市建设投资集团有限公司"),
    ("建设地点", "浙江省杭州市西湖区"),
    ("总投资", "12,800万元"),
    ("计划开工时间", "2026年3月"),
    ("计划竣工时间", "2028年6月"),
)


def proposal_pdf() -> bytes:
    return summary_pdf(PROPOSAL)


def test_upload_read_and_fill_the_application(page, live_server, tmp_path, screenshot):
    server = live_server
    sign_in(page, server, "applicant")
    page.goto(f"{server.url}/applications/new")
    form = page.locator("form.task-form")
    form.get_by_label("项目名称").fill(TYPED_NAME)
    pdf = tmp_path / "项目建议书.pdf"
    pdf.write_bytes(proposal_pdf())
    form.get_by_role("group", name="材料 1").get_by_label("选择文件").set_input_files(pdf)
    with page.expect_navigation():
        form.get_by_role("button", name="上传并识别").click()

    # No validation errors for a half-filled form; the reading is followed until it is done.
    expect(page.locator("#form-errors")).to_have_count(0)
    state = page.locator("#ocr-panel [data-ocr-extraction] .ocr-state")
    expect(state).to_have_text(re.compile(r"识别完成，找到 \d+ 项"), timeout=60_000)
    fill = page.get_by_role("button", name="用文件中的信息填写")
    expect(fill).to_be_visible()
    with page.expect_navigation():
        fill.click()

    form = page.locator("form.task-form")
    expect(page.get_by_role("status")).to_contain_text("已用文件中的信息填写")
    expect(form.get_by_label("项目名称")).to_have_value(TYPED_NAME)  # typed: not overwritten
    expect(form.get_by_label("项目代码")).to_have_value(CODE)
    expect(form.get_by_label("总投资 (元)")).to_have_value("128000000.00")
    expect(form.get_by_label("计划开工日期")).to_have_value("2026-03-01")
    expect(form.get_by_label("计划竣工日期")).to_have_value("2028-06-30")
    mark = form.locator('[data-field="project_code"] .ocr-mark')
    expect(mark).to_have_text("来自文件，请核对")
    expect(mark).to_have_attribute("title", re.compile(rf"项目建议书\.pdf 第 1 页：.*{CODE}"))
    mark.click()  # a tap shows the snippet
    expect(form.locator('[data-field="project_code"] .ocr-snippet')).to_contain_text(CODE)
    expect(form.locator('[data-field="project_name"] .ocr-mark')).to_have_count(0)
    screenshot(page, "ocr-prefill")
