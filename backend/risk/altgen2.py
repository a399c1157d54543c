"""A third generator of project histories: agent-like crews working through a Weibull task list.

Different again from simulator.py (S-curve and virtual plan time) and altgen.py (trapezoid plan
and a three-state Markov site), so that the cross-matrix of bench/risk_backtest.py trains on one
mechanism and tests on another:

* Plan: the work is a sequence of 12-30 tasks of gamma(2) sizes; the planned crew ramps up over
  mobilisation (15-30 % of the duration) and down over the finishing (10-25 %); planned progress
  is the integral of the planned crew, so the plan's shape comes from staffing, not a formula.
* Tasks really need their planned work times a Weibull multiplier whose shape grows with the
  contractor's skill (poor contractors: heavy tail of task overruns) and whose scale is about 1.
  Reported progress is earned: finished tasks' planned weight plus the share done of the current
  task, so an overrun shows as slow progress while the task lasts.
* Crew: a head count that the contractor hires towards the planned crew (weekly hiring capacity
  grows with skill); each worker leaves with a weekly chance that is higher with a poor
  contractor and when wages are in arrears (an owner whose payment lag exceeds 8 weeks), and most leave over
  the Spring Festival and come back over 2-5 weeks. Output = workers × productivity.
* Productivity loses rainy days (a daily wet/dry Markov chain with a monthly climate) on outdoor
  tasks (the first ~60 % of the work), and shortage days (episodes whose hazard rises with a poor
  supplier and a shared regional market index).
* Tickets: defects found at a rate rising with poor skill and large crews; each has a 2-6 week
  deadline (overdue after it) and closes with a weekly chance rising with skill. Check-ins: the
  supervisor's visits, Poisson with the owner's diligence, hardly related to delay.
* Payments: 20 % advance, then 75 % of progress billed every 4 weeks, paid after the owner's lag.
* Delay: weeks beyond the plan when the last task finishes, plus an acceptance wait (exponential,
  20 days more if tickets are still open).

`generate(n, seed)` is deterministic per seed (numpy PCG64), ids `AG2<seed>-00001`; histories end
at `as_of` (default the end of start_year + 5) and later projects stay unfinished.
"""

from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from backend.risk.history import History, Week
from backend.risk.simulator import REGIONS, SPRING_FESTIVAL

# name: (weight, median investment in 亿, outdoor share of the work)
INDUSTRIES = {
    "交通": (3.0, 8.0, 0.75),
    "水利": (2.0, 4.0, 0.8),
    "能源": (1.5, 10.0, 0.55),
    "市政": (2.5, 2.0, 0.65),
    "产业": (2.0, 3.0, 0.35),
    "社会事业": (2.0, 1.2, 0.4),
}
# Chance a dry day is followed by a wet one, by month (wet days end with 0.45 a day).
WET_START = (0.12, 0.13, 0.15, 0.14, 0.15, 0.28, 0.2, 0.2, 0.16, 0.08, 0.08, 0.1)


def _money(value: float) -> Decimal:
    return Decimal(int(round(value))).quantize(Decimal("0.01"))


def _festival_week(d: date) -> bool:
    for year in (d.year, d.year + 1):
        f = SPRING_FESTIVAL.get(year)
        if f and -7 <= (d - f).days < 7:
            return True
    return False


