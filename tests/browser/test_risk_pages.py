"""The risk pages on a phone (390×844): the project's 风险预警 tab with its live warnings, trend
and history, and the /risk list with the grade counts and filters. Warnings are rows written
into the live server's database for a demo project the daily evaluation does not watch (an
application still in review), so the evaluation cannot change them under the test.
Screenshots: var/screenshots/risk-project-phone.png, risk-list-phone.png (looked at)."""

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from backend.projects.models import Project
from backend.risk.models import RiskScore, RiskWarning
from backend.tickets import models as _tickets  # noqa: F401  (the tables risk_warning refers to)
from backend.workflow import models as _workflow  # noqa: F401
from tests.browser.helpers import sign_in
from tests.browser.test_phone import PHONE, no_sideways_scrolling, on_screen_and_tappable

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def warned_project(live_server) -> str:
    now = datetime.now(UTC).replace(microsecond=0)
    with Session(live_server.engine) as session:
        # Columns only: loading a Project decrypts its SM4 fields, which needs the app.
        project = session.execute(
            sa.select(Project.id, Project.code)
            .where(Project.status.notin_(("draft", "approved", "in_construction", "completed")))
            .order_by(Project.id)
        ).first()
        assert project is not None, "the demo has an application in review"
        rows = [
            ("milestone_overdue", "red", "open", '里程碑"主体结构封顶"逾期 41 天', 10),
            ("progress_lag", "orange", "dispatched", "实际进度落后计划 13.5 个百分点", 6),
            ("no_checkin", "yellow", "open", "连续 9 天无现场打卡", 2),
            ("payment_overdue", "orange", "closed", "付款节点“进度款第二期”逾期 18 天", 60),
        ]
        for cause, grade, status, title, days in rows:
            closed = status == "closed"
            session.add(
                RiskWarning(
                    project_id=project.id,
                    cause=cause,
                    source="rule",
                    grade=grade,
                    current_grade=None if closed else grade,
                    status=status,
                    open_key=None if closed else f"{project.id}:{cause}",
                    title=title,
                    detail={},
                    history=[],
                    raised_at=now - timedelta(days=days),
                    evaluated_at=now,
                    closed_at=now - timedelta(days=days - 20) if closed else None,
                )
            )
        monday = date.today() - timedelta(days=date.today().weekday())
        probabilities = [0.12, 0.14, 0.18, 0.22, 0.25, 0.31, 0.38, 0.45, 0.52, 0.61, 0.68, 0.74]
        for i, p in enumerate(probabilities):
            session.add(
                RiskScore(
                    project_id=project.id,
                    week_start=monday - timedelta(weeks=len(probabilities) - 1 - i),
                    probability=p,
                    grade="red" if p >= 0.7 else "orange" if p >= 0.4 else "yellow" if p >= 0.2 else None,
                    model_version=1,
                    factors=[
                        {"feature": "gap_now", "text": "当前进度落后计划13.5个百分点", "contribution": 0.18},
                        {"feature": "shortage_days_4w", "text": "近4周缺料9天", "contribution": 0.07},
                    ],
                )
            )
        session.commit()
        return project.code


@pytest.fixture()
def phone(browser):
    context = browser.new_context(**PHONE)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def test_project_risk_tab_on_a_phone(phone, live_server, warned_project, screenshot):
    page = phone
    sign_in(page, live_server, "fgw_reviewer")
    page.goto(f"{live_server.url}/projects/{warned_project}")
    tab = page.locator('[data-tab="risk.project_risk"]')
    expect(tab).to_have_text("风险预警")
    page.goto(f"{live_server.url}/projects/{warned_project}/risk")
    live = page.locator("#live-warnings tbody tr")
    expect(live).to_have_count(3)
    expect(live.first.locator("[data-grade]")).to_have_text("红色")  # red first, in words
    expect(page.locator("[data-latest-probability]")).to_have_text("74%")
    expect(page.locator("svg.risk-spark polyline")).to_have_count(1)
    expect(page.locator("#risk-factors li").first).to_contain_text("当前进度落后计划13.5个百分点")
    expect(page.locator("#closed-warnings tbody tr")).to_have_count(1)
    no_sideways_scrolling(page)
    screenshot(page, "risk-project-phone")


def test_risk_list_on_a_phone(phone, live_server, warned_project, screenshot):
    page = phone
    sign_in(page, live_server, "fgw_reviewer")
    page.goto(f"{live_server.url}/risk")
    expect(page.locator(f'#warnings [data-project-code="{warned_project}"]')).to_have_count(3)
    red = page.locator('[data-grade-count="red"]')
    on_screen_and_tappable(page, red)
    no_sideways_scrolling(page)
    screenshot(page, "risk-list-phone")
    with page.expect_navigation():
        red.click()
    expect(page.locator("#warnings [data-grade]").first).to_have_text("红色")
    expect(page.locator('#warnings [data-grade="orange"]')).to_have_count(0)
    page.locator("#filter-grade").select_option("")
    page.locator("#filter-cause").select_option("progress_lag")
    with page.expect_navigation():
        page.get_by_role("button", name="筛选").click()
    # (The demo's own warnings, if any, are on other projects.)
    mine = page.locator(f'#warnings [data-project-code="{warned_project}"]')
    expect(mine).to_have_count(1)
    expect(mine).to_contain_text("落后计划 13.5")
    no_sideways_scrolling(page)
    screenshot(page, "risk-list-phone-filtered")


def test_thresholds_form_on_a_phone(phone, live_server, screenshot):
    page = phone
    sign_in(page, live_server, "fgw_head")
    page.goto(f"{live_server.url}/risk/settings")
    field = page.locator("#no_checkin_days")
    expect(field).to_have_value("7")
    field.fill("七天")
    page.locator("#model_orange").fill("0.9")  # above red (0.7)
    save = page.get_by_role("button", name="保存阈值")
    on_screen_and_tappable(page, save)
    with page.expect_navigation():
        save.click()
    expect(page.locator('[data-error="no_checkin_days"]')).to_have_text("请填写数字")
    expect(page.locator('[data-error="model_orange"]')).to_have_text("须满足 黄色 ≤ 橙色 ≤ 红色")
    expect(field).to_have_value("七天")  # nothing typed is lost
    no_sideways_scrolling(page)
    screenshot(page, "risk-settings-phone-errors", full_page=False)
    page.goto(f"{live_server.url}/risk/model")
    expect(page.get_by_role("heading", name="风险预测模型")).to_be_visible()
    no_sideways_scrolling(page)
    screenshot(page, "risk-model-phone")


def test_cockpit_panel(page, live_server, warned_project, screenshot):
    sign_in(page, live_server, "operator")
    page.goto(f"{live_server.url}/cockpit/instances")
    panel = page.locator("#risk-panel")
    expect(panel.locator('[data-panel-count="red"]')).to_contain_text("红色")
    expect(panel.locator(f'[data-panel-reds] a[href="/projects/{warned_project}/risk"]')).to_have_count(1)
    screenshot(page, "risk-cockpit-panel", full_page=False)
