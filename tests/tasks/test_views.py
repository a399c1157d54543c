"""The inbox, task and notification pages through the Flask test client, over real rows
(the inbox) and a real deployed process (the task page)."""

import hashlib
import io
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import g
from flask.testing import FlaskClient

from backend.accounts.service import set_password
from backend.db import utcnow
from backend.tasks import service
from backend.tasks.drafts import TaskDraft
from backend.tasks.models import Notification, TaskAction
from backend.workdays.service import seed_from_chinese_calendar
from backend.workflow import service as workflow
from backend.workflow.deploy import deploy_files
from backend.workflow.models import Event, HumanTask, ProcessInstance

from ..files import samples
from ..helpers import login
from ..workflow.conftest import BPMN_DIR

PASSWORD = "Test-Passw0rd-2026"

# The review form of tests/workflow/forms with rules that can fail: an opinion of at least
# two characters, and a whole-number score.
REVIEW_FORM = {
    "title": "审核",
    "type": "object",
    "properties": {
        "approved": {"type": "boolean", "title": "同意"},
        "opinion": {"type": "string", "title": "审批意见", "minLength": 2},
        "score": {"type": "integer", "title": "评分"},
        "items": {
            "type": "array",
            "title": "整改事项",
            "items": {"type": "object", "properties": {"text": {"type": "string", "title": "事项"}}},
        },
        "report": {
            "type": "object",
            "title": "审查报告",
            "properties": {
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "name": {"type": "string"},
            },
        },
    },
    "required": ["approved", "opinion"],
}


def person(world, username, **options):
    user = world.user(username, **options)
    set_password(user=user, password=PASSWORD, enforce_policy=False)
    world.session.flush()
    return user


class Client(FlaskClient):
    """The `session` fixture's app context is shared by every request of a test, and
    flask-login caches the signed-in person on `g` of that context: forget it per request,
    as a real server would, so each client is its own person."""

    def open(self, *args, **kwargs):
        g.pop("_login_user", None)
        return super().open(*args, **kwargs)


