"""Performance evaluation, the rest of issue 10: the region picker and the scope, the scheme
version a period is scored with (and choosing another), the item page scoring one item
directly, and the ranking's CSV / XLSX export.

The data is test_evaluation.py's `three` fixture (year 2026): P1 甲项目 西湖区 (unit A, 1000),
P2 乙项目 海曙区 (unit A, 3000), P3 丙项目 滨江区 (unit B, 2000). Two saved versions:
  v1 旧方案, saved 2025-12-01 00:00 UTC: investment_year weight 1, full 100 %, zero 50 %.
  v2 测试方案, saved 2026-03-31 16:00 UTC = 2026-04-01 00:00 Beijing: ITEMS (investment_year
     weight 3 full 100 zero 0; warnings_red weight 1 full 0 zero 4).
In force at a period's end (the last version saved strictly before it):
  2024 (ends 2025-01-01 BJ)   → none saved yet → the built-in default;
  2025 (ends 2026-01-01 BJ)   → v1;
  2026Q1 (ends 2026-04-01 00:00 BJ, the very moment v2 was saved) → still v1;
  2026Q2, 2026               → v2.
Scores for 2026:
  v2: P2 (3×100 + 1×100)/4 = 100.00; P1 (3×80 + 1×75)/4 = 78.75; P3 no score (1 of 4 weight).
  v1: P1 80 % → (80-50)/(100-50) = 60.00 points = score; P2 120 % → 100.00; P3 no value → none.
  Unit A (v2): (1000×78.75 + 3000×100)/4000 = 94.69; within 杭州市 only P1: 78.75.
"""

import csv
import io
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from backend.audit.models import AuditRecord
from backend.kpi import evaluation, service
from backend.kpi.evaluation import EvaluationScheme
from backend.projects.models import Project
from tests.authz.conftest import _person, signed_in
from tests.kpi import test_evaluation as base
from tests.kpi.conftest import ALL, NOW

three = base.three  # the fixture, shared
YEAR = base.YEAR
V1_ITEMS = {"investment_year": {"weight": "1", "full": "100", "zero": "50"}}
V1_AT = datetime(2025, 12, 1, 0, 0, tzinfo=UTC)
V2_AT = datetime(2026, 3, 31, 16, 0, tzinfo=UTC)  # 2026-04-01 00:00 Beijing


def _period(key: str) -> service.Period:
    return service.parse_period(key, today=NOW.date())


def _versions(session) -> tuple[int, int]:
    v1 = evaluation.save_scheme(session=session, name="旧方案", items=V1_ITEMS, by="tester")
    v1.created_at = V1_AT
    v2 = evaluation.save_scheme(session=session, name="测试方案", items=base.ITEMS, by="tester")
    v2.created_at = V2_AT
    session.flush()
    return v1.id, v2.id


# --- which version scores a period ---------------------------------------------------------------


def test_the_period_end_is_midnight_beijing_of_the_day_after():
    assert evaluation.period_end_utc(_period("2026Q1")) == datetime(2026, 3, 31, 16, 0, tzinfo=UTC)
    assert evaluation.period_end_utc(_period("2025")) == datetime(2025, 12, 31, 16, 0, tzinfo=UTC)


def test_each_period_is_scored_with_the_version_in_force_at_its_end(session):
    assert evaluation.scheme_for_period(session=session, period=_period("2025")).id is None  # none saved
    v1, v2 = _versions(session)
    used = {
        key: evaluation.scheme_for_period(session=session, period=_period(key)).id
        for key in ("2024", "2025", "2026Q1", "2026Q2", "2026")
    }
    assert used == {"2024": None, "2025": v1, "2026Q1": v1, "2026Q2": v2, "2026": v2}
    assert evaluation.scheme_for_period(session=session, period=_period("2024")).name == "内置默认方案"


def test_an_explicit_choice_overrides_the_version_in_force(session):
    v1, v2 = _versions(session)
    year = _period("2026")
    assert evaluation.chosen_scheme(session=session, period=year, choice="").id == v2
    assert evaluation.chosen_scheme(session=session, period=year, choice=str(v1)).id == v1
    assert evaluation.chosen_scheme(session=session, period=year, choice="default").id is None
    for bad in ("999999", "abc", "-1"):
        with pytest.raises(service.KpiInputError, match="没有这个评价方案版本"):
            evaluation.chosen_scheme(session=session, period=year, choice=bad)


# --- one item scored directly --------------------------------------------------------------------


