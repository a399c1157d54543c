"""/projects/<code>/funds: figures and history, the monthly report form, scope."""

from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
import time_machine

from backend.accounts.service import set_password
from backend.funds.models import InvestmentReport
from backend.org.models import User
from tests.api.conftest import PASSWORD, signed_in

from .conftest import CODE, add_budget

PAGE = f"/projects/{CODE}/funds"
REPORTS = f"/projects/{CODE}/funds/reports"
# 15 March 2026, 10:00 in Hangzhou.
NOW = datetime(2026, 3, 15, 2, 0, tzinfo=UTC)


def test_owner_reports_and_corrects_a_month(app, session, project, people):
    add_budget(session, project, 2026, "中央预算内", "1000.00")
    session.commit()
    with time_machine.travel(NOW, tick=False):
        owner = signed_in(app, "applicant")
        page = owner.get(PAGE)
        assert page.status_code == 200
        assert 'name="amount"' in page.get_data(as_text=True)
        assert owner.post(REPORTS, data={"month": "2026-02", "amount": "150"}).status_code == 302
        assert (
            owner.post(REPORTS, data={"month": "2026-02", "amount": "250.50", "note": "更正"}).status_code
            == 302
        )
        future = owner.post(REPORTS, data={"month": "2026-04", "amount": "1"})
        assert future.status_code == 400
        assert "不能填报未来月份的完成投资" in future.get_data(as_text=True)
        html = owner.get(PAGE).get_data(as_text=True)
    rows = session.scalars(sa.select(InvestmentReport).order_by(InvestmentReport.version)).all()
    assert [(r.version, r.amount, r.reported_by) for r in rows] == [
        (1, Decimal("150.00"), "applicant"),
        (2, Decimal("250.50"), "applicant"),
    ]
    # 250.50 / 1000 = 25.05 %; the superseded 150.00 is still shown as history.
    assert 'data-rate="year">25.05%' in html
    assert "150.00" in html


def test_out_of_scope_is_not_found_and_readers_only(app, session, project, people):
    assert signed_in(app, "fin_nb").get(PAGE).status_code == 404
    fin = signed_in(app, "fin")
    page = fin.get(PAGE)
    assert page.status_code == 200
    assert 'name="amount"' not in page.get_data(as_text=True)  # not the owner unit
    assert fin.post(REPORTS, data={"month": "2026-02", "amount": "1"}).status_code == 403
    reviewer = User(username="rev", display_name="审查", roles=["reviewer"], region_code="330000")
    session.add(reviewer)
    session.flush()
    set_password(user=reviewer, password=PASSWORD, enforce_policy=False)
    session.commit()
    assert signed_in(app, "rev").get(PAGE).status_code == 403  # no funds.read


def test_owner_of_another_unit_may_not_report(app, session, org, project, people):
    stranger = User(
        username="owner2",
        display_name="别家",
        unit_id=org.other_unit.id,
        roles=["owner"],
        region_code="330000",
    )
    session.add(stranger)
    session.flush()
    set_password(user=stranger, password=PASSWORD, enforce_policy=False)
    session.commit()
    client = signed_in(app, "owner2")
    assert 'name="amount"' not in client.get(PAGE).get_data(as_text=True)
    assert client.post(REPORTS, data={"month": "2026-02", "amount": "1"}).status_code == 403
    assert session.scalar(sa.select(sa.func.count()).select_from(InvestmentReport)) == 0
