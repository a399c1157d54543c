"""Deterministic warning rules (issue 9): milestone overdue, no check-in, payment overdue, time
limit exceeded and progress lag, each graded yellow / orange / red by configurable levels.

A rule reads only a ProjectSignals (backend/risk/signals.py) and the limits of `settings`; it
fires when the measured value reaches the yellow level (>=), and its grade is the highest level
reached. Levels are RiskSetting rows over DEFAULTS, so an administrator changes them without a
deploy. The model's grade cut-offs (probabilities) live here too: one settings page for all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

import sqlalchemy as sa

from backend.db import utcnow
from backend.risk.models import RiskSetting

if TYPE_CHECKING:
    from backend.risk.signals import ProjectSignals

GRADE_ORDER = ("yellow", "orange", "red")  # ascending

# One rule per cause code: (the key of its yellow level, unit shown in titles).
RULES = {
    "milestone_overdue": "milestone_overdue_days",
    "no_checkin": "no_checkin_days",
    "payment_overdue": "payment_overdue_days",
    "step_overdue": "step_overdue_days",
    "progress_lag": "progress_lag_points",
}
MODEL_KEYS = {"yellow": "model_yellow", "orange": "model_orange", "red": "model_red"}

# key -> (default, Chinese label with unit). "<base>" is the yellow level (the rule fires at
# it), "<base>_orange" / "<base>_red" the higher grades.
DEFAULTS: dict[str, tuple[Decimal, str]] = {
    "milestone_overdue_days": (Decimal("1"), "里程碑逾期天数达到 (黄色预警, 天)"),
    "milestone_overdue_days_orange": (Decimal("15"), "里程碑逾期天数达到 (橙色预警, 天)"),
    "milestone_overdue_days_red": (Decimal("30"), "里程碑逾期天数达到 (红色预警, 天)"),
    "no_checkin_days": (Decimal("7"), "连续无现场打卡天数达到 (黄色预警, 天)"),
    "no_checkin_days_orange": (Decimal("14"), "连续无现场打卡天数达到 (橙色预警, 天)"),
    "no_checkin_days_red": (Decimal("30"), "连续无现场打卡天数达到 (红色预警, 天)"),
    "payment_overdue_days": (Decimal("1"), "付款节点逾期天数达到 (黄色预警, 天)"),
    "payment_overdue_days_orange": (Decimal("15"), "付款节点逾期天数达到 (橙色预警, 天)"),
    "payment_overdue_days_red": (Decimal("30"), "付款节点逾期天数达到 (红色预警, 天)"),
    "step_overdue_days": (Decimal("1"), "审批环节或工单超过办理时限达到 (黄色预警, 工作日)"),
    "step_overdue_days_orange": (Decimal("3"), "审批环节或工单超过办理时限达到 (橙色预警, 工作日)"),
    "step_overdue_days_red": (Decimal("5"), "审批环节或工单超过办理时限达到 (红色预警, 工作日)"),
    "progress_lag_points": (Decimal("5"), "实际进度落后计划达到 (黄色预警, 百分点)"),
    "progress_lag_points_orange": (Decimal("10"), "实际进度落后计划达到 (橙色预警, 百分点)"),
    "progress_lag_points_red": (Decimal("20"), "实际进度落后计划达到 (红色预警, 百分点)"),
    "model_yellow": (Decimal("0.2"), "模型预测延期概率达到 (黄色预警, 0~1)"),
    "model_orange": (Decimal("0.4"), "模型预测延期概率达到 (橙色预警, 0~1)"),
    "model_red": (Decimal("0.7"), "模型预测延期概率达到 (红色预警, 0~1)"),
    # Not a level: the time limit of the coordination task (协调督办) a dispatch starts, read
    # when dispatching and handed to the risk_response process as `coordination_days`.
    "coordination_days": (Decimal("3"), "协调督办办理时限 (工作日)"),
}
MAX_VALUE = Decimal("100000")
COORDINATION_DAYS_MAX = 60  # working days; the calendar holds only a few years ahead


class RiskSettingsError(ValueError):
    """`errors`: field -> Chinese message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


@dataclass(frozen=True)
class Finding:
    """One rule that fires on a project: its cause code, grade, a plain Chinese title and the
    values behind it (measured value, the levels, the items)."""

    cause: str
    grade: str
    title: str
    detail: dict = field(default_factory=dict)


def levels(base: str) -> dict[str, str]:
    """grade -> settings key of a rule's levels."""
    return {"yellow": base, "orange": f"{base}_orange", "red": f"{base}_red"}


def settings(*, session) -> dict[str, Decimal]:
    """DEFAULTS overridden by the stored RiskSetting rows (an unreadable row keeps the default)."""
    values = {key: default for key, (default, _label) in DEFAULTS.items()}
    for row in session.scalars(sa.select(RiskSetting)).all():
        if row.key in values:
            try:
                values[row.key] = Decimal(row.value)
            except (InvalidOperation, TypeError):
                continue
    return values


