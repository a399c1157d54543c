"""The leadership cockpit's pages and JSON (/leader/...): who may see them, bad arguments (400),
the JSON the charts read, the drill-down and its breadcrumbs, and the data scope (a county
leader sees the county only). The figures themselves are K's (tests/kpi/test_service*.py);
here the projects are the authz world's two (杭州 西湖区 and 宁波), plus leaders at the
province, a city and a county."""

import json
import re
from datetime import date
from decimal import Decimal

import flask
import pytest
import sqlalchemy as sa

from backend.funds.models import InvestmentReport
from backend.kpi.catalogue import BY_CODE, CATALOGUE
from backend.projects.models import Project
from tests.authz.conftest import HZ_PROJECT, NB_PROJECT, _person, world  # noqa: F401  (fixture)

PAGES = ("/leader/", "/leader/screen", "/leader/catalogue", "/leader/trace?code=investment_year")
APIS = (
    "/leader/api/overview",
    "/leader/api/trend?code=investment_year",
    "/leader/api/breakdown?by=industry",
    "/leader/api/breakdown?by=department",
)
# Roles that never see the cockpit (kpi.view is for leaders, heads and the people who watch risk).
REFUSED = ("owner", "window", "expert", "contractor", "supervisor", "designer", "sysadmin", "secadmin")


@pytest.fixture()
def leaders(world, session):  # noqa: F811
    """leader (浙江省, from the world's one-per-role), hz_leader (杭州市), xh_leader (西湖区)."""
    world.people["hz_leader"] = _person(session, "hz_leader", ["leader"], region="330100")
    world.people["xh_leader"] = _person(session, "xh_leader", ["leader"], region="330106")
    session.commit()
    return world


def _json(response):
    assert response.mimetype == "application/json", response.get_data(as_text=True)[:300]
    return response.get_json()


def test_a_leader_sees_every_page_and_the_json(app, leaders):
    client = leaders.client(app, "leader")
    for url in PAGES + APIS:
        response = client.get(url)
        assert response.status_code == 200, (url, response.get_data(as_text=True)[:500])
    html = client.get("/leader/").get_data(as_text=True)
    assert "领导驾驶舱" in html
    assert "/vendor/echarts/echarts.min.js?v=" in html and "leader.js" in html
    config = json.loads(
        re.search(r'<script type="application/json" id="leader-config">(.*?)</script>', html, re.S)[1]
    )
    assert [i["code"] for i in config["indicators"]] == [i.code for i in CATALOGUE]
    assert config["urls"]["overview"] == "/leader/api/overview"
    # every card's value links to the records behind it
    for indicator in CATALOGUE:
        assert f'data-card="{indicator.code}"' in html
        assert f"code={indicator.code}" in html
    screen = client.get("/leader/screen").get_data(as_text=True)
    assert 'data-bs-theme="dark"' in screen and "data-clock" in screen and "data-exit-screen" in screen
    assert '"refresh_seconds": 60' in screen
    catalogue = client.get("/leader/catalogue").get_data(as_text=True)
    for indicator in CATALOGUE:
        assert indicator.name in catalogue and indicator.formula in catalogue


def test_the_nav_link_shows_for_kpi_view_only(app, leaders):
    for who, shown in (("leader", True), ("head", True), ("owner", False), ("sysadmin", False)):
        html = leaders.client(app, who).get("/", follow_redirects=True).get_data(as_text=True)
        assert ("data-leader-link" in html) is shown, who


@pytest.mark.parametrize("who", REFUSED)
def test_people_without_kpi_view_are_refused(app, leaders, who):
    client = leaders.client(app, who)
    for url in PAGES + APIS:
        assert client.get(url).status_code == 403, (who, url)


def test_anonymous_is_sent_to_sign_in(app, leaders):
    from tests.authz.conftest import anonymous

    response = anonymous(app).get("/leader/")
    assert response.status_code in (302, 401)
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]


@pytest.mark.parametrize(
    "url",
    [
        "/leader/api/overview?period=2026Q7",
        "/leader/api/overview?period=nonsense",
        "/leader/api/overview?region=999999",
        "/leader/api/trend?code=no_such_indicator",
        "/leader/api/breakdown?by=weather",
        "/leader/api/trend?period=2026-13&code=investment_year",
    ],
)
def test_bad_arguments_are_400_with_a_chinese_message(app, leaders, url):
    response = leaders.client(app, "leader").get(url)
    assert response.status_code == 400
    message = _json(response)["error"]
    assert re.search(r"[\u4e00-\u9fff]", message), message


