"""CSRF (flask-wtf) on every state-changing route of the site: a POST/PUT/PATCH/DELETE without
the token is refused before any view runs. Only the token-authenticated API blueprints (API
keys, signed webhooks) are exempt."""

import re

import pytest

from backend.accounts import csrf
from tests.security.conftest import PASSWORD, sign_in

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Authenticated by an API key or an HMAC signature, never by the browser's cookie.
EXEMPT_BLUEPRINTS = {"api", "webhooks_api"}


def _write_rules(app):
    for rule in app.url_map.iter_rules():
        methods = (rule.methods or set()) & WRITE_METHODS
        if not methods:
            continue
        blueprint = rule.endpoint.rpartition(".")[0]
        if blueprint in EXEMPT_BLUEPRINTS:
            continue
        values = {}
        for name, converter in rule._converters.items():
            values[name] = 1 if type(converter).__name__ in ("IntegerConverter", "FloatConverter") else "x"
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **values)
        yield rule.endpoint, sorted(methods)[0], url


def test_the_exempt_blueprints_are_exactly_the_token_authenticated_ones(app):
    assert {getattr(bp, "name", bp) for bp in csrf._exempt_blueprints} == EXEMPT_BLUEPRINTS
    assert not csrf._exempt_views


def test_every_write_route_refuses_a_request_without_the_token(app, session, people, monkeypatch):
    client = sign_in(app, "designer")
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    rules = list(_write_rules(app))
    assert len(rules) > 30  # the walk found the site's forms
    accepted = []
    for endpoint, method, url in rules:
        response = client.open(url, method=method, data={"anything": "1"})
        if response.status_code != 400 or "CSRF" not in response.get_data(as_text=True):
            accepted.append((endpoint, method, url, response.status_code))
    assert accepted == []


def test_the_refusal_is_a_chinese_page_and_nothing_happens(app, session, people, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    client = app.test_client()
    response = client.post("/login", data={"username": "reviewer", "password": PASSWORD})
    assert response.status_code == 400
    assert "缺少安全令牌" in response.get_data(as_text=True)
    assert not any(
        h.startswith("session=") and "_user_id" in h for h in response.headers.getlist("Set-Cookie")
    )
    # With the page's token the same sign-in works: the refusal above was the token's.
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token, page
    response = client.post(
        "/login", data={"username": "reviewer", "password": PASSWORD, "csrf_token": token[1]}
    )
    assert response.status_code == 302


@pytest.mark.parametrize("path", ["/api/v1/hooks/nope"])
def test_signed_webhooks_need_no_token(app, session, monkeypatch, path):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = app.test_client().post(path, data=b"{}", content_type="application/json")
    assert response.status_code == 404  # unknown hook, not a CSRF refusal
