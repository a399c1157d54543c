"""Message correlation through the API, and cursor paging through lists without duplicates
or gaps."""

import sqlalchemy as sa

from backend.contracts.models import Contract, Payment, PaymentMilestone
from backend.db import utcnow
from backend.tickets.models import Ticket
from backend.workflow.models import ProcessInstance

from .conftest import bearer, issue, make_project


def test_a_message_reaches_the_waiting_instance_of_its_business_key(client, session, org, deployed):
    xihu = make_project(session, org, "2025-330106-48-01-00001A", "330106")
    other = make_project(session, org, "2025-330106-48-01-00002B", "330106")
    session.commit()
    secret = issue(session, "ops", region="330100")
    ids = {}
    for project in (xihu, other):
        response = client.post(
            "/api/v1/instances",
            json={"process_key": "await_or_timeout", "business_key": project.code},
            headers=bearer(secret),
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        ids[project.code] = response.get_json()["id"]

    response = client.post(
        "/api/v1/messages",
        json={"name": "release_conditions_changed", "business_key": xihu.code, "payload": {"why": "测试"}},
        headers=bearer(secret),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"delivered_to": [ids[xihu.code]], "started": []}
    session.expire_all()
    assert session.get(ProcessInstance, ids[xihu.code]).state == "completed"
    assert session.get(ProcessInstance, ids[other.code]).state == "running"
    # Again: nobody waits any more.
    again = client.post(
        "/api/v1/messages",
        json={"name": "release_conditions_changed", "business_key": xihu.code},
        headers=bearer(secret),
    )
    assert again.status_code == 404 and again.mimetype == "application/problem+json"


def test_a_regional_key_must_name_a_business_key_of_its_region(client, session, org, deployed):
    ningbo = make_project(session, org, "2025-330200-48-01-00002B", "330200")
    session.commit()
    secret = issue(session, "ops", region="330100")
    response = client.post(
        "/api/v1/messages", json={"name": "release_conditions_changed"}, headers=bearer(secret)
    )
    assert response.status_code == 403
    response = client.post(
        "/api/v1/messages",
        json={"name": "release_conditions_changed", "business_key": ningbo.code},
        headers=bearer(secret),
    )
    assert response.status_code == 404  # out of the key's scope: as if nobody waited


def _walk(client, secret, url: str, key: str, cursor: str | None = None) -> list[list]:
    pages = []
    while True:
        sep = "&" if "?" in url else "?"
        response = client.get(url + (f"{sep}cursor={cursor}" if cursor else ""), headers=bearer(secret))
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        pages.append([item[key] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50


def test_cursor_paging_has_no_duplicates_or_gaps(client, session, org, deployed):
    codes = [f"2025-330106-48-01-{n:05d}A" for n in range(1, 8)]
    projects = [make_project(session, org, code, "330106") for code in codes]
    make_project(session, org, "2025-330200-48-01-00099B", "330200")  # outside the key's region
    contract = Contract(
        number="HT-2026-001",
        name="施工合同",
        project_id=projects[0].id,
        party_a_unit_id=org.unit.id,
        party_b_unit_id=org.other_unit.id,
        amount="1000.00",
    )
    session.add(contract)
    session.flush()
    for seq in range(1, 6):
        milestone = PaymentMilestone(contract_id=contract.id, seq=seq, name=f"第{seq}期", amount="200.00")
        session.add(milestone)
        session.flush()
        session.add(
            Payment(
                number=f"ZF-{seq}",
                contract_id=contract.id,
                milestone_id=milestone.id,
                amount="200.5",
                state="requested",
            )
        )
    for n in range(5):
        session.add(
            Ticket(
                number=f"ZG-2026-{n:06d}",
                project_id=projects[n].id,
                source="manual",
                category="quality",
                severity="general",
                description="问题",
                deadline=utcnow(),
                raised_by="ops",
                status="raised",
            )
        )
    session.commit()
    secret = issue(session, "ops", region="330100")

    pages = _walk(client, secret, "/api/v1/projects?limit=3", "code")
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [c for p in pages for c in p] == codes
    pages = _walk(client, secret, "/api/v1/payments?limit=2", "number")
    assert [n for p in pages for n in p] == [f"ZF-{seq}" for seq in range(1, 6)]
    payment = client.get("/api/v1/payments?limit=1", headers=bearer(secret)).get_json()["items"][0]
    assert payment["amount"] == "200.50" and payment["project_code"] == codes[0]
    pages = _walk(client, secret, "/api/v1/tickets?limit=4", "number")
    assert [n for p in pages for n in p] == [f"ZG-2026-{n:06d}" for n in range(5)]
    pages = _walk(client, secret, "/api/v1/contracts?limit=1", "number")
    assert pages == [["HT-2026-001"]]
    # Money as a string with two decimals.
    project = client.get(f"/api/v1/projects/{codes[0]}", headers=bearer(secret)).get_json()
    assert project["total_investment"] == "1234.50"
    assert project["funding_sources"] == [{"source": "企业自筹", "amount": "1234.50"}]

    # Instances, newest first, with rows added between pages: none repeated, none skipped.
    started = []
    for code in codes[:5]:
        response = client.post(
            "/api/v1/instances",
            json={"process_key": "await_or_timeout", "business_key": code},
            headers=bearer(secret),
        )
        started.append(response.get_json()["id"])
    first = client.get("/api/v1/instances?limit=2", headers=bearer(secret)).get_json()
    client.post(
        "/api/v1/instances",
        json={"process_key": "await_or_timeout", "business_key": codes[5]},
        headers=bearer(secret),
    )
    rest = _walk(client, secret, "/api/v1/instances?limit=2", "id", cursor=first["next_cursor"])
    seen = [i["id"] for i in first["items"]] + [i for p in rest for i in p]
    assert seen == sorted(started, reverse=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance)) == 6


def test_process_definitions_latest_or_all_versions(client, session, org, deployed):
    secret = issue(session, "ops", scopes=["processes:read"])
    pages = _walk(client, secret, "/api/v1/process-definitions?limit=1", "key")
    # project_approval's deployment brings its called process along.
    assert [k for p in pages for k in p] == ["await_or_timeout", "project_approval", "project_review_round"]
    versions = client.get(
        "/api/v1/process-definitions?key=project_approval", headers=bearer(secret)
    ).get_json()
    assert [d["version"] for d in versions["items"]] == [1]