@pytest.mark.parametrize(
    "url",
    [
        "/leader/?period=2026Q9",
        "/leader/screen?region=999999",
        "/leader/trace?code=nonsense",
        "/leader/trace?code=investment_year&period=x",
    ],
)
def test_bad_arguments_on_pages_are_400_with_the_message_flashed(app, leaders, url):
    response = leaders.client(app, "leader").get(url)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "alert-danger" in html and "data-leader-home" in html


def test_the_json_shape(app, leaders):
    client = leaders.client(app, "leader")
    body = _json(client.get("/leader/api/overview?period=2026"))
    assert set(body) == {"area", "children", "period"}
    assert body["period"]["key"] == "2026" and body["period"]["kind"] == "year"
    area = body["area"]
    assert set(area) == {"as_of", "code", "name", "level", "project_count", "url", "values"}
    assert set(area["values"]) == set(BY_CODE)
    for value in area["values"].values():
        assert set(value) == {"value", "numerator", "denominator", "display"}
        assert isinstance(value["display"], str)
    assert area["project_count"] == 2
    assert {c["code"] for c in body["children"]} == {"330100", "330200"}

    trend = _json(client.get("/leader/api/trend?period=2026&code=disbursement"))
    assert trend["code"] == "disbursement" and trend["unit"] == BY_CODE["disbursement"].unit
    assert [p["month"] for p in trend["points"]] == [f"2026-{m:02d}" for m in range(1, 13)]
    next_year = _json(client.get(f"/leader/api/trend?period={date.today().year + 1}&code=disbursement"))
    assert [p["future"] for p in next_year["points"]] == [True] * 12  # drawn empty, not as "so far"
    last_year = _json(client.get(f"/leader/api/trend?period={date.today().year - 1}&code=disbursement"))
    assert [p["future"] for p in last_year["points"]] == [False] * 12
    quarter = _json(client.get("/leader/api/trend?period=2026Q3&code=disbursement"))
    assert [p["month"] for p in quarter["points"]] == ["2026-07", "2026-08", "2026-09"]

    industry = _json(client.get("/leader/api/breakdown?by=industry&period=2026"))
    assert industry["by"] == "industry"
    for row in industry["rows"]:
        assert set(row) == {"key", "values"} and isinstance(row["key"], str)


def test_drilling_down_to_the_projects_and_the_breadcrumbs(app, leaders):
    client = leaders.client(app, "leader")
    city = _json(client.get("/leader/api/overview?region=330100"))
    assert city["area"]["code"] == "330100" and city["area"]["level"] == "city"
    assert [c["code"] for c in city["children"]] == ["330106"]
    county = _json(client.get("/leader/api/overview?region=330106"))
    (project,) = county["children"]
    assert project["level"] == "project" and project["code"].startswith("p")
    assert HZ_PROJECT in (project["url"] or "") or project["name"]

    html = client.get("/leader/?region=330106&period=2026Q3").get_data(as_text=True)
    crumbs = re.findall(r'data-crumb="(\d*)"', html)
    assert crumbs == ["330000", "330100", "330106"]
    assert "浙江省" in html and "杭州市" in html and "西湖区" in html
    # the children's table lists the project; the cockpit of one project keeps the crumbs
    assert project["name"] in html
    one = client.get(f"/leader/?region={project['code']}").get_data(as_text=True)
    assert re.findall(r'data-crumb="(\w*)"', one) == ["330000", "330100", "330106", project["code"]]


def test_a_county_leader_sees_the_county_only(app, leaders):
    client = leaders.client(app, "xh_leader")
    top = _json(client.get("/leader/api/overview"))
    assert top["area"]["code"] == "330106" and top["area"]["project_count"] == 1
    for region in ("330000", "330100", "330200"):
        for url in (f"/leader/api/overview?region={region}", f"/leader/?region={region}"):
            assert client.get(url).status_code == 400, url
    html = client.get("/leader/").get_data(as_text=True)
    assert re.findall(r'data-crumb="(\d*)"', html) == ["330106"]
    assert NB_PROJECT not in html

    city = leaders.client(app, "hz_leader")
    assert _json(city.get("/leader/api/overview"))["area"]["code"] == "330100"
    assert city.get("/leader/api/overview?region=330200").status_code == 400
    assert city.get("/leader/api/overview?region=330106").status_code == 200


