"""Performance reports (/leader/reports) in Chromium: the province leader opens them from the
cockpit, requests the province's report, the embedded worker generates it, and the PDF and the
XLSX download under their Chinese names; no CSP violation. Screenshot:
var/screenshots/leader-reports.png (looked at)."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import sign_in
from tests.browser.test_leader_cockpit import _watch

pytestmark = pytest.mark.browser


def test_request_wait_and_download_a_report(context, live_server, screenshot):
    errors = _watch(context)
    page = context.new_page()
    sign_in(page, live_server, "leader")
    page.goto(f"{live_server.url}/leader/")
    with page.expect_navigation():
        page.locator("[data-reports-link]").click()
    expect(page).to_have_url(re.compile(r"/leader/reports$"))
    expect(page.locator("[data-report-region] option:checked")).to_have_text("浙江省")
    with page.expect_navigation():
        page.locator("[data-report-submit]").click()
    expect(page.locator("[data-report]")).to_have_count(1)

    # The embedded worker generates it in the background: reload until it is done.
    for _ in range(60):
        if page.locator('[data-report][data-status="done"]').count():
            break
        assert not page.locator('[data-report][data-status="failed"]').count(), page.inner_text(
            "[data-reports-table]"
        )
        page.wait_for_timeout(1_000)
        page.reload()
    expect(page.locator('[data-report][data-status="done"]')).to_have_count(1)
    screenshot(page, "leader-reports")

    for kind, suffix, magic in (("pdf", ".pdf", b"%PDF-"), ("xlsx", ".xlsx", b"PK")):
        with page.expect_download() as info:
            page.locator(f'[data-download="{kind}"]').click()
        download = info.value
        assert download.suggested_filename.endswith(f"重点项目绩效报告{suffix}"), download.suggested_filename
        assert "浙江省" in download.suggested_filename
        with open(download.path(), "rb") as f:
            assert f.read(5).startswith(magic)
    assert errors == []
