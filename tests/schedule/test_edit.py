"""Editing the breakdown over HTTP: the Gantt feed and its date changes, the item forms,
dependencies and baselines; who may (the owner unit's planners: 403 for others, 404 out of
scope) and the Chinese answers of refused changes (400, nothing written)."""

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from backend.accounts.service import set_password
from backend.audit.models import AuditRecord
from backend.contracts.models import Contract, PaymentMilestone
from backend.org.models import User
from backend.schedule import service
from backend.schedule.models import WbsBaseline, WbsDependency, WbsItem
from tests.api.conftest import PASSWORD, client, org, signed_in  # noqa: F401  (fixtures)
from tests.api.conftest import make_project as api_project

CODE = "2026-330106-48-01-000777"
BASE = f"/projects/{CODE}/schedule"
D = date


@pytest.fixture()
def site(session, org):  # noqa: F811
    project = api_project(session, org, CODE, "330106")
    for name, roles, region, unit in (
        ("rev_hz", ["reviewer"], "330000", None),  # sees the project, may not edit
        ("rev_nb", ["reviewer"], "330200", None),  # another city: out of scope
        ("owner2", ["owner"], "330000", org.other_unit.id),  # schedule.edit, but another unit
    ):
        user = User(username=name, display_name=name, roles=roles, region_code=region, unit_id=unit)
        session.add(user)
        session.flush()
        set_password(user=user, password=PASSWORD, enforce_policy=False)
    items = {}
    for code, start, end in (
        ("1", D(2026, 3, 2), D(2026, 3, 27)),
        ("1.1", D(2026, 3, 2), D(2026, 3, 6)),
        ("1.2", D(2026, 3, 9), D(2026, 3, 20)),
    ):
        items[code] = service.create_item(
            session=session,
            project_id=project.id,
            code=code,
            name=f"任务{code}",
            planned_start=start,
            planned_end=end,
            by="applicant",
        )
    service.add_dependency(session=session, predecessor=items["1.1"], successor=items["1.2"], by="applicant")
    session.commit()
    return project, items


def dates(session, item):
    session.expire_all()
    row = session.get(WbsItem, item.id)
    return row.planned_start, row.planned_end


def test_gantt_feed_and_a_drag_round_trip(app, session, site):
    project, items = site
    owner = signed_in(app, "applicant")
    feed = owner.get(f"{BASE}/gantt.json")
    assert feed.status_code == 200
    rows = {row["code"]: row for row in feed.json["items"]}
    assert rows["1.2"]["start"] == "2026-03-09" and rows["1.2"]["dependencies"] == [items["1.1"].id]

    url = f"{BASE}/items/{items['1.2'].id}/dates"
    moved = owner.post(url, json={"start": "2026-03-10", "end": "2026-03-24"})
    assert moved.status_code == 200, moved.json
    assert moved.json["moved"] == items["1.2"].id and moved.json["moved_conflicts"] == []
    assert dates(session, items["1.2"]) == (D(2026, 3, 10), D(2026, 3, 24))
    again = {row["code"]: row for row in owner.get(f"{BASE}/gantt.json").json["items"]}
    assert (again["1.2"]["start"], again["1.2"]["end"]) == ("2026-03-10", "2026-03-24")

    # Refused: past the parent's end. The answer carries the unchanged rows to redraw from.
    refused = owner.post(url, json={"start": "2026-03-20", "end": "2026-03-31"})
    assert refused.status_code == 400
    assert "子项的计划日期须在上级 1" in refused.json["error"]
    assert {r["code"]: r["end"] for r in refused.json["items"]}["1.2"] == "2026-03-24"
    assert dates(session, items["1.2"]) == (D(2026, 3, 10), D(2026, 3, 24))
    assert owner.post(url, json={"start": "明天", "end": "2026-03-31"}).json["error"] == "日期格式不正确"
    assert owner.post(url, data="not json").status_code == 400
    parent = owner.post(
        f"{BASE}/items/{items['1'].id}/dates", json={"start": "2026-03-03", "end": "2026-03-27"}
    )
    assert parent.status_code == 400 and "上级任务" in parent.json["error"]
    assert dates(session, items["1"]) == (D(2026, 3, 2), D(2026, 3, 27))

    # Into the predecessor's span: saved, and the conflict is reported (nothing else moves).
    clash = owner.post(url, json={"start": "2026-03-05", "end": "2026-03-20"})
    assert clash.status_code == 200
    assert [(c["predecessor_code"], c["successor_code"]) for c in clash.json["moved_conflicts"]] == [
        ("1.1", "1.2")
    ]
    assert clash.json["conflicts"] == clash.json["moved_conflicts"]
    assert dates(session, items["1.1"]) == (D(2026, 3, 2), D(2026, 3, 6))
    assert (
        owner.post(
            f"{BASE}/items/999999/dates", json={"start": "2026-03-05", "end": "2026-03-20"}
        ).status_code
        == 404
    )


