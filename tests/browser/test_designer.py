"""The process designer in a real browser: a designer opens 项目审批 in the bpmn-js modeler,
selects 受理审查 on the canvas, changes its 办理时限 in our properties panel and deploys. The
application submitted afterwards runs on the new version (its intake task is due after the new
number of working days) while the demo application already in intake keeps version 1."""

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from backend.config import ROOT
from backend.workdays.service import load_calendar
from backend.workflow.models import HumanTask, ProcessDefinition, ProcessInstance
from tests.browser.helpers import minimal_pdf, sign_in, sign_out

pytestmark = pytest.mark.browser

CODE = "2025-330106-48-01-00777D"
NAME = "杭州市西湖区文新街道排水管网改造工程"
NEW_LIMIT = 7
# What the platform reads from a diagram, counted before and after the modeler saves it.
TAGS = (
    "<spiffworkflow:property ",
    "<spiffworkflow:serviceTaskOperator ",
    "<spiffworkflow:parameter ",
    "<spiffworkflow:preScript>",
    "<spiffworkflow:messageVariable>",
    "<bpmn:loopDataInputRef>",
    "<bpmn:loopDataOutputRef>",
    "<bpmn:completionCondition",
    "<bpmn:conditionExpression",
)


def intake_tasks(server) -> list[dict]:
    """Open 受理审查 tasks with their instance's definition version."""
    with server.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                HumanTask.id,
                HumanTask.business_key,
                HumanTask.created_at,
                HumanTask.due_at,
                ProcessDefinition.version,
            )
            .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
            .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
            .where(HumanTask.element_id == "intake", HumanTask.state == "open")
        )
        return [dict(r._mapping) for r in rows]


def submit_application(page, server, tmp_path) -> None:
    """The demo owner's applicant submits a complete application (as in the approval journey)."""
    sign_in(page, server, "applicant")
    page.goto(f"{server.url}/applications/new")
    form = page.locator("form.task-form")
    form.get_by_label("项目名称").fill(NAME)
    form.get_by_label("项目代码").fill(CODE)
    form.get_by_label("建设地点").fill("330106")
    form.get_by_label("所属行业").fill("城市基础设施")
    form.get_by_label("新建", exact=True).check()
    form.get_by_label("总投资 (元)").fill("12000000.00")
    first = form.get_by_role("group", name="资金来源 1")
    first.get_by_label("来源").fill("地方政府专项债券")
    first.get_by_label("金额 (元)").fill("12000000.00")
    form.get_by_label("计划开工日期").fill("2027-04-01")
    form.get_by_label("计划竣工日期").fill("2028-10-31")
    form.get_by_label("建设规模及内容").fill("改造雨污排水管网 5.6 公里。")
    form.get_by_label("联系人").fill("李娜")
    form.get_by_label("联系电话").fill("0571-88001234")
    for i, row in enumerate(("材料 1", "材料 2", "材料 3"), start=1):
        pdf = tmp_path / f"document-{i}.pdf"
        pdf.write_bytes(minimal_pdf(f"{CODE} document {i}"))
        form.get_by_role("group", name=row).get_by_label("选择文件").set_input_files(pdf)
    with page.expect_navigation():
        form.get_by_role("button", name="提交申报").click()
    assert page.url.endswith(f"/applications/{CODE}"), page.locator("main").inner_text()
    sign_out(page)


