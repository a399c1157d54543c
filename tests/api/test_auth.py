"""API keys: 401 for a missing, unknown, revoked or expired key; 403 for a missing scope or a
region outside the key's; the last use recorded at most once a minute."""

from datetime import UTC, datetime, timedelta

import time_machine

from backend.api import keys
from backend.api.models import ApiKey
from backend.db import utcnow
from backend.workflow import service as workflow

from .conftest import bearer, issue, make_project


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status and body["title"] and body["type"] == "about:blank"
    return body


def test_missing_unknown_revoked_and_expired_keys_are_401(client, session, org):
    body = _problem(client.get("/api/v1/projects"), 401)
    assert "API 密钥" in body["detail"]
    response = client.get("/api/v1/projects", headers={"Authorization": "Bearer bpm_nottherealone000"})
    assert _problem(response, 401)["detail"] == "API 密钥无效"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    secret = issue(session, "applicant")
    # Right prefix, wrong rest: still unknown.
    assert _problem(client.get("/api/v1/projects", headers=bearer(secret[:-2] + "xx")), 401)
    assert _problem(client.get("/api/v1/projects", headers={"Authorization": f"Basic {secret}"}), 401)
    assert client.get("/api/v1/projects", headers=bearer(secret)).status_code == 200

    key = session.query(ApiKey).one()
    keys.revoke_key(session=session, key_id=key.id, actor="admin")
    session.commit()
    assert (
        _problem(client.get("/api/v1/projects", headers=bearer(secret)), 401)["detail"] == "API 密钥已被吊销"
    )

    expiring = issue(session, "applicant", expires_at=utcnow() + timedelta(days=1))
    assert client.get("/api/v1/projects", headers=bearer(expiring)).status_code == 200
    with time_machine.travel(utcnow() + timedelta(days=2)):
        body = _problem(client.get("/api/v1/projects", headers=bearer(expiring)), 401)
    assert body["detail"] == "API 密钥已过期"


def test_english_problem_with_accept_language(client, session, org):
    body = _problem(client.get("/api/v1/projects", headers={"Accept-Language": "en"}), 401)
    assert body["title"] == "Unauthorized"
    assert "API key" in body["detail"]


def test_a_disabled_owner_disables_the_key(client, session, org):
    secret = issue(session, "applicant")
    org.applicant.active = False
    session.commit()
    _problem(client.get("/api/v1/projects", headers=bearer(secret)), 401)


def test_missing_scope_is_403(client, session, org):
    secret = issue(session, "applicant", scopes=["projects:read"])
    assert client.get("/api/v1/projects", headers=bearer(secret)).status_code == 200
    body = _problem(client.get("/api/v1/tickets", headers=bearer(secret)), 403)
    assert body["scope"] == "tickets:read"
    body = _problem(
        client.post("/api/v1/messages", json={"name": "x", "business_key": "P"}, headers=bearer(secret)), 403
    )
    assert body["scope"] == "messages:write"


def test_lists_and_single_resources_are_scoped_to_the_keys_region(client, session, org):
    xihu = make_project(session, org, "2025-330106-48-01-00001A", "330106")
    ningbo = make_project(session, org, "2025-330200-48-01-00002B", "330200")
    session.commit()
    hangzhou = issue(session, "applicant", region="330100")
    province = issue(session, "applicant", region="330000")

    listed = client.get("/api/v1/projects", headers=bearer(hangzhou)).get_json()
    assert [p["code"] for p in listed["items"]] == [xihu.code]
    listed = client.get("/api/v1/projects", headers=bearer(province)).get_json()
    assert [p["code"] for p in listed["items"]] == [xihu.code, ningbo.code]
    # A narrower region than the key's is a filter; a region outside it is refused.
    listed = client.get("/api/v1/projects?region=330200", headers=bearer(province)).get_json()
    assert [p["code"] for p in listed["items"]] == [ningbo.code]
    _problem(client.get("/api/v1/projects?region=330200", headers=bearer(hangzhou)), 403)

    assert client.get(f"/api/v1/projects/{xihu.code}", headers=bearer(hangzhou)).status_code == 200
    _problem(client.get(f"/api/v1/projects/{ningbo.code}", headers=bearer(hangzhou)), 404)
    _problem(client.get("/api/v1/projects/2025-330200-48-01-99999Z", headers=bearer(hangzhou)), 404)