def test_who_may_change_the_plan(app, session, site):
    project, items = site
    url = f"{BASE}/items/{items['1.2'].id}/dates"
    change = {"start": "2026-03-10", "end": "2026-03-24"}
    viewer = signed_in(app, "rev_hz")
    assert viewer.get(f"{BASE}/gantt.json").status_code == 200
    html = viewer.get(BASE).get_data(as_text=True)
    assert 'id="gantt-config"' in html and '"mayEdit": false' in html
    assert viewer.post(url, json=change).status_code == 403
    assert viewer.get(f"{BASE}/items/new").status_code == 403
    assert viewer.post(f"{BASE}/baselines", data={"reason": "x"}).status_code == 403
    assert viewer.get(f"{BASE}/baselines").status_code == 200
    other_owner = signed_in(app, "owner2")
    assert other_owner.post(url, json=change).status_code == 403
    assert other_owner.post(f"{BASE}/items/{items['1.2'].id}/delete").status_code == 403
    assert other_owner.get(f"{BASE}/items/{items['1.2'].id}/edit").status_code == 403
    stranger = signed_in(app, "rev_nb")
    assert stranger.get(f"{BASE}/gantt.json").status_code == 404
    assert stranger.get(f"{BASE}/baselines").status_code == 404
    assert dates(session, items["1.2"]) == (D(2026, 3, 9), D(2026, 3, 20))
    assert session.get(WbsItem, items["1.2"].id) is not None
    owner = signed_in(app, "applicant")
    html = owner.get(BASE).get_data(as_text=True)
    assert '"mayEdit": true' in html and "frappe-gantt.umd.js" in html
    assert owner.get("/vendor/frappe-gantt/frappe-gantt.umd.js").status_code == 200
    assert owner.get("/vendor/frappe-gantt/frappe-gantt.css").status_code == 200


def form(**values):
    data = {
        "code": "",
        "name": "",
        "unit_id": "",
        "responsible": "",
        "planned_start": "",
        "planned_end": "",
        "deliverables": "",
        "weight": "1",
        "payment_milestone_id": "",
    }
    data.update(values)
    return data


def count(session, model):
    session.expire_all()
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def test_add_edit_and_delete_items(app, session, site, org):  # noqa: F811
    project, items = site
    contract = Contract(
        number="HT-1",
        name="施工合同",
        project_id=project.id,
        party_a_unit_id=org.unit.id,
        party_b_unit_id=org.other_unit.id,
        amount=Decimal("100.00"),
    )
    session.add(contract)
    session.flush()
    milestone = PaymentMilestone(contract_id=contract.id, seq=1, name="主体封顶", amount=Decimal("50.00"))
    session.add(milestone)
    session.commit()
    owner = signed_in(app, "applicant")
    page = owner.get(f"{BASE}/items/new?parent=1").get_data(as_text=True)
    assert 'value="1."' in page and "HT-1 · 1. 主体封顶" in page and org.other_unit.name in page

    bad = owner.post(f"{BASE}/items/new", data=form(code="1.3", name="装修", planned_start="2026-03-23"))
    assert bad.status_code == 400 and "计划完成须为日期" in bad.get_data(as_text=True)
    assert 'value="装修"' in bad.get_data(as_text=True)  # what was typed is kept
    outside = owner.post(
        f"{BASE}/items/new",
        data=form(code="1.3", name="装修", planned_start="2026-03-23", planned_end="2026-04-03"),
    )
    assert outside.status_code == 400 and "之内" in outside.get_data(as_text=True)
    nobody = owner.post(
        f"{BASE}/items/new",
        data=form(
            code="1.3",
            name="装修",
            planned_start="2026-03-23",
            planned_end="2026-03-27",
            responsible="nobody",
        ),
    )
    assert nobody.status_code == 400 and "责任人 nobody 不存在" in nobody.get_data(as_text=True)
    assert count(session, WbsItem) == 3

    good = owner.post(
        f"{BASE}/items/new",
        data=form(
            code="1.3",
            name="装修",
            planned_start="2026-03-23",
            planned_end="2026-03-27",
            weight="2.5",
            unit_id=str(org.other_unit.id),
            responsible="applicant",
            deliverables="竣工图",
            is_milestone="1",
            payment_milestone_id=str(milestone.id),
        ),
    )
    assert good.status_code == 302
    made = session.scalar(sa.select(WbsItem).where(WbsItem.code == "1.3"))
    assert (made.weight, made.unit_id, made.responsible, made.is_milestone, made.payment_milestone_id) == (
        Decimal("2.5"),
        org.other_unit.id,
        "applicant",
        True,
        milestone.id,
    )

    edit = f"{BASE}/items/{made.id}/edit"
    assert 'name="code" value="1.3"' in owner.get(edit).get_data(as_text=True)
    refused = owner.post(edit, data=form(name="装修", planned_start="2026-03-26", planned_end="2026-03-25"))
    assert refused.status_code == 400 and "不能早于" in refused.get_data(as_text=True)
    session.expire_all()
    assert session.get(WbsItem, made.id).planned_end == D(2026, 3, 27)
    saved = owner.post(
        edit,
        data=form(
            code="9", name="精装修", planned_start="2026-03-24", planned_end="2026-03-27", weight="2.5"
        ),
    )
    assert saved.status_code == 302
    session.expire_all()
    made = session.get(WbsItem, made.id)
    assert (made.code, made.name, made.planned_start, made.unit_id, made.is_milestone) == (
        "1.3",  # the code is not editable
        "精装修",
        D(2026, 3, 24),
        None,
        False,
    )
    change = session.scalars(
        sa.select(AuditRecord).where(AuditRecord.action == "wbs.change").order_by(AuditRecord.id.desc())
    ).first()
    assert change.detail["op"] == "update" and "name" in change.detail["fields"]
    assert change.detail["changes"]["name"] == ["装修", "精装修"]

    parent_delete = owner.post(f"{BASE}/items/{items['1'].id}/delete")
    assert parent_delete.status_code == 400 and "有下级任务" in parent_delete.get_data(as_text=True)
    assert owner.post(f"{BASE}/items/{made.id}/delete").status_code == 302
    assert count(session, WbsItem) == 3
    deleted = session.scalars(
        sa.select(AuditRecord).where(AuditRecord.action == "wbs.change").order_by(AuditRecord.id.desc())
    ).first()
    assert deleted.detail == {"op": "delete", "code": "1.3", "name": "精装修"}


