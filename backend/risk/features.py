"""Signals of a project history cut at a point in time (issue 9).

`snapshot` cuts a history so that nothing after the cut is visible (not even `actual_end`);
`features` turns a cut history into named numbers. Encodings that need other projects (the
contractor's record, the industry's late rate) come from a `Context` fitted on training
histories only, and the contractor record only counts projects finished before the cut.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from backend.risk.history import History

WEEK = 7
# Smoothing weight (pseudo-projects) of the contractor and industry late rates towards the prior.
PRIOR_WEIGHT = 3.0

# Name -> Chinese label, in the model's column order.
LABELS: dict[str, str] = {
    "gap_now": "当前进度差距（计划−实际）",
    "gap_trend_4w": "近4周进度差距变化",
    "gap_trend_8w": "近8周进度差距变化",
    "es_days_behind": "挣得进度落后天数",
    "spi": "进度绩效指数（挣得工期/已用工期）",
    "spi_8w": "近8周进度绩效指数",
    "projected_delay_days": "按当前效率推算的完工延期天数",
    "pace_ratio": "所需进度速率/近8周实际速率",
    "pay_gap_ratio": "支付滞后比例",
    "overdue_share": "逾期工单占未结工单比例",
    "tickets_change": "未结工单较此前变化",
    "checkin_change": "打卡频次较此前变化",
    "workforce_change": "在岗人数较此前变化",
    "workforce_vs_peak": "近4周在岗人数/此前峰值",
    "shortage_share_4w": "近4周缺料天数占比",
    "shortage_share": "累计缺料天数占比",
    "weather_share_4w": "近4周恶劣天气天数占比",
    "weather_share": "累计恶劣天气天数占比",
    "contractor_late_share": "承建单位既往延期比例",
    "contractor_finished": "承建单位既往完工项目数",
    "log_investment": "投资规模（对数）",
    "planned_weeks": "计划工期（周）",
    "industry_late_rate": "行业延期率",
    "elapsed_fraction": "已用计划工期比例",
}
FEATURES: tuple[str, ...] = tuple(LABELS)


@dataclass
class Context:
    """What features need from the training set: fitted on training histories only."""

    prior: float = 0.3
    # contractor -> sorted [(actual_end ordinal, late, project_id)]
    contractors: dict[str, list[tuple[int, bool, str]]] = field(default_factory=dict)
    industries: dict[str, tuple[int, int]] = field(default_factory=dict)  # industry -> (late, n)

    @classmethod
    def fit(cls, histories: list[History]) -> Context:
        finished = [h for h in histories if h.actual_end is not None]
        late = sum(1 for h in finished if h.late)
        ctx = cls(prior=(late + 1) / (len(finished) + 2))
        contractors: dict[str, list[tuple[int, bool, str]]] = defaultdict(list)
        industries: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for h in finished:
            contractors[h.contractor].append((h.actual_end.toordinal(), bool(h.late), h.project_id))
            industries[h.industry][0] += int(bool(h.late))
            industries[h.industry][1] += 1
        ctx.contractors = {k: sorted(v) for k, v in contractors.items()}
        ctx.industries = {k: (v[0], v[1]) for k, v in industries.items()}
        return ctx

    def contractor_record(self, contractor: str, before: int, exclude: str) -> tuple[float, int]:
        """Smoothed late share and count of the contractor's projects finished before `before`."""
        rows = self.contractors.get(contractor, [])
        end = bisect.bisect_left(rows, (before, False, ""))
        late = n = 0
        for _, was_late, pid in rows[:end]:
            if pid != exclude:
                late += was_late
                n += 1
        return (late + PRIOR_WEIGHT * self.prior) / (n + PRIOR_WEIGHT), n

    def with_records(self, histories: list[History]) -> Context:
        """A copy whose contractor records also hold `histories` (e.g. the scored projects' own
        finished neighbours). Still only projects finished before a cut count, and never the
        scored project itself; the industry rates and prior stay the training set's."""
        merged: dict[str, dict[str, tuple[int, bool, str]]] = defaultdict(dict)
        for contractor, rows in self.contractors.items():
            for row in rows:
                merged[contractor][row[2]] = row
        for h in histories:
            if h.actual_end is not None:
                merged[h.contractor][h.project_id] = (h.actual_end.toordinal(), bool(h.late), h.project_id)
        return dataclasses.replace(self, contractors={k: sorted(v.values()) for k, v in merged.items()})

    def industry_rate(self, industry: str) -> float:
        """Smoothed late rate. Not leave-one-out: that would give late and on-time projects of an
        industry two distinct values, i.e. leak the label into the training rows."""
        late, n = self.industries.get(industry, (0, 0))
        return (late + PRIOR_WEIGHT * self.prior) / (n + PRIOR_WEIGHT)