def test_a_designer_changes_a_time_limit_and_new_instances_use_it(page, live_server, tmp_path, screenshot):
    server = live_server
    before = intake_tasks(server)
    assert before, "the demo data has an application waiting for intake"
    assert {t["version"] for t in before} == {1}

    sign_in(page, server, "designer")
    page.goto(f"{server.url}/designer")
    expect(page.locator('#processes tr[data-key="project_approval"]')).to_be_visible()
    screenshot(page, "designer-processes")
    page.locator('#processes tr[data-key="project_approval"]').get_by_role("link", name="打开").click()
    expect(page.locator("body[data-designer-ready]")).to_be_attached()
    expect(page.locator("#status")).to_be_hidden()  # no draft, no error: the latest version

    # Select 受理审查 on the canvas: the panel shows the platform's user task properties.
    page.locator('.djs-element[data-element-id="intake"]').click()
    panel = page.locator("#properties")
    expect(panel.get_by_label("名称", exact=True)).to_have_value("受理审查")
    expect(panel.get_by_label("表单")).to_have_value("approval_intake.json")
    expect(panel.get_by_label("候选组", exact=True)).to_have_value("fgw.window")
    limit = panel.get_by_label("办理时限 (工作日)")
    expect(limit).to_have_value("2")
    screenshot(page, "designer-modeler", full_page=False)

    limit.fill(str(NEW_LIMIT))
    limit.press("Tab")  # the change event writes it through modeling (undoable)
    page.get_by_role("button", name="校验").click()
    expect(page.locator("#status")).to_contain_text("校验通过")
    page.get_by_role("button", name="发布").click()
    expect(page.locator("#status")).to_contain_text("已发布新版本: 版本 2")
    screenshot(page, "designer-deployed", full_page=False)

    # The versions tab lists both.
    page.get_by_role("button", name="版本", exact=True).click()
    expect(page.locator('#versions [data-version="2"]')).to_be_visible()
    expect(page.locator('#versions [data-version="1"]')).to_be_visible()
    page.locator('#versions [data-version="2"]').get_by_role("button", name="与上一版比较").click()
    expect(page.locator("#diff")).to_contain_text("版本 1 → 2")
    expect(page.locator("#diff li")).to_have_count(1)
    expect(page.locator("#diff li")).to_contain_text("intake")
    expect(page.locator("#diff li")).to_contain_text("时限")
    sign_out(page)

    submit_application(page, server, tmp_path)

    after = {t["id"]: t for t in intake_tasks(server)}
    new = [t for t in after.values() if t["business_key"] == CODE]
    assert len(new) == 1 and new[0]["version"] == 2
    with Session(server.engine) as session:
        calendar = load_calendar(session=session)
    assert new[0]["due_at"] == calendar.add_working_days(new[0]["created_at"], NEW_LIMIT)
    for old in before:  # still running on version 1, with its 2 working days
        assert after[old["id"]]["version"] == 1
        assert after[old["id"]]["due_at"] == calendar.add_working_days(old["created_at"], 2)

    # The modeler wrote back every platform extension of the file, not only the one changed.
    with server.engine.connect() as conn:
        v1, v2 = conn.execute(
            sa.select(ProcessDefinition.source_xml)
            .where(ProcessDefinition.key == "project_approval")
            .order_by(ProcessDefinition.version)
        ).scalars()
    for tag in TAGS:
        assert v2.count(tag) == v1.count(tag), tag
    assert 'name="timeLimitWorkingDays" value="7"' in v2

    # 回滚 to version 1 deploys its XML again as version 3.
    sign_in(page, server, "designer")
    page.goto(f"{server.url}/designer/processes/project_approval#versions")
    expect(page.locator('#versions [data-version="2"]')).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator('#versions [data-version="1"]').get_by_role("button", name="回滚到此版本").click()
    expect(page.locator("#status")).to_contain_text("已回滚, 新版本: 版本 3")
    expect(page.locator('#versions [data-version="3"]')).to_be_visible()
    page.locator('.djs-element[data-element-id="intake"]').click()
    expect(page.locator("#properties").get_by_label("办理时限 (工作日)")).to_have_value("2")
    sign_out(page)


def test_problems_are_pinned_to_their_elements(page, live_server, screenshot):
    sign_in(page, live_server, "designer")
    page.goto(f"{live_server.url}/designer/processes/rectification")
    expect(page.locator("body[data-designer-ready]")).to_be_attached()
    page.locator('.djs-element[data-element-id="verify"]').click()
    expression = page.locator("#properties").get_by_label("候选组表达式")
    expression.fill('"unit." +')
    expression.press("Tab")
    page.get_by_role("button", name="校验").click()
    expect(page.locator("#status")).to_contain_text("发现问题")
    problem = page.locator('#problems [data-element-id="verify"]')
    expect(problem.first).to_contain_text("candidateGroupExpression")
    expect(page.locator('.djs-element.has-problem[data-element-id="verify"]')).to_be_attached()
    expect(page.locator("#tab-problems")).to_have_class(re.compile("active"))
    expect(page.locator("#pane-problems")).to_have_class(re.compile(r"\bshow\b"))
    screenshot(page, "designer-problems", full_page=False)
    # Going to the element from the list selects it and shows its properties.
    page.locator('.djs-element[data-element-id="rectify"]').click()
    expect(page.locator("#properties").get_by_label("名称", exact=True)).to_have_value("整改并提交佐证材料")
    problem.first.click()
    expect(page.locator("#properties").get_by_label("名称", exact=True)).to_have_value("复核验收")
    # Undo (the panel writes through the command stack) removes the broken expression.
    page.locator("#canvas").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+z")
    page.get_by_role("button", name="校验").click()
    expect(page.locator("#status")).to_contain_text("校验通过")
    expect(page.locator(".djs-element.has-problem")).to_have_count(0)
    sign_out(page)


@pytest.mark.parametrize("key", ["project_approval", "milestone_payment", "rectification"])
def test_the_modeler_keeps_the_platform_extensions(page, live_server, key):
    """Import and save in bpmn-js without edits: every spiffworkflow element and the
    multi-instance collections (bare variable names bpmn-moddle cannot resolve) survive."""
    sign_in(page, live_server, "designer")
    page.goto(f"{live_server.url}/designer/processes/{key}")
    expect(page.locator("body[data-designer-ready]")).to_be_attached()
    original = page.evaluate(
        f"""async () => (await (await fetch("/designer/api/processes/{key}/xml?source=1")).json()).xml"""
    )
    saved = page.evaluate(
        """async (xml) => {
            await window.designerLoad(xml);
            return (await window.designerModeler.saveXML({ format: true })).xml;
        }""",
        original,
    )
    for tag in TAGS:
        assert saved.count(tag) == original.count(tag), tag
    sign_out(page)


