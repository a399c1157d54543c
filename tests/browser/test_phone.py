"""The inbox and a task page on a phone (iPhone 12: 390×844 CSS pixels, scale 2): no sideways
scrolling, the navigation collapsed behind its toggler, the main buttons on screen and big
enough to tap. Screenshots go to var/screenshots/ to be looked at."""

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import sign_in

pytestmark = pytest.mark.browser

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
}
# A finger needs about 44 CSS px (Apple HIG); Bootstrap's default button is about 38 px.
MIN_TAP = 36


@pytest.fixture()
def phone(browser):
    context = browser.new_context(**PHONE)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def no_sideways_scrolling(page) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{page.url} is {width[0]} px wide on a {width[1]} px screen"


def on_screen_and_tappable(page, button) -> None:
    button.scroll_into_view_if_needed()
    expect(button).to_be_visible()
    box = button.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, f"{button} is off screen: {box}"
    assert box["height"] >= MIN_TAP, f"{button} is too small to tap: {box}"


def test_inbox_and_task_page_fit_a_phone(phone, live_server, screenshot):
    page = phone
    # The demo's project in parallel review waits for 财政's reviewer in the group tab.
    sign_in(page, live_server, "cz_reviewer")
    assert page.url.endswith("/inbox")
    expect(page.locator(".navbar-toggler")).to_be_visible()
    expect(page.locator("#main-nav")).to_be_hidden()
    # Brand, language switch, 通知 and the toggler share one line (a second line costs a
    # quarter of the first screen).
    assert page.locator("nav.navbar").bounding_box()["height"] <= 64

    with page.expect_navigation():
        page.get_by_role("main").get_by_role("link", name="待签收").click()
    row = page.locator("tbody tr").filter(has_text="财政审查").first
    claim = row.get_by_role("button", name="签收")
    screenshot(page, "phone-inbox-group")
    on_screen_and_tappable(page, claim)
    no_sideways_scrolling(page)

    with page.expect_navigation():
        claim.click()
    expect(page.get_by_text("签收成功")).to_be_visible()
    screenshot(page, "phone-task")
    no_sideways_scrolling(page)
    form = page.locator("form.task-form")
    on_screen_and_tappable(page, form.get_by_role("button", name="提交", exact=True))
    on_screen_and_tappable(page, form.get_by_role("button", name="保存草稿"))
    on_screen_and_tappable(page, form.get_by_role("radiogroup").get_by_text("同意", exact=True))
    # forms.js: choosing 不同意 shows at once that an opinion is then required, and 同意 hides it.
    required_mark = form.locator('[data-field="opinion"] [data-show-when]')
    expect(required_mark).to_be_hidden()
    form.get_by_role("radiogroup").get_by_text("不同意", exact=True).click()
    expect(required_mark).to_be_visible()
    form.get_by_role("radiogroup").get_by_text("同意", exact=True).click()
    expect(required_mark).to_be_hidden()

    page.goto(f"{live_server.url}/inbox")
    row = page.locator("tbody tr").filter(has_text="财政审查").first
    screenshot(page, "phone-inbox")
    on_screen_and_tappable(page, row.get_by_role("link", name="办理"))
    no_sideways_scrolling(page)

    # The collapsed navigation opens from its toggler.
    page.locator(".navbar-toggler").click()
    expect(page.locator("#main-nav")).to_be_visible()
    expect(page.locator("#main-nav").get_by_role("link", name="待办")).to_be_visible()
    no_sideways_scrolling(page)
    page.wait_for_timeout(400)  # the collapse animation
    screenshot(page, "phone-nav-open", full_page=False)
