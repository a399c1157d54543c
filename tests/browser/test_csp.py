"""The Content-Security-Policy (backend/security/headers.py: no inline script) breaks no page:
each main page is opened in Chromium as the person who uses it, and any console message
about the Content Security Policy (a blocked inline script, handler, eval or foreign source)
fails the test. The pages must also still work (their scripts ran)."""

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from backend.workflow.models import HumanTask, ProcessInstance
from tests.browser.helpers import sign_in, sign_out

pytestmark = pytest.mark.browser

# The event reaches the page before Chromium's console message: both are collected.
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


@pytest.fixture()
def watched(page):
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
    page.add_init_script(WATCH)
    return page, messages


def _visit(page, messages, url: str, ready: str | None = None) -> None:
    response = page.goto(url, wait_until="networkidle")
    assert response is not None and response.status == 200, url
    if ready:
        expect(page.locator(ready).first).to_be_attached()
    page.wait_for_timeout(200)
    violations = page.evaluate("window.__csp || []")
    assert not violations and not messages, f"{url}: {violations} {messages}"


def test_the_watch_sees_a_violation(watched, live_server):
    """Control: an inline handler is blocked and reported, so silence below means no violation."""
    page, messages = watched
    page.goto(f"{live_server.url}/login")
    page.evaluate(
        """document.body.insertAdjacentHTML("beforeend", '<img src="/nope" onerror="window.x=1">')"""
    )
    page.wait_for_timeout(300)
    assert len(page.evaluate("window.__csp")) >= 1
    assert page.evaluate("window.x") is None  # the handler did not run


def test_main_pages_raise_no_csp_violation(watched, live_server):
    page, messages = watched
    url = live_server.url
    _visit(page, messages, f"{url}/login")

    sign_in(page, live_server, "applicant")
    _visit(page, messages, f"{url}/", "main")
    _visit(page, messages, f"{url}/applications", "main")
    _visit(page, messages, f"{url}/applications/new", "form")
    _visit(page, messages, f"{url}/notifications", "main")
    sign_out(page)

    sign_in(page, live_server, "fgw_reviewer")
    with live_server.engine.connect() as conn:
        task_id = conn.scalar(
            sa.select(HumanTask.id)
            .where(HumanTask.state == "open", HumanTask.candidate_group == "fgw.reviewer")
            .order_by(HumanTask.id)
            .limit(1)
        )
    if task_id is not None:
        _visit(page, messages, f"{url}/tasks/{task_id}", "main")
    sign_out(page)

    sign_in(page, live_server, "designer")
    _visit(page, messages, f"{url}/designer", "#processes tbody tr[data-key], #processes tbody tr")
    # The modeler: bpmn-js draws the diagram (its scripts ran under the policy).
    _visit(page, messages, f"{url}/designer/processes/project_approval", "#canvas .djs-element")
    _visit(page, messages, f"{url}/designer/new", "#canvas .djs-element")
    _visit(page, messages, f"{url}/designer/forms", "main")
    sign_out(page)

    sign_in(page, live_server, "operator")
    with live_server.engine.connect() as conn:
        instance_id = conn.scalar(sa.select(ProcessInstance.id).order_by(ProcessInstance.id).limit(1))
    _visit(page, messages, f"{url}/cockpit/instances", "main")
    if instance_id is not None:
        _visit(page, messages, f"{url}/cockpit/instances/{instance_id}", "#cockpit-canvas .djs-element")
    sign_out(page)


def test_the_heads_sign_queue_raises_no_csp_violation(watched, live_server):
    page, messages = watched
    sign_in(page, live_server, "fgw_head")
    _visit(page, messages, f"{live_server.url}/sign", "main")
    select_all = page.locator("[data-select-all]")
    if select_all.count():  # the moved 全选 script ran: it un-hides the box
        expect(select_all).to_be_visible()
