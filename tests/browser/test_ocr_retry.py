"""OCR on the application form when the reading went wrong (issue 11, session 21): a reading
stopped by the time limit shows what it found with the notice "只识别了前 3/12 页", and a
failed reading offers "重新识别", which queues it again and follows it until it is done.

The live server reads the real (one-page) PDF; the outcomes a slow machine would produce (a
timeout after 3 of 12 pages, an internal error) are written into its database, as the job
writes them (tests/ocr/test_flow_more.py makes them happen for real)."""

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from backend.ocr.models import DocumentExtraction
from tests.browser.helpers import sign_in, summary_pdf

pytestmark = pytest.mark.browser

CODE = "2025-330106-48-01-00912C"
FILE = "超时的建议书.pdf"


def proposal_pdf() -> bytes:
    return summary_pdf(
        (
            ("项目名称", "杭州市西湖区留和路雨水管网改造工程"),
            ("项目代码", CODE),
            ("建设单位", "杭州市城市建设投资集团有限公司"),
            ("总投资", "3,600万元"),
            ("计划开工时间", "2026年5月"),
        )
    )


def set_outcome(server, **values) -> None:
    table = DocumentExtraction.__table__
    with server.engine.begin() as conn:
        changed = conn.execute(sa.update(table).where(table.c.file_name == FILE).values(**values)).rowcount
    assert changed == 1


def attempts(server) -> int:
    table = DocumentExtraction.__table__
    with server.engine.connect() as conn:
        return conn.execute(sa.select(table.c.attempts).where(table.c.file_name == FILE)).scalar_one()


def test_partial_reading_notice_and_retry(page, live_server, tmp_path, screenshot):
    server = live_server
    sign_in(page, server, "applicant")
    page.goto(f"{server.url}/applications/new")
    form = page.locator("form.task-form")
    pdf = tmp_path / FILE
    pdf.write_bytes(proposal_pdf())
    form.get_by_role("group", name="材料 1").get_by_label("选择文件").set_input_files(pdf)
    with page.expect_navigation():
        form.get_by_role("button", name="上传并识别").click()
    item = page.locator("#ocr-panel [data-ocr-extraction]")
    state = item.locator(".ocr-state")
    expect(state).to_have_text(re.compile(r"识别完成，找到 \d+ 项"), timeout=60_000)
    retry = item.get_by_role("button", name="重新识别")
    expect(retry).to_be_hidden()  # read in full: nothing to read again

    # The time limit stopped the reading after 3 of 12 pages: done, with the notice.
    set_outcome(
        server,
        error_code="timeout",
        error="文档识别超时 (上限 120 秒), 仅读取了 3/12 页",
        error_values={"limit": "120", "done": 3, "total": 12},
        pages_done=3,
        pages_total=12,
    )
    with page.expect_navigation():
        page.get_by_role("button", name="刷新识别进度").click()
    item = page.locator("#ocr-panel [data-ocr-extraction]")
    expect(item.locator(".ocr-state")).to_have_text(re.compile(r"识别完成，找到 \d+ 项"))
    expect(item.locator(".ocr-notice")).to_have_text("只识别了前 3/12 页，其余页请核对")
    expect(item.get_by_role("button", name="重新识别")).to_be_visible()
    screenshot(page, "ocr-timeout-notice")
    with page.expect_navigation():
        page.get_by_role("button", name="用文件中的信息填写").click()
    expect(page.locator("form.task-form").get_by_label("项目代码")).to_have_value(CODE)

    # A reading that failed for a cause that may pass: "重新识别" queues it again.
    set_outcome(
        server,
        state="failed",
        error_code="internal",
        error="识别文件时出错, 请手工填写",
        error_values=None,
        result=None,
    )
    with page.expect_navigation():
        page.get_by_role("button", name="刷新识别进度").click()
    item = page.locator("#ocr-panel [data-ocr-extraction]")
    expect(item.locator(".ocr-state")).to_have_text("无法识别：识别文件时出错, 请手工填写")
    retry = item.get_by_role("button", name="重新识别")
    expect(retry).to_be_visible()
    screenshot(page, "ocr-retry")
    retry.click()
    expect(item.locator(".ocr-state")).to_have_text(re.compile(r"识别完成，找到 \d+ 项"), timeout=60_000)
    expect(retry).to_be_hidden()
    expect(item.locator(".ocr-notice")).to_be_hidden()
    assert attempts(server) == 2
    screenshot(page, "ocr-retried")
