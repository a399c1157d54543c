"""Performance evaluation (绩效评价): scoring rules, project and unit scores and their ranking,
renormalisation when a figure is missing, the versioned scheme and its validation, the pages'
permissions, the data scope and the item page adding up to the score.

The fixture (year 2026, now = 2026-07-15) is scored with a two-indicator scheme:
  年度投资完成率 (investment_year) weight 3: 100 % → 100 points, 0 % → 0, linear (higher better)
  红色预警 (warnings_red)           weight 1: 0 → 100 points, 4 → 0, linear (lower better)
  P1 西湖区, unit A, total 1000: budget 1000, reported 800 → 80 % → 80 points;
     1 red warning → (4-1)/4 → 75 points.        score (3×80 + 1×75) / 4 = 315 / 4 = 78.75
  P2 海曙区, unit A, total 3000: budget 1000, reported 1200 → 120 % → 100 points;
     no warning → 100 points.                     score (3×100 + 1×100) / 4 = 100.00
  P3 滨江区, unit B, total 2000: no budget line → investment_year has no value, left out;
     2 red warnings → 50 points, but the indicators with a value carry 1 of 4 weight, under
     half (MIN_COVERAGE): no score, not ranked. (With 50 points renormalised it would have been
     50.00: test_renormalised_when_half_the_weight_has_data.)
  Projects ranked P2 100.00, P1 78.75, then P3 unscored.
  Unit A = (1000 × 78.75 + 3000 × 100) / 4000 = 378750 / 4000 = 94.6875 → 94.69; unit B none.
"""

import re
from decimal import Decimal

import pytest
import sqlalchemy as sa

from backend.authz.scope import Scope
from backend.contracts.models import BudgetLine
from backend.funds.models import InvestmentReport
from backend.kpi import evaluation, service
from backend.kpi.evaluation import EvaluationScheme, Rule
from backend.org.models import Unit
from backend.risk.models import RiskWarning
from tests.authz.conftest import _person, signed_in
from tests.kpi.conftest import ALL, NOW, bj

YEAR = service.parse_period("2026", today=NOW.date())
ITEMS = {
    "investment_year": {"weight": "3", "full": "100", "zero": "0"},
    "warnings_red": {"weight": "1", "full": "0", "zero": "4"},
}


def test_rule_points_at_and_between_the_thresholds_both_ways():
    higher = Rule("approval_on_time", Decimal(1), Decimal(100), Decimal(60))
    assert higher.higher_better
    assert [higher.points(Decimal(v)) for v in ("120", "100", "80", "70.5", "60", "10")] == [
        Decimal("100.00"),
        Decimal("100.00"),
        Decimal("50.00"),
        Decimal("26.25"),
        Decimal("0.00"),
        Decimal("0.00"),
    ]
    lower = Rule("schedule_deviation", Decimal(1), Decimal(0), Decimal(30))
    assert not lower.higher_better
    assert [lower.points(Decimal(v)) for v in ("-5", "0", "7.5", "20", "30", "45")] == [
        Decimal("100.00"),
        Decimal("100.00"),
        Decimal("75.00"),
        Decimal("33.33"),
        Decimal("0.00"),
        Decimal("0.00"),
    ]
    assert "满分" in higher.describe() and "零分" in lower.describe()


def test_the_default_scheme_leaves_out_benefit_ratio_and_is_active_until_one_is_saved(session):
    scheme = evaluation.active_scheme(session=session)
    codes = [r.code for r in scheme.rules]
    assert scheme.id is None and "benefit_ratio" not in codes and "investment_year" in codes
    assert all(r.weight > 0 and r.full != r.zero for r in scheme.rules)


@pytest.fixture()
def three(world, session):
    """P1, P2 (unit A = world.unit), P3 (unit B), as in the module docstring."""
    unit_b = Unit(name="另一建设单位", kind="owner")
    session.add(unit_b)
    session.flush()
    p1 = world.project("330106", name="甲项目", total_investment="1000.00")
    p2 = world.project("330203", name="乙项目", total_investment="3000.00")
    p3 = world.project("330108", name="丙项目", total_investment="2000.00", owner_unit_id=unit_b.id)
    world.project("330106", name="草稿项目", status="draft")  # never evaluated
    for project, budget, reported in ((p1, "1000.00", "800.00"), (p2, "1000.00", "1200.00")):
        session.add(BudgetLine(project_id=project.id, year=2026, source="企业自筹", amount=Decimal(budget)))
        session.add(
            InvestmentReport(
                project_id=project.id,
                year=2026,
                month=5,
                version=1,
                amount=Decimal(reported),
                reported_by="owner",
            )
        )
    for n, project in enumerate((p1, p3, p3)):
        session.add(
            RiskWarning(
                project_id=project.id,
                cause=f"c{n}",
                source="rule",
                grade="red",
                status="open",
                title="预警",
                raised_at=bj(2026, 3, 1, 9, 0),
            )
        )
    session.flush()
    return {"p1": p1, "p2": p2, "p3": p3, "a": world.unit, "b": unit_b}


