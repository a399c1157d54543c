"""/p/<code>: what it shows, milestone states on Shanghai dates, the cache and its
invalidation, Cache-Control, and the per-address rate limit."""

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import sqlalchemy as sa
import time_machine

from backend.projects.models import Project
from backend.publicpage import service
from backend.publicpage.models import PublicFeedback
from tests.api.conftest import Client

from .conftest import CODE

NOW = datetime(2026, 3, 15, 2, 0, tzinfo=UTC)  # 10:00 in Hangzhou


def anonymous(app) -> Client:
    return Client(app, app.response_class, use_cookies=True)


def milestone_states(html: str) -> dict[str, str]:
    pattern = r'data-state="(\w+)">\s*<span class="public-milestone-name">([^<]+)</span>'
    return {name: state for state, name in re.findall(pattern, html)}


def test_page_shows_facts_milestones_and_states(app, session, world):
    with time_machine.travel(NOW, tick=False):
        response = anonymous(app).get(f"/p/{CODE}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-field="dates">2026-01-01' in html and "2027-06-30" in html
    assert milestone_states(html) == {
        "基坑验收": "done",
        "管线迁改完成": "overdue",
        "主体结构封顶": "not_started",
    }
    assert "已完成" in html and "已逾期" in html and "未开始" in html
    assert 'value="31.67"' in html  # the <progress> bar, no JavaScript needed
    assert "<script" not in html  # works without JavaScript
    assert "暂无评价" in html


def test_milestone_state_uses_the_shanghai_date():
    # 2026-03-15 23:30 UTC is already 16 March in Shanghai.
    late = datetime(2026, 3, 15, 23, 30, tzinfo=UTC)
    from backend.workdays.service import local_date

    today = local_date(late)
    assert today == date(2026, 3, 16)
    state = service.milestone_state
    kwargs = {"actual_start": None, "actual_end": None, "today": today}
    assert state(progress=Decimal(0), planned_end=date(2026, 3, 15), **kwargs) == "overdue"
    assert state(progress=Decimal(0), planned_end=date(2026, 3, 16), **kwargs) == "not_started"
    assert state(progress=Decimal("10"), planned_end=date(2026, 3, 16), **kwargs) == "in_progress"
    assert (
        state(
            progress=Decimal(0),
            planned_end=date(2026, 4, 1),
            actual_start=date(2026, 3, 1),
            actual_end=None,
            today=today,
        )
        == "in_progress"
    )
    assert state(progress=Decimal(100), planned_end=date(2026, 3, 1), **kwargs) == "done"


def test_in_progress_milestone_on_the_page(app, session, world):
    from backend.schedule.models import WbsItem

    item = session.scalar(sa.select(WbsItem).where(WbsItem.name == "主体结构封顶"))
    item.actual_start = date(2026, 3, 1)
    session.commit()
    with time_machine.travel(NOW, tick=False):
        html = anonymous(app).get(f"/p/{CODE}").get_data(as_text=True)
    assert milestone_states(html)["主体结构封顶"] == "in_progress"
    assert "进行中" in html


def test_cache_headers_and_invalidation(app, session, world):
    client = anonymous(app)
    with time_machine.travel(NOW, tick=False):
        first = client.get(f"/p/{CODE}")
        assert first.headers["Cache-Control"] == "public, max-age=60"
        assert "Accept-Language" in first.headers.get("Vary", "")
        assert "Set-Cookie" not in first.headers  # shareable by any cache
        # A change the page does not track (a rename) waits for the TTL: served from the cache.
        session.execute(sa.update(Project).where(Project.code == CODE).values(name="改过的名字"))
        session.commit()
        assert "改过的名字" not in client.get(f"/p/{CODE}").get_data(as_text=True)
        # An approved comment raises the publication version: the next hit renders anew.
        feedback = service.submit_feedback(
            session=session, project=world.project, rating=4, comment="工地围挡整洁", address_hash="x" * 64
        )
        session.commit()
        assert "工地围挡整洁" not in client.get(f"/p/{CODE}").get_data(as_text=True)  # pending
        service.moderate(session=session, feedback=feedback, approve=True, by="fgw_window")
        session.commit()
        html = client.get(f"/p/{CODE}").get_data(as_text=True)
    assert "工地围挡整洁" in html and "改过的名字" in html
    assert "平均 4.00 分, 共 1 条评价" in html


def test_cache_expires_after_its_ttl(app, session, world):
    client = anonymous(app)
    app.config["PUBLIC_PAGE_CACHE_SECONDS"] = 0  # no cache: every hit renders
    try:
        client.get(f"/p/{CODE}")
        session.execute(sa.update(Project).where(Project.code == CODE).values(name="新名字工程"))
        session.commit()
        assert "新名字工程" in client.get(f"/p/{CODE}").get_data(as_text=True)
    finally:
        app.config["PUBLIC_PAGE_CACHE_SECONDS"] = 60


def test_switching_off_hides_the_page_at_once(app, session, world):
    client = anonymous(app)
    assert client.get(f"/p/{CODE}").status_code == 200
    service.set_enabled(session=session, project=world.project, enabled=False, by="fgw_window")
    session.commit()
    assert client.get(f"/p/{CODE}").status_code == 404  # the version in the key changed


def test_page_rate_limit_per_address(app, session, world):
    app.config["PUBLIC_RATE_LIMIT"] = "3/60"
    try:
        client = anonymous(app)
        assert [client.get(f"/p/{CODE}").status_code for _ in range(3)] == [200, 200, 200]
        refused = client.get(f"/p/{CODE}")
        other = anonymous(app).get(f"/p/{CODE}", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    finally:
        app.config["PUBLIC_RATE_LIMIT"] = "60/60"
    assert refused.status_code == 429
    assert "访问过于频繁" in refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) > 0
    assert other.status_code == 200  # another address has its own budget


def test_approved_comments_show_masked_numbers_and_the_average(app, session, world):
    for rating, text, approve in (
        (5, "进度很快, 点赞", True),
        (2, "夜间施工噪音大, 请联系我13812345678", True),
        (1, "待审核的留言不显示", None),
        (3, "被驳回的留言", False),
    ):
        row = service.submit_feedback(
            session=session, project=world.project, rating=rating, comment=text, address_hash="h" * 64
        )
        if approve is not None:
            service.moderate(
                session=session, feedback=row, approve=approve, reason="含不实信息", by="fgw_window"
            )
    session.commit()
    html = anonymous(app).get(f"/p/{CODE}").get_data(as_text=True)
    assert "进度很快, 点赞" in html
    assert "请联系我***" in html and "13812345678" not in html
    assert "待审核的留言不显示" not in html and "被驳回的留言" not in html
    assert "平均 3.50 分, 共 2 条评价" in html
    assert service.satisfaction(session=session, project_id=world.project.id) == (Decimal("3.50"), 2)
    assert session.scalar(sa.select(sa.func.count()).select_from(PublicFeedback)) == 4


def test_satisfaction_without_ratings(session, world):
    assert service.satisfaction(session=session, project_id=world.project.id) == (None, 0)
    for rating in (5, 4, 2):
        row = service.submit_feedback(
            session=session, project=world.project, rating=rating, comment="", address_hash="h" * 64
        )
        service.moderate(session=session, feedback=row, approve=True, by="x")
    # 11 / 3 = 3.666… → 3.67
    assert service.satisfaction(session=session, project_id=world.project.id) == (Decimal("3.67"), 3)
