"""Citizens' feedback: stored pending, shown only after approval; CSRF, per-address rate limit,
honeypot, length and control characters; the address kept only as a salted hash."""

import re

import sqlalchemy as sa

from backend.publicpage import service
from backend.publicpage.models import PublicFeedback
from tests.api.conftest import Client

from .conftest import CODE

FORM = f"/p/{CODE}/feedback"


def anonymous(app, address: str = "127.0.0.1") -> Client:
    client = Client(app, app.response_class, use_cookies=True)
    client.environ_base["REMOTE_ADDR"] = address
    return client


def stored(session) -> list[PublicFeedback]:
    session.expire_all()
    return list(session.scalars(sa.select(PublicFeedback).order_by(PublicFeedback.id)))


def test_feedback_is_pending_until_approved(app, session, world):
    client = anonymous(app, "203.0.113.7")
    form = client.get(FORM)
    assert form.status_code == 200
    assert form.headers["Cache-Control"] == "no-store"
    body = form.get_data(as_text=True)
    assert 'name="rating"' in body and 'name="comment"' in body
    assert "phone" not in body and "电话" not in body.split("请勿填写姓名、电话等个人信息")[0]
    sent = client.post(FORM, data={"rating": "4", "comment": "文明施工做得好"})
    assert sent.status_code == 302 and sent.headers["Location"].endswith(f"/p/{CODE}/feedback/thanks")
    assert "审核" in client.get(sent.headers["Location"]).get_data(as_text=True)
    [row] = stored(session)
    assert (row.rating, row.comment, row.status) == (4, "文明施工做得好", "pending")
    # The address only as a salted hash: not the address, not its plain SHA-256.
    import hashlib

    assert "203.0.113.7" not in row.ip_hash
    assert row.ip_hash != hashlib.sha256(b"203.0.113.7").hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", row.ip_hash)
    assert "文明施工做得好" not in client.get(f"/p/{CODE}").get_data(as_text=True)

    service.moderate(session=session, feedback=row, approve=True, by="fgw_window")
    session.commit()
    assert "文明施工做得好" in client.get(f"/p/{CODE}").get_data(as_text=True)


def test_the_same_address_gives_the_same_hash(app, session, world):
    anonymous(app, "198.51.100.1").post(FORM, data={"rating": "5"})
    anonymous(app, "198.51.100.1").post(FORM, data={"rating": "3"})
    anonymous(app, "198.51.100.2").post(FORM, data={"rating": "3"})
    hashes = [row.ip_hash for row in stored(session)]
    assert hashes[0] == hashes[1] != hashes[2]


def test_rating_length_and_control_characters_are_checked(app, session, world, monkeypatch):
    # Refused posts count against the limit too (a flood of bad posts is a flood): lift it here.
    monkeypatch.setitem(app.config, "PUBLIC_FEEDBACK_RATE_LIMIT", "100/600")
    client = anonymous(app)
    cases = {
        "no rating": ({"comment": "好"}, "请选择 1 到 5 星的评分"),
        "rating 6": ({"rating": "6"}, "请选择 1 到 5 星的评分"),
        "rating text": ({"rating": "五"}, "请选择 1 到 5 星的评分"),
        "too long": ({"rating": "3", "comment": "长" * 501}, "留言不能超过 500 个字"),
        "bell": ({"rating": "3", "comment": "响\x07铃"}, "留言含有不允许的控制字符"),
        "bidi override": ({"rating": "3", "comment": "abc\u202edef"}, "留言含有不允许的控制字符"),
        "zero width": ({"rating": "3", "comment": "a\u200bb"}, "留言含有不允许的控制字符"),
    }
    for name, (data, message) in cases.items():
        response = client.post(FORM, data=data)
        assert response.status_code == 400, name
        assert message in response.get_data(as_text=True), name
    assert stored(session) == []
    # 500 characters and line breaks are fine.
    assert client.post(FORM, data={"rating": "3", "comment": "好" * 498 + "\r\n行"}).status_code == 302
    [row] = stored(session)
    assert row.comment.endswith("好\n行") and len(row.comment) == 500


def test_honeypot_stores_nothing_but_looks_the_same(app, session, world):
    client = anonymous(app)
    bot = client.post(FORM, data={"rating": "5", "comment": "buy now", "website": "http://spam.example"})
    person = client.post(FORM, data={"rating": "5", "comment": "不错"})
    assert bot.status_code == person.status_code == 302
    assert bot.headers["Location"] == person.headers["Location"]
    assert [row.comment for row in stored(session)] == ["不错"]


def test_feedback_rate_limit_per_address(app, session, world):
    app.config["PUBLIC_FEEDBACK_RATE_LIMIT"] = "2/600"
    try:
        client = anonymous(app, "192.0.2.9")
        answers = [client.post(FORM, data={"rating": "4"}).status_code for _ in range(3)]
        refused = client.post(FORM, data={"rating": "4"})
        elsewhere = anonymous(app, "192.0.2.10").post(FORM, data={"rating": "4"})
    finally:
        app.config["PUBLIC_FEEDBACK_RATE_LIMIT"] = "5/600"
    assert answers == [302, 302, 429]
    assert refused.status_code == 429 and "访问过于频繁" in refused.get_data(as_text=True)
    assert elsewhere.status_code == 302
    assert len(stored(session)) == 3


def test_csrf_is_required_for_anonymous_posts(app, session, world):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        client = anonymous(app)
        forged = client.post(FORM, data={"rating": "1", "comment": "伪造"})
        page = client.get(FORM).get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        real = client.post(FORM, data={"rating": "5", "comment": "真实", "csrf_token": token})
        # Another browser (no session cookie) cannot reuse the token.
        stranger = anonymous(app).post(FORM, data={"rating": "1", "comment": "借用", "csrf_token": token})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert forged.status_code == 400
    assert real.status_code == 302
    assert stranger.status_code == 400
    assert [row.comment for row in stored(session)] == ["真实"]


def test_feedback_for_a_project_that_is_not_public_is_not_found(app, session, world):
    world.project.status = "draft"
    session.commit()
    client = anonymous(app)
    assert client.get(FORM).status_code == 404
    assert client.post(FORM, data={"rating": "5"}).status_code == 404
    assert stored(session) == []
