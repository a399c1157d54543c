"""The leadership cockpit (/leader/) and its big screen (/leader/screen) in Chromium, signed in
as the demo province leader, over demo-like data written into the live server's database:
projects under construction in three cities' districts with their monthly investment reports
and annual budgets. Checks the charts draw (ECharts canvases), a click on a region in the
treemap drills down (the breadcrumbs grow), the screen's Beijing clock ticks, and no CSP
violation. Screenshots: var/screenshots/leader-desktop.png, leader-city.png, leader-phone.png,
leader-screen.png, leader-trace.png (looked at)."""

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from backend.contracts.models import BudgetLine
from backend.funds.models import InvestmentReport
from backend.org.models import Region, Unit
from backend.projects.models import Project
from backend.risk.models import RiskWarning
from backend.tickets import models as _tickets  # noqa: F401  (the tables risk_warning refers to)
from backend.workflow import models as _workflow  # noqa: F401
from tests.browser.helpers import sign_in
from tests.browser.test_phone import PHONE, no_sideways_scrolling

pytestmark = pytest.mark.browser

INDUSTRIES = ("交通", "水利", "市政", "教育", "医疗卫生")


@pytest.fixture(scope="module")
def projects(live_server) -> int:
    """Eighteen projects in six districts (杭州, 宁波, 温州), reported monthly this year."""
    year = date.today().year
    last_month = max(date.today().month - 1, 1)
    with live_server.engine.begin() as conn:
        counties = []
        for city in ("330100", "330200", "330300"):
            counties += conn.scalars(
                sa.select(Region.code).where(Region.parent_code == city).order_by(Region.code).limit(2)
            ).all()
        unit_id = conn.execute(
            sa.insert(Unit.__table__).values(name="驾驶舱测试建设单位", kind="owner", region_code="330000")
        ).inserted_primary_key[0]
        n = 0
        for c, county in enumerate(counties):
            for k in range(3):
                n += 1
                total = Decimal(20_000_000 + 7_000_000 * ((c * 3 + k) % 5))
                project_id = conn.execute(
                    sa.insert(Project.__table__).values(
                        code=f"2026-{county}-48-01-9{n:05d}",
                        name=f"{INDUSTRIES[(c + k) % 5]}重点工程{n}号",
                        owner_unit_id=unit_id,
                        region_code=county,
                        industry=INDUSTRIES[(c + k) % 5],
                        nature="new",
                        total_investment=total,
                        funding_sources=[{"source": "财政资金", "amount": str(total)}],
                        planned_start=date(year, 1, 1),
                        planned_end=date(year + 2, 1, 1),
                        status="in_construction",
                    )
                ).inserted_primary_key[0]
                budget = total / 2
                conn.execute(
                    sa.insert(BudgetLine.__table__).values(
                        project_id=project_id, year=year, source="财政资金", amount=budget
                    )
                )
                # Districts progress at different paces, so the ranking and the treemap differ.
                pace = Decimal("0.5") + Decimal(c * 3 + k) / 20
                for month in range(1, last_month + 1):
                    conn.execute(
                        sa.insert(InvestmentReport.__table__).values(
                            project_id=project_id,
                            year=year,
                            month=month,
                            amount=(budget * pace / 12).quantize(Decimal("0.01")),
                            reported_by="browser-test",
                        )
                    )
    return n


def _watch(context) -> list[str]:
    """Console errors (a CSP violation is one) and failed requests; the browser's own request
    for /favicon.ico (the platform has none) aside."""
    errors: list[str] = []
    context.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    context.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    return errors


@pytest.fixture()
def csp_errors(context):
    return _watch(context)


def _loaded(page) -> None:
    expect(page.locator("body[data-leader-loaded]")).to_have_count(1)
    assert page.evaluate("document.body.dataset.leaderError || ''") == ""
    for chart in ("trend", "ranking", "treemap", "industry"):
        expect(page.locator(f'[data-chart="{chart}"] canvas').first).to_be_visible()
    page.wait_for_timeout(1_500)  # the charts' entry animation, before a screenshot


def test_cockpit_draws_and_drills_down(page, live_server, projects, csp_errors, screenshot):
    sign_in(page, live_server, "leader")
    page.locator("[data-leader-link]").first.click()
    expect(page).to_have_url(re.compile(r"/leader/$"))
    _loaded(page)
    expect(page.locator("[data-crumbs] [data-crumb]")).to_have_count(1)
    expect(page.locator('[data-card="investment_year"]')).to_have_text(re.compile(r"^\d+(\.\d+)?%$"))
    # The ranking lists the cities with projects; the cards' values open the records behind them.
    expect(page.locator("[data-children-table] [data-drill]")).to_have_count(11)  # Zhejiang's 11 cities
    screenshot(page, "leader-desktop")

    # A click in the middle of the treemap lands on a city's tile: the page drills into it.
    treemap = page.locator('[data-chart="treemap"] canvas').first
    treemap.scroll_into_view_if_needed()
    with page.expect_navigation():
        treemap.click()
    expect(page).to_have_url(re.compile(r"region=33\d{4}"))
    expect(page.locator("[data-crumbs] [data-crumb]")).to_have_count(2)
    _loaded(page)
    screenshot(page, "leader-city")

    # A card's value opens the trace, whose total row equals the figure's parts.
    with page.expect_navigation():
        page.locator('[data-card="investment_total"]').click()
    expect(page.locator("[data-trace-row]").first).to_be_visible()
    expect(page.locator("[data-sum-numerator]")).not_to_be_empty()
    screenshot(page, "leader-trace")
    assert csp_errors == []