def test_dependencies_and_baselines_through_the_pages(app, session, site):
    project, items = site
    owner = signed_in(app, "applicant")
    edit = f"{BASE}/items/{items['1.1'].id}/edit"
    cycle = owner.post(f"{edit[:-5]}/dependencies", data={"predecessor_id": items["1.2"].id})
    assert cycle.status_code == 400 and "循环依赖" in cycle.get_data(as_text=True)
    family = owner.post(f"{edit[:-5]}/dependencies", data={"predecessor_id": items["1"].id})
    assert family.status_code == 400 and "上下级关系" in family.get_data(as_text=True)
    assert count(session, WbsDependency) == 1
    removed = owner.post(f"{BASE}/items/{items['1.2'].id}/dependencies/{items['1.1'].id}/delete")
    assert removed.status_code == 302 and count(session, WbsDependency) == 0
    # 1.2 → 1.1 where 1.1 starts before 1.2 ends: added, with a warning.
    added = owner.post(
        f"{edit[:-5]}/dependencies", data={"predecessor_id": items["1.2"].id}, follow_redirects=True
    )
    text = added.get_data(as_text=True)
    assert added.status_code == 200 and "已添加前置任务 1.2" in text and "早于或等于前置任务 1.2" in text
    assert 'data-predecessor="1.2"' in text and "冲突" in text

    assert owner.post(f"{BASE}/baselines", data={"reason": ""}).status_code == 302
    again = owner.post(f"{BASE}/baselines", data={"reason": " "})
    assert again.status_code == 400 and "重新建立基线须说明原因" in again.get_data(as_text=True)
    owner.post(f"{BASE}/items/{items['1.2'].id}/dates", json={"start": "2026-03-11", "end": "2026-03-25"})
    assert owner.post(f"{BASE}/baselines", data={"reason": "设计变更"}).status_code == 302
    assert [b.number for b in session.scalars(sa.select(WbsBaseline).order_by(WbsBaseline.number))] == [1, 2]
    history = owner.get(f"{BASE}/baselines").get_data(as_text=True)
    assert 'data-number="2"' in history and 'data-number="1"' in history and "设计变更" in history
    first = owner.get(f"{BASE}/baselines?number=1").get_data(as_text=True)
    # Against baseline 1, 1.2 now ends 5 days later (03-20 → 03-25); against 2, on time.
    assert "对照基线 1 的偏差" in first and '<span class="text-danger">+5</span>' in first
    second = owner.get(f"{BASE}/baselines?number=2").get_data(as_text=True)
    assert "+5" not in second
    assert owner.get(f"{BASE}/baselines?number=9").status_code == 404
    assert [
        r.detail["number"]
        for r in session.scalars(sa.select(AuditRecord).where(AuditRecord.action == "wbs.baseline"))
    ] == [1, 2]
