"""A contractor reports progress on a phone (390×844): "我的进度任务" lists the demo items the
contractor is responsible for (the late excavation marked overdue), the progress form fills
the percent from a quick button, a wrong file type is refused with everything typed kept, and
the report with a photo lands in the history with its thumbnail. No sideways scrolling, no
CSP violation. Screenshots: var/screenshots/phone-progress-*.png."""

from io import BytesIO

import pytest
import sqlalchemy as sa
from PIL import Image
from playwright.sync_api import expect

from backend.projects.models import Project
from backend.schedule.models import WbsItem
from tests.browser.helpers import sign_in
from tests.browser.test_csp import WATCH
from tests.browser.test_phone import PHONE, no_sideways_scrolling, on_screen_and_tappable

pytestmark = pytest.mark.browser


def _photo() -> bytes:
    out = BytesIO()
    image = Image.new("RGB", (640, 480), (120, 140, 160))
    for x in range(0, 640, 40):
        for y in range(0, 480, 40):
            if (x + y) // 40 % 2:
                image.paste((200, 170, 90), (x, y, x + 40, y + 40))
    image.save(out, "JPEG")
    return out.getvalue()


def _demo_item(server, code: str) -> str:
    """The project code of the first demo breakdown whose item `code` the contractor does."""
    with server.engine.connect() as conn:
        return conn.scalar(
            sa.select(Project.code)
            .join(WbsItem, WbsItem.project_id == Project.id)
            .where(WbsItem.code == code, WbsItem.responsible == "contractor")
            .order_by(Project.id)
            .limit(1)
        )


@pytest.fixture()
def phone(browser):
    context = browser.new_context(**PHONE)
    context.set_default_timeout(15_000)
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
    page.add_init_script(WATCH)
    yield page, messages
    context.close()


def test_contractor_reports_progress_with_a_photo_on_a_phone(phone, live_server, screenshot):
    page, messages = phone
    project = _demo_item(live_server, "2.3")
    assert project, "the demo breakdown gives the contractor item 2.3"
    sign_in(page, live_server, "contractor")

    # The nav link (behind the toggler on a phone) leads to the contractor's items.
    page.locator(".navbar-toggler").click()
    with page.expect_navigation():
        page.locator("[data-my-progress-link]").click()
    assert page.url.endswith("/schedule/mine")
    mine = page.locator("[data-my-items]")
    expect(mine.locator(f'[data-item="{project}/2.3"]')).to_be_visible()
    expect(mine.locator(f'[data-item="{project}/2.2"] [data-overdue]')).to_be_visible()  # late, 80 %
    screenshot(page, "phone-progress-mine")
    no_sideways_scrolling(page)

    with page.expect_navigation():
        mine.locator(f'[data-item="{project}/2.3"]').click()
    form = page.locator("[data-progress-form]")
    on_screen_and_tappable(page, form.get_by_role("button", name="50%"))
    form.get_by_role("button", name="50%").click()
    expect(form.get_by_label("完成百分比")).to_have_value("50")
    expect(form.get_by_role("button", name="50%")).to_have_attribute("aria-pressed", "true")
    form.get_by_label("说明").fill("地下室底板浇筑完成")
    # A text file among the evidence: refused, and nothing typed is lost.
    form.locator("#evidence-files").set_input_files(
        [
            {"name": "底板.jpg", "mimeType": "image/jpeg", "buffer": _photo()},
            {"name": "记录.txt", "mimeType": "text/plain", "buffer": "不是图片".encode()},
        ]
    )
    expect(form.locator("[data-chosen-files] li")).to_have_count(2)
    screenshot(page, "phone-progress-form")
    no_sideways_scrolling(page)
    with page.expect_navigation():
        form.get_by_role("button", name="提交进度").click()
    form = page.locator("[data-progress-form]")
    expect(form.locator("[data-upload-error]")).to_contain_text("记录.txt")
    expect(form.get_by_label("完成百分比")).to_have_value("50")
    expect(form.get_by_label("说明")).to_have_value("地下室底板浇筑完成")
    expect(form.locator("[data-kept]")).to_contain_text("底板.jpg")  # the photo is kept, not lost
    screenshot(page, "phone-progress-refused")
    no_sideways_scrolling(page)

    on_screen_and_tappable(page, form.get_by_role("button", name="提交进度"))
    with page.expect_navigation():
        form.get_by_role("button", name="提交进度").click()
    expect(page.get_by_text("进度已保存")).to_be_visible()
    expect(page.locator("[data-current-percent]")).to_have_text("50.00%")
    latest = page.locator("[data-history] li").first
    expect(latest).to_contain_text("地下室底板浇筑完成")
    thumbnail = latest.locator("img")
    expect(thumbnail).to_have_attribute("alt", "底板.jpg")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    screenshot(page, "phone-progress-saved")
    no_sideways_scrolling(page)
    assert messages == []
