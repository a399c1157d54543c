"""The cockpit pages: filters and counts, the instance page and its embedded diagram data,
audited actions through HTTP, and who may see and act."""

import json
import re
from datetime import UTC, datetime
from html import unescape

import pytest
import sqlalchemy as sa

from backend.workflow import service
from backend.workflow.models import Event, HumanTask, Incident, ProcessInstance
from tests.cockpit.conftest import signed_in


def _diagram(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="cockpit-diagram">(.*?)</script>', html, re.S)
    return json.loads(found.group(1))


def _variables(html: str) -> dict:
    found = re.search(r"<pre[^>]*data-variables>(.*?)</pre>", html, re.S)
    assert "排水管网改造" in found.group(1)  # readable, not \\u escapes
    return json.loads(unescape(found.group(1)))


def _listed_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-instance-id="(\d+)"', html)]


def _count(html: str, state: str) -> int:
    found = re.search(
        rf'data-state="{state}">[^<]*<span class="badge text-bg-light" data-count>(\d+)</span>', html
    )
    return int(found.group(1))


@pytest.fixture()
def instances(session, deployed, budget):
    made = {}
    made["a"] = service.start_instance(
        session=session,
        process_key="cockpit_route",
        data={"amount": 1, "project_name": "排水管网改造"},
        business_key="XM-1",
    )
    made["b"] = service.start_instance(
        session=session, process_key="cockpit_route", data={"amount": 2}, business_key="XM-2"
    )
    budget.failures_left = 1
    made["c"] = service.start_instance(
        session=session, process_key="cockpit_service", data={"amount": "3"}, business_key="XM-1"
    )
    made["a"].started_at = datetime(2026, 1, 10, 17, 0, tzinfo=UTC)  # 2026-01-11 01:00 in Shanghai
    session.commit()
    service.cancel_instance(session=session, instance_id=made["b"].id, actor="ops", reason="重复申报")
    session.commit()
    return made


def test_list_filters_and_counts(app, session, users, instances):
    client = signed_in(app, "ops")
    html = client.get("/cockpit/instances").get_data(as_text=True)
    ids = [i.id for i in instances.values()]
    assert _listed_ids(html) == sorted(ids, reverse=True)  # newest first
    assert (_count(html, "running"), _count(html, "incident"), _count(html, "cancelled")) == (1, 1, 1)

    html = client.get("/cockpit/instances?process_key=cockpit_route").get_data(as_text=True)
    assert sorted(_listed_ids(html)) == sorted([instances["a"].id, instances["b"].id])
    assert _count(html, "incident") == 0 and _count(html, "cancelled") == 1

    html = client.get("/cockpit/instances?state=incident").get_data(as_text=True)
    assert _listed_ids(html) == [instances["c"].id]
    assert _count(html, "running") == 1  # counts ignore the state filter

    html = client.get("/cockpit/instances?business_key=XM-1").get_data(as_text=True)
    assert sorted(_listed_ids(html)) == sorted([instances["a"].id, instances["c"].id])

    html = client.get("/cockpit/instances?version=1&process_key=cockpit_service").get_data(as_text=True)
    assert _listed_ids(html) == [instances["c"].id]
    assert _listed_ids(client.get("/cockpit/instances?version=2").get_data(as_text=True)) == []

    # Shanghai days: started 2026-01-10 17:00 UTC is the 11th in Beijing.
    html = client.get("/cockpit/instances?started_from=2026-01-11&started_to=2026-01-11").get_data(
        as_text=True
    )
    assert _listed_ids(html) == [instances["a"].id]
    html = client.get("/cockpit/instances?started_to=2026-01-10").get_data(as_text=True)
    assert _listed_ids(html) == []


def test_paging(app, session, users, deployed, monkeypatch):
    from backend.cockpit import service as cockpit

    made = [
        service.start_instance(session=session, process_key="cockpit_route", data={"amount": n}).id
        for n in range(3)
    ]
    session.commit()
    page = cockpit.list_instances(session=session, filters=cockpit.InstanceFilter(), limit=2)
    assert [r.id for r in page.rows] == made[:0:-1] and page.next_before == made[1]
    rest = cockpit.list_instances(
        session=session, filters=cockpit.InstanceFilter(), before=page.next_before, limit=2
    )
    assert [r.id for r in rest.rows] == [made[0]] and rest.next_before is None


def test_instance_page_shows_highlights_variables_messages_incidents(app, session, users, instances):
    client = signed_in(app, "ops")
    a = instances["a"]
    html = client.get(f"/cockpit/instances/{a.id}").get_data(as_text=True)
    diagram = _diagram(html)
    assert '<bpmn:process id="cockpit_route"' in diagram["xml"]
    assert diagram["highlights"]["active"] == ["deadline", "review"]  # the open task and its timer
    assert diagram["highlights"]["failed"] == []
    assert 'data-timer="deadline"' in html
    assert _variables(html) == {"amount": 1, "project_name": "排水管网改造"}
    assert "bpmn-navigated-viewer.production.min.js" in html

    c = instances["c"]
    html = client.get(f"/cockpit/instances/{c.id}").get_data(as_text=True)
    diagram = _diagram(html)
    assert diagram["highlights"]["failed"] == ["call_budget"]
    incident = session.scalar(sa.select(Incident).filter_by(instance_id=c.id))
    assert f'data-incident-id="{incident.id}"' in html and "budget system unreachable" in html
    assert "ConnectionError" in html and "Traceback" in html  # the stack

    # After a retry the task is passed and the message wait is active.
    budget_ok = client.post(
        f"/cockpit/instances/{c.id}/incidents/{incident.id}/retry", data={"reason": "对方已恢复"}
    )
    assert budget_ok.status_code == 302
    html = client.get(f"/cockpit/instances/{c.id}").get_data(as_text=True)
    diagram = _diagram(html)
    assert diagram["highlights"] == {
        "completed": ["call_budget", "start"],
        "active": ["wait_ack"],
        "failed": [],
    }
    assert 'data-message="cockpit_ack"' in html
    audit = session.scalar(sa.select(Event).filter_by(instance_id=c.id, kind="operator.retried"))
    assert audit.actor == "ops" and audit.detail["reason"] == "对方已恢复"


def test_actions_over_http_are_audited(app, session, users, instances):
    client = signed_in(app, "ops")
    a = instances["a"].id
    response = client.post(f"/cockpit/instances/{a}/suspend", data={"reason": "核查"}, follow_redirects=True)
    assert "操作已完成" in response.get_data(as_text=True)
    assert session.get(ProcessInstance, a).state == "suspended"

    task = session.scalar(sa.select(HumanTask).filter_by(instance_id=a, state="open", element_id="review"))
    reviewer = signed_in(app, "reviewer1")
    assert reviewer.post(f"/cockpit/instances/{a}/resume").status_code == 403

    client.post(
        f"/cockpit/instances/{a}/variables", data={"name": "amount", "value": "not json", "reason": "x"}
    )
    session.expire_all()
    assert service.instance_variables(session=session, instance_id=a)["amount"] == 1
    response = client.post(
        f"/cockpit/instances/{a}/variables",
        data={"name": "amount", "value": "800", "reason": "更正金额"},
        follow_redirects=True,
    )
    assert "操作已完成" in response.get_data(as_text=True)
    session.expire_all()
    assert service.instance_variables(session=session, instance_id=a)["amount"] == 800

    client.post(f"/cockpit/instances/{a}/resume", data={"reason": "好了"})
    session.expire_all()
    assert session.get(ProcessInstance, a).state == "running"
    service.complete_task(session=session, task_id=task.id, data={"approved": True}, actor="li")
    session.commit()
    assert service.instance_variables(session=session, instance_id=a)["route"] == "big"

    b = instances["c"].id
    response = client.post(f"/cockpit/instances/{b}/cancel", data={"reason": ""}, follow_redirects=True)
    assert "请填写取消原因" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(ProcessInstance, b).state == "incident"
    client.post(f"/cockpit/instances/{b}/cancel", data={"reason": "申报撤销"})
    session.expire_all()
    assert session.get(ProcessInstance, b).state == "cancelled"

    events = session.execute(
        sa.select(Event.kind, Event.actor, Event.detail)
        .where(Event.instance_id.in_([a, b]))
        .order_by(Event.id)
    ).all()
    audited = {
        (k, actor, d.get("reason"))
        for k, actor, d in events
        if k in ("suspended", "resumed", "variable.changed", "cancelled")
    }
    assert audited == {
        ("suspended", "ops", "核查"),
        ("variable.changed", "ops", "更正金额"),
        ("resumed", "ops", "好了"),
        ("cancelled", "ops", "申报撤销"),
    }


@pytest.mark.parametrize("username", ["designer1", "reviewer1"])
def test_only_operators_and_admins(app, session, users, instances, username):
    a = instances["a"].id
    denied = signed_in(app, username)
    assert denied.get("/cockpit/instances").status_code == 403
    assert denied.get(f"/cockpit/instances/{a}").status_code == 403
    assert denied.post(f"/cockpit/instances/{a}/suspend", data={"reason": "x"}).status_code == 403
    assert (
        denied.post(
            f"/cockpit/instances/{a}/variables", data={"name": "amount", "value": "9", "reason": "x"}
        ).status_code
        == 403
    )
    session.expire_all()
    assert session.get(ProcessInstance, a).state == "running"
    assert signed_in(app, "boss").get(f"/cockpit/instances/{a}").status_code == 200
    # The menu shows the cockpit to operators only.
    assert "data-cockpit-link" not in denied.get("/", follow_redirects=True).get_data(as_text=True)
    assert "data-cockpit-link" in signed_in(app, "ops").get("/", follow_redirects=True).get_data(as_text=True)


def test_anonymous_is_sent_to_login(app, session, users):
    response = app.test_client().get("/cockpit/instances")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_vendor_serves_the_viewer(app, session):
    from backend.accounts.vendor import vendor_url

    with app.test_request_context():
        url = vendor_url("bpmn-js/bpmn-navigated-viewer.production.min.js")
    response = app.test_client().get(url)
    assert response.status_code == 200 and b"BpmnJS" in response.data[:200000]


def test_personal_data_in_variables_and_history_is_masked(app, session, users, deployed, budget):
    instance = service.start_instance(
        session=session,
        process_key="cockpit_route",
        data={
            "amount": 1,
            "project_name": "排水管网改造",
            "contact_phone": "13812345678",
            "applicant": {"id_card": "330106199001011234", "bank_account": "6222021234567890123"},
        },
        business_key="XM-9",
    )
    session.commit()
    html = signed_in(app, "ops").get(f"/cockpit/instances/{instance.id}").get_data(as_text=True)
    variables = _variables(html)
    assert variables["contact_phone"] == "138****5678"
    assert variables["applicant"] == {"id_card": "330***********1234", "bank_account": "****0123"}
    # Nowhere on the page, the start event's detail included.
    for raw in ("13812345678", "330106199001011234", "6222021234567890123"):
        assert raw not in html
    assert variables["amount"] == 1 and variables["project_name"] == "排水管网改造"
