"""开工申报 and 竣工验收 on a phone (390×844): the applicant reports the start of an approved
project from the project page, then 发改's reviewer records a passed acceptance with its
benefits and the report; the project ends 已竣工. No sideways scrolling, no CSP violation.
A project of its own (inserted into the live database), so the demo's stay as they are; the
file's name sorts it after the other browser files, whose cockpit figures (the leader
treemap's tiles) one more project would change.
Screenshots: var/screenshots/phone-completion-*.png."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from backend.org.models import User
from backend.projects.models import Project
from tests.browser.helpers import minimal_pdf, sign_in
from tests.browser.test_phone import PHONE, no_sideways_scrolling, on_screen_and_tappable

pytestmark = pytest.mark.browser

CODE = "2026-330106-48-01-00999Z"


@pytest.fixture()
def phone(browser):
    context = browser.new_context(**PHONE)
    context.set_default_timeout(15_000)
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
    yield page, messages
    context.close()


def _approved_project(server) -> None:
    with server.engine.begin() as conn:
        if conn.scalar(sa.select(Project.id).where(Project.code == CODE)) is not None:
            return
        unit = conn.scalar(sa.select(User.unit_id).where(User.username == "applicant"))
        conn.execute(
            sa.insert(Project.__table__).values(
                code=CODE,
                name="西湖区留下街道农贸市场改造工程",
                owner_unit_id=unit,
                region_code="330106",
                industry="市政公用设施",
                nature="new",
                total_investment=Decimal("8000000.00"),
                funding_sources=[{"source": "企业自筹", "amount": "8000000.00"}],
                planned_start=date(2026, 1, 1),
                planned_end=date(2027, 6, 30),
                scale_content="改造农贸市场 1.2 万平方米。",
                status="approved",
                approved_at=datetime.now(UTC) - timedelta(days=30),
            )
        )


def test_start_and_acceptance_on_a_phone(phone, live_server, screenshot):
    page, messages = phone
    _approved_project(live_server)
    hub = f"{live_server.url}/projects/{CODE}"

    sign_in(page, live_server, "applicant")
    page.goto(hub)
    start = page.locator('[data-action="start"]')
    on_screen_and_tappable(page, start)
    with page.expect_navigation():
        start.click()
    form = page.locator("#start-form")
    form.get_by_label("实际开工日期").fill((datetime.now(UTC) + timedelta(hours=8)).date().isoformat())
    form.get_by_label("施工许可证号 (选填)").fill("330106202601010101")
    screenshot(page, "phone-completion-start")
    no_sideways_scrolling(page)
    with page.expect_navigation():
        form.get_by_role("button", name="提交开工申报").click()
    expect(page.locator('[data-status="in_construction"]')).to_be_visible()

    page.context.clear_cookies()
    sign_in(page, live_server, "fgw_reviewer")
    page.goto(hub)
    accept = page.locator('[data-action="accept"]')
    on_screen_and_tappable(page, accept)
    with page.expect_navigation():
        accept.click()
    form = page.locator("#acceptance-form")
    form.get_by_label("验收日期").fill((datetime.now(UTC) + timedelta(hours=8)).date().isoformat())
    form.get_by_label("合格", exact=True).check()
    form.get_by_label("年均经济效益 (元)").fill("960000.00")
    form.get_by_label("新增就业 (人)").fill("35")
    form.get_by_label("年均税收 (元)").fill("120000.00")
    form.locator("#document").set_input_files(
        {
            "name": "竣工验收报告.pdf",
            "mimeType": "application/pdf",
            "buffer": minimal_pdf("Completion acceptance report"),
        }
    )
    screenshot(page, "phone-completion-acceptance")
    no_sideways_scrolling(page)
    save = form.get_by_role("button", name="保存验收结果")
    on_screen_and_tappable(page, save)
    with page.expect_navigation():
        save.click()
    expect(page.locator('[data-status="completed"]')).to_be_visible()
    expect(page.locator('[data-field="annual_benefit"]')).to_have_text("¥960,000.00")
    expect(page.locator("#acceptance-record [data-file-link]")).to_have_text("竣工验收报告.pdf")
    no_sideways_scrolling(page)
    screenshot(page, "phone-completion-record")
    assert messages == []
