"""Every 4xx/5xx under /api/v1 is an RFC 9457 problem document, never HTML; the site's own
pages keep their HTML errors."""

import pytest
from flask import abort

from backend import create_app
from backend.extensions import db

from .conftest import PASSWORD, bearer, issue


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status and body["title"]
    return body


def test_unknown_route_is_a_404_problem(client, session, org):
    body = _problem(client.get("/api/v1/no-such-thing"), 404)
    assert body["title"] == "资源不存在"
    assert "/api/v1/no-such-thing" in body["detail"]
    # Outside the API, werkzeug's HTML as before.
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html"


@pytest.mark.parametrize("instance_id", [2**31, 23249613882, 2**63])
def test_an_id_beyond_the_database_integers_is_a_404_problem(client, session, org, instance_id):
    # PostgreSQL refuses such a value ("integer out of range"): it must never reach the query.
    secret = issue(session, "ops")
    body = _problem(client.get(f"/api/v1/instances/{instance_id}", headers=bearer(secret)), 404)
    assert body["title"]


def test_wrong_method_is_a_405_problem_with_allow(client, session, org):
    body = _problem(client.delete("/api/v1/projects"), 405)
    assert "GET" in body["allowed_methods"]
    assert "GET" in client.delete("/api/v1/projects").headers["Allow"]


def test_malformed_json_is_a_400_problem(client, session, org):
    secret = issue(session, "applicant")
    response = client.post(
        "/api/v1/messages", data="{not json", content_type="application/json", headers=bearer(secret)
    )
    _problem(response, 400)


def test_not_json_is_415_and_not_an_object_is_422(client, session, org):
    secret = issue(session, "applicant")
    _problem(client.post("/api/v1/messages", data="name=x", headers=bearer(secret)), 415)
    _problem(client.post("/api/v1/messages", json=["a"], headers=bearer(secret)), 422)


def test_body_validation_names_the_fields(client, session, org):
    secret = issue(session, "applicant")
    body = _problem(
        client.post("/api/v1/messages", json={"payload": 1, "color": "red"}, headers=bearer(secret)), 422
    )
    assert body["errors"] == {"name": ["缺少必填字段"], "color": ["未知字段"]}


def test_query_validation_is_a_400_naming_the_parameter(client, session, org):
    secret = issue(session, "applicant")
    body = _problem(client.get("/api/v1/projects?limit=500", headers=bearer(secret)), 400)
    assert list(body["errors"]) == ["limit"]
    body = _problem(client.get("/api/v1/tickets?status=nonsense", headers=bearer(secret)), 400)
    assert list(body["errors"]) == ["status"]
    body = _problem(client.get("/api/v1/projects?cursor=%%%", headers=bearer(secret)), 400)
    assert list(body["errors"]) == ["cursor"]


def test_too_large_body_is_a_413_problem(app, client, session, org):
    secret = issue(session, "applicant")
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        response = client.post(
            "/api/v1/messages", json={"name": "x", "payload": "y" * 4096}, headers=bearer(secret)
        )
    finally:
        app.config["MAX_CONTENT_LENGTH"] = None
    _problem(response, 413)


@pytest.fixture()
def strict_app(app, session, org):
    """An app of its own over the same database: CSRF on, exceptions not propagated, and one
    route that fails, added before its first request."""
    other = create_app(
        {
            "TESTING": False,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "EMBEDDED_WORKERS": False,
            "FILES_DIR": app.config["FILES_DIR"],
        }
    )

    @other.get("/api/v1/_boom")
    def _boom():
        raise RuntimeError("boom")

    @other.get("/api/v1/_teapot")
    def _teapot():
        abort(418)

    yield other
    with other.app_context():
        db.session.remove()


def test_unhandled_error_is_a_500_problem(strict_app):
    client = strict_app.test_client()
    body = _problem(client.get("/api/v1/_boom"), 500)
    assert "boom" not in body.get("detail", "")  # no internals leak
    _problem(client.get("/api/v1/_teapot"), 418)


def _token_of(page) -> str:
    return page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]


def test_csrf_refusal_of_a_session_write_is_a_problem(strict_app):
    # Each request in an app context of its own (the session fixture's is the other app's).
    client = strict_app.test_client()
    # Not signed in: 401 comes first.
    _problem(client.post("/api/v1/messages", json={"name": "x"}), 401)
    login_token = _token_of(client.get("/login"))
    signed = client.post(
        "/login", data={"username": "applicant", "password": PASSWORD, "csrf_token": login_token}
    )
    assert signed.status_code == 302
    body = _problem(client.post("/api/v1/messages", json={"name": "x"}), 400)
    assert body["title"] == "CSRF 令牌无效"
    # With the session's token in the header the write goes through (404: nobody waits for x).
    token = _token_of(client.get("/", follow_redirects=True))
    response = client.post(
        "/api/v1/messages",
        json={"name": "x", "business_key": "2025-330106-48-01-99999X"},
        headers={"X-CSRFToken": token},
    )
    _problem(response, 404)


def test_field_messages_follow_the_requests_language(client, session, org):
    secret = issue(session, "applicant")
    response = client.post(
        "/api/v1/messages", json={"color": "red"}, headers=bearer(secret, **{"Accept-Language": "en"})
    )
    body = _problem(response, 422)
    assert body["title"] == "Validation failed"
    assert body["errors"] == {"name": ["Missing required field"], "color": ["Unknown field"]}
