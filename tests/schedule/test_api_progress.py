"""The WBS through the REST API: GET /api/v1/projects/<code>/wbs, an item's progress history
and POST of a progress report: figures, flags, scopes, the person's rights, data scope."""

from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
import time_machine

from backend.audit.models import AuditRecord
from backend.schedule.models import WbsItem, WbsProgress
from tests.api.conftest import bearer, client, issue, org, signed_in  # noqa: F401  (fixtures)

from .progress_fixtures import CODE, wbs  # noqa: F401  (fixture)

WBS = f"/api/v1/projects/{CODE}/wbs"
RW = ["schedule:read", "schedule:write"]


def history(item_code: str) -> str:
    return f"{WBS}/{item_code}/progress"


def test_round_trip(app, client, session, wbs):  # noqa: F811
    secret = issue(session, "applicant", scopes=RW)
    # 13 March 2026 (Beijing): 1.1 (due 6 March) is overdue; 1.2 runs 9–20 March.
    with time_machine.travel(datetime(2026, 3, 13, 2, 0, tzinfo=UTC), tick=False):
        posted = client.post(
            history("1.1"),
            json={
                "percent": 100,
                "actual_start": "2026-03-02",
                "actual_end": "2026-03-06",
                "note": "验槽合格",
            },
            headers=bearer(secret),
        )
        assert posted.status_code == 201, posted.get_json()
        entry = posted.get_json()
        assert entry["percent"] == "100.00" and entry["actual_end"] == "2026-03-06"
        assert entry["recorded_by"] == "applicant" and entry["files"] == [] and entry["item_code"] == "1.1"
        assert (
            client.post(history("1.2"), json={"percent": "25.5"}, headers=bearer(secret)).status_code == 201
        )
        answer = client.get(WBS, headers=bearer(secret))
    assert answer.status_code == 200, answer.get_json()
    doc = answer.get_json()
    assert doc["project_code"] == CODE and doc["today"] == "2026-03-13"
    items = {row["code"]: row for row in doc["items"]}
    assert list(items) == ["1", "1.1", "1.2"]
    assert items["1"]["leaf"] is False and items["1.1"]["leaf"] is True
    assert items["1.2"]["parent_code"] == "1" and items["1.2"]["predecessors"] == ["1.1"]
    assert (
        items["1.2"]["responsible"] == "foreman" and items["1.1"]["unit_name"] == "浙江省建工集团有限责任公司"
    )
    assert items["1.1"]["progress"] == "100.00" and items["1.2"]["progress"] == "25.50"
    # P(1) = (1·100 + 3·25.5) / 4 = 44.125 → 44.13
    assert items["1"]["progress"] == "44.13" == doc["summary"]["progress"]
    assert items["1.2"]["actual_start"] == "2026-03-13" and items["1.2"]["actual_end"] is None
    assert items["1.1"]["overdue"] is False  # done
    # Longest path (working days): the parent alone, W(03-02, 03-27) = 20, against 1.1 → 1.2 = 5 + 10.
    assert {code for code, row in items.items() if row["critical"]} == {"1"}
    assert items["1.1"]["weight"] == "1" and items["1.2"]["weight"] == "3"
    summary = doc["summary"]
    assert summary["baseline"] == 1 and summary["items"] == 3 and summary["overdue"] == 0
    assert summary["planned_progress"] is not None and summary["deviation"] is not None
    listed = client.get(history("1.1"), headers=bearer(secret)).get_json()
    assert [(e["percent"], e["note"]) for e in listed["items"]] == [("100.00", "验槽合格")]
    assert session.scalar(sa.select(sa.func.count()).where(AuditRecord.action == "wbs.progress")) == 2


def test_overdue_flag(client, session, wbs):  # noqa: F811
    secret = issue(session, "applicant", scopes=["schedule:read"])
    with time_machine.travel(datetime(2026, 3, 13, 2, 0, tzinfo=UTC), tick=False):
        doc = client.get(WBS, headers=bearer(secret)).get_json()
    flags = {row["code"]: row["overdue"] for row in doc["items"]}
    assert flags == {"1": False, "1.1": True, "1.2": False} and doc["summary"]["overdue"] == 1


