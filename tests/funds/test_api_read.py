"""GET /api/v1/projects/<code>/funds and GET /api/v1/projects/<code>/allocations: figures as
decimal strings, keyset pages, scope funds:read, the person's permission and data scope."""

from datetime import date
from decimal import Decimal

from backend.accounts.service import set_password
from backend.api.spec import build
from backend.funds import service
from backend.org.models import User
from tests.api.conftest import PASSWORD, bearer, issue

from .conftest import CODE, add_budget, add_payment

FUNDS = f"/api/v1/projects/{CODE}/funds"
ALLOCATIONS = f"/api/v1/projects/{CODE}/allocations"
TODAY = date(2026, 3, 15)


def allocate(session, project, number: str, year: int, amount: str) -> None:
    service.import_allocation(
        session=session,
        project=project,
        document_number=number,
        year=year,
        source="中央预算内",
        amount=Decimal(amount),
        allocated_on=date(year, 3, 1),
        imported_by="fin",
    )


def test_the_figures(session, client, org, project, people):
    add_budget(session, project, 2026, "中央预算内", "600.00")
    add_budget(session, project, 2026, "企业自筹", "400.00")
    add_budget(session, project, 2025, "中央预算内", "999.00")
    for month, amount in ((1, "100.00"), (2, "150.55")):
        service.report_month(
            session=session,
            project=project,
            year=2026,
            month=month,
            amount=amount,
            reported_by="a",
            today=TODAY,
        )
    allocate(session, project, "CZ-1", 2026, "800.00")
    add_payment(session, org, project, "ZF-1", "200.00", "disbursed")
    session.commit()
    secret = issue(session, "fin", scopes=["funds:read"])
    response = client.get(f"{FUNDS}?year=2026", headers=bearer(secret))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    # Worked out by hand: 250.55 / 1000 = 25.055 % → 25.06; 250.55 / 2000 = 12.5275 % → 12.53;
    # 200 / 800 = 25 %.
    assert {k: v for k, v in body.items() if k != "budget_lines"} == {
        "project_code": CODE,
        "year": 2026,
        "annual_plan": "1000.00",
        "completed_year": "250.55",
        "completed_total": "250.55",
        "total_investment": "2000.00",
        "allocated": "800.00",
        "paid": "200.00",
        "year_completion_rate": "25.06",
        "total_completion_rate": "12.53",
        "disbursement_rate": "25.00",
    }
    assert sorted((line["source"], line["amount"], line["drawn"]) for line in body["budget_lines"]) == [
        ("中央预算内", "600.00", "0.00"),
        ("企业自筹", "400.00", "0.00"),
    ]
    other_year = client.get(f"{FUNDS}?year=2024", headers=bearer(secret)).get_json()
    assert other_year["annual_plan"] == "0.00" and other_year["year_completion_rate"] is None
    assert other_year["budget_lines"] == []
    assert client.get(f"{FUNDS}?year=1900", headers=bearer(secret)).status_code == 400


def test_allocations_in_keyset_pages(session, client, project, people):
    for i in range(3):
        allocate(session, project, f"CZ-{i}", 2025 + i % 2, f"{i + 1}00.00")
    session.commit()
    secret = issue(session, "fin", scopes=["funds:read"])
    first = client.get(f"{ALLOCATIONS}?limit=2", headers=bearer(secret)).get_json()
    assert [row["document_number"] for row in first["items"]] == ["CZ-2", "CZ-1"]
    assert first["items"][0]["amount"] == "300.00" and first["items"][0]["project_code"] == CODE
    rest = client.get(
        f"{ALLOCATIONS}?limit=2&cursor={first['next_cursor']}", headers=bearer(secret)
    ).get_json()
    assert [row["document_number"] for row in rest["items"]] == ["CZ-0"] and rest["next_cursor"] is None
    of_2026 = client.get(f"{ALLOCATIONS}?year=2026", headers=bearer(secret)).get_json()
    assert [row["document_number"] for row in of_2026["items"]] == ["CZ-1"]
    assert client.get(f"{ALLOCATIONS}?cursor=nonsense", headers=bearer(secret)).status_code == 400


def test_scope_and_permission(session, client, project, people):
    reviewer = User(username="rev", display_name="审查", roles=["reviewer"], region_code="330000")
    session.add(reviewer)
    session.flush()
    set_password(user=reviewer, password=PASSWORD, enforce_policy=False)
    session.commit()
    for url in (FUNDS, ALLOCATIONS):
        # The key lacks the scope.
        write_only = issue(session, "fin", scopes=["funds:write"])
        refused = client.get(url, headers=bearer(write_only))
        assert refused.status_code == 403 and refused.get_json()["scope"] == "funds:read"
        # The key's owner lacks funds.read.
        assert (
            client.get(url, headers=bearer(issue(session, "rev", scopes=["funds:read"]))).status_code == 403
        )
        # Out of the person's scope, or of the key's region: not found.
        assert (
            client.get(
                url, headers=bearer(issue(session, "fin_nb", scopes=["funds:read"], region="330200"))
            ).status_code
            == 404
        )
        assert (
            client.get(
                url, headers=bearer(issue(session, "fin", scopes=["funds:read"], region="330200"))
            ).status_code
            == 404
        )
        assert client.get(url).status_code == 401
    unknown = client.get(
        "/api/v1/projects/NO-SUCH/funds", headers=bearer(issue(session, "fin", scopes=["funds:read"]))
    )
    assert unknown.status_code == 404 and unknown.mimetype == "application/problem+json"


def test_documented_in_openapi(app):
    with app.test_request_context():
        paths = build()["paths"]
    assert paths["/api/v1/projects/{code}/funds"]["get"]["x-scope"] == "funds:read"
    assert paths["/api/v1/projects/{code}/allocations"]["get"]["x-scope"] == "funds:read"
    assert paths["/api/v1/projects/{code}/allocations"]["post"]["x-scope"] == "funds:write"


def test_funds_read_scope_is_offered_and_labelled():
    from backend.api import keys
    from backend.api.pages import SCOPE_LABELS
    from backend.authz.permissions import API_SCOPE_PERMISSIONS

    assert "funds:read" in keys.SCOPES
    assert API_SCOPE_PERMISSIONS["funds:read"] == "funds.read"
    assert set(keys.SCOPES) <= set(SCOPE_LABELS)  # the admin page offers only labelled scopes