def test_one_project_scored_alone_equals_its_line_in_the_ranking(session, three):
    _versions(session)
    scheme = evaluation.scheme_for_period(session=session, period=YEAR)
    ranking = evaluation.score_projects(
        session=session, scope=ALL, region=None, period=YEAR, scheme=scheme, now=NOW
    )
    alone = {
        p.key: evaluation.score_project(
            session=session, scope=ALL, region=None, period=YEAR, scheme=scheme, project_id=p.key, now=NOW
        )
        for p in ranking
    }
    assert [alone[p.key] for p in ranking] == ranking
    assert [alone[three[k].id].score for k in ("p1", "p2", "p3")] == [
        Decimal("78.75"),
        Decimal("100.00"),
        None,
    ]
    # P2 is in 海曙区 (宁波), not under 杭州市; an unknown id and a draft are refused alike
    draft = session.scalar(sa.select(Project.id).where(Project.status == "draft"))
    for region, project_id in (("330100", three["p2"].id), (None, 999999), (None, draft)):
        with pytest.raises(service.KpiInputError, match="不在所选范围内"):
            evaluation.score_project(
                session=session, scope=ALL, region=region, period=YEAR, scheme=scheme, project_id=project_id
            )


@pytest.mark.parametrize("ratio", [1, 50])  # project by project; from the region's statements
def test_one_unit_scored_alone_either_way(session, three, monkeypatch, ratio):
    monkeypatch.setattr(evaluation, "DIRECT_RATIO", ratio)
    calls = []
    real = service.project_values
    monkeypatch.setattr(service, "project_values", lambda **kw: calls.append(kw["region"]) or real(**kw))
    _versions(session)
    scheme = evaluation.scheme_for_period(session=session, period=YEAR)

    def unit(region, key="a"):
        return evaluation.score_unit(
            session=session,
            scope=ALL,
            region=region,
            period=YEAR,
            scheme=scheme,
            unit_id=three[key].id,
            now=NOW,
        )

    whole = unit(None)
    # unit A: 2 of the 3 projects; 2 × 1 <= 3 → each project's own figures; 2 × 50 > 3 → the region's
    expected = [f"p{three['p1'].id}", f"p{three['p2'].id}"] if ratio == 1 else [None]
    assert sorted(calls, key=str) == sorted(expected, key=str)
    assert (whole.score, whole.project_count, whole.investment) == (Decimal("94.69"), 2, Decimal("4000.00"))
    assert [m.name for m in whole.members] == ["乙项目", "甲项目"]  # ranked, as score_units gives them
    ranked_units = evaluation.score_units(
        session=session, scope=ALL, region=None, period=YEAR, scheme=scheme, now=NOW
    )
    assert whole == ranked_units[0]
    hangzhou = unit("330100")
    assert (hangzhou.score, hangzhou.project_count) == (Decimal("78.75"), 1)
    assert unit(None, "b").score is None
    with pytest.raises(service.KpiInputError, match="不在所选范围内"):
        unit("330200", "b")  # unit B has no project in 宁波


# --- pages -----------------------------------------------------------------------------------------


@pytest.fixture()
def people(session, three):
    out = {
        "leader": _person(session, "leader", ["leader"], region="330000"),
        "xh_leader": _person(session, "xh_leader", ["leader"], region="330106"),
        "head": _person(session, "head", ["head"], region="330000"),
        "hz_head": _person(session, "hz_head", ["head"], region="330100"),
    }
    out["v1"], out["v2"] = _versions(session)
    session.commit()
    return out


def _names(html: str) -> list[str]:
    return re.findall(r"</span> (\S+项目)</a>", html)


def _crumbs(html: str) -> list[str]:
    return re.findall(r'data-crumb="(\d*)"', html)


def _child_options(html: str) -> list[str]:
    form = re.search(r"data-region-select>(.*?)</select>", html, re.S)
    return re.findall(r'<option value="(\d+)">', form[1]) if form else []


def test_the_region_picker_drills_province_city_county(app, people, three):
    client = signed_in(app, people["leader"])
    top = client.get("/leader/evaluation?period=2026").get_data(as_text=True)
    assert _names(top) == ["乙项目", "甲项目", "丙项目"]
    assert _crumbs(top) == ["330000"] and _child_options(top) == ["330100", "330200"]
    city = client.get("/leader/evaluation?period=2026&region=330100&of=unit").get_data(as_text=True)
    assert _crumbs(city) == ["330000", "330100"] and _child_options(city) == ["330106", "330108"]
    # the crumb back up keeps the unit tab; unit A has only P1 in 杭州市
    assert 'href="/leader/evaluation?region=330000&amp;period=2026&amp;of=unit"' in city
    assert "78.75" in city and "94.69" not in city
    county = client.get("/leader/evaluation?period=2026&region=330106").get_data(as_text=True)
    assert _names(county) == ["甲项目"] and _child_options(county) == []
    assert 'name="region" value="330106"' in county  # the period picker keeps the region


