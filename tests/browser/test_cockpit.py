"""The cockpit in a real browser: the operator opens a demo application's instance and the
bpmn-js viewer draws the diagram with the open step marked active; a reviewer is refused."""

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from backend.workflow.models import HumanTask, ProcessInstance
from tests.browser.conftest import SCREENSHOTS
from tests.browser.helpers import sign_in, sign_out

pytestmark = pytest.mark.browser


def test_operator_sees_the_instance_diagram(page, live_server):
    with live_server.engine.connect() as conn:
        instance_id, element_id = conn.execute(
            sa.select(ProcessInstance.id, HumanTask.element_id)
            .join(HumanTask, HumanTask.instance_id == ProcessInstance.id)
            .where(ProcessInstance.process_key == "project_approval", HumanTask.state == "open")
            .order_by(ProcessInstance.id)
            .limit(1)
        ).one()

    sign_in(page, live_server, "operator")
    page.goto(f"{live_server.url}/cockpit/instances?process_key=project_approval")
    expect(page.locator(f'tr[data-instance-id="{instance_id}"]')).to_be_visible()
    page.locator(f'tr[data-instance-id="{instance_id}"] a').first.click()
    page.wait_for_url(f"**/cockpit/instances/{instance_id}")
    marked = page.locator(f'#cockpit-canvas g.djs-element.cockpit-active[data-element-id="{element_id}"]')
    expect(marked).to_have_count(1)
    expect(page.locator("#cockpit-canvas g.djs-element.cockpit-completed").first).to_be_attached()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "cockpit-instance.png"), full_page=True)
    sign_out(page)

    sign_in(page, live_server, "fgw_reviewer")
    response = page.goto(f"{live_server.url}/cockpit/instances/{instance_id}")
    assert response.status == 403