def signed_in(app, username):
    client = Client(app, app.response_class, use_cookies=True)
    response = login.sign_in(client, username, PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def titled(task, title):
    task.title = title
    return task


def html(response) -> str:
    return response.get_data(as_text=True)


# --- inbox -----------------------------------------------------------------------------------


@pytest.fixture()
def calendar(session):
    seed_from_chinese_calendar(session=session)


def test_inbox_tabs_counts_and_rows(app, session, world, calendar):
    person(world, "li", department=world.fgw)
    project = world.project("2026-330102-48-01-000001", "330102")
    instance = world.instance(business_key=project.code)
    overdue = world.task(instance=instance, assignee="li", due_at=utcnow() - timedelta(days=10))
    later = titled(world.task(assignee="li", due_at=utcnow() + timedelta(days=40)), "复核")
    titled(world.task(assignee="wang"), "别人的")
    titled(world.task(group="fgw.reviewer"), "待签收的")
    session.commit()
    client = signed_in(app, "li")

    page = html(client.get("/inbox"))
    assert 'data-tab-count="mine">2<' in page
    assert 'data-tab-count="group">1<' in page
    assert f'data-task-id="{overdue.id}"' in page and f'data-task-id="{later.id}"' in page
    assert "别人的" not in page and "待签收的" not in page
    # Soonest due first, with the project's name and code, overdue in red.
    assert page.index(overdue.id) < page.index(later.id)
    assert "项目 2026-330102-48-01-000001" in page
    assert '<span class="text-danger fw-semibold">已超期' in page
    assert "剩余 " in page

    group = html(client.get("/inbox?tab=group"))
    assert "待签收的" in group and "初审" not in group
    assert ">签收</button>" in group


def test_inbox_filters_by_project_and_due_state(app, session, world, calendar):
    person(world, "li", department=world.fgw)
    project = world.project("2026-330102-48-01-000002", "330102")
    in_project = world.task(instance=world.instance(business_key=project.code), assignee="li")
    elsewhere = world.task(assignee="li", due_at=utcnow() - timedelta(days=5))
    session.commit()
    client = signed_in(app, "li")

    page = html(client.get(f"/inbox?project={project.code}"))
    assert in_project.id in page and elsewhere.id not in page
    page = html(client.get("/inbox?due=overdue"))
    assert elsewhere.id in page and in_project.id not in page
    response = client.get("/inbox?cursor=garbage", follow_redirects=True)
    assert "分页参数无效" in html(response) and in_project.id in html(response)


def test_inbox_pages_by_cursor(app, session, world, calendar, monkeypatch):
    monkeypatch.setitem(service.inbox.__kwdefaults__, "limit", 2)
    person(world, "li", department=world.fgw)
    tasks = [world.task(assignee="li", due_at=utcnow() + timedelta(days=i + 1)) for i in range(3)]
    session.commit()
    client = signed_in(app, "li")

    first = html(client.get("/inbox"))
    assert tasks[0].id in first and tasks[1].id in first and tasks[2].id not in first
    cursor = first.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = html(client.get(cursor))
    assert tasks[2].id in second and tasks[0].id not in second
    assert 'rel="next"' not in second


def test_claim_from_the_group_tab(app, session, world, calendar):
    person(world, "li", department=world.fgw)
    task = world.task(group="fgw.reviewer")
    session.commit()
    client = signed_in(app, "li")

    response = client.post(f"/tasks/{task.id}/claim")
    assert response.location.endswith(f"/tasks/{task.id}")
    assert "签收成功" in html(client.get("/inbox"))  # the flash
    assert session.get(HumanTask, task.id).assignee == "li"
    assert session.scalar(sa.select(TaskAction.action).filter_by(task_id=task.id)) == "claim"
    # A second claim is refused with the service's message.
    person(world, "zhang", department=world.fgw)
    session.commit()
    zhang = signed_in(app, "zhang")
    zhang.post(f"/tasks/{task.id}/claim")
    assert "该任务已被 li 签收" in html(zhang.get("/inbox"))


def test_root_and_pages_need_sign_in(app, session):
    client = Client(app, app.response_class, use_cookies=True)
    assert client.get("/inbox").status_code == 302
    assert client.get("/notifications").status_code == 302


# --- notifications ---------------------------------------------------------------------------


def test_notifications_badge_then_marked_read_on_open(app, session, world):
    person(world, "li", department=world.fgw)
    service.notify(
        session=session, users=["li"], kind="cc", title="第一条", now=utcnow() - timedelta(hours=1)
    )
    service.notify(session=session, users=["li"], kind="urged", title="第二条")
    service.notify(session=session, users=["wang"], kind="cc", title="别人的通知")
    session.commit()
    client = signed_in(app, "li")

    inbox = html(client.get("/inbox"))
    assert "data-unread-badge>2<" in inbox
    page = html(client.get("/notifications"))
    assert page.index("第二条") < page.index("第一条")  # newest first
    assert "别人的通知" not in page
    assert (
        session.scalar(
            sa.select(sa.func.count()).select_from(Notification).filter_by(user="li", read_at=None)
        )
        == 0
    )
    assert "data-unread-badge>0<" in html(client.get("/inbox"))


# --- the task page over a deployed process ---------------------------------------------------


@pytest.fixture()
def flow(app, session, world, tmp_path, monkeypatch):
    """three_steps deployed with REVIEW_FORM; applicant, li (fgw reviewer), wang (fgw head)."""
    (tmp_path / "review.json").write_text(json.dumps(REVIEW_FORM), encoding="utf-8")
    monkeypatch.setitem(app.config, "FORMS_DIR", str(tmp_path))
    seed_from_chinese_calendar(session=session)
    three_steps = (BPMN_DIR / "three_steps.bpmn").read_text(encoding="utf-8")
    deploy_files(
        session=session, files={"three_steps.bpmn": three_steps}, forms_dir=tmp_path, deployed_by="test"
    )
    for name, roles in (("applicant", ("owner",)), ("li", ("reviewer",)), ("wang", ("head",))):
        person(world, name, department=world.fgw, roles=roles)
    project = world.project("2026-330102-48-01-000009", "330102")
    instance = workflow.start_instance(
        session=session,
        process_key="three_steps",
        data={"applicant": "applicant"},
        business_key=project.code,
        started_by="applicant",
    )
    session.commit()
    return instance


def open_task(session, instance, element):
    session.expire_all()
    return session.scalar(
        sa.select(HumanTask).filter_by(instance_id=instance.id, element_id=element, state="open")
    )


def submit(app, session, instance, **form):
    task = open_task(session, instance, "submit")
    response = signed_in(app, "applicant").post(
        f"/tasks/{task.id}", data={"approved": "true", "opinion": "申报材料齐全", **form}
    )
    assert response.status_code == 302 and response.location.endswith("/inbox"), html(response)
    return task


def test_task_page_shows_project_form_and_history(app, session, flow):
    submit(app, session, flow)
    review = open_task(session, flow, "review")
    client = signed_in(app, "li")
    client.post(f"/tasks/{review.id}/claim")

    page = html(client.get(f"/tasks/{review.id}"))
    assert "项目 2026-330102-48-01-000009" in page
    assert "¥1,000,000.00<" in page
    assert "某建设单位" in page and "上城区" in page
    assert 'name="opinion"' in page and "保存草稿" in page  # editable for the assignee
    assert "意见: 申报材料齐全" in page  # the earlier opinion in the timeline
    assert "当前在 <strong>初审</strong>" in page and "已完成: 申报 (applicant)" in page

    # Someone else only reads it; the submitted data of a done task shows read-only.
    other = html(signed_in(app, "wang").get(f"/tasks/{review.id}"))
    assert "保存草稿" not in other and 'name="opinion"' not in other


def test_invalid_post_gives_422_with_errors_and_values_kept(app, session, flow):
    task = open_task(session, flow, "submit")
    client = signed_in(app, "applicant")
    response = client.post(f"/tasks/{task.id}", data={"approved": "true", "opinion": "好", "score": "十分"})
    assert response.status_code == 422
    page = html(response)
    assert "审批意见至少需要 2 个字" in page and "评分须为整数" in page
    # Everything typed comes back, the box ticked too.
    assert 'name="opinion" required aria-describedby="f-opinion-error" aria-invalid="true" value="好"' in page
    assert 'value="十分"' in page
    assert 'name="approved" value="true" checked' in page
    assert open_task(session, flow, "submit").id == task.id  # still open

    missing = client.post(f"/tasks/{task.id}", data={"score": "3"})
    assert missing.status_code == 422 and "请填写审批意见" in html(missing)


def test_valid_post_completes_the_task(app, session, flow):
    task = submit(app, session, flow, score="5")
    done = session.get(HumanTask, task.id)
    assert (done.state, done.completed_by) == ("completed", "applicant")
    event = session.scalar(sa.select(Event).filter_by(task_id=task.id, kind="task.completed"))
    assert event.actor == "applicant" and event.detail["data"]["score"] == 5
    assert open_task(session, flow, "review") is not None
    # The page says so; posting again is refused as already handled.
    client = signed_in(app, "applicant")
    again = client.post(
        f"/tasks/{task.id}", data={"approved": "true", "opinion": "再次"}, follow_redirects=True
    )
    assert "该任务已被处理" in html(again)
    api = client.post(f"/tasks/{task.id}", data={"opinion": "x"}, headers={"Accept": "application/json"})
    assert api.status_code == 409


def test_losing_a_completion_race_is_a_clear_message(app, session, flow, monkeypatch):
    task = open_task(session, flow, "submit")

    def already(**_kwargs):
        from backend.workflow.errors import TaskAlreadyHandled

        raise TaskAlreadyHandled(task.id)

    monkeypatch.setattr(workflow, "complete_task", already)
    client = signed_in(app, "applicant")
    data = {"approved": "true", "opinion": "同时提交"}
    response = client.post(f"/tasks/{task.id}", data=data, follow_redirects=True)
    assert "该任务已被处理" in html(response)
    api = client.post(f"/tasks/{task.id}", data=data, headers={"Accept": "application/json"})
    assert api.status_code == 409 and "该任务已被处理" in api.get_json()["error"]


def test_non_assignee_post_is_refused(app, session, flow):
    task = open_task(session, flow, "submit")
    response = signed_in(app, "li").post(
        f"/tasks/{task.id}", data={"approved": "true", "opinion": "越权"}, follow_redirects=True
    )
    assert "只有当前办理人可以办理该任务" in html(response)
    assert session.get(HumanTask, task.id).state == "open"


def test_draft_saved_without_validation_and_restored(app, session, flow):
    task = open_task(session, flow, "submit")
    client = signed_in(app, "applicant")
    response = client.post(f"/tasks/{task.id}", data={"opinion": "写了一半", "score": "abc", "_draft": "1"})
    assert response.status_code == 302
    draft = session.get(TaskDraft, (task.id, "applicant"))
    assert draft.data["opinion"] == "写了一半"

    page = html(client.get(f"/tasks/{task.id}"))
    assert "写了一半" in page and 'value="abc"' in page and "已恢复" in page
    submit(app, session, flow)
    assert session.scalar(sa.select(TaskDraft).filter_by(task_id=task.id)) is None


def test_return_through_the_page(app, session, flow):
    submit_task = submit(app, session, flow)
    review = open_task(session, flow, "review")
    client = signed_in(app, "li")
    client.post(f"/tasks/{review.id}/claim")
    assert f'<option value="{submit_task.id}">申报' in html(client.get(f"/tasks/{review.id}"))

    refused = client.post(f"/tasks/{review.id}/return", data={"to_task": submit_task.id, "reason": " "})
    assert refused.status_code == 302 and open_task(session, flow, "review") is not None
    client.post(f"/tasks/{review.id}/return", data={"to_task": submit_task.id, "reason": "材料不全"})
    again = open_task(session, flow, "submit")
    assert (again.id, again.assignee) == (submit_task.id, "applicant")
    returned = session.scalar(sa.select(Event).filter_by(instance_id=flow.id, kind="task.returned"))
    assert (returned.actor, returned.detail["reason"]) == ("li", "材料不全")


def test_withdraw_through_the_page(app, session, flow):
    task = submit(app, session, flow)
    client = signed_in(app, "applicant")
    assert "撤回理由" in html(client.get(f"/tasks/{task.id}"))
    # Somebody else cannot withdraw my step.
    other = signed_in(app, "li").post(
        f"/tasks/{task.id}/withdraw", data={"reason": "x"}, follow_redirects=True
    )
    assert "只能撤回本人办理的任务" in html(other)

    client.post(f"/tasks/{task.id}/withdraw", data={"reason": "补充材料"})
    assert open_task(session, flow, "submit") is not None
    assert open_task(session, flow, "review") is None
    assert session.scalar(sa.select(Event.actor).filter_by(instance_id=flow.id, kind="task.withdrawn")) == (
        "applicant"
    )


def test_transfer_delegate_answer_cc_and_urge(app, session, flow, world):
    person(world, "zhao", department=world.fgw)
    session.commit()
    task = open_task(session, flow, "submit")
    applicant = signed_in(app, "applicant")

    applicant.post(f"/tasks/{task.id}/cc", data={"to": "wang，zhao", "note": "请知悉"})
    assert {n.user for n in session.scalars(sa.select(Notification).filter_by(kind="cc"))} == {"wang", "zhao"}

    refused = applicant.post(
        f"/tasks/{task.id}/delegate", data={"to": "zhao", "reason": ""}, follow_redirects=True
    )
    assert "请填写委托的理由" in html(refused)
    applicant.post(f"/tasks/{task.id}/delegate", data={"to": "zhao", "reason": "请提意见"})
    assert open_task(session, flow, "submit").assignee == "zhao"
    zhao = signed_in(app, "zhao")
    assert "答复委托" in html(zhao.get(f"/tasks/{task.id}"))
    zhao.post(f"/tasks/{task.id}/answer", data={"opinion": "同意申报"})
    assert open_task(session, flow, "submit").assignee == "applicant"

    urged = signed_in(app, "wang").post(
        f"/tasks/{task.id}/urge", data={"reason": "请尽快"}, follow_redirects=True
    )
    assert "已催办" in html(urged)
    assert session.scalar(sa.select(Notification.title).filter_by(kind="urged", user="applicant"))

    applicant.post(f"/tasks/{task.id}/transfer", data={"to": "zhao", "reason": "出差"})
    assert open_task(session, flow, "submit").assignee == "zhao"
    assert session.get(ProcessInstance, flow.id).state == "running"


def test_row_buttons_re_render_without_validating(app, session, flow):
    task = open_task(session, flow, "submit")
    client = signed_in(app, "applicant")
    added = client.post(f"/tasks/{task.id}", data={"score": "x", "_add": "items"})
    assert added.status_code == 200
    page = html(added)
    assert 'name="items[0][text]"' in page and 'value="x"' in page
    assert "is-invalid" not in page  # no validation on a row button
    removed = client.post(
        f"/tasks/{task.id}", data={"items[0][text]": "甲", "items[1][text]": "乙", "_remove": "items.0"}
    )
    assert 'value="乙"' in html(removed) and 'value="甲"' not in html(removed)
    assert open_task(session, flow, "submit").id == task.id


def test_upload_stored_and_put_in_the_data(app, session, flow):
    task = open_task(session, flow, "submit")
    client = signed_in(app, "applicant")
    refused = client.post(
        f"/tasks/{task.id}",
        data={
            "approved": "true",
            "opinion": "附报告",
            "report[_file]": (io.BytesIO(b"not a pdf"), "报告.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422 and "报告.pdf" in html(refused)

    image = samples.png()
    response = client.post(
        f"/tasks/{task.id}",
        data={"approved": "true", "opinion": "附报告", "report[_file]": (io.BytesIO(image), "报告.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    event = session.scalar(sa.select(Event).filter_by(task_id=task.id, kind="task.completed"))
    assert event.detail["data"]["report"] == {"sha256": hashlib.sha256(image).hexdigest(), "name": "报告.png"}


def test_candidate_sees_read_only_form_with_claim_then_unclaims(app, session, flow, world):
    submit(app, session, flow)
    review = open_task(session, flow, "review")
    client = signed_in(app, "li")
    page = html(client.get(f"/tasks/{review.id}"))
    assert f'action="/tasks/{review.id}/claim"' in page and 'name="opinion"' not in page

    client.post(f"/tasks/{review.id}/claim")
    page = html(client.get(f"/tasks/{review.id}"))
    assert 'name="opinion"' in page and f'action="/tasks/{review.id}/unclaim"' in page
    response = client.post(f"/tasks/{review.id}/unclaim", data={"reason": "不是我负责"})
    assert response.location.endswith("/inbox")
    assert open_task(session, flow, "review").assignee is None
    # The department head may look; someone outside the process may not.
    assert signed_in(app, "wang").get(f"/tasks/{review.id}").status_code == 200
    person(world, "qian", department=world.cz)
    session.commit()
    assert signed_in(app, "qian").get(f"/tasks/{review.id}").status_code == 403
