"""Why a score is high: the top contributing signals in plain Chinese (issue 9).

Method (simple and honest): a signal's contribution is how much the model's log-odds drop when
that signal alone is replaced by its training median (log-odds, not the calibrated probability:
the probability is flat near 0 and 1, where every single swap would show no change).
Only signals that raise the risk are listed. It ignores interactions between signals; it says
what moved this score, not what causes delays.
"""

from __future__ import annotations

import math

import numpy as np

from backend.risk.features import FEATURES, LABELS
from backend.risk.model import RiskModel


def _pct(v: float) -> str:
    return f"{abs(v) * 100:.1f}".rstrip("0").rstrip(".")


def _more_less(v: float, up: str, down: str) -> str:
    return up if v >= 0 else down


def _ratio_change(v: float, up: str, down: str) -> str:
    """Text of features._change's symmetric change (r - e) / (r + e) as a percentage of e."""
    if v >= 0.999:
        return f"{up}（此前为零）"
    return f"{_more_less(v, up, down)}{_pct((1 + v) / (1 - v) - 1)}%"


PHRASES = {
    "gap_now": lambda v: f"当前进度{_more_less(v, '落后', '超前')}计划{_pct(v)}个百分点",
    "gap_trend_4w": lambda v: f"近4周进度差距{_more_less(v, '扩大', '缩小')}{_pct(v)}个百分点",
    "gap_trend_8w": lambda v: f"近8周进度差距{_more_less(v, '扩大', '缩小')}{_pct(v)}个百分点",
    "es_days_behind": lambda v: f"按挣得进度{_more_less(v, '落后', '超前')}计划{abs(v):.0f}天",
    "spi": lambda v: f"开工以来实际进度效率为计划的{_pct(v)}%",
    "spi_8w": lambda v: f"近8周实际进度效率为计划的{_pct(v)}%",
    "projected_delay_days": lambda v: f"按当前效率推算将{_more_less(v, '延期', '提前')}{abs(v):.0f}天完工",
    "pace_ratio": lambda v: f"剩余工期所需进度速率为近8周实际速率的{v:.1f}倍",
    "pay_gap_ratio": lambda v: f"支付{_more_less(v, '滞后', '超前')}计划{_pct(v)}%",
    "overdue_share": lambda v: f"未结工单中{_pct(v)}%已逾期",
    "tickets_change": lambda v: f"未结工单较此前{_ratio_change(v, '增加', '减少')}",
    "checkin_change": lambda v: f"打卡频次较此前{_ratio_change(v, '上升', '下降')}",
    "workforce_change": lambda v: f"在岗人数较此前{_ratio_change(v, '增加', '减少')}",
    "workforce_vs_peak": lambda v: f"近4周在岗人数为此前峰值的{_pct(v)}%",
    "shortage_share_4w": lambda v: f"近4周缺料天数占{_pct(v)}%",
    "shortage_share": lambda v: f"累计缺料天数占已用工期{_pct(v)}%",
    "weather_share_4w": lambda v: f"近4周恶劣天气天数占{_pct(v)}%",
    "weather_share": lambda v: f"累计恶劣天气天数占已用工期{_pct(v)}%",
    "contractor_late_share": lambda v: f"承建单位既往项目延期比例约{_pct(v)}%",
    "contractor_finished": lambda v: f"承建单位既往完工项目{math.expm1(v):.0f}个",
    "log_investment": lambda v: f"总投资约{10**v / 1e8:.2f}亿元",
    "planned_weeks": lambda v: f"计划工期{v:.0f}周",
    "industry_late_rate": lambda v: f"所属行业延期率约{_pct(v)}%",
    "elapsed_fraction": lambda v: f"已用计划工期{_pct(v)}%",
}
assert set(PHRASES) == set(FEATURES)


def contributions(model: RiskModel, X: np.ndarray) -> np.ndarray:
    """(rows, features): log-odds minus the log-odds with that feature set to its training median."""
    n, k = X.shape
    if n == 0:
        return np.empty((0, k))
    base = model.logit_matrix(X)
    swapped = np.repeat(X, k, axis=0)
    cols = np.tile(np.arange(k), n)
    swapped[np.arange(n * k), cols] = model.medians[cols]
    return base[:, None] - model.logit_matrix(swapped).reshape(n, k)


def explain(
    model: RiskModel, X: np.ndarray, top: int = 3, min_contribution: float = 0.05
) -> list[list[dict]]:
    """Per row, up to `top` signals that raise the score most:
    {"feature", "label", "value", "contribution", "text"}."""
    X = np.atleast_2d(np.asarray(X, dtype=float))
    contrib = contributions(model, X)
    out = []
    for row, c in zip(X, contrib, strict=True):
        order = np.argsort(-c, kind="stable")[:top]
        out.append(
            [
                {
                    "feature": FEATURES[j],
                    "label": LABELS[FEATURES[j]],
                    "value": float(row[j]),
                    "contribution": round(float(c[j]), 4),
                    "text": PHRASES[FEATURES[j]](float(row[j])),
                }
                for j in order
                if c[j] >= min_contribution
            ]
        )
    return out


def explain_histories(model: RiskModel, histories, top: int = 3) -> list[list[dict]]:
    return explain(model, model.matrix(list(histories)), top=top)
