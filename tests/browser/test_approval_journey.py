"""One project application from submission to its issued 批复, through the pages only: the
applicant submits with PDF documents, the 发改 window claims and accepts it and picks experts,
then everyone with an open task of the project signs in and approves, until none is left."""

import re
import time
from collections import defaultdict

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import minimal_pdf, sign_in, sign_out

pytestmark = pytest.mark.browser

CODE = "2025-330106-48-01-00888B"
NAME = "杭州市西湖区留下街道地下综合管廊工程"
EXPERTS = ("expert1", "expert2", "expert3")
DOCUMENTS = {"材料 1": "项目建议书.pdf", "材料 2": "可行性研究报告.pdf", "材料 3": "初步设计.pdf"}
OPINION = "经审查, 材料齐全, 同意。"
# Choices a person approving picks in a radio group (审查结论, 是否受理, ...).
POSITIVE = ("同意", "受理", "通过", "是")
# Generous: a process change that adds steps (e.g. 分管领导签批) still fits.
MAX_ROUNDS = 15


def submit(page, button) -> None:
    with page.expect_navigation():
        button.click()


def test_application_is_approved_and_its_document_issued(page, live_server, tmp_path, screenshot):
    server = live_server

    # -- 申报: the applicant fills every required field and attaches the three documents --
    sign_in(page, server, "applicant")
    page.goto(f"{server.url}/applications/new")
    form = page.locator("form.task-form")
    form.get_by_label("项目名称").fill(NAME)
    form.get_by_label("项目代码").fill(CODE)
    # The applicant's own unit, by name and already chosen (x-choices "own_unit").
    expect(form.get_by_label("杭州市城市建设投资集团有限公司")).to_be_checked()
    form.get_by_label("建设地点").fill("330106")
    form.get_by_label("所属行业").fill("城市基础设施")
    form.get_by_label("新建", exact=True).check()
    form.get_by_label("总投资 (元)").fill("86000000.00")
    first = form.get_by_role("group", name="资金来源 1")
    first.get_by_label("来源").fill("地方政府专项债券")
    first.get_by_label("金额 (元)").fill("60000000.00")
    submit(page, form.get_by_role("button", name="添加资金来源"))  # adds a row, keeps what was typed
    form = page.locator("form.task-form")
    expect(form.get_by_label("项目名称")).to_have_value(NAME)
    second = form.get_by_role("group", name="资金来源 2")
    second.get_by_label("来源").fill("企业自筹")
    second.get_by_label("金额 (元)").fill("26000000.00")
    form.get_by_label("计划开工日期").fill("2027-03-01")
    form.get_by_label("计划竣工日期").fill("2029-12-31")
    form.get_by_label("建设规模及内容").fill("新建综合管廊 3.2 公里, 含电力、通信、给水舱室及监控中心。")
    form.get_by_label("联系人").fill("张伟")
    form.get_by_label("联系电话").fill("0571-87016688")
    for i, (row, file_name) in enumerate(DOCUMENTS.items(), start=1):
        pdf = tmp_path / file_name
        pdf.write_bytes(minimal_pdf(f"{CODE} document {i}"))
        form.get_by_role("group", name=row).get_by_label("选择文件").set_input_files(pdf)
    submit(page, form.get_by_role("button", name="提交申报"))
    assert page.url.endswith(f"/applications/{CODE}"), page.locator("main").inner_text()
    expect(page.get_by_text("申报已提交")).to_be_visible()

    submit(page, page.get_by_role("link", name="我的申报").first)
    mine = page.locator("#applications li", has_text=NAME)
    expect(mine).to_contain_text(CODE)
    expect(mine).to_contain_text("审批中")
    sign_out(page)

    # -- 受理: the window claims the intake task from the group tab, accepts, picks experts --
    sign_in(page, server, "fgw_window")
    open_from_inbox(page, server, "待签收", "受理审查")
    expect(page.get_by_text("签收成功")).to_be_visible()
    form = page.locator("form.task-form")
    form.get_by_label("受理", exact=True).check()
    form.get_by_label("受理意见").fill("材料齐全, 符合法定形式, 予以受理。")
    add_expert = form.get_by_role("button", name="添加评审专家")
    if not add_expert.is_visible():
        # The experts section shows once 受理 is chosen; without script the server shows it
        # (with its error) after a submit.
        submit(page, form.get_by_role("button", name="提交", exact=True))
        form = page.locator("form.task-form")
        expect(form.get_by_label("受理", exact=True)).to_be_checked()
    for i, expert in enumerate(EXPERTS, start=1):
        submit(page, page.locator("form.task-form").get_by_role("button", name="添加评审专家"))
        page.locator("form.task-form").get_by_label(f"评审专家 {i}", exact=True).fill(expert)
    submit(page, page.locator("form.task-form").get_by_role("button", name="提交", exact=True))
    expect(page.get_by_text("办理完成")).to_be_visible()
    sign_out(page)

    # -- 并联审批 and whatever follows: everyone with an open task of the project approves --
    acted = []
    for _ in range(MAX_ROUNDS):
        tasks = wait_for_open_tasks(server, CODE)
        if not tasks:
            break
        by_user = defaultdict(list)
        for task in tasks:
            by_user[server.user_for(task)].append(task)
        for username, theirs in by_user.items():
            sign_in(page, server, username)
            for task in theirs:
                if task["id"] not in {t["id"] for t in server.open_tasks(CODE)}:
                    continue  # e.g. a countersign decided without this expert: the task was withdrawn
                approve(page, server, task)
                acted.append((username, task["title"]))
            sign_out(page)
    else:
        pytest.fail(f"still open after {MAX_ROUNDS} rounds: {server.open_tasks(CODE)}; acted: {acted}")
    done = {title for _, title in acted}
    assert {"专家评审会签"} <= done and len([t for t in done if "审查" in t]) >= 5, acted

    # -- 批复: the applicant finds the issued document and the uploaded PDFs --
    sign_in(page, server, "applicant")
    page.goto(f"{server.url}/applications")  # the inbox's navigation has no link to 我的申报
    expect(page.locator("#applications li", has_text=NAME)).to_contain_text("已批复")
    submit(page, page.get_by_role("link", name=NAME))
    assert page.url.endswith(f"/applications/{CODE}")
    number = re.compile(r"浙发改审批〔\d{4}〕\d+号")
    deadline = time.monotonic() + 30
    while not page.get_by_text(number).is_visible() and time.monotonic() < deadline:
        time.sleep(0.5)  # issuing runs in the engine step of the last approval or a job after it
        page.reload()
    expect(page.get_by_text(number)).to_be_visible()
    card = page.locator(".card", has_text="文号")
    expect(card).to_contain_text("批复")
    expect(card).to_contain_text("¥86,000,000.00")
    expect(page.locator("h1")).to_contain_text("已批复")
    materials = page.locator(".card", has_text="申报材料")
    for file_name in DOCUMENTS.values():
        expect(materials).to_contain_text(file_name)
    expect(page.locator(".card", has_text="审批意见")).to_contain_text(OPINION)
    screenshot(page, "desktop-approval-document")


