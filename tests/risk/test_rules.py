"""The warning rules (backend/risk/rules.py): each fires exactly at its yellow level and not
one below, steps up through orange and red, clears, and reads its levels from the settings."""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from backend.risk import rules
from backend.risk.models import RiskSetting
from backend.risk.signals import ProjectSignals

QUIET = ProjectSignals(
    project_id=1,
    project_code="2025-330100-48-01-000001",
    as_of=date(2026, 3, 2),
    planned_progress=0.40,
    actual_progress=0.40,
    overdue_milestones=(),
    days_since_checkin=0,
    overdue_payments=(),
    overdue_steps=(),
    open_tickets=0,
    overdue_tickets=0,
    responsible_unit_id=None,
)
LIMITS = {key: default for key, (default, _label) in rules.DEFAULTS.items()}


def _only(signals, limits=LIMITS):
    findings = rules.evaluate(signals, limits)
    assert len(findings) <= 1, findings
    return findings[0] if findings else None


def test_quiet_project_has_no_finding():
    assert rules.evaluate(QUIET, LIMITS) == []


# (cause, the settings key, how to build the signals for a value)
CASES = [
    ("milestone_overdue", "milestone_overdue_days", lambda v: {"overdue_milestones": (("主体结构封顶", v),)}),
    ("no_checkin", "no_checkin_days", lambda v: {"days_since_checkin": v}),
    ("payment_overdue", "payment_overdue_days", lambda v: {"overdue_payments": (("进度款第3期", v),)}),
    ("step_overdue", "step_overdue_days", lambda v: {"overdue_steps": (("发改委审查", v),)}),
]


@pytest.mark.parametrize(("cause", "key", "build"), CASES, ids=[c[0] for c in CASES])
def test_fires_at_each_level_and_not_one_below(cause, key, build):
    levels = rules.levels(key)
    for grade in ("yellow", "orange", "red"):
        at = int(LIMITS[levels[grade]])
        finding = _only(replace(QUIET, **build(at)))
        assert finding is not None and (finding.cause, finding.grade) == (cause, grade)
        assert finding.detail["value"] == at
        below = _only(replace(QUIET, **build(at - 1)))
        expected_below = {"yellow": None, "orange": "yellow", "red": "orange"}[grade]
        assert (below.grade if below else None) == expected_below
    # Cleared: back to nothing.
    assert _only(replace(QUIET, **build(0))) is None


def test_progress_lag_in_percentage_points_at_each_level():
    # 0.60 - 0.55 is 4.999... in floats: the rule counts in tenths of a point, so it is 5.0.
    assert _only(replace(QUIET, planned_progress=0.60, actual_progress=0.55)).grade == "yellow"
    assert _only(replace(QUIET, planned_progress=0.60, actual_progress=0.551)) is None  # 4.9
    assert _only(replace(QUIET, planned_progress=0.60, actual_progress=0.50)).grade == "orange"
    assert _only(replace(QUIET, planned_progress=0.60, actual_progress=0.501)).grade == "yellow"  # 9.9
    red = _only(replace(QUIET, planned_progress=0.70, actual_progress=0.50))
    assert red.grade == "red"
    assert red.title == "实际进度落后计划 20.0 个百分点 (计划 70.0%, 实际 50.0%)"
    assert _only(replace(QUIET, planned_progress=0.50, actual_progress=0.70)) is None  # ahead
    assert _only(replace(QUIET, planned_progress=None, actual_progress=0.10)) is None  # no plan


def test_titles_name_the_thing_and_the_number():
    finding = _only(replace(QUIET, overdue_milestones=(("桩基完成", 3), ("主体结构封顶", 12))))
    assert finding.title == "里程碑“主体结构封顶”已逾期 12 天 (共 2 个里程碑逾期)"
    assert finding.detail["items"] == [["主体结构封顶", 12], ["桩基完成", 3]]
    assert (
        _only(replace(QUIET, overdue_milestones=(("主体结构封顶", 12),))).title
        == "里程碑“主体结构封顶”已逾期 12 天"
    )
    assert _only(replace(QUIET, days_since_checkin=9)).title == "已连续 9 天无现场打卡"
    assert (
        _only(replace(QUIET, overdue_payments=(("进度款第3期", 20),))).title
        == "付款节点“进度款第3期”已逾期 20 天未支付"
    )
    assert (
        _only(replace(QUIET, overdue_steps=(("ZG-2026-000001", 2),))).title
        == "“ZG-2026-000001”已超过办理时限 2 个工作日"
    )


def test_no_checkin_rule_is_silent_off_site():
    assert _only(replace(QUIET, days_since_checkin=None)) is None


def test_several_rules_fire_together():
    signals = replace(
        QUIET,
        days_since_checkin=30,
        overdue_payments=(("预付款", 1),),
        planned_progress=0.5,
        actual_progress=0.1,
    )
    assert [(f.cause, f.grade) for f in rules.evaluate(signals, LIMITS)] == [
        ("no_checkin", "red"),
        ("payment_overdue", "yellow"),
        ("progress_lag", "red"),
    ]


def test_settings_override_defaults_and_move_the_threshold(session):
    assert rules.settings(session=session)["no_checkin_days"] == Decimal("7")
    limits = rules.save_settings(session=session, values={"no_checkin_days": "3"}, by="fgw_head")
    assert limits["no_checkin_days"] == Decimal("3")
    assert session.get(RiskSetting, "no_checkin_days").updated_by == "fgw_head"
    assert _only(replace(QUIET, days_since_checkin=3), limits).grade == "yellow"
    assert _only(replace(QUIET, days_since_checkin=2), limits) is None
    assert rules.settings(session=session)["no_checkin_days_orange"] == Decimal("14")  # untouched


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"no_checkin_days": "-1"}, "no_checkin_days", "须为不小于 0 的数字"),
        ({"no_checkin_days": "abc"}, "no_checkin_days", "请填写数字"),
        ({"no_checkin_days_orange": "40"}, "no_checkin_days_orange", "须满足 黄色 ≤ 橙色 ≤ 红色"),
        ({"model_red": "1.5"}, "model_red", "概率须在 0 到 1 之间"),
        ({"model_yellow": "0.5"}, "model_yellow", "须满足 黄色 ≤ 橙色 ≤ 红色"),
        ({"nonsense": "1"}, "nonsense", "未知的预警参数"),
    ],
)
def test_save_settings_refuses_bad_values_and_stores_nothing(session, values, field, message):
    with pytest.raises(rules.RiskSettingsError) as caught:
        rules.save_settings(session=session, values=values, by="fgw_head")
    assert caught.value.errors[field] == message
    assert session.query(RiskSetting).count() == 0


def test_model_grade_by_the_settings():
    assert rules.model_grade(0.19, LIMITS) is None
    assert rules.model_grade(0.2, LIMITS) == "yellow"
    assert rules.model_grade(0.4, LIMITS) == "orange"
    assert rules.model_grade(0.7, LIMITS) == "red"