def save_settings(*, session, values: dict[str, str], by: str) -> dict[str, Decimal]:
    """Store changed levels after checking the whole resulting set: numbers >= 0, probabilities
    <= 1, and yellow <= orange <= red for each rule and the model; coordination_days a whole
    number of working days from 1 to COORDINATION_DAYS_MAX."""
    errors: dict[str, str] = {}
    merged = settings(session=session)
    given: dict[str, Decimal] = {}
    for key, raw in values.items():
        if key not in DEFAULTS:
            errors[key] = "未知的预警参数"
            continue
        text = str(raw).strip() if raw is not None else ""
        try:
            number = Decimal(text)
        except InvalidOperation:
            errors[key] = "请填写数字"
            continue
        if key == "coordination_days":
            if not _whole_days(number):
                errors[key] = f"须为 1 至 {COORDINATION_DAYS_MAX} 之间的整数 (工作日)"
            else:
                given[key] = number
        elif not number.is_finite() or number < 0:
            errors[key] = "须为不小于 0 的数字"
        elif number > MAX_VALUE:
            errors[key] = f"不能超过 {MAX_VALUE}"
        elif key in MODEL_KEYS.values() and number > 1:
            errors[key] = "概率须在 0 到 1 之间"
        else:
            given[key] = number
    merged.update(given)
    groups = [levels(base) for base in RULES.values()] + [MODEL_KEYS]
    for keys in groups:
        y, o, r = merged[keys["yellow"]], merged[keys["orange"]], merged[keys["red"]]
        if not (y <= o <= r):
            # Name the field the user changed, else the middle one.
            culprit = next((keys[g] for g in ("orange", "red", "yellow") if keys[g] in given), keys["orange"])
            errors.setdefault(culprit, "须满足 黄色 ≤ 橙色 ≤ 红色")
        if keys is not MODEL_KEYS and y <= 0:
            errors.setdefault(keys["yellow"], "黄色预警线须大于 0")
    if errors:
        raise RiskSettingsError(errors)
    now = utcnow()
    for key, number in given.items():
        row = session.get(RiskSetting, key)
        text = format(number.normalize(), "f")
        if row is None:
            session.add(RiskSetting(key=key, value=text, updated_by=by, updated_at=now))
        elif row.value != text:
            row.value, row.updated_by, row.updated_at = text, by, now
    session.flush()
    return settings(session=session)


def coordination_days(limits: dict[str, Decimal]) -> int:
    """The coordination task's time limit in working days (a stored value out of range, written
    around save_settings, falls back to the default)."""
    value = limits.get("coordination_days", DEFAULTS["coordination_days"][0])
    return int(value if _whole_days(value) else DEFAULTS["coordination_days"][0])


def _whole_days(number: Decimal) -> bool:
    return (
        number.is_finite() and number == number.to_integral_value() and 1 <= number <= COORDINATION_DAYS_MAX
    )


def grade_of(value, limits: dict[str, Decimal], base: str) -> str | None:
    """The highest grade whose level `value` reaches, None below yellow."""
    keys = levels(base)
    reached = None
    for g in GRADE_ORDER:
        if Decimal(str(value)) >= limits[keys[g]]:
            reached = g
    return reached


def model_grade(probability: float, limits: dict[str, Decimal]) -> str | None:
    reached = None
    for g in GRADE_ORDER:
        if Decimal(str(probability)) >= limits[MODEL_KEYS[g]]:
            reached = g
    return reached


def _levels_detail(limits, base) -> dict:
    return {g: str(limits[k]) for g, k in levels(base).items()}


def _worst(items) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(items, key=lambda item: (-item[1], item[0])))


def _more(n: int, what: str) -> str:
    return f" (共 {n} 个{what})" if n > 1 else ""


def evaluate(signals: ProjectSignals, limits: dict[str, Decimal]) -> list[Finding]:
    """The rules that fire on one project's signals, in RULES order."""
    findings: list[Finding] = []

    def fire(cause: str, value, title: str, **extra) -> None:
        base = RULES[cause]
        grade = grade_of(value, limits, base)
        if grade is not None:
            detail = {"value": value, "levels": _levels_detail(limits, base), **extra}
            findings.append(Finding(cause, grade, title, detail))

    milestones = _worst(signals.overdue_milestones or ())
    if milestones:
        name, days = milestones[0]
        fire(
            "milestone_overdue",
            days,
            f"里程碑“{name}”已逾期 {days} 天" + _more(len(milestones), "里程碑逾期"),
            items=[list(m) for m in milestones],
        )
    if signals.days_since_checkin is not None:
        days = signals.days_since_checkin
        fire("no_checkin", days, f"已连续 {days} 天无现场打卡")
    payments = _worst(signals.overdue_payments or ())
    if payments:
        label, days = payments[0]
        fire(
            "payment_overdue",
            days,
            f"付款节点“{label}”已逾期 {days} 天未支付" + _more(len(payments), "付款节点逾期"),
            items=[list(p) for p in payments],
        )
    steps = _worst(signals.overdue_steps or ())
    if steps:
        label, days = steps[0]
        fire(
            "step_overdue",
            days,
            f"“{label}”已超过办理时限 {days} 个工作日" + _more(len(steps), "事项超时"),
            items=[list(s) for s in steps],
        )
    if signals.planned_progress is not None and signals.actual_progress is not None:
        planned = Decimal(str(round(signals.planned_progress * 100, 1)))
        actual = Decimal(str(round(signals.actual_progress * 100, 1)))
        lag = planned - actual
        if lag > 0:
            fire(
                "progress_lag",
                float(lag),
                f"实际进度落后计划 {lag} 个百分点 (计划 {planned}%, 实际 {actual}%)",
                planned=float(planned),
                actual=float(actual),
            )
    return findings