def generate(n: int, seed: int, *, start_year: int = 2018, as_of: date | None = None) -> list[History]:
    rng = np.random.default_rng([seed, 20261124])
    as_of = as_of or date(start_year + 5, 12, 31)
    first = date(start_year, 1, 1)
    first -= timedelta(days=first.weekday())
    n_contractors = max(5, n // 5)
    skill = rng.beta(4, 2, n_contractors)
    supplier = rng.beta(5, 2, n_contractors)
    names = [
        f"第{k + 1:03d}号{('华建', '中恒', '宏达', '广厦', '永固')[k % 5]}工程有限公司"
        for k in range(n_contractors)
    ]
    popularity = rng.gamma(1.5, 1.0, n_contractors)
    popularity /= popularity.sum()
    weeks_total = (as_of - first).days // 7 + 2
    market = np.cumsum(rng.normal(0, 0.15, weeks_total))
    market = 1 + 0.8 * np.clip(market - np.minimum.accumulate(market), 0, 2.5)  # tight markets after rises
    industries = list(INDUSTRIES)
    weights = np.array([INDUSTRIES[i][0] for i in industries])
    weights /= weights.sum()
    out = []
    for i in range(n):
        industry = industries[int(rng.choice(len(industries), p=weights))]
        c = int(rng.choice(n_contractors, p=popularity))
        out.append(
            _project(
                rng, f"AG2{seed}-{i + 1:05d}", industry, names[c], skill[c], supplier[c], first, as_of, market
            )
        )
    return out


def _project(rng, pid, industry, contractor, skill, supplier, first, as_of, market) -> History:
    _, median_yi, outdoor_share = INDUSTRIES[industry]
    investment = float(np.clip(rng.lognormal(np.log(median_yi * 1e8), 0.9), 3e6, 6e10))
    size = np.log10(investment / 1e8)
    duration = int(np.clip(round(60 + 22 * size + rng.normal(0, 14)), 24, 230))
    start = first + timedelta(weeks=int(rng.integers(0, 5 * 52)))
    planned_end = start + timedelta(days=7 * duration - 1)
    # Planned crew over the weeks and the plan it implies.
    ramp_up, ramp_down = rng.uniform(0.15, 0.3), rng.uniform(0.1, 0.25)
    x = (np.arange(duration) + 0.5) / duration
    crew_shape = np.minimum(1.0, np.minimum(x / ramp_up, (1 - x) / ramp_down)).clip(0.15, 1)
    peak = int(20 + 60 * max(size + 1.5, 0.3))
    planned_crew = peak * crew_shape
    plan = np.cumsum(planned_crew) / planned_crew.sum()
    # One planned unit of work = one planned crew week; the plan allows for usual losses.
    productivity_plan = 1.0
    # Crews are rarely at strength and lose wet days: the plan assumes a faster pace per head.
    pace = rng.normal(1.3, 0.06)
    m = int(rng.integers(12, 31))
    sizes = rng.gamma(2.0, 1.0, m)
    sizes *= planned_crew.sum() * productivity_plan / sizes.sum()
    bounds = np.cumsum(sizes) / sizes.sum()
    k_shape = 1.2 + 4.0 * skill
    need = sizes * rng.weibull(k_shape, m) / np.exp(np.log(np.log(2)) / k_shape)  # median multiplier 1
    need *= 0.92 + 0.1 * rng.random()  # the plan's own slack
    outdoor = bounds <= outdoor_share + 0.05
    pay_lag = int(np.clip(round(rng.gamma(2.0, 3.0)), 2, 20))
    diligence = rng.uniform(1.0, 5.0)
    hire_rate = 0.15 + 0.45 * skill
    close_chance = 0.2 + 0.5 * skill
    defect_rate = 0.05 + 0.6 * (1 - skill)
    shortage_hazard = 0.01 + 0.05 * (1 - supplier)

    limit = max((as_of - start).days // 7 + 1, 1)
    u_wet = rng.random((limit, 7)).tolist()
    heads = max(3, int(planned_crew[0] * rng.uniform(0.6, 1.1)))
    away = 0
    wet = False
    short_left = 0
    task, done_in_task = 0, 0.0
    tickets: list[tuple[int, int]] = []  # (age, deadline)
    progress_hist: list[float] = []
    weeks = []
    actual_end = None
    for w in range(limit):
        ws = start + timedelta(weeks=w)
        planned = float(plan[min(w, duration - 1)])
        target = planned_crew[min(w, duration - 1)] if w < duration else peak * 0.6
        # Weather: a daily Markov chain; count wet days.
        wet_days = 0
        p_start = WET_START[ws.month - 1]
        for u in u_wet[w]:
            wet = u < (0.55 if wet else p_start)
            wet_days += wet
        # Materials.
        mk = market[min((ws - first).days // 7, len(market) - 1)]
        if short_left == 0 and rng.random() < shortage_hazard * mk:
            short_left = int(rng.integers(1, 7))
        shortage = int(rng.integers(2, 8)) if short_left else 0
        short_left = max(short_left - 1, 0)
        # Crew: arrears, festival, hiring.
        arrears = pay_lag > 8
        leave = 0.01 + (0.03 if arrears else 0.0) + 0.02 * (1 - skill)
        if _festival_week(ws):
            gone = int(heads * rng.uniform(0.6, 0.85))
            heads -= gone
            away += gone
        elif away:
            back = int(rng.binomial(away, 0.2 + 0.4 * skill))
            away -= back
            heads += back
        heads -= int(rng.binomial(heads, min(leave, 0.5)))
        gap = target - heads - away
        if gap > 0:
            heads += int(rng.binomial(int(gap), hire_rate))
        elif gap < -3:
            heads -= int(rng.binomial(int(-gap), 0.5))
        heads = max(heads, 0)
        # Output.
        available = 7.0 - shortage * 0.6
        if task < m and outdoor[task]:
            available -= wet_days * 0.8
        output = heads * max(available, 0.0) / 7.0 * pace * rng.lognormal(0, 0.08)
        while output > 1e-9 and task < m:
            take = min(output, need[task] - done_in_task)
            done_in_task += take
            output -= take
            if done_in_task >= need[task] - 1e-9:
                task += 1
                done_in_task = 0.0
        earned = (bounds[task - 1] if task else 0.0) + (
            sizes[task] / sizes.sum() * done_in_task / need[task] if task < m else 0.0
        )
        actual = float(min(earned, 1.0))
        progress_hist.append(actual)
        # Tickets.
        new = int(rng.poisson(defect_rate * (0.3 + heads / max(peak, 1)) + 0.4 * (shortage > 0)))
        tickets = [(age + 1, dl) for age, dl in tickets if rng.random() > close_chance] + [
            (0, int(rng.integers(2, 7))) for _ in range(new)
        ]
        overdue = sum(1 for age, dl in tickets if age > dl)
        checkins = int(rng.poisson(diligence * (0.4 if heads < 3 else 1.0)))
        # Payments billed every 4 weeks, paid after the owner's lag.
        planned_paid = investment * (0.2 + 0.75 * float(plan[max(min(w, duration - 1) - (w % 4), 0)]))
        k = w - (w % 4) - pay_lag
        actual_paid = investment * (0.2 + 0.75 * (progress_hist[k] if k >= 0 else 0.0))
        weeks.append(
            Week(
                week_start=ws,
                planned_progress=round(planned, 4),
                actual_progress=round(actual, 4),
                planned_paid=_money(planned_paid),
                actual_paid=_money(actual_paid),
                open_tickets=len(tickets),
                overdue_tickets=overdue,
                checkins=checkins,
                workforce=int(heads),
                material_shortage_days=shortage,
                bad_weather_days=int(wet_days),
            )
        )
        if task >= m:
            wait = int(rng.exponential(10)) + (20 if tickets else 0)
            actual_end = ws + timedelta(days=6 + wait)
            if actual_end > as_of:
                actual_end = None
            break
    return History(
        project_id=pid,
        industry=industry,
        region_code=REGIONS[int(rng.integers(0, len(REGIONS)))],
        contractor=contractor,
        total_investment=_money(investment),
        planned_start=start,
        planned_end=planned_end,
        actual_end=actual_end,
        weeks=tuple(weeks),
    )