def cut_date(history: History, at_fraction: float) -> date:
    days = (history.planned_end - history.planned_start).days
    return history.planned_start + timedelta(days=round(at_fraction * days))


def snapshot(history: History, at_fraction: float) -> History:
    """The history as known at `at_fraction` of the planned duration: only weeks that ended by then."""
    cut = cut_date(history, at_fraction)
    weeks = tuple(w for w in history.weeks if w.week_start + timedelta(days=WEEK) <= cut)
    return dataclasses.replace(history, weeks=weeks, actual_end=None)


class Series:
    """A history's weekly columns as arrays, so that many prefixes of it are cheap to featurise."""

    # Payments are read from the week objects: only the last week's count (Decimal → float is slow).
    __slots__ = ("h", "start", "planned", "actual", "open", "overdue", "checkins")
    __slots__ += ("workforce", "shortage", "weather")

    def __init__(self, h: History):
        self.h = h
        # One pass over the weeks, then columns: the cost of scoring 10,000 projects is here.
        rows = [
            (
                w.week_start.toordinal(),
                w.planned_progress,
                w.actual_progress,
                w.open_tickets,
                w.overdue_tickets,
                w.checkins,
                w.workforce,
                w.material_shortage_days,
                w.bad_weather_days,
            )
            for w in h.weeks
        ]
        table = np.array(rows, dtype=float).reshape(-1, 9).T
        self.start = table[0].astype(np.int64)
        (self.planned, self.actual, self.open, self.overdue) = table[1:5]
        (self.checkins, self.workforce, self.shortage, self.weather) = table[5:9]

    def weeks_ended_by(self, cut: date) -> int:
        """How many leading weeks ended by `cut` (the prefix length of `snapshot`)."""
        return int(np.searchsorted(self.start + WEEK, cut.toordinal(), side="right"))


def _ago(a: np.ndarray, k: int, n: int) -> float:
    return float(a[max(n - 1 - k, 0)])


def _change(recent: np.ndarray, earlier: np.ndarray) -> float:
    """Symmetric relative change of the recent mean against the earlier mean, in [-1, 1]:
    (r - e) / (r + e); scale-free, 0 when nothing earlier or both zero."""
    if len(earlier) == 0 or len(recent) == 0:
        return 0.0
    r, e = float(recent.sum()) / len(recent), float(earlier.sum()) / len(earlier)
    return (r - e) / (r + e) if r + e > 0 else 0.0


