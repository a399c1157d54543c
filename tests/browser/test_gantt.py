"""The schedule page's Gantt chart in Chromium: bars drawn from gantt.json, dependency arrows,
the today line, critical and milestone marks; a leaf dragged with the mouse is saved and
still there after a reload; a refused change puts the bar back with the Chinese reason; a
broken finish-to-start link is listed. No CSP violation and no script error on the way.
Desktop and phone (390×844) screenshots go to var/screenshots/."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from backend.org.models import User
from backend.projects.models import Project
from backend.schedule.models import WbsItem
from tests.browser.helpers import sign_in
from tests.browser.test_csp import WATCH
from tests.browser.test_phone import PHONE, no_sideways_scrolling

pytestmark = pytest.mark.browser

GROUP = "90"  # a top-level code of our own beside whatever the demo breakdown holds


def _project_code(server) -> str:
    """The first approved project of the applicant's unit (the demo has one)."""
    with server.engine.connect() as conn:
        unit_id = conn.scalar(sa.select(User.unit_id).where(User.username == "applicant"))
        return conn.scalar(
            sa.select(Project.code)
            .where(Project.owner_unit_id == unit_id, Project.status.in_(("approved", "in_construction")))
            .order_by(Project.id)
            .limit(1)
        )


def _item(server, project_code: str, code: str):
    with server.engine.connect() as conn:
        return conn.execute(
            sa.select(WbsItem.id, WbsItem.planned_start, WbsItem.planned_end)
            .join(Project, Project.id == WbsItem.project_id)
            .where(Project.code == project_code, WbsItem.code == code)
        ).one_or_none()


def _add(page, base: str, code: str, name: str, start: date, end: date, milestone: bool = False) -> None:
    """Through the add-item form, as a planner would on a phone or desktop."""
    page.goto(f"{base}/items/new")
    page.get_by_label("编码").fill(code)
    page.get_by_label("名称").fill(name)
    page.get_by_label("计划开始").fill(start.isoformat())
    page.get_by_label("计划完成").fill(end.isoformat())
    if milestone:
        page.get_by_label("里程碑").check()
    with page.expect_navigation():
        page.get_by_role("button", name="保存").click()
    expect(page.get_by_text(f"已添加任务 {code}")).to_be_visible()


@pytest.fixture()
def watched(page):
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
    page.add_init_script(WATCH)
    return page, messages