def test_the_trace_page_lists_records_and_their_sum(app, leaders, session):
    """Two projects under construction with monthly investment reports: the total investment
    figure's records are the reports, and the sum row is the figure's numerator."""
    for code, amounts in ((HZ_PROJECT, ("120.50", "80.25")), (NB_PROJECT, ("300.00",))):
        project = session.scalar(sa.select(Project).where(Project.code == code))
        project.status = "in_construction"
        for month, amount in enumerate(amounts, start=3):
            session.add(
                InvestmentReport(
                    project_id=project.id, year=2026, month=month, amount=Decimal(amount), reported_by="t"
                )
            )
    session.commit()
    client = leaders.client(app, "leader")
    overview = _json(client.get("/leader/api/overview?period=2026"))
    figure = overview["area"]["values"]["investment_total"]
    assert Decimal(figure["numerator"]) == Decimal("500.75")
    html = client.get("/leader/trace?code=investment_total&period=2026").get_data(as_text=True)
    assert html.count("3月投资月报") == 2 and html.count("4月投资月报") == 1
    assert f"/projects/{HZ_PROJECT}/funds" in html
    assert Decimal(re.search(r'data-sum-numerator="([^"]*)"', html)[1]) == Decimal("500.75")
    assert Decimal(re.search(r'data-sum-denominator="([^"]*)"', html)[1]) == Decimal(figure["denominator"])
    assert figure["display"] in html
    assert "500.75" in html and "120.50" in html  # amounts as entered (thousands separated)
    # a city's trace lists its own records only
    city = client.get("/leader/trace?code=investment_total&period=2026&region=330200").get_data(as_text=True)
    assert city.count("3月投资月报") == 1 and HZ_PROJECT not in city
    for indicator in CATALOGUE:
        response = client.get(f"/leader/trace?code={indicator.code}&period=2026")
        assert response.status_code == 200, indicator.code
        html = response.get_data(as_text=True)
        assert indicator.formula in html and "data-trace-table" in html


def test_the_cockpit_reads_only(app, leaders):
    """GETs never write (SQLite readers must not take the write lock)."""
    from backend.extensions import db

    client = leaders.client(app, "leader")
    client.get("/leader/")  # a first request may set up what every request shares
    writes: list[str] = []
    seen: list[str] = []

    def watch(conn, cursor, statement, *args):
        seen.append(statement)
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", watch)
    try:
        for url in PAGES + APIS + ("/leader/?region=330106", "/leader/trace?code=warnings_red&region=330100"):
            assert client.get(url).status_code == 200, url
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", watch)
    assert seen and writes == []


def test_a_leader_starts_on_the_cockpit_and_a_head_on_the_inbox(app, leaders):
    # The leader role works no tasks; a head (kpi.view and task.work) still starts on the inbox.
    assert leaders.client(app, "leader").get("/").headers["Location"] == "/leader/"
    assert leaders.client(app, "head").get("/").headers["Location"] == "/inbox"


def test_figures_from_a_snapshot_say_when_and_show_new_data_after_the_next_refresh(app, leaders, session):
    """With snapshots on, the province page answers from the stored figures and says as of when;
    a report entered afterwards shows after the next refresh (live on the county, always)."""
    from backend.kpi import refresh, service

    project = session.scalars(sa.select(Project).where(Project.code == HZ_PROJECT)).one()
    today = date.today()
    year = service.parse_period(str(today.year), today=today)
    app.config["KPI_SNAPSHOT_INTERVAL"] = 600
    try:
        for period in (year, *year.months):
            refresh.refresh(session=session, period=period)
        session.add(
            InvestmentReport(
                project_id=project.id, year=today.year, month=1, amount=Decimal("777.00"), reported_by="o"
            )
        )
        session.commit()
        client = leaders.client(app, "leader")
        stored = _json(client.get("/leader/api/overview"))
        assert stored["area"]["as_of"] is not None
        assert "数据截至" in client.get("/leader/").get_data(as_text=True)
        county = _json(client.get("/leader/api/overview?region=330106"))
        assert county["area"]["as_of"] is None  # a county is computed live
        numerator = county["area"]["values"]["investment_year"]["numerator"]
        assert Decimal(numerator) - Decimal(stored["area"]["values"]["investment_year"]["numerator"]) == 777
        refresh.refresh(session=session, period=year)
        session.commit()
        # The tests' requests share the session fixture's app context, and so its `g` (the memo).
        flask.g.pop("_kpi_drill", None)
        again = _json(client.get("/leader/api/overview"))
        assert again["area"]["values"]["investment_year"]["numerator"] == numerator
    finally:
        app.config["KPI_SNAPSHOT_INTERVAL"] = 0
