"""GET /people/search: the people pickers' JSON, over the demo people of backend/org/demo.py."""

import pytest
import sqlalchemy as sa

from backend.accounts.service import set_password
from backend.org.demo import load_org
from backend.org.models import User
from backend.org.people import MAX_RESULTS, search
from tests.tasks.test_views import PASSWORD, Client, signed_in


@pytest.fixture()
def org(session):
    load_org(session=session)
    reviewer = session.scalar(sa.select(User).filter_by(username="fgw_reviewer"))
    set_password(user=reviewer, password=PASSWORD, enforce_policy=False)
    session.commit()


def found(client, **params):
    response = client.get("/people/search", query_string=params)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()["people"]


def test_matches_username_and_display_name_with_department_and_region(app, session, org):
    client = signed_in(app, "fgw_reviewer")
    people = found(client, q="cz_")
    assert {p["username"] for p in people} == {"cz_reviewer", "cz_head", "cz_finance"}
    finance = next(p for p in people if p["username"] == "cz_finance")
    assert set(finance) == {"username", "display_name", "department", "region"}
    assert finance["department"] == "浙江省财政厅"
    assert finance["region"] == "浙江省"

    head = session.scalar(sa.select(User).filter_by(username="cz_head"))
    by_name = found(client, q=head.display_name[1:])  # part of a Chinese name
    assert head.username in {p["username"] for p in by_name}
    # Case does not matter; the exact username comes first.
    assert found(client, q="EXPERT1")[0]["username"] == "expert1"
    # People of a unit show their unit where staff show their department.
    applicant = found(client, q="applicant")[0]
    assert applicant["department"] == "杭州市城市建设投资集团有限公司"


def test_group_narrows_and_inactive_people_are_left_out(app, session, org):
    client = signed_in(app, "fgw_reviewer")
    assert {p["username"] for p in found(client, q="_", group="cz.head")} == {"cz_head"}
    experts = found(client, group="expert")
    assert {p["username"] for p in experts} == {f"expert{i}" for i in range(1, 8)}
    applicant = session.scalar(sa.select(User).filter_by(username="applicant"))
    assert [p["username"] for p in found(client, group=f"unit.{applicant.unit_id}", q="app")] == ["applicant"]
    assert found(client, group="unit.x") == []

    session.scalar(sa.select(User).filter_by(username="expert3")).active = False
    session.commit()
    assert "expert3" not in {p["username"] for p in found(client, q="expert")}


def test_at_most_twenty_and_nothing_without_a_query(app, session, org):
    client = signed_in(app, "fgw_reviewer")
    assert found(client) == []
    assert found(client, q="   ") == []
    session.add_all(User(username=f"temp{i:02d}", display_name=f"临时{i}", roles=[]) for i in range(30))
    session.commit()
    many = found(client, q="temp")
    assert [p["username"] for p in many] == [f"temp{i:02d}" for i in range(MAX_RESULTS)]
    assert len(search(session=session, query="temp", limit=500)) == MAX_RESULTS
    # LIKE wildcards are searched for as text: "%" matches nobody's name.
    assert found(client, q="%") == []


def test_sign_in_required(app, session, org):
    response = Client(app, app.response_class).get("/people/search?q=cz")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