def test_import_a_camunda_file_save_it_as_a_draft_and_export_it(page, live_server, tmp_path):
    sample = ROOT / "tests" / "designer" / "samples" / "camunda_modeler.bpmn"
    sign_in(page, live_server, "designer")
    page.goto(f"{live_server.url}/designer/new")
    expect(page.locator("body[data-designer-ready]")).to_be_attached()
    page.locator("#import-file").set_input_files(sample)
    expect(page.locator("#status")).to_contain_text("已导入")
    expect(page.locator("#process-title")).to_have_text("invoice_check")
    expect(page.locator("#problems")).to_contain_text("camunda:formKey")
    expect(page.locator('.djs-element[data-element-id="Activity_approve"]')).to_be_attached()

    page.get_by_role("button", name="保存草稿").click()
    expect(page.locator("#status")).to_contain_text("草稿已保存")
    assert page.url.endswith("/designer/processes/invoice_check")
    page.reload()
    expect(page.locator("body[data-designer-ready]")).to_be_attached()
    expect(page.locator("#status")).to_have_text("草稿")
    expect(page.locator('.djs-element[data-element-id="Activity_approve"]')).to_be_attached()

    with page.expect_download() as download:
        page.get_by_role("button", name="导出 .bpmn").click()
    assert download.value.suggested_filename == "invoice_check.bpmn"
    exported = download.value.path().read_text(encoding="utf-8")
    assert 'id="Activity_approve"' in exported
    assert "camunda:formKey" in exported  # foreign extensions are kept, only reported
    sign_out(page)


def test_the_panel_edits_service_tasks_and_message_events(page, live_server, screenshot):
    sign_in(page, live_server, "designer")
    page.goto(f"{live_server.url}/designer/processes/milestone_payment")
    expect(page.locator("body[data-designer-ready]")).to_be_attached()
    panel = page.locator("#properties")

    page.locator('.djs-element[data-element-id="wait_disbursement"]').click()
    expect(panel.get_by_label("消息名称", exact=True)).to_have_value("msg_disbursed")
    expect(panel.get_by_label("关联表达式")).to_have_value('submission["payment_number"]')
    expect(panel.get_by_label("消息变量")).to_have_value("disbursement")
    panel.get_by_label("消息变量").fill("confirmation")
    panel.get_by_label("消息变量").press("Tab")
    panel.get_by_label("关联表达式").fill("payment_number")
    panel.get_by_label("关联表达式").press("Tab")

    # Its context pad covers the neighbour: deselect first, as a click on empty paper would.
    page.evaluate("() => window.designerModeler.get('selection').select(null)")
    page.locator('.djs-element[data-element-id="confirm_disbursement"]').click()
    operation = panel.get_by_label("操作")
    expect(operation).not_to_have_value("")
    screenshot(page, "designer-service-task", full_page=False)
    first_param = panel.locator("fieldset input").first
    first_param.fill("ticket_number")
    first_param.press("Tab")
    name = first_param.get_attribute("name").removeprefix("param-")

    xml = page.evaluate("async () => (await window.designerModeler.saveXML()).xml")
    assert "<spiffworkflow:messageVariable>confirmation</spiffworkflow:messageVariable>" in xml
    assert '<spiffworkflow:property name="correlation" value="payment_number" />' in xml
    assert re.search(f'<spiffworkflow:parameter id="{name}" type="\\w+" value="ticket_number" />', xml)
    sign_out(page)


def test_a_new_process_takes_its_key_from_the_panel(page, live_server):
    sign_in(page, live_server, "designer")
    page.goto(f"{live_server.url}/designer/new")
    expect(page.locator("body[data-designer-ready]")).to_be_attached()
    panel = page.locator("#properties")  # nothing selected: the process itself
    key = panel.get_by_label("流程标识 (key)")
    expect(key).to_have_value("new_process")
    key.fill("site_inspection")
    key.press("Tab")
    panel.get_by_label("流程名称").fill("现场检查")
    panel.get_by_label("流程名称").press("Tab")
    page.get_by_role("button", name="保存草稿").click()
    expect(page.locator("#status")).to_contain_text("草稿已保存")
    assert page.url.endswith("/designer/processes/site_inspection")
    expect(page.locator("#process-title")).to_have_text("site_inspection")
    page.goto(f"{live_server.url}/designer")
    row = page.locator('#processes tr[data-key="site_inspection"]')
    expect(row).to_contain_text("草稿")
    sign_out(page)