def _scheme(session, items=ITEMS, name="测试方案", by="tester"):
    evaluation.save_scheme(session=session, name=name, items=items, by=by)
    return evaluation.active_scheme(session=session)


def test_project_values_are_keyed_by_project_and_leave_drafts_out(session, three):
    values = service.project_values(session=session, scope=ALL, region=None, period=YEAR, now=NOW)
    assert set(values) == {three["p1"].id, three["p2"].id, three["p3"].id}
    assert values[three["p1"].id]["investment_year"].value == Decimal("80.0000")
    assert values[three["p3"].id]["investment_year"].value is None
    assert values[three["p3"].id]["warnings_red"].value == 2


def test_projects_and_units_scored_and_ranked(session, three):
    scheme = _scheme(session)
    projects = evaluation.score_projects(
        session=session, scope=ALL, region=None, period=YEAR, scheme=scheme, now=NOW
    )
    assert [(p.name, p.score) for p in projects] == [
        ("乙项目", Decimal("100.00")),
        ("甲项目", Decimal("78.75")),
        ("丙项目", None),
    ]
    assert [rank for rank, _ in evaluation.ranked(projects)] == [1, 2, 0]
    # P3: investment_year has no value, so only warnings_red counts: weight 1 of 4, too little
    p3 = projects[2]
    missing = next(line for line in p3.lines if line.rule.code == "investment_year")
    assert missing.points is None and missing.weighted is None
    assert p3.weight_sum == 1 and p3.weighted_sum == Decimal("50.00")
    units = evaluation.score_units(
        session=session, scope=ALL, region=None, period=YEAR, scheme=scheme, now=NOW
    )
    assert [(u.name, u.score, u.project_count) for u in units] == [
        ("测试建设单位", Decimal("94.69"), 2),
        ("另一建设单位", None, 1),
    ]


def test_renormalised_when_half_the_weight_has_data():
    # weights 2 + 1 + 1; the weight-1 indicator has no value: 3 of 4 counted (≥ half), so the
    # score is (2×80 + 1×50) / 3 = 210 / 3 = 70.00. Without the weight-2 one: 2 of 4, exactly
    # half, still scored: (1×50 + 1×100)/2 = 75.00; with one weight-1 only: 1 of 4, no score.
    scheme = evaluation.Scheme(
        None,
        "t",
        (
            Rule("investment_year", Decimal(2), Decimal(100), Decimal(0)),
            Rule("warnings_red", Decimal(1), Decimal(0), Decimal(4)),
            Rule("satisfaction", Decimal(1), Decimal(5), Decimal(1)),
        ),
    )

    def v(code, value):
        return service.Value(code, Decimal(value), None, None, str(value))

    score, *_ = evaluation.score_values(
        scheme, {"investment_year": v("investment_year", 80), "warnings_red": v("warnings_red", 2)}
    )
    assert score == Decimal("70.00")
    score, *_ = evaluation.score_values(
        scheme, {"warnings_red": v("warnings_red", 2), "satisfaction": v("satisfaction", 5)}
    )
    assert score == Decimal("75.00")
    score, *_ = evaluation.score_values(scheme, {"warnings_red": v("warnings_red", 2)})
    assert score is None


def test_ties_are_ranked_by_code(session, world):
    a = world.project("330106", name="后")
    b = world.project("330106", name="前")
    scheme = _scheme(session, items={"warnings_red": {"weight": "1", "full": "0", "zero": "4"}})
    projects = evaluation.score_projects(
        session=session, scope=ALL, region=None, period=YEAR, scheme=scheme, now=NOW
    )
    assert [p.key for p in projects] == sorted([a.id, b.id], key=lambda i: session.get(type(a), i).code)
    assert projects[0].score == projects[1].score == Decimal("100.00")


def test_a_month_is_refused(session, three):
    with pytest.raises(service.KpiInputError, match="季度或年度"):
        evaluation.score_projects(
            session=session,
            scope=ALL,
            region=None,
            period=service.parse_period("2026-07", today=NOW.date()),
            scheme=evaluation.default_scheme(),
            now=NOW,
        )