def test_cockpit_on_a_phone(browser, live_server, projects, screenshot):
    context = browser.new_context(**PHONE)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        sign_in(page, live_server, "leader")
        page.goto(f"{live_server.url}/leader/")
        _loaded(page)
        no_sideways_scrolling(page)
        screenshot(page, "leader-phone")
    finally:
        context.close()


def test_big_screen(browser, live_server, projects, screenshot):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1920, "height": 1080})
    context.set_default_timeout(15_000)
    errors = _watch(context)
    try:
        page = context.new_page()
        sign_in(page, live_server, "leader")
        page.goto(f"{live_server.url}/leader/screen")
        _loaded(page)
        clock = page.locator("[data-clock]")
        expect(clock).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"))
        first = clock.inner_text()
        expect(clock).not_to_have_text(first, timeout=3_000)  # it ticks
        expect(page.locator('[data-card="investment_year"]')).to_have_text(re.compile(r"\d"))
        expect(page.locator("[data-screen]")).to_have_attribute("data-bs-theme", "dark")
        screenshot(page, "leader-screen", full_page=False)

        # The refresh fetches the JSON again and rewrites the figures in place (no reload).
        red = page.locator('[data-card="warnings_red"]')
        before = red.inner_text()
        assert (
            page.evaluate("refreshes = 0; window.addEventListener('beforeunload', () => refreshes++); 1") == 1
        )
        with live_server.engine.begin() as conn:
            project_id = conn.scalar(
                sa.select(Project.id).where(Project.code.like("2026-%-48-01-9%")).limit(1)
            )
            conn.execute(
                sa.insert(RiskWarning.__table__).values(
                    project_id=project_id,
                    cause="milestone_overdue",
                    source="rule",
                    grade="red",
                    current_grade="red",
                    status="open",
                    open_key=f"{project_id}:milestone_overdue",
                    title="里程碑逾期 30 天",
                    detail={},
                    history=[],
                    raised_at=datetime.now(UTC),
                    evaluated_at=datetime.now(UTC),
                )
            )
        page.evaluate("window.leaderCockpit.refresh()")
        expect(red).not_to_have_text(before)
        assert page.evaluate("refreshes") == 0
        with page.expect_navigation():
            page.locator("[data-exit-screen]").click()
        expect(page).to_have_url(re.compile(r"/leader/\?period="))
        assert errors == []
    finally:
        context.close()


def test_evaluation_ranking_and_an_item_on_a_phone(browser, live_server, projects, screenshot):
    # The 绩效评价 button leads to the ranking; an item's weighted points add up to its score.
    context = browser.new_context(**PHONE)
    errors = _watch(context)
    page = context.new_page()
    try:
        sign_in(page, live_server, "leader")
        page.goto(f"{live_server.url}/leader/")
        with page.expect_navigation():
            page.locator("[data-evaluation-link]").click()
        rows = page.locator("[data-evaluation-table] [data-evaluation-row]")
        expect(rows.first).to_be_visible()
        assert rows.count() >= projects
        first = rows.first.locator("[data-score]").inner_text()
        assert re.fullmatch(r"\d+\.\d{2}", first), first
        no_sideways_scrolling(page)
        screenshot(page, "leader-evaluation-phone")
        with page.expect_navigation():
            rows.first.locator("a").first.click()
        total = page.locator("[data-item-total]").inner_text()
        assert total == first
        weighted = [
            Decimal(t)
            for t in page.locator("[data-item-table] [data-weighted]").all_inner_texts()
            if t.strip()
        ]
        weights = [
            Decimal(t)
            for t in page.locator("[data-item-table] [data-line] [data-weight]").all_inner_texts()
            if not t.startswith("(")
        ]
        assert weighted and sum(weighted) == Decimal(
            page.locator("[data-weighted-sum]").get_attribute("data-weighted-sum")
        )
        assert (sum(weighted) / sum(weights)).quantize(Decimal("0.01")) == Decimal(total)
        no_sideways_scrolling(page)
        screenshot(page, "leader-evaluation-item-phone")
        assert errors == []
    finally:
        context.close()
