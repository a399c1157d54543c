"""The public progress page on a phone (390 px, no sign-in): staff publish a photo, a citizen
rates the project, staff approve it, and the page shows milestones, progress, the photo and
the comment without sideways scrolling. Screenshots in var/screenshots/ to be looked at:
phone-public-page, phone-public-feedback, public-board-print."""

import io

import pytest
import sqlalchemy as sa
from PIL import Image
from playwright.sync_api import expect

from backend.projects.models import Project
from tests.browser.helpers import sign_in
from tests.browser.test_phone import PHONE, no_sideways_scrolling, on_screen_and_tappable

pytestmark = pytest.mark.browser


def site_photo() -> bytes:
    """A phone photo: a gradient with EXIF camera, time and GPS."""
    image = Image.new("RGB", (1200, 800))
    for x in range(0, 1200, 20):
        image.paste((40 + x // 10, 120, 200 - x // 10), (x, 0, x + 20, 800))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (30.0, 15.0, 0.0), 3: "E", 4: (120.0, 8.0, 0.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def public_project(live_server) -> tuple[str, str]:
    with live_server.engine.connect() as conn:
        row = conn.execute(
            sa.select(Project.code, Project.name)
            .where(Project.status.in_(["approved", "in_construction"]))
            .order_by(Project.id)
            .limit(1)
        ).first()
    assert row is not None, "the demo data has no approved project"
    return row.code, row.name


@pytest.fixture()
def phone(browser):
    context = browser.new_context(**PHONE)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def test_public_page_on_a_phone(page, phone, live_server, screenshot, tmp_path):
    code, name = public_project(live_server)
    manage = f"{live_server.url}/projects/{code}/publication"

    # Staff publish a photo (受理窗口).
    sign_in(page, live_server, "fgw_window")
    page.goto(manage)
    photo = tmp_path / "site.jpg"
    photo.write_bytes(site_photo())
    page.locator("#photo").set_input_files(str(photo))
    page.locator("#caption").fill("基础施工现场")
    with page.expect_navigation():
        page.get_by_role("button", name="上传并公开").click()
    expect(page.get_by_text("照片已公开")).to_be_visible()

    # A citizen rates the project from the phone: no sign-in.
    phone.goto(f"{live_server.url}/p/{code}")
    expect(phone.locator("h1")).to_have_text(name)
    with phone.expect_navigation():
        phone.get_by_role("link", name="我要评价").click()
    phone.locator("label[for=rating-4]").click()
    phone.locator("#comment").fill("围挡整洁, 夜间施工请注意降噪。")
    screenshot(phone, "phone-public-feedback")
    no_sideways_scrolling(phone)
    on_screen_and_tappable(phone, phone.get_by_role("button", name="提交评价"))
    with phone.expect_navigation():
        phone.get_by_role("button", name="提交评价").click()
    expect(phone.get_by_text("感谢您的评价")).to_be_visible()
    # Pending: not on the page yet.
    phone.goto(f"{live_server.url}/p/{code}")
    expect(phone.get_by_text("围挡整洁")).to_have_count(0)

    # Staff approve it.
    page.goto(manage)
    screenshot(page, "publication-manage")
    with page.expect_navigation():
        page.locator("[data-feedback]").filter(has_text="围挡整洁").get_by_role(
            "button", name="通过并公开"
        ).click()
    expect(page.get_by_text("评价已通过审核并公开")).to_be_visible()

    # The public page now shows it all. The phone's browser may keep the page for a minute
    # (Cache-Control: max-age=60): a reload asks the server, whose cache knows of the approval.
    phone.goto(f"{live_server.url}/p/{code}")
    phone.reload()
    expect(phone.get_by_text("围挡整洁, 夜间施工请注意降噪。")).to_be_visible()
    expect(phone.get_by_text("平均 4.00 分, 共 1 条评价")).to_be_visible()
    expect(phone.locator(".public-milestone").first).to_be_visible()
    assert phone.locator(".public-milestone").count() >= 2
    image = phone.locator(".public-photo img").first
    image.scroll_into_view_if_needed()
    expect(image).to_be_visible()
    assert phone.evaluate("(img) => img.complete && img.naturalWidth", image.element_handle()) > 0
    expect(phone.locator("progress.public-progress")).to_be_visible()
    phone.evaluate("window.scrollTo(0, 0)")
    screenshot(phone, "phone-public-page")
    no_sideways_scrolling(phone)
    on_screen_and_tappable(phone, phone.get_by_role("link", name="我要评价"))
    html = phone.content()
    assert "fgw_window" not in html and "¥" not in html

    # The printable site board: QR code and the address under it.
    page.goto(f"{manage}/board")
    expect(page.locator("[data-qr] svg")).to_be_visible()
    expect(page.locator("[data-url]")).to_contain_text(f"/p/{code}")
    page.emulate_media(media="print")
    expect(page.locator("nav.navbar")).to_be_hidden()
    screenshot(page, "public-board-print")
    page.emulate_media(media="screen")