def wait_for_open_tasks(server, code: str, seconds: float = 10) -> list[dict]:
    """The project's open tasks; a step after a background job may take a moment to arrive."""
    deadline = time.monotonic() + seconds
    while not (tasks := server.open_tasks(code)) and time.monotonic() < deadline:
        time.sleep(0.25)
    return tasks


def open_from_inbox(page, server, tab: str, title: str) -> None:
    """Find the task of our project in an inbox tab (filtered by 项目代码) and open it:
    签收 in the group tab, 办理 in my tab."""
    page.goto(f"{server.url}/inbox")
    submit(page, page.get_by_role("main").get_by_role("link", name=re.compile(f"^{tab}")))
    page.get_by_label("项目代码").fill(CODE)
    submit(page, page.get_by_role("button", name="筛选"))
    row = page.locator("tbody tr").filter(has_text=title)
    assert row.count() == 1, f"{title} not in {tab}: {page.get_by_role('main').inner_text()}"
    submit(
        page,
        row.get_by_role("button", name="签收") if tab == "待签收" else row.get_by_role("link", name="办理"),
    )


def approve(page, server, task: dict) -> None:
    """Open the task, claiming it if it waits in the group, fill its form the way an approving
    person would (whatever its fields are), submit; fill again what the server asks for."""
    open_from_inbox(page, server, "待办" if task["assignee"] else "待签收", task["title"])
    for _ in range(3):
        fill_approving(page.locator("form.task-form"))
        submit(page, page.locator("form.task-form").get_by_role("button", name="提交", exact=True))
        if "/tasks/" not in page.url:
            break
    else:
        pytest.fail(f"{task['title']} refused: {page.locator('main').inner_text()}")
    expect(page.get_by_text("办理完成")).to_be_visible()


def fill_approving(form) -> None:
    for group in form.get_by_role("radiogroup").all():
        if not group.is_visible() or group.locator("input:checked").count():
            continue
        options = [label.strip() for label in group.locator("label").all_inner_texts()]
        choice = next((o for o in options if o in POSITIVE), options[0])
        group.get_by_label(choice, exact=True).check()
    for select in form.locator("select:visible").all():
        if not select.input_value():
            values = [v for v in select.locator("option").evaluate_all("os => os.map(o => o.value)") if v]
            select.select_option(values[0])
    for box in form.locator("input[type=checkbox]:visible").all():
        if box.get_attribute("required") is not None and not box.is_checked():
            box.check()
    today = time.strftime("%Y-%m-%d")
    for field in form.locator("textarea:visible, input:visible").all():
        kind = field.get_attribute("type") or "textarea"
        if kind not in ("textarea", "text", "date", "number") or field.input_value().strip():
            continue
        label = field.evaluate(
            "f => (f.labels && f.labels[0] ? f.labels[0].innerText : f.getAttribute('aria-label') || '')"
        )
        if kind == "textarea" or "意见" in label:
            field.fill(OPINION)
        elif field.get_attribute("required") is not None:
            field.fill({"date": today, "number": "1"}.get(kind, OPINION))