def test_a_county_person_sees_only_their_county(app, people, three):
    client = signed_in(app, people["xh_leader"])
    page = client.get("/leader/evaluation?period=2026").get_data(as_text=True)
    assert _names(page) == ["甲项目"] and _crumbs(page) == ["330106"]
    for region in ("330100", "330108", "330000"):
        refused = client.get(f"/leader/evaluation?period=2026&region={region}")
        assert refused.status_code == 400
        assert "所选行政区划不在您的数据范围内" in refused.get_data(as_text=True)
    assert (
        client.get(f"/leader/evaluation/item?period=2026&of=project&id={three['p3'].id}").status_code == 400
    )


def test_the_page_shows_the_version_used_and_a_manager_may_choose_another(app, people, three):
    v1, v2 = people["v1"], people["v2"]
    leader = signed_in(app, people["leader"])

    def used(client, query):
        html = client.get(f"/leader/evaluation?{query}").get_data(as_text=True)
        return re.search(r'data-scheme-used="(\w+)"', html)[1], html

    assert used(leader, "period=2026")[0] == str(v2)
    assert used(leader, "period=2026Q1")[0] == str(v1)
    assert used(leader, "period=2025")[0] == str(v1)
    assert used(leader, "period=2024")[0] == "default"
    shown, html = used(leader, "period=2026")
    assert "测试方案（版本" in html and "data-scheme-select" not in html  # no choice offered
    assert leader.get(f"/leader/evaluation?period=2026&scheme={v1}").status_code == 403
    assert (
        leader.get(f"/leader/evaluation/item?period=2026&id={three['p1'].id}&scheme={v1}").status_code == 403
    )
    head = signed_in(app, people["head"])
    shown, html = used(head, f"period=2026&scheme={v1}")
    assert shown == str(v1) and "data-scheme-chosen" in html and "data-scheme-select" in html
    assert (
        re.search(rf'data-evaluation-row="{three["p1"].id}">.*?data-score>([\d.]+)<', html, re.S)[1]
        == "60.00"
    )
    assert f'name="scheme" value="{v1}"' in html  # a new period keeps the chosen version
    item = head.get(f"/leader/evaluation/item?period=2026&of=project&id={three['p1'].id}&scheme={v1}")
    assert re.search(r"data-item-total>([\d.]+)<", item.get_data(as_text=True))[1] == "60.00"
    assert used(head, "period=2026&scheme=default")[0] == "default"
    assert head.get("/leader/evaluation?period=2026&scheme=999999").status_code == 400