def test_instances_are_scoped_by_their_projects_region(client, session, org, deployed):
    xihu = make_project(session, org, "2025-330106-48-01-00001A", "330106")
    ningbo = make_project(session, org, "2025-330200-48-01-00002B", "330200")
    ops = {}
    for project in (xihu, ningbo):
        ops[project.code] = workflow.start_instance(
            session=session, process_key="await_or_timeout", business_key=project.code, started_by="ops"
        ).id
    loose = workflow.start_instance(session=session, process_key="await_or_timeout", started_by="ops").id
    session.commit()
    hangzhou = issue(session, "ops", region="330100")
    province = issue(session, "ops", region="330000")

    seen = client.get("/api/v1/instances", headers=bearer(hangzhou)).get_json()
    assert [i["id"] for i in seen["items"]] == [ops[xihu.code]]
    seen = client.get("/api/v1/instances", headers=bearer(province)).get_json()
    # The province's key also sees instances tied to no project.
    assert [i["id"] for i in seen["items"]] == [loose, ops[ningbo.code], ops[xihu.code]]
    assert client.get(f"/api/v1/instances/{ops[xihu.code]}", headers=bearer(hangzhou)).status_code == 200
    # Out of scope reads as not found, as an unknown id does (existence is not revealed).
    _problem(client.get(f"/api/v1/instances/{ops[ningbo.code]}", headers=bearer(hangzhou)), 404)
    _problem(client.get(f"/api/v1/instances/{loose}", headers=bearer(hangzhou)), 404)
    _problem(client.get("/api/v1/instances/999999", headers=bearer(hangzhou)), 404)


def test_instances_of_others_are_not_shown_to_a_non_operator(client, session, org, deployed):
    workflow.start_instance(session=session, process_key="await_or_timeout", started_by="ops")
    session.commit()
    mine = workflow.start_instance(session=session, process_key="await_or_timeout", started_by="applicant")
    session.commit()
    secret = issue(session, "applicant")
    seen = client.get("/api/v1/instances", headers=bearer(secret)).get_json()
    assert [i["id"] for i in seen["items"]] == [mine.id]


def test_last_use_is_recorded_at_most_once_a_minute(client, session, org):
    secret = issue(session, "ops")  # scope.all: may send a message without a business key
    start = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)

    def last_used():
        session.expire_all()
        return session.query(ApiKey).one().last_used_at

    assert last_used() is None
    with time_machine.travel(start, tick=False):
        client.get("/api/v1/projects", headers=bearer(secret))
    assert last_used() == start
    with time_machine.travel(start + timedelta(seconds=59), tick=False):
        client.get("/api/v1/projects", headers=bearer(secret))
        client.post("/api/v1/messages", json={"name": "nobody_waits"}, headers=bearer(secret))
    assert last_used() == start
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        # Recorded even when the request then fails (404: nobody waits for the message).
        response = client.post("/api/v1/messages", json={"name": "nobody_waits"}, headers=bearer(secret))
        assert response.status_code == 404
    assert last_used() == start + timedelta(seconds=61)


def test_the_browser_session_works_too(app, session, org):
    from .conftest import signed_in

    make_project(session, org, "2025-330106-48-01-00001A", "330106")
    session.commit()
    browser = signed_in(app, "applicant")
    listed = browser.get("/api/v1/projects")
    assert listed.status_code == 200
    assert [p["code"] for p in listed.get_json()["items"]] == ["2025-330106-48-01-00001A"]
