"""The OpenAPI document (valid, complete, every reference resolvable), the docs page, and the
admins' API-key page: the secret shown once, revocation."""

import json
import re

from openapi_spec_validator import validate

from backend.api.models import ApiKey

from .conftest import bearer, issue, signed_in


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_openapi_document_is_valid_and_complete(app, client, session, org):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    # Every operation route under /api/v1 is documented, with its methods.
    undocumented = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint in ("api.openapi_document", "api.docs"):
            continue
        if rule.endpoint.startswith("api."):
            path = document["paths"].get(_openapi_path(rule.rule), {})
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                if method.lower() not in path:
                    undocumented.append(f"{method} {rule.rule}")
    assert undocumented == []
    # 13th: POST /projects/{code}/allocations (funds); 14th, 15th: /projects/{code}/wbs and
    # /projects/{code}/wbs/{item_code}/progress (schedule); 16th: /projects/{code}/funds
    assert len(document["paths"]) == 16
    # Every reference resolves; every error response is the problem schema; every operation
    # documents 401 and 403.
    text = json.dumps(document)
    for ref in set(re.findall(r'"\$ref": "#/components/schemas/([A-Za-z]+)"', text)):
        assert ref in document["components"]["schemas"], ref
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert {"200", "401", "403"} <= set(operation["responses"]) or "201" in operation["responses"], (
                path
            )
            for status, answer in operation["responses"].items():
                if int(status) >= 400:
                    schema = answer["content"]["application/problem+json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path, status)
    assert "errors" in document["components"]["schemas"]["Problem"]["properties"]


def test_docs_page_lists_every_operation(client, session, org):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    for operation in ("GET /api/v1/tasks", "POST /api/v1/tasks/{task_id}/complete", "POST /api/v1/messages"):
        assert f'data-operation="{operation}"' in html
    assert 'id="schema-Problem"' in html
    assert "<script" not in html.split("</main>")[0].split("<main")[1]  # no inline script of ours


def test_admin_creates_a_key_shown_once_and_revokes_it(app, client, session, org):
    admin = signed_in(app, "admin")
    page = admin.get("/admin/api-keys")
    assert page.status_code == 200
    created = admin.post(
        "/admin/api-keys",
        data={
            "name": "预算系统",
            "owner": "applicant",
            "region_code": "330100",
            "scopes": ["projects:read", "tasks:read"],
        },
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.headers["Cache-Control"] == "no-store"
    html = created.get_data(as_text=True)
    secret = re.search(r"data-secret>(bpm_[A-Za-z0-9_-]+)<", html).group(1)
    key = session.query(ApiKey).one()
    assert key.secret_hash != secret and secret not in (key.prefix + key.secret_hash)
    assert key.scopes == ["tasks:read", "projects:read"] and key.owner == "applicant"
    # Shown once: the list afterwards has the prefix only.
    listing = admin.get("/admin/api-keys").get_data(as_text=True)
    assert secret not in listing and key.prefix in listing
    assert client.get("/api/v1/projects", headers=bearer(secret)).status_code == 200

    revoked = admin.post(f"/admin/api-keys/{key.id}/revoke")
    assert revoked.status_code == 302
    assert client.get("/api/v1/projects", headers=bearer(secret)).status_code == 401
    assert 'data-state="revoked"' in admin.get("/admin/api-keys").get_data(as_text=True)


def test_admin_page_refuses_invalid_keys_and_non_admins(app, client, session, org):
    admin = signed_in(app, "admin")
    refused = admin.post("/admin/api-keys", data={"name": "", "owner": "nobody", "region_code": "999999"})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "请填写密钥名称" in html and "请至少选择一个权限范围" in html
    assert session.query(ApiKey).count() == 0
    applicant = signed_in(app, "applicant")
    # Admins reach the page from the navbar; others don't see the link.
    assert "data-api-keys-link" in admin.get("/api/v1/docs").get_data(as_text=True)
    assert "data-api-keys-link" not in applicant.get("/api/v1/docs").get_data(as_text=True)
    assert applicant.get("/admin/api-keys").status_code == 403
    assert applicant.post(f"/admin/api-keys/{1}/revoke").status_code == 403
    # And a key is no way into the admin page.
    secret = issue(session, "admin")
    assert client.get("/admin/api-keys", headers=bearer(secret)).status_code in (302, 401)
