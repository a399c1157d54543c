"""Budget lines (年度计划投资与资金来源) on /projects/<code>/funds: add, change, remove by the
holders of funds.plan (head, finance), validation that keeps the input, audit, and the rules
that protect what payments draw on."""

from decimal import Decimal

import sqlalchemy as sa

from backend.audit.models import AuditRecord
from backend.contracts.models import BudgetLine
from backend.jobs.models import OutboxJob
from tests.api.conftest import signed_in

from .conftest import CODE, add_budget, add_payment

PAGE = f"/projects/{CODE}/funds"
LINES = f"{PAGE}/lines"


def form(year="2026", source="中央预算内", amount="1000.50"):
    return {"plan_year": year, "plan_source": source, "plan_amount": amount}


def lines(session):
    session.expire_all()
    return [
        (line.year, line.source, line.amount)
        for line in session.scalars(sa.select(BudgetLine).order_by(BudgetLine.year, BudgetLine.source))
    ]


def audited(session):
    return [
        (r.detail["op"], r.detail["before"], r.detail["after"], r.username)
        for r in session.scalars(
            sa.select(AuditRecord).where(AuditRecord.action == "funds.budget_line").order_by(AuditRecord.id)
        )
    ]


def test_finance_adds_changes_and_removes_a_line(app, session, project, people):
    fin = signed_in(app, "fin")
    page = fin.get(PAGE).get_data(as_text=True)
    assert 'name="plan_amount"' in page
    assert fin.post(LINES, data=form()).status_code == 302
    assert lines(session) == [(2026, "中央预算内", Decimal("1000.50"))]
    line_id = session.scalar(sa.select(BudgetLine.id))
    # Adding money tells blocked payments of the project to check again.
    jobs = session.scalars(sa.select(OutboxJob).where(OutboxJob.actor == "workflow.deliver_message")).all()
    assert [j.payload["name"] for j in jobs] == ["release_conditions_changed"]
    assert jobs[0].payload["payload"]["amount"] == "1000.50"

    edit = fin.get(f"{PAGE}?edit={line_id}").get_data(as_text=True)
    assert f'action="{LINES}/{line_id}"' in edit and 'value="1000.50"' in edit
    assert (
        fin.post(f"{LINES}/{line_id}", data=form(source="地方政府专项债券", amount="2,000")).status_code
        == 302
    )
    assert lines(session) == [(2026, "地方政府专项债券", Decimal("2000.00"))]
    assert fin.post(f"{LINES}/{line_id}/delete").status_code == 302
    assert lines(session) == []
    assert audited(session) == [
        ("create", None, {"year": 2026, "source": "中央预算内", "amount": "1000.50"}, "fin"),
        (
            "update",
            {"year": 2026, "source": "中央预算内", "amount": "1000.50"},
            {"year": 2026, "source": "地方政府专项债券", "amount": "2000.00"},
            "fin",
        ),
        ("delete", {"year": 2026, "source": "地方政府专项债券", "amount": "2000.00"}, None, "fin"),
    ]


def test_invalid_input_is_refused_in_chinese_and_kept(app, session, project, people):
    fin = signed_in(app, "fin")
    cases = {
        "年度须为 2000 到 2100 之间的年份": form(year="二〇二六"),
        "请填写资金来源": form(source="  "),
        "金额最多保留两位小数 (元)": form(amount="12.345"),
        "金额须大于零": form(amount="-5"),
        "金额须为数字": form(amount="一千"),
    }
    for message, data in cases.items():
        response = fin.post(LINES, data=data)
        html = response.get_data(as_text=True)
        assert response.status_code == 400, message
        assert message in html
        for value in data.values():
            if value.strip():
                assert f'value="{value}"' in html, (message, value)
    assert lines(session) == []
    assert audited(session) == []


def test_one_line_per_year_and_source(app, session, project, people):
    add_budget(session, project, 2026, "中央预算内", "100.00")
    session.commit()
    response = signed_in(app, "fin").post(LINES, data=form(amount="5"))
    assert response.status_code == 400
    assert "2026 年度已有资金来源“中央预算内”的计划, 请修改该行" in response.get_data(as_text=True)
    assert lines(session) == [(2026, "中央预算内", Decimal("100.00"))]


def test_a_line_payments_draw_on(app, session, org, project, people):
    line = add_budget(session, project, 2026, "中央预算内", "1000.00")
    payment = add_payment(session, org, project, "ZF-1", "600.00", "disbursed")
    payment.budget_line_id = line.id
    session.commit()
    fin = signed_in(app, "fin")
    assert "¥600.00" in fin.get(PAGE).get_data(as_text=True)  # 已支用
    below = fin.post(f"{LINES}/{line.id}", data=form(amount="599.99"))
    assert below.status_code == 400
    assert "金额不能低于已支用的 600.00 元" in below.get_data(as_text=True)
    moved = fin.post(f"{LINES}/{line.id}", data=form(year="2027", amount="1000"))
    assert "该计划行已有支付记录, 年度和资金来源不能修改" in moved.get_data(as_text=True)
    removed = fin.post(f"{LINES}/{line.id}/delete")
    assert removed.status_code == 400
    assert "该计划行已有支付记录, 不能删除" in removed.get_data(as_text=True)
    assert fin.post(f"{LINES}/{line.id}", data=form(amount="600")).status_code == 302
    assert lines(session) == [(2026, "中央预算内", Decimal("600.00"))]


def test_who_may_plan(app, session, project, people):
    line = add_budget(session, project, 2026, "中央预算内", "100.00")
    session.commit()
    owner = signed_in(app, "applicant")  # funds.read and funds.report, not funds.plan
    assert 'name="plan_amount"' not in owner.get(PAGE).get_data(as_text=True)
    assert owner.post(LINES, data=form(source="企业自筹")).status_code == 403
    assert owner.post(f"{LINES}/{line.id}/delete").status_code == 403
    ningbo = signed_in(app, "fin_nb")  # funds.plan, but the project is out of scope
    assert ningbo.post(LINES, data=form(source="企业自筹")).status_code == 404
    assert ningbo.post(f"{LINES}/{line.id}", data=form(amount="1")).status_code == 404
    assert lines(session) == [(2026, "中央预算内", Decimal("100.00"))]


def test_a_line_of_another_project_is_not_found(app, session, org, project, people):
    from tests.api.conftest import make_project

    other = make_project(session, org, "2026-330106-48-01-000999", "330106")
    line = add_budget(session, other, 2026, "中央预算内", "100.00")
    session.commit()
    response = signed_in(app, "fin").post(f"{LINES}/{line.id}/delete")
    assert response.status_code == 400
    assert "该计划行不存在或已被删除" in response.get_data(as_text=True)
    assert len(lines(session)) == 1
