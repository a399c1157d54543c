"""Rate limits: sign-in per source address (and per address and name), webhooks per hook; a
refusal is 429 with Retry-After and a Chinese message (a page, or a problem document under
/api/v1). Counters are shared by every worker through Redis when REDIS_URL is set."""

import os

import pytest
import sqlalchemy as sa

from backend.audit.models import AuditRecord
from backend.config import Config
from backend.security.ratelimit import Limit, MemoryCounters, RateLimiter
from tests.security.conftest import PASSWORD


def _login(client, username="reviewer", password="wrong-password", **kwargs):
    return client.post("/login", data={"username": username, "password": password}, **kwargs)


def test_sign_in_attempts_per_address(app, session, people, limiter, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "3/60")
    client = app.test_client()
    assert [_login(client, f"user{i}").status_code for i in range(3)] == [401, 401, 401]
    refused = _login(client, "someone-else")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    page = refused.get_data(as_text=True)
    assert "请求过于频繁" in page and "秒后重试" in page
    # Even the right password waits: the limit is on attempts, not on failures.
    assert _login(client, "reviewer", PASSWORD).status_code == 429
    # Another address is not affected.
    other = _login(app.test_client(), "reviewer", PASSWORD, environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert other.status_code == 302
    # The refusal is audited once per window, not once per refused request.
    session.expire_all()
    audited = session.scalars(
        sa.select(AuditRecord).where(AuditRecord.action == "security.rate_limited")
    ).all()
    assert [(a.result, a.object_type, a.object_id) for a in audited] == [("denied", "login", "127.0.0.1")]


def test_sign_in_attempts_per_address_and_name(app, session, people, limiter, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_ACCOUNT_RATE_LIMIT", "2/60")
    client = app.test_client()
    assert [_login(client).status_code for _ in range(2)] == [401, 401]
    assert _login(client).status_code == 429
    assert _login(client, "designer", PASSWORD).status_code == 302  # another name from there


def test_the_password_change_form_counts_as_a_sign_in(app, session, people, limiter, monkeypatch):
    """Guessing the current password on /password is guessing a password."""
    client = app.test_client()
    assert _login(client, "reviewer", PASSWORD).status_code == 302
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "2/60")
    data = {"current_password": "guess", "new_password": "Xx-12345678", "confirm_password": "Xx-12345678"}
    statuses = [client.post("/password", data=data).status_code for _ in range(3)]
    assert statuses[:2] == [400, 400] and statuses[2] == 429


def test_webhooks_per_hook_with_a_problem_document(app, session, limiter, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_RATE_LIMIT", "2/60")
    client = app.test_client()
    post = lambda name: client.post(f"/api/v1/hooks/{name}", data=b"{}", content_type="application/json")  # noqa: E731
    assert [post("budget").status_code for _ in range(2)] == [404, 404]
    refused = post("budget")
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    body = refused.get_json()
    assert body["status"] == 429 and "秒后重试" in body["detail"]
    assert int(refused.headers["Retry-After"]) >= 1
    assert post("another-hook").status_code == 404  # per hook


def test_the_default_webhook_limit_leaves_room_for_the_bench():
    """bench/webhook.py drives one hook at 200 starts/s; the default must not throttle it."""
    limit = Limit.parse(Config.WEBHOOK_RATE_LIMIT)
    assert limit.count / limit.seconds >= 400


def test_an_empty_setting_means_no_limit(app, session, people, limiter, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "")
    monkeypatch.setitem(app.config, "LOGIN_ACCOUNT_RATE_LIMIT", "0")
    client = app.test_client()
    # (The account lockout of backend/accounts answers 429 too, after 5 failures: not ours.)
    pages = [_login(client, f"user{i}").get_data(as_text=True) for i in range(15)]
    assert not [p for p in pages if "请求过于频繁" in p]


def test_the_window_ends():
    counters = MemoryCounters()
    limit = Limit(2, 10)
    assert [counters.hit("k", limit, 100.0 + i).allowed for i in range(3)] == [True, True, False]
    refused = counters.hit("k", limit, 105.0)
    assert not refused.allowed and refused.retry_after == 5
    assert counters.hit("k", limit, 110.0).allowed


@pytest.mark.redis
def test_redis_counters_are_shared_between_workers():
    """Two limiters (two gunicorn workers) over one Redis count together."""
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("needs TEST_REDIS_URL")
    one, two = RateLimiter(url), RateLimiter(url)
    one.reset()
    limit = Limit(3, 60)
    results = [w.hit("login", "203.0.113.5", limit).allowed for w in (one, two, one, two)]
    assert results == [True, True, True, False]
    one.reset()


def test_redis_down_lets_requests_through():
    """A rate limit must not take sign-in down with it."""
    limiter = RateLimiter("redis://127.0.0.1:9/0")
    assert all(limiter.hit("login", "x", Limit(1, 60)).allowed for _ in range(3))


def test_the_sign_in_endpoints_exist(app):
    """A renamed sign-in view would silently lose its limit."""
    from backend.security import SIGN_IN_ENDPOINTS, WEBHOOK_ENDPOINT

    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert SIGN_IN_ENDPOINTS | {WEBHOOK_ENDPOINT} <= endpoints


@pytest.mark.redis
def test_a_redis_window_starts_at_the_first_hit_not_at_a_clock_mark():
    """A burst straddling a minute mark keeps its count (CI once failed this on the boundary)."""
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        pytest.skip("needs TEST_REDIS_URL")
    counters = RateLimiter(url).counters
    counters.reset()
    limit = Limit(2, 60)
    hits = [counters.hit("login:x", limit, now) for now in (119.9, 119.95, 120.05)]
    assert [h.allowed for h in hits] == [True, True, False]
    assert hits[2].first_refusal and 55 <= hits[2].retry_after <= 60
    counters.reset()