def test_invalid_reports_are_422_and_change_nothing(client, session, wbs):  # noqa: F811
    secret = issue(session, "applicant", scopes=RW)
    for body, field in (
        ({"percent": 101}, "percent"),
        ({"percent": "x"}, "percent"),
        ({}, "percent"),
        ({"percent": 50, "actual_start": "2026-02-30"}, "actual_start"),
        ({"percent": 50, "actual_end": "2026-03-06"}, "_body"),  # an end needs 100
        ({"percent": 50, "colour": "red"}, "colour"),
    ):
        answer = client.post(history("1.1"), json=body, headers=bearer(secret))
        assert answer.status_code == 422, (body, answer.get_json())
        assert field in answer.get_json()["errors"], (body, answer.get_json())
    parent = client.post(history("1"), json={"percent": 10}, headers=bearer(secret))
    assert parent.status_code == 422 and "最末级" in parent.get_json()["detail"]
    assert session.scalar(sa.select(sa.func.count()).select_from(WbsProgress)) == 0
    assert client.post(history("9.9"), json={"percent": 10}, headers=bearer(secret)).status_code == 404


def test_scopes_rights_and_data_scope(app, client, session, wbs):  # noqa: F811
    read_only = issue(session, "applicant", scopes=["schedule:read"])
    refused = client.post(history("1.1"), json={"percent": 10}, headers=bearer(read_only))
    assert refused.status_code == 403 and refused.get_json()["scope"] == "schedule:write"
    assert (
        client.get(WBS, headers=bearer(issue(session, "applicant", scopes=["projects:read"]))).status_code
        == 403
    )
    # A key of 宁波 does not reach a project of 西湖区.
    elsewhere = issue(session, "applicant", scopes=RW, region="330200")
    assert client.get(WBS, headers=bearer(elsewhere)).status_code == 404
    # A reviewer sees the WBS, but schedule:write needs schedule.edit.
    reviewer = issue(session, "fgw_reviewer", scopes=RW)
    assert client.get(WBS, headers=bearer(reviewer)).status_code == 200
    assert client.post(history("1.1"), json={"percent": 10}, headers=bearer(reviewer)).status_code == 403
    # Out of the person's scope: 404, whatever the key.
    assert client.get(WBS, headers=bearer(issue(session, "rev_nb", scopes=RW))).status_code == 404
    assert client.get(WBS, headers=bearer(issue(session, "outsider", scopes=RW))).status_code == 404
    # The foreman (a contractor named responsible, no unit, no region) reads the project's WBS
    # through that responsibility, and the history of his item.
    foreman = issue(session, "foreman", scopes=RW)
    assert client.get(WBS, headers=bearer(foreman)).status_code == 200
    assert client.get(history("1.2"), headers=bearer(foreman)).status_code == 200
    assert session.scalar(sa.select(sa.func.count()).select_from(WbsProgress)) == 0
    assert session.scalar(sa.select(WbsItem.percent_complete).where(WbsItem.code == "1.1")) == Decimal("0.00")


def test_the_browser_session_writes_with_the_page_rules(app, session, wbs):  # noqa: F811
    owner = signed_in(app, "applicant")
    assert owner.post(history("1.2"), json={"percent": 60}).status_code == 201
    assert owner.get(WBS).get_json()["items"][2]["progress"] == "60.00"


def test_documented_in_openapi(client, session, org):  # noqa: F811
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["paths"]["/api/v1/projects/{code}/wbs"]["get"]["x-scope"] == "schedule:read"
    progress = document["paths"]["/api/v1/projects/{code}/wbs/{item_code}/progress"]
    assert progress["post"]["x-scope"] == "schedule:write" and "201" in progress["post"]["responses"]
    assert document["components"]["schemas"]["WbsItem"]["properties"]["progress"]["type"] == "string"
