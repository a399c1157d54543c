"""/projects (the list of the person's data scope: search, filters, pages) and the project hub
/projects/<code> (overview, progress, money for funds.read holders only, the tabs)."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from backend.accounts.service import set_password
from backend.contracts.models import BudgetLine
from backend.db import utcnow
from backend.org.models import User
from backend.projects.models import Project
from backend.schedule import service as schedule
from backend.workdays.service import local_date
from tests.api.conftest import PASSWORD, make_project, org, signed_in  # noqa: F401  (fixtures)

XIHU = "2026-330106-48-01-000101"  # 西湖区 (under 杭州), the applicant's unit
NINGBO = "2026-330200-48-01-000102"  # 宁波, another unit
DRAFT = "2026-330106-48-01-000103"  # 西湖区, another unit's draft


@pytest.fixture()
def world(session, org):  # noqa: F811
    make_project(session, org, XIHU, "330106", name="西湖区文三路综合管廊工程")
    make_project(
        session, org, NINGBO, "330200", name="宁波市轨道交通五号线"
    ).owner_unit_id = org.other_unit.id
    make_project(
        session, org, DRAFT, "330106", name="西湖区草稿项目", status="draft"
    ).owner_unit_id = org.other_unit.id
    for name, roles, region in (
        ("hz_rev", ["reviewer"], "330100"),  # 杭州: sees 西湖区, not 宁波
        ("prov_rev", ["reviewer"], "330000"),  # the province: everything but drafts
        ("prov_head", ["head"], "330000"),  # funds.read
        ("designer1", ["designer"], "330000"),  # no project.read
    ):
        user = User(username=name, display_name=name, roles=roles, region_code=region)
        session.add(user)
        session.flush()
        set_password(user=user, password=PASSWORD, enforce_policy=False)
    session.commit()
    return org


def codes(html: str) -> set[str]:
    found = set()
    for code in (XIHU, NINGBO, DRAFT):
        if f'data-project-code="{code}"' in html:
            found.add(code)
    return found


def test_the_list_is_the_persons_scope(app, session, world):
    assert codes(signed_in(app, "hz_rev").get("/projects").get_data(as_text=True)) == {XIHU}
    assert codes(signed_in(app, "prov_rev").get("/projects").get_data(as_text=True)) == {XIHU, NINGBO}
    # The applicant (no region): their own unit's projects only.
    assert codes(signed_in(app, "applicant").get("/projects").get_data(as_text=True)) == {XIHU}
    assert signed_in(app, "designer1").get("/projects").status_code == 403


def test_search_and_filters(app, session, world):
    client = signed_in(app, "prov_rev")
    assert codes(client.get("/projects?q=管廊").get_data(as_text=True)) == {XIHU}
    assert codes(client.get("/projects?q=330200").get_data(as_text=True)) == {NINGBO}
    # A city includes its counties.
    assert codes(client.get("/projects?region=330100").get_data(as_text=True)) == {XIHU}
    assert codes(client.get("/projects?region=330200").get_data(as_text=True)) == {NINGBO}
    assert codes(client.get("/projects?region=999999").get_data(as_text=True)) == set()
    assert codes(client.get("/projects?status=approved").get_data(as_text=True)) == {XIHU, NINGBO}
    assert codes(client.get("/projects?status=in_construction").get_data(as_text=True)) == set()
    html = client.get("/projects?q=管廊").get_data(as_text=True)
    assert 'value="管廊"' in html  # the search is kept
    assert '<option value="330100"' in html and '<option value="330106"' in html


def test_pages_of_twenty(app, session, world):
    for i in range(23):
        make_project(session, world, f"2026-330106-48-01-{i:06d}", "330106", name=f"批量项目{i:02d}")
    session.commit()
    client = signed_in(app, "hz_rev")
    first = client.get("/projects").get_data(as_text=True)
    second = client.get("/projects?page=2").get_data(as_text=True)
    assert first.count("data-project-code=") == 20
    assert second.count("data-project-code=") == 4  # 23 + 西湖区
    assert 'data-page="2"' in second
    assert 'data-total="24"' in first
    assert client.get("/projects?page=99").get_data(as_text=True).count("data-project-code=") == 4
    # Filters survive paging.
    assert "page=2&amp;q=%E6%89%B9%E9%87%8F" in client.get("/projects?q=批量").get_data(as_text=True)


def test_nav_link_for_project_readers(app, session, world):
    assert "data-projects-link" in signed_in(app, "hz_rev").get("/inbox").get_data(as_text=True)
    assert "data-projects-link" not in signed_in(app, "designer1").get("/inbox").get_data(as_text=True)


def test_hub_scope_and_drafts(app, session, world):
    assert signed_in(app, "hz_rev").get(f"/projects/{NINGBO}").status_code == 404
    assert signed_in(app, "prov_rev").get(f"/projects/{DRAFT}").status_code == 404
    assert signed_in(app, "prov_rev").get("/projects/no-such-code").status_code == 404
    page = signed_in(app, "hz_rev").get(f"/projects/{XIHU}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "西湖区文三路综合管廊工程" in html and "杭州市城市建设投资集团有限公司" in html
    assert "杭州市 西湖区" in html


def test_money_only_for_funds_readers(app, session, world):
    xihu = session.scalar(sa.select(Project).filter_by(code=XIHU))
    session.add(
        BudgetLine(
            project_id=xihu.id, year=local_date(utcnow()).year, source="企业自筹", amount=Decimal("1000")
        )
    )
    session.commit()
    reviewer = signed_in(app, "hz_rev").get(f"/projects/{XIHU}").get_data(as_text=True)
    head = signed_in(app, "prov_head").get(f"/projects/{XIHU}").get_data(as_text=True)
    for html in (reviewer, head):
        assert 'data-tab="projects.hub"' in html and 'data-tab="schedule.project_schedule"' in html
    assert 'id="project-money"' not in reviewer and "¥" not in reviewer
    assert 'data-tab="funds.project_funds"' not in reviewer
    assert 'id="project-money"' in head and "¥1,234.50" in head  # total investment
    assert 'data-tab="funds.project_funds"' in head


def test_hub_shows_physical_progress(app, session, world):
    xihu = session.scalar(sa.select(Project).filter_by(code=XIHU))
    start = local_date(utcnow()) - timedelta(days=30)
    a = schedule.create_item(
        session=session,
        project_id=xihu.id,
        code="1",
        name="土建",
        planned_start=start,
        planned_end=start + timedelta(days=60),
        audit=False,
    )
    b = schedule.create_item(
        session=session,
        project_id=xihu.id,
        code="2",
        name="安装",
        planned_start=start,
        planned_end=start + timedelta(days=10),
        audit=False,
    )
    schedule.record_progress(session=session, item=a, percent=50, by="applicant")
    assert b.percent_complete == 0
    session.commit()
    html = signed_in(app, "hz_rev").get(f"/projects/{XIHU}").get_data(as_text=True)
    assert 'data-figure="progress">25.00%' in html  # (50 + 0) / 2
    assert 'data-figure="overdue">1' in html  # 安装 ended 20 days ago at 0 %


def test_tabs_on_the_schedule_and_funds_pages(app, session, world):
    head = signed_in(app, "prov_head")
    for url, active in (
        (f"/projects/{XIHU}/schedule", "schedule.project_schedule"),
        (f"/projects/{XIHU}/funds", "funds.project_funds"),
    ):
        html = head.get(url).get_data(as_text=True)
        assert "data-project-tabs" in html, url
        assert re.findall(r'nav-link active" aria-current="page" href="[^"]+" data-tab="([^"]+)"', html) == [
            active
        ]
