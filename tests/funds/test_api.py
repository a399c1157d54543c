"""POST /api/v1/projects/<code>/allocations: idempotent import, validation, scope."""

from decimal import Decimal

import sqlalchemy as sa

from backend.audit.models import AuditRecord
from backend.funds.models import Allocation
from tests.api.conftest import bearer, issue

from .conftest import CODE

URL = f"/api/v1/projects/{CODE}/allocations"
BODY = {
    "document_number": "CZ-2026-000123",
    "year": 2026,
    "source": "中央预算内",
    "amount": "800000.50",
    "allocated_on": "2026-03-01",
}


def test_same_document_twice_is_one_row(session, client, project, people):
    secret = issue(session, "fin", scopes=["funds:write"])
    first = client.post(URL, json=BODY, headers=bearer(secret))
    again = client.post(URL, json=BODY, headers=bearer(secret))
    assert first.status_code == 201, first.get_json()
    assert again.status_code == 200
    assert first.get_json()["amount"] == again.get_json()["amount"] == "800000.50"
    assert first.get_json()["project_code"] == CODE
    assert session.scalar(sa.select(sa.func.count()).select_from(Allocation)) == 1
    audited = session.scalars(
        sa.select(AuditRecord).where(AuditRecord.action == "funds.allocation_import")
    ).all()
    assert [r.object_id for r in audited] == ["CZ-2026-000123"]


def test_same_number_other_content_is_a_conflict(session, client, project, people):
    secret = issue(session, "fin", scopes=["funds:write"])
    assert client.post(URL, json=BODY, headers=bearer(secret)).status_code == 201
    changed = client.post(URL, json={**BODY, "amount": "1.00"}, headers=bearer(secret))
    assert changed.status_code == 409
    assert changed.mimetype == "application/problem+json"
    assert "document_number" in changed.get_json()["errors"]
    assert session.scalar(sa.select(Allocation.amount)) == Decimal("800000.50")


def test_bad_payloads_are_clear_422(session, client, project, people):
    secret = issue(session, "fin", scopes=["funds:write"])
    cases = {
        "amount": {**BODY, "amount": "12.345"},
        "year": {**BODY, "year": "二〇二六"},
        "allocated_on": {**BODY, "allocated_on": "2026-13-01"},
        "document_number": {k: v for k, v in BODY.items() if k != "document_number"},
        "source": {**BODY, "source": ""},
    }
    for field, body in cases.items():
        response = client.post(URL, json=body, headers=bearer(secret))
        assert response.status_code == 422, (field, response.get_json())
        problem = response.get_json()
        assert problem["status"] == 422 and field in problem["errors"], (field, problem)
    negative = client.post(URL, json={**BODY, "amount": "-5.00"}, headers=bearer(secret))
    assert negative.status_code == 422 and "amount" in negative.get_json()["errors"]
    not_json = client.post(URL, data="x", headers=bearer(secret))
    assert not_json.status_code == 415
    assert session.scalar(sa.select(sa.func.count()).select_from(Allocation)) == 0


def test_key_scope_and_person_permission(session, client, project, people):
    without = issue(session, "fin", scopes=["projects:read"])
    response = client.post(URL, json=BODY, headers=bearer(without))
    assert response.status_code == 403 and response.get_json()["scope"] == "funds:write"
    # The owner unit's person may hold a key with the scope, but not the funds.import permission.
    owner_key = issue(session, "applicant", scopes=["funds:write"])
    assert client.post(URL, json=BODY, headers=bearer(owner_key)).status_code == 403
    assert session.scalar(sa.select(sa.func.count()).select_from(Allocation)) == 0


def test_out_of_scope_project_is_not_found(session, client, project, people):
    # 宁波's finance person, and a province person's key narrowed to 宁波: 西湖区 is out of scope.
    for secret in (
        issue(session, "fin_nb", scopes=["funds:write"], region="330200"),
        issue(session, "fin", scopes=["funds:write"], region="330200"),
    ):
        response = client.post(URL, json=BODY, headers=bearer(secret))
        assert response.status_code == 404, response.get_json()
    secret = issue(session, "fin", scopes=["funds:write"])
    assert (
        client.post("/api/v1/projects/NOPE/allocations", json=BODY, headers=bearer(secret)).status_code == 404
    )
    assert session.scalar(sa.select(sa.func.count()).select_from(Allocation)) == 0


def test_in_the_openapi_document(session, client):
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/projects/{code}/allocations"]["post"]
    assert {"200", "201", "404", "409", "422"} <= set(operation["responses"])
    assert "AllocationBody" in str(operation["requestBody"])
