"""The check-in and daily log pages on a phone (390×844) in Chromium, with the browser's
position granted (and, once, refused): the position is shown against the site, a photo is
taken and the check-in recorded; the daily log form fits the screen. Screenshots in
var/screenshots/ (site-checkin*.png, site-log*.png) are looked at."""

import io

import pytest
import sqlalchemy as sa
from PIL import Image
from playwright.sync_api import expect

from backend.contracts.models import Contract
from backend.projects.models import Project
from backend.site.demo import demo_photo
from backend.site.models import ProjectSite
from tests.browser.helpers import sign_in
from tests.browser.test_phone import PHONE, no_sideways_scrolling, on_screen_and_tappable

pytestmark = pytest.mark.browser


def demo_site(live_server) -> tuple[str, float, float]:
    with live_server.engine.connect() as conn:
        code, lat, lon = conn.execute(
            sa.select(Project.code, ProjectSite.latitude, ProjectSite.longitude)
            .join(Contract, Contract.project_id == Project.id)
            .join(ProjectSite, ProjectSite.project_id == Project.id)
            .where(Contract.number == "HT-SG-DEMO-001")
        ).one()
    return code, float(lat), float(lon)


@pytest.fixture()
def phone_at_site(browser, live_server):
    code, lat, lon = demo_site(live_server)
    context = browser.new_context(
        **PHONE, geolocation={"latitude": lat + 0.0004, "longitude": lon, "accuracy": 15}
    )
    context.grant_permissions(["geolocation"], origin=live_server.url)
    context.set_default_timeout(15_000)
    yield context.new_page(), code, (lat, lon)
    context.close()


def photo_file(lat: float, lon: float) -> dict:
    from datetime import UTC, datetime
    from decimal import Decimal

    data = demo_photo(
        colour="#7a8b6f", latitude=Decimal(str(lat)), longitude=Decimal(str(lon)), taken_at=datetime.now(UTC)
    )
    return {"name": "IMG_2001.jpg", "mimeType": "image/jpeg", "buffer": data}


def test_check_in_on_a_phone(phone_at_site, live_server, screenshot):
    page, code, (lat, lon) = phone_at_site
    sign_in(page, live_server, "contractor")
    page.goto(f"{live_server.url}/projects/{code}/site/checkin")
    status = page.locator("[data-geo-status]")
    expect(status).to_contain_text("已定位")
    expect(status).to_contain_text("距现场约 44 米")  # 0.0004° north ≈ 44.5 m
    page.locator("[data-photo-input]").set_input_files(photo_file(lat + 0.0004, lon))
    expect(page.locator("[data-photo-preview] img")).to_have_count(1)
    submit = page.get_by_role("button", name="打卡", exact=True)
    on_screen_and_tappable(page, submit)
    no_sideways_scrolling(page)
    screenshot(page, "site-checkin-phone")
    with page.expect_navigation():
        submit.click()
    expect(page.locator(".alert-success[role=alert]")).to_contain_text("已打卡")
    no_sideways_scrolling(page)
    screenshot(page, "site-checkin-phone-done")


def test_refused_location_is_said_and_check_in_still_possible(browser, live_server, screenshot):
    code, _lat, _lon = demo_site(live_server)
    context = browser.new_context(**PHONE)  # no geolocation permission
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        sign_in(page, live_server, "supervisor")
        page.goto(f"{live_server.url}/projects/{code}/site/checkin")
        expect(page.locator("[data-geo-status]")).to_contain_text("无定位")
        expect(page.get_by_role("button", name="打卡", exact=True)).to_be_enabled()
        screenshot(page, "site-checkin-phone-denied")
        buffer = io.BytesIO()
        Image.new("RGB", (32, 32), "gray").save(buffer, "JPEG")
        page.locator("[data-photo-input]").set_input_files(
            {"name": "x.jpg", "mimeType": "image/jpeg", "buffer": buffer.getvalue()}
        )
        with page.expect_navigation():
            page.get_by_role("button", name="打卡", exact=True).click()
        expect(page.locator(".alert-warning[role=alert]")).to_contain_text("无定位")
    finally:
        context.close()


def test_daily_log_on_a_phone(phone_at_site, live_server, screenshot):
    page, code, _ = phone_at_site
    sign_in(page, live_server, "contractor")
    page.goto(f"{live_server.url}/projects/{code}/site/log")
    # The demo wrote today's log as the contractor: the form is filled and editable.
    expect(page.locator("textarea[name=work_done]")).to_have_value(
        "B 区底板混凝土浇筑 (380 立方米), A 区侧墙钢筋绑扎。"
    )
    expect(page.locator("[data-headcount-total]")).to_have_text("合计 46 人")
    page.locator("[data-rows=workforce] [data-add-row]").click()
    row = page.locator("[data-rows=workforce] [data-row]").last
    row.locator("select").select_option("welder")
    row.locator("input").fill("4")
    expect(page.locator("[data-headcount-total]")).to_have_text("合计 50 人")
    no_sideways_scrolling(page)
    screenshot(page, "site-log-phone")
    save = page.get_by_role("button", name="保存施工日志")
    on_screen_and_tappable(page, save)
    with page.expect_navigation():
        save.click()
    expect(page.locator(".alert-success")).to_contain_text("施工日志已保存")
    expect(page.locator("[data-headcount-total]")).to_have_text("合计 50 人")
    # Yesterday's log is read-only, with its flags.
    page.locator("#date").fill("")
    page.goto(
        page.url.split("?")[0]
        + "?date="
        + page.evaluate(
            "new Date(Date.now() - 86400000).toLocaleDateString('sv-SE', {timeZone: 'Asia/Shanghai'})"
        )
    )
    expect(page.get_by_text("需协调").first).to_be_visible()
    no_sideways_scrolling(page)
    screenshot(page, "site-log-phone-yesterday")


def test_spot_check_feed_on_a_phone(browser, live_server, screenshot):
    code, _lat, _lon = demo_site(live_server)
    context = browser.new_context(**PHONE)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        sign_in(page, live_server, "inspector")
        page.goto(f"{live_server.url}/projects/{code}/site")
        expect(page.locator('[data-feed-item="checkin"]').first).to_be_visible()
        with page.expect_navigation():
            page.locator("[data-only-flagged]").click()
        expect(page.locator("[data-feed-item]").first).to_contain_text("无定位")
        no_sideways_scrolling(page)
        screenshot(page, "site-feed-phone")
        page.get_by_label("响应时限").select_option("30")
        with page.expect_navigation():
            page.get_by_role("button", name="发出要求").click()
        expect(page.locator('[data-request-state="open"]')).to_have_count(1)
        no_sideways_scrolling(page)
    finally:
        context.close()
