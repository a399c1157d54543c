"""/admin/audit in Chromium: labels with the code beside them, the category narrowing the action
select (a static script: the CSP forbids inline ones), and on a phone the log table scrolls
sideways inside its frame instead of widening the page. Screenshots go to var/screenshots/."""

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import sign_in

pytestmark = pytest.mark.browser

WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
}


def _open(browser, live_server, **options):
    context = browser.new_context(**options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
    page.add_init_script(WATCH)
    sign_in(page, live_server, "auditadmin")
    return context, page, messages


def test_labels_and_the_category_filter(browser, live_server, screenshot):
    context, page, messages = _open(
        browser, live_server, locale="zh-CN", viewport={"width": 1280, "height": 900}
    )
    try:
        page.goto(f"{live_server.url}/admin/audit")
        login = page.locator("tr[data-action='auth.login']").first
        expect(login.locator("[data-action-label]")).to_contain_text("登录")
        expect(login.locator("[data-action-code]")).to_have_text("auth.login")
        expect(login.locator("[data-result]")).to_have_text("成功")
        screenshot(page, "admin-audit-labels", full_page=False)

        category, action = page.locator("[data-audit-category]"), page.locator("[data-audit-action]")
        category.select_option("session")
        expect(action.locator("optgroup[data-category='session']")).not_to_have_attribute("hidden", "")
        expect(action.locator("optgroup[data-category='approval']")).to_have_attribute("hidden", "")
        action.select_option("auth.login")
        with page.expect_navigation():
            page.locator("[data-audit-filter] button[type=submit]").click()
        assert "category=session" in page.url and "action=auth.login" in page.url
        actions = page.locator("tr[data-audit-id]").evaluate_all("rows => rows.map(r => r.dataset.action)")
        assert actions and set(actions) == {"auth.login"}
        # A category that excludes the chosen action clears it (nothing hidden stays selected).
        category.select_option("funds")
        expect(action).to_have_value("")
        assert not page.evaluate("window.__csp || []") and not messages, messages
    finally:
        context.close()


def test_the_log_scrolls_sideways_on_a_phone(browser, live_server, screenshot):
    context, page, messages = _open(browser, live_server, **PHONE)
    try:
        page.goto(f"{live_server.url}/admin/audit")
        expect(page.locator("tr[data-audit-id]").first).to_be_visible()
        page_width, screen = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert page_width <= screen, f"the page is {page_width} px wide on a {screen} px screen"
        frame = page.locator(".audit-scroll")
        inner, visible = frame.evaluate("el => [el.scrollWidth, el.clientWidth]")
        assert inner > visible, "the log table should scroll inside its frame"
        # Labels stay on their lines: the action cell is not squeezed to a letter a line.
        cell = page.locator("td[data-action-label]").first.bounding_box()
        assert cell["width"] >= 100, cell
        screenshot(page, "phone-admin-audit")
        frame.evaluate("el => { el.scrollLeft = 400; }")
        screenshot(page, "phone-admin-audit-scrolled", full_page=False)
        assert not page.evaluate("window.__csp || []") and not messages, messages
    finally:
        context.close()