def test_scheme_validation_gives_a_message_per_field(session):
    with pytest.raises(evaluation.SchemeError) as caught:
        evaluation.save_scheme(
            session=session,
            name="",
            items={
                "nonsense": {"weight": "1", "full": "1", "zero": "0"},
                "investment_year": {"weight": "-1", "full": "100", "zero": "0"},
                "disbursement": {"weight": "x", "full": "100", "zero": "0"},
                "start_rate": {"weight": "1", "full": "abc", "zero": "0"},
                "completion_rate": {"weight": "1", "full": "50", "zero": "50"},
            },
            by="tester",
        )
    errors = caught.value.errors
    assert errors == {
        "name": "请填写方案名称",
        "nonsense.weight": "没有这个指标: nonsense",
        "investment_year.weight": "权重不能为负数",
        "disbursement.weight": "权重应为数字",
        "start_rate.full": "满分值应为数字",
        "completion_rate.zero": "满分值与零分值不能相同",
    }
    with pytest.raises(evaluation.SchemeError) as caught:
        evaluation.save_scheme(
            session=session,
            name="全零",
            items={"investment_year": {"weight": "0", "full": "100", "zero": "0"}},
            by="t",
        )
    assert caught.value.errors == {"weights": "至少一个指标的权重应大于 0"}
    assert session.scalar(sa.select(sa.func.count()).select_from(EvaluationScheme)) == 0


def test_a_saved_scheme_changes_the_scores_and_keeps_the_old_version(session, three):
    first = _scheme(session)
    second = _scheme(
        session, items={"investment_year": {"weight": "1", "full": "100", "zero": "50"}}, name="第二版"
    )
    assert second.id != first.id and second.name == "第二版"
    rows = session.scalars(sa.select(EvaluationScheme).order_by(EvaluationScheme.id)).all()
    assert [(r.name, r.active) for r in rows] == [("测试方案", False), ("第二版", True)]
    assert [v.id for v in evaluation.versions(session=session)] == [second.id, first.id]
    assert evaluation.scheme_by_id(session=session, scheme_id=first.id).rules == first.rules
    projects = evaluation.score_projects(
        session=session, scope=ALL, region=None, period=YEAR, scheme=second, now=NOW
    )
    # P1 80 % → (80-50)/50 = 60 points; P2 100; P3 has no value at all → no score, last
    assert [(p.name, p.score) for p in projects] == [
        ("乙项目", Decimal("100.00")),
        ("甲项目", Decimal("60.00")),
        ("丙项目", None),
    ]
    assert [rank for rank, _ in evaluation.ranked(projects)] == [1, 2, 0]


def test_a_city_scope_ranks_only_its_city(session, three):
    scheme = _scheme(session)
    hangzhou = Scope(
        all=False,
        regions=frozenset({"330100", "330106", "330108"}),
        unit_id=None,
        username="hz",
        whole_tree=False,
    )
    projects = evaluation.score_projects(
        session=session, scope=hangzhou, region=None, period=YEAR, scheme=scheme, now=NOW
    )
    assert [p.name for p in projects] == ["甲项目", "丙项目"]
    with pytest.raises(service.KpiInputError):
        evaluation.score_projects(
            session=session, scope=hangzhou, region="330200", period=YEAR, scheme=scheme
        )


# --- pages ---------------------------------------------------------------------------------------


@pytest.fixture()
def people(session, three):
    out = {
        "leader": _person(session, "leader", ["leader"], region="330000"),
        "hz_leader": _person(session, "hz_leader", ["leader"], region="330100"),
        "head": _person(session, "head", ["head"], region="330000"),
        "owner": _person(session, "owner", ["owner"], region="330000", unit=three["a"]),
    }
    row = evaluation.save_scheme(session=session, name="测试方案", items=ITEMS, by="tester")
    # The pages score 2026 with the version in force at its end: saved before it, whenever
    # the tests run.
    row.created_at = bj(2026, 1, 2, 9, 0)
    session.commit()
    return out


def _names(html: str) -> list[str]:
    return re.findall(r"</span> (\S+项目)</a>", html)