def features_at(s: Series, n: int, context: Context | None = None) -> list[float]:
    """Features of the prefix of the first `n` weeks of `s`, in FEATURES order."""
    h = s.h
    ctx = context or Context()
    ps, pe = h.planned_start.toordinal(), h.planned_end.toordinal()
    duration = max(pe - ps, 1)
    now = int(s.start[n - 1]) + WEEK if n else ps
    elapsed = (now - ps) / duration
    contractor_share, contractor_n = ctx.contractor_record(h.contractor, now, h.project_id)
    tail = [
        contractor_share,
        math.log1p(contractor_n),
        math.log10(max(float(h.total_investment), 1.0)),
        duration / WEEK,
        ctx.industry_rate(h.industry),
        elapsed,
    ]
    if n == 0:
        return [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0] + [0.0] * (len(FEATURES) - len(tail) - 7) + tail
    planned, actual = s.planned[:n], s.actual[:n]
    gap = planned - actual
    gap_now = float(gap[-1])
    act_now = float(actual[-1])
    ends = s.start[:n] + WEEK
    es = _earned_schedule(s, n, act_now, ps, now)
    es_behind = now - es
    # Schedule performance on earned schedule: 1 = on plan; the recent one over 8 weeks.
    spi = (es - ps) / max(now - ps, WEEK)
    k8 = min(8, n - 1)
    if k8:
        es_then = _earned_schedule(s, n - k8, float(actual[n - 1 - k8]), ps, int(ends[n - 1 - k8]))
        spi_8w = (es - es_then) / (WEEK * k8)
    else:
        spi_8w = spi
    spi, spi_8w = min(max(float(spi), -1.0), 3.0), min(max(float(spi_8w), -1.0), 3.0)
    # Finish forecast: the remaining planned time at the blended pace, beyond the planned end.
    pace = min(max(0.5 * (spi + spi_8w), 0.2), 2.0)
    projected = min(max(float(now + max(pe - es, 0) / pace - pe), -365.0), 1500.0)
    remaining_weeks = (pe - now) / WEEK
    achieved = (act_now - _ago(actual, 8, n)) / k8 if k8 else act_now / max(elapsed * duration / WEEK, 1.0)
    needed = (1.0 - act_now) / remaining_weeks if remaining_weeks > 0.5 else (1.0 - act_now) * 2.0
    pace_ratio = min(needed / max(achieved, 1e-3), 20.0) if act_now < 1.0 else 0.0
    last = h.weeks[n - 1]
    pp = float(last.planned_paid)
    pay_gap = (pp - float(last.actual_paid)) / pp if pp > 0 else 0.0
    r4 = slice(max(n - 4, 0), n)
    early = slice(0, max(n - 4, 0))
    days = WEEK * n
    days4 = WEEK * (r4.stop - r4.start)
    peak = float(s.workforce[early].max()) if early.stop else float(s.workforce[r4].max())
    # No crew reported before (a platform project's first daily logs): nothing to compare the
    # recent crew with, so both crew signals are neutral instead of "grew without bound".
    crew_known = peak > 0
    return [
        gap_now,
        gap_now - float(gap[max(n - 5, 0)]),
        gap_now - float(gap[max(n - 9, 0)]),
        float(es_behind),
        spi,
        spi_8w,
        projected,
        float(pace_ratio),
        float(pay_gap),
        float(s.overdue[n - 1]) / max(float(s.open[n - 1]), 1.0),
        _change(s.open[r4], s.open[early]),
        _change(s.checkins[r4], s.checkins[early]),
        _change(s.workforce[r4], s.workforce[early]) if crew_known else 0.0,
        float(s.workforce[r4].sum()) / (r4.stop - r4.start) / peak if crew_known else 1.0,
        float(s.shortage[r4].sum()) / days4,
        float(s.shortage[:n].sum()) / days,
        float(s.weather[r4].sum()) / days4,
        float(s.weather[:n].sum()) / days,
        *tail,
    ]


def _earned_schedule(s: Series, n: int, act_now: float, ps: int, now: int) -> float:
    """The date (ordinal) by which the plan expected `act_now`, from the first n weeks."""
    planned = s.planned[:n]
    ends = s.start[:n] + WEEK
    if act_now <= planned[-1]:
        if act_now <= planned[0]:  # before the first recorded week: assume a linear start
            return ps + (ends[0] - ps) * (act_now / planned[0] if planned[0] > 0 else 0.0)
        return float(np.interp(act_now, np.maximum.accumulate(planned), ends))
    rate = max((planned[-1] - _ago(planned, 4, n)) / (WEEK * min(4, n - 1) or WEEK), 1e-4)
    return now + min((act_now - planned[-1]) / rate, 3650.0)


def features(history_prefix: History, context: Context | None = None) -> dict[str, float]:
    """Named signals of a (cut) history; the last week is 'now'."""
    s = Series(history_prefix)
    return dict(zip(FEATURES, features_at(s, len(history_prefix.weeks), context), strict=True))


def matrix(histories: list[History], context: Context | None = None) -> np.ndarray:
    """Feature rows of (cut) histories, one per history."""
    out = np.empty((len(histories), len(FEATURES)), dtype=float)
    for i, h in enumerate(histories):
        out[i] = features_at(Series(h), len(h.weeks), context)
    return out