def test_the_item_page_does_not_rank_the_region(app, people, three, monkeypatch):
    def no_ranking(**kwargs):
        raise AssertionError("the item page ranked the whole region")

    monkeypatch.setattr(evaluation, "score_projects", no_ranking)
    monkeypatch.setattr(evaluation, "score_units", no_ranking)
    client = signed_in(app, people["leader"])
    page = client.get(f"/leader/evaluation/item?period=2026&of=project&id={three['p1'].id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    weighted = [Decimal(v) for v in re.findall(r"data-weighted>([\d.]+)<", html)]
    weights = [Decimal(v) for v in re.findall(r"data-weight>([\d.]+)<", html)]
    # 3 × 80.00 + 1 × 75.00 = 315.00 over weight 4 → 78.75
    assert sum(weighted) == Decimal("315.00") and sum(weights) == 4
    assert re.search(r"data-item-total>([\d.]+)<", html)[1] == "78.75"
    assert "排名见列表" in html and f'data-scheme-used="{people["v2"]}"' in html
    unit = client.get(f"/leader/evaluation/item?period=2026&of=unit&id={three['a'].id}&region=330100")
    assert unit.status_code == 200
    assert re.search(r"data-item-total>([\d.]+)<", unit.get_data(as_text=True))[1] == "78.75"
    outside = client.get(f"/leader/evaluation/item?period=2026&of=project&id={three['p2'].id}&region=330100")
    assert outside.status_code == 400


# --- exports ---------------------------------------------------------------------------------------


def _csv(response) -> list[list[str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_the_csv_export_of_the_project_ranking(app, people, three, session):
    client = signed_in(app, people["head"])
    response = client.get("/leader/evaluation/export.csv?period=2026")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = _csv(response)
    assert rows[0][:5] == ["排名", "项目代码", "项目名称", "得分", "计入的权重"]
    assert rows[0][5:] == ["年度投资完成率（%）", "年度投资完成率得分", "红色预警（个）", "红色预警得分"]
    p1, p2, p3 = three["p1"], three["p2"], three["p3"]
    # value columns: 120 %, 0 warnings; 80 %, 1 warning; no budget, 2 warnings
    assert [r[:5] for r in rows[1:]] == [
        ["1", p2.code, "乙项目", "100.00", "4"],
        ["2", p1.code, "甲项目", "78.75", "4"],
        ["", p3.code, "丙项目", "", "1"],
    ]
    assert [Decimal(v) if v else None for v in rows[2][5:]] == [
        Decimal(80),
        Decimal("80.00"),
        Decimal(1),
        Decimal("75.00"),
    ]
    assert rows[3][5:7] == ["", ""]  # P3: no investment figure, left out
    session.expire_all()
    audited = session.scalars(
        sa.select(AuditRecord.detail).where(
            AuditRecord.action == "data.export", AuditRecord.object_type == "kpi_evaluation"
        )
    ).all()
    assert [(d["format"], d["rows"], d["period"]) for d in audited] == [("csv", 3, "2026")]


def test_the_xlsx_export_writes_numbers_and_says_which_version(app, people, three):
    client = signed_in(app, people["head"])
    response = client.get(f"/leader/evaluation/export.xlsx?period=2026&of=unit&scheme={people['v1']}")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.get_data()))
    sheet = book.worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == ["排名", "建设单位", "得分", "项目数", "计分项目总投资（元）"]
    # v1: unit A = (1000 × 60 + 3000 × 100) / 4000 = 360000 / 4000 = 90.00; unit B unscored
    assert rows[1] == [1, "测试建设单位", 90, 2, 4000]
    assert rows[2][:4] == [None, "另一建设单位", None, 1]
    assert all(isinstance(rows[1][i], int | float) for i in (0, 2, 3, 4))  # numbers, not texts
    about = dict(book.worksheets[1].iter_rows(values_only=True))
    assert about["评价方案"] == "旧方案" and about["方案版本"] == str(people["v1"])
    assert about["期间"] == "2026年" and about["地区"] == "浙江省"


def test_exports_stay_within_the_scope_and_need_export_rights(app, people, three, session):
    hz = signed_in(app, people["hz_head"])
    rows = _csv(hz.get("/leader/evaluation/export.csv?period=2026"))
    assert [r[2] for r in rows[1:]] == ["甲项目", "丙项目"]
    refused = hz.get("/leader/evaluation/export.csv?period=2026&region=330200")
    assert refused.status_code == 400 and "数据范围" in refused.get_json()["error"]
    assert hz.get("/leader/evaluation/export.xlsx?period=2026-07").status_code == 400
    leader = signed_in(app, people["leader"])  # kpi.view without export.data
    assert leader.get("/leader/evaluation/export.csv?period=2026").status_code == 403
    assert leader.get("/leader/evaluation/export.xlsx?period=2026").status_code == 403
    assert "data-export" not in leader.get("/leader/evaluation?period=2026").get_data(as_text=True)
    assert "data-export" in hz.get("/leader/evaluation?period=2026").get_data(as_text=True)


def test_a_formula_like_name_is_exported_as_text(app, people, three, session):
    three["p2"].name = "=HYPERLINK(1)"
    session.commit()
    client = signed_in(app, people["head"])
    rows = _csv(client.get("/leader/evaluation/export.csv?period=2026"))
    assert rows[1][2] == "'=HYPERLINK(1)"
    book = load_workbook(io.BytesIO(client.get("/leader/evaluation/export.xlsx?period=2026").get_data()))
    assert book.worksheets[0]["C2"].value == "'=HYPERLINK(1)" and book.worksheets[0]["C2"].data_type == "s"


def test_saved_versions_keep_their_own_rows(session):
    v1, v2 = _versions(session)
    rows = session.execute(
        sa.select(EvaluationScheme.id, EvaluationScheme.active).order_by(EvaluationScheme.id)
    ).all()
    assert rows == [(v1, False), (v2, True)]