def test_the_ranking_and_item_pages(app, people, three):
    client = signed_in(app, people["leader"])
    html = client.get("/leader/evaluation?period=2026").get_data(as_text=True)
    assert _names(html) == ["乙项目", "甲项目", "丙项目"]
    assert "78.75" in html and "重新分配" in html
    units = client.get("/leader/evaluation?period=2026&of=unit").get_data(as_text=True)
    assert units.index("测试建设单位") < units.index("另一建设单位") and "94.69" in units
    assert '<input type="hidden" name="of" value="unit">' in units  # a new period keeps the tab
    item = client.get(f"/leader/evaluation/item?period=2026&of=project&id={three['p1'].id}")
    assert item.status_code == 200
    page = item.get_data(as_text=True)
    weighted = [Decimal(v) for v in re.findall(r"data-weighted>([\d.]+)<", page)]
    weights = [Decimal(v) for v in re.findall(r"data-weight>([\d.]+)<", page)]
    total = Decimal(re.search(r"data-item-total>([\d.]+)<", page)[1])
    assert total == Decimal("78.75") and sum(weighted) / sum(weights) == total
    assert f"region=p{three['p1'].id}" in page and "code=investment_year" in page  # trace links
    missing = client.get(f"/leader/evaluation/item?period=2026&of=project&id={three['p3'].id}").get_data(
        as_text=True
    )
    assert "无数据，不计入" in missing
    unit = client.get(f"/leader/evaluation/item?period=2026&of=unit&id={three['a'].id}").get_data(
        as_text=True
    )
    assert "94.69" in unit and "甲项目" in unit and "乙项目" in unit
    assert client.get("/leader/evaluation?period=2026-07").status_code == 400
    assert client.get("/leader/evaluation?of=nobody").status_code == 400
    assert client.get("/leader/evaluation/item?period=2026&id=999999").status_code == 400
    assert "data-evaluation-link" in client.get("/leader/?period=2026").get_data(as_text=True)


def test_a_city_leader_sees_only_its_city(app, people, three):
    client = signed_in(app, people["hz_leader"])
    html = client.get("/leader/evaluation?period=2026").get_data(as_text=True)
    assert _names(html) == ["甲项目", "丙项目"]
    assert (
        client.get(f"/leader/evaluation/item?period=2026&of=project&id={three['p2'].id}").status_code == 400
    )
    assert client.get("/leader/evaluation?period=2026&region=330200").status_code == 400


def test_who_reads_and_who_saves_the_scheme(app, people, session):
    form = {
        "name": "第二版",
        "investment_year.weight": "2",
        "investment_year.full": "100",
        "investment_year.zero": "0",
    }
    leader = signed_in(app, people["leader"])
    assert leader.get("/leader/evaluation/scheme").status_code == 200
    assert "保存为新版本" not in leader.get("/leader/evaluation/scheme").get_data(as_text=True)
    assert leader.post("/leader/evaluation/scheme", data=form).status_code == 403
    owner = signed_in(app, people["owner"])
    assert owner.get("/leader/evaluation").status_code == 403
    assert owner.get("/leader/evaluation/scheme").status_code == 403
    assert owner.post("/leader/evaluation/scheme", data=form).status_code == 403
    head = signed_in(app, people["head"])
    bad = head.post("/leader/evaluation/scheme", data={**form, "investment_year.zero": "100", "name": "坏的"})
    assert bad.status_code == 400
    page = bad.get_data(as_text=True)
    assert "满分值与零分值不能相同" in page and 'value="坏的"' in page and 'value="2"' in page  # nothing lost
    saved = head.post("/leader/evaluation/scheme", data=form)
    assert saved.status_code == 302
    session.expire_all()
    names = [v.name for v in evaluation.versions(session=session)]
    assert names == ["第二版", "测试方案"]
    assert evaluation.active_scheme(session=session).name == "第二版"
    assert "第二版" in head.get("/leader/evaluation/scheme").get_data(as_text=True)


def test_the_project_rows_are_read_in_chunks(session, three, monkeypatch):
    scheme = _scheme(session)
    whole = evaluation.score_projects(
        session=session, scope=ALL, region=None, period=YEAR, scheme=scheme, now=NOW
    )
    monkeypatch.setattr(evaluation, "CHUNK", 2)
    chunked = evaluation.score_projects(
        session=session, scope=ALL, region=None, period=YEAR, scheme=scheme, now=NOW
    )
    assert len(chunked) == 3 and chunked == whole


def test_the_scheme_page_shows_the_default_before_any_is_saved(app, session, world):
    head = _person(session, "head", ["head"], region="330000")
    session.commit()
    page = signed_in(app, head).get("/leader/evaluation/scheme").get_data(as_text=True)
    assert "内置默认方案" in page and "尚未保存过方案" in page
    assert 'name="investment_year.weight"' in page and 'value="25"' in page


def test_kpi_manage_is_granted_to_head_and_operator():
    from backend.authz.permissions import DEFAULT_GRANTS, PERMISSIONS

    assert PERMISSIONS["kpi.manage"] == "设置绩效评价指标权重和评分规则"
    assert {role for role, grants in DEFAULT_GRANTS.items() if "kpi.manage" in grants} == {"head", "operator"}
