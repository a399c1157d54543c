"""Live check-in requests (answered within the limit, or 超时未响应 by the scheduler's hook),
their notifications and audit, and the spot-check feeds with the "only flagged" filter."""

import io
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import time_machine

from backend.audit.models import AuditRecord
from backend.site import service
from backend.site.models import SiteCheckinRequest
from backend.tasks.models import Notification

from .conftest import CODE, SITE_LAT, SITE_LON, jpeg, signed_in, site_photo

FEED = f"/projects/{CODE}/site"
REQUESTS = f"/projects/{CODE}/site/requests"
CHECKIN = f"/projects/{CODE}/site/checkin"
NOW = datetime(2026, 3, 15, 2, 0, tzinfo=UTC)  # 10:00 in Hangzhou


def check_in(client, *, when: datetime, photo: bytes | None = None, located: bool = True):
    taken = when.astimezone(UTC).replace(tzinfo=None) + timedelta(hours=8)
    data = {"photos": [(io.BytesIO(photo or site_photo(taken)), "p.jpg")]}
    if located:
        data |= {"latitude": str(SITE_LAT), "longitude": str(SITE_LON), "accuracy": "10"}
    return client.post(CHECKIN, data=data, content_type="multipart/form-data")


def notes(session, kind: str) -> list[tuple[str, str]]:
    rows = session.scalars(
        sa.select(Notification).where(Notification.kind == kind).order_by(Notification.user)
    )
    return [(n.user, n.link) for n in rows]


def test_a_request_answered_in_time(app, session, site, people):
    with time_machine.travel(NOW, tick=False):
        inspector = signed_in(app, "insp")
        assert inspector.post(REQUESTS, data={"limit_minutes": "30", "note": "抽查"}).status_code == 302
    request = session.scalar(sa.select(SiteCheckinRequest))
    assert request.state == "open" and request.deadline_at == NOW + timedelta(minutes=30)
    # Everyone who may check in on the site is told: owner unit, contractor, supervisor.
    assert notes(session, "site_request") == [
        ("applicant", f"/projects/{CODE}/site/checkin"),
        ("builder", f"/projects/{CODE}/site/checkin"),
        ("monitor", f"/projects/{CODE}/site/checkin"),
    ]
    with time_machine.travel(NOW + timedelta(minutes=29), tick=False):
        builder = signed_in(app, "builder")
        assert "实时打卡要求" in builder.get(CHECKIN).get_data(as_text=True)
        assert check_in(builder, when=NOW + timedelta(minutes=29)).status_code == 302
    session.expire_all()
    request = session.get(SiteCheckinRequest, request.id)
    assert request.state == "answered" and request.checkin_id is not None
    assert notes(session, "site_answered") == [("insp", f"/projects/{CODE}/site")]
    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        html = inspector.get(FEED).get_data(as_text=True)
    assert 'data-request-state="answered"' in html and "已响应" in html
    audit = session.scalar(sa.select(AuditRecord).where(AuditRecord.action == "site.request"))
    assert audit.username == "insp" and audit.detail["limit_minutes"] == 30


def test_a_request_past_its_limit_expires_on_the_tick(app, session, site, people):
    with time_machine.travel(NOW, tick=False):
        inspector = signed_in(app, "insp")
        inspector.post(REQUESTS, data={"limit_minutes": "60"})
    with time_machine.travel(NOW + timedelta(minutes=59), tick=False):
        assert service.expire_requests(session=session) == 0
    with time_machine.travel(NOW + timedelta(minutes=61), tick=False):
        # Before the tick the feed already shows it expired, and the GET wrote nothing.
        early = inspector.get(FEED).get_data(as_text=True)
        assert 'data-request-state="expired"' in early
        session.expire_all()
        assert session.scalar(sa.select(SiteCheckinRequest)).state == "open"
        service.tick(session=session)  # the scheduler hook
        session.commit()
        # A check-in after the deadline answers nothing.
        assert check_in(signed_in(app, "builder"), when=NOW + timedelta(minutes=61)).status_code == 302
        html = inspector.get(FEED).get_data(as_text=True)
    request = session.scalar(sa.select(SiteCheckinRequest))
    assert request.state == "expired" and request.checkin_id is None
    assert notes(session, "site_timeout") == [("insp", f"/projects/{CODE}/site")]
    assert 'data-request-state="expired"' in html and "超时未响应" in html
    expired = session.scalar(sa.select(AuditRecord).where(AuditRecord.action == "site.request_expired"))
    assert expired.detail["request_id"] == request.id


def test_only_valid_limits_and_only_managers(app, session, site, people):
    with time_machine.travel(NOW, tick=False):
        assert signed_in(app, "insp").post(REQUESTS, data={"limit_minutes": "45"}).status_code == 302
        assert signed_in(app, "builder").post(REQUESTS, data={"limit_minutes": "30"}).status_code == 403
        assert signed_in(app, "stranger").post(REQUESTS, data={"limit_minutes": "30"}).status_code == 404
    assert session.scalar(sa.select(sa.func.count(SiteCheckinRequest.id))) == 0


def test_feeds_and_the_flagged_filter(app, session, site, people):
    with time_machine.travel(NOW, tick=False):
        builder = signed_in(app, "builder")
        check_in(builder, when=NOW)
        check_in(builder, when=NOW, photo=jpeg(), located=False)
        inspector = signed_in(app, "insp")
        everything = inspector.get(FEED).get_data(as_text=True)
        flagged = inspector.get(f"{FEED}?flagged=1").get_data(as_text=True)
        across = inspector.get("/site/feed?flagged=1").get_data(as_text=True)
        far = signed_in(app, "insp_nb").get("/site/feed").get_data(as_text=True)
        # A contractor landing on the feed goes to the check-in page.
        assert builder.get(FEED).headers["Location"].endswith("/site/checkin")
        assert builder.get("/site/feed").status_code == 403
    assert everything.count('data-feed-item="checkin"') == 2
    assert "距现场 0 米" in everything
    assert flagged.count('data-feed-item="checkin"') == 1
    assert "无定位" in flagged and "照片无拍摄信息" in flagged
    assert across.count('data-feed-item="checkin"') == 1 and "西湖区综合管廊工程" in across
    assert 'data-feed-item="checkin"' not in far