def test_gantt_draws_drags_and_keeps_the_change(watched, live_server, screenshot, browser):
    page, messages = watched
    code = _project_code(live_server)
    assert code, "the demo has an approved project"
    base = f"{live_server.url}/projects/{code}/schedule"
    sign_in(page, live_server, "applicant")
    today = date.today()
    leaf, milestone = f"{GROUP}.1", f"{GROUP}.2"
    if _item(live_server, code, GROUP) is None:
        _add(page, base, GROUP, "浏览器测试分部", today - timedelta(days=20), today + timedelta(days=40))
        _add(page, base, leaf, "测试工序", today - timedelta(days=20), today - timedelta(days=6))
        _add(page, base, milestone, "测试节点", today + timedelta(days=3), today + timedelta(days=3), True)
        # milestone after leaf, through the item page's dependency form
        page.goto(f"{base}/items/{_item(live_server, code, milestone).id}/edit")
        page.get_by_label("前置任务", exact=True).select_option(label=f"{leaf} 测试工序")
        with page.expect_navigation():
            page.get_by_role("button", name="添加前置任务").click()
        expect(page.get_by_text(f"已添加前置任务 {leaf}")).to_be_visible()

    page.goto(base, wait_until="networkidle")
    bars = page.locator("#gantt svg .bar-wrapper")
    expect(bars.first).to_be_attached()
    assert bars.count() >= 3
    expect(page.locator("#gantt .current-highlight")).to_be_attached()  # the today line
    assert page.locator("#gantt .bar-wrapper.wbs-critical").count() >= 1
    assert page.locator("#gantt .bar-wrapper.wbs-parent").count() >= 1
    expect(
        page.locator(f'#gantt .bar-wrapper[data-code="{milestone}"].wbs-milestone .wbs-diamond')
    ).to_be_attached()
    # 90.1 ended before today with no progress: overdue.
    expect(page.locator(f'#gantt .bar-wrapper[data-code="{leaf}"].wbs-overdue')).to_be_attached()
    arrow = page.locator(
        f'#gantt .arrow path[data-from="{_item(live_server, code, leaf).id}"]'
        f'[data-to="{_item(live_server, code, milestone).id}"]'
    )
    expect(arrow).to_be_attached()  # the dependency drawn
    # A click shows the item's popup in Chinese, with the way to its form.
    page.locator(f'#gantt .bar-wrapper[data-code="{milestone}"] .bar').click()
    popup = page.locator("#gantt .popup-wrapper")
    expect(popup).to_contain_text(f"{milestone} 测试节点")
    expect(popup).to_contain_text("里程碑")
    expect(popup.get_by_role("button", name="编辑")).to_be_visible()
    # A name is text, never markup, in the bar label.
    assert "<" not in page.locator(f'#gantt .bar-wrapper[data-code="{leaf}"] .bar-label').inner_html()

    # Drag the leaf 3 days to the right in the week view (140 px a week, snapped to days).
    before = _item(live_server, code, leaf)
    bar = page.locator(f'#gantt .bar-wrapper[data-code="{leaf}"] .bar')
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 30, y, steps=3)
    page.mouse.move(x + 60, y, steps=3)
    page.mouse.up()
    expect(page.locator("#gantt-status")).to_contain_text(f"已调整 {leaf} 的计划日期")
    after = _item(live_server, code, leaf)
    shift = (after.planned_start - before.planned_start).days
    assert shift == 3, (before, after)
    assert (after.planned_end - after.planned_start) == (before.planned_end - before.planned_start)

    page.reload(wait_until="networkidle")
    moved = page.locator(f'#gantt .bar-wrapper[data-code="{leaf}"]')
    expect(moved).to_have_attribute("data-start", after.planned_start.isoformat())
    expect(page.locator(f'tr[data-code="{leaf}"]')).to_contain_text(after.planned_end.isoformat())
    page.wait_for_timeout(800)  # the bars' grow animation and the smooth scroll to today
    page.evaluate("document.getElementById('gantt-section').scrollIntoView()")
    screenshot(page, "gantt-desktop", full_page=False)
    screenshot(page, "gantt-desktop-full")

    # Refused through the page's own path (past the group's end): the reason, and the bar stays.
    item_id = after.id
    group_end = _item(live_server, code, GROUP).planned_end
    page.evaluate(
        "([id, start, end]) => window.wbsGantt.move(id, start, end)",
        [item_id, after.planned_start.isoformat(), (group_end + timedelta(days=5)).isoformat()],
    )
    expect(page.locator("#gantt-status")).to_contain_text("子项的计划日期须在上级")
    expect(page.locator(f'#gantt .bar-wrapper[data-code="{leaf}"]')).to_have_attribute(
        "data-end", after.planned_end.isoformat()
    )
    assert _item(live_server, code, leaf) == after

    # Into the milestone's day: saved, and the broken link is listed and marked.
    ms = _item(live_server, code, milestone)
    page.evaluate(
        "([id, start, end]) => window.wbsGantt.move(id, start, end)",
        [item_id, after.planned_start.isoformat(), ms.planned_start.isoformat()],
    )
    conflicts = page.locator("#gantt-conflicts")
    expect(conflicts).to_be_visible()
    expect(conflicts.locator(f'li[data-successor="{milestone}"]')).to_be_visible()
    expect(page.locator(f'#gantt .bar-wrapper[data-code="{milestone}"].wbs-conflict')).to_be_attached()
    assert _item(live_server, code, milestone) == ms  # the successor was not moved along
    # Put it back so that a rerun starts from a plan without conflicts.
    page.evaluate(
        "([id, start, end]) => window.wbsGantt.move(id, start, end)",
        [item_id, after.planned_start.isoformat(), after.planned_end.isoformat()],
    )
    expect(conflicts).to_be_hidden()

    # The views switch.
    page.get_by_role("button", name="月", exact=True).click()
    expect(page.locator("#gantt .bar-wrapper").first).to_be_attached()
    page.get_by_role("button", name="日", exact=True).click()
    expect(page.locator("#gantt .bar-wrapper").first).to_be_attached()
    assert not page.evaluate("window.__csp || []") and not messages, messages

    # A phone: the chart scrolls inside its box, the page does not scroll sideways.
    phone_context = browser.new_context(**PHONE)
    try:
        phone = phone_context.new_page()
        sign_in(phone, live_server, "applicant")
        phone.goto(base, wait_until="networkidle")
        expect(phone.locator("#gantt svg .bar-wrapper").first).to_be_attached()
        no_sideways_scrolling(phone)
        container = phone.locator("#gantt .gantt-container")
        assert container.evaluate("e => e.scrollWidth > e.clientWidth")
        phone.wait_for_timeout(800)
        screenshot(phone, "gantt-phone", full_page=False)
        phone.evaluate("document.getElementById('gantt-section').scrollIntoView()")
        screenshot(phone, "gantt-phone-chart", full_page=False)
        screenshot(phone, "gantt-phone-full")
        phone.goto(f"{base}/items/{item_id}/edit")
        no_sideways_scrolling(phone)
        screenshot(phone, "gantt-phone-item")
        phone.goto(f"{base}/baselines")
        expect(phone.locator("#baseline-history tbody tr").first).to_be_visible()
        expect(phone.get_by_role("button", name="重新设立基线")).to_be_visible()
        no_sideways_scrolling(phone)
        screenshot(phone, "gantt-phone-baselines")
    finally:
        phone_context.close()
