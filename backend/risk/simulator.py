"""Simulator of key-project histories (demo data, tests, the model's training set).

Mechanism ("virtual plan time"). Each project has an S-shaped plan: planned progress
P(t) = I(t / D; a, b), the regularised incomplete beta function over the planned duration D
weeks, with per-project shape (a, b) around 2 (slow start, fast middle, slow finish).
The site does not follow calendar time but a *virtual plan time* v that advances each week by
the week's efficiency e_t (v += e_t); actual progress is A_t = P(v_t). So a week at e = 1 does
exactly the planned work for where the site really is, and the project finishes when v reaches
D; the delay is the calendar time it took beyond D (plus a hand-over of 0-3 weeks).

The efficiency of a week is a product of causes, each also written into the week's signals:

* base efficiency of the project: contractor quality q (a latent N(0, 1) factor shared by every
  project of the contractor: 1 + 0.07 q), industry (water works and transport are slower than
  buildings), size (log of the investment: big projects coordinate more parties), and a
  project-specific N(0, 0.05) factor;
* weather: bad-weather days per week ~ Binomial(7, p_month) for a Zhejiang climate (梅雨 in
  June, typhoons July-September, cold spells December-February); each day costs the
  industry's outdoor sensitivity (0.35-0.85) of a day's work;
* material shortages: episodes start with a weekly hazard that rises with poor contractors and
  during region-wide market shocks (shared by every project running at that time), last a
  geometric ~5 weeks, and cost their shortage days (2-7 per week) half of a day's work each;
* workforce: planned crew follows the plan's weekly work and size; the actual crew drops to
  20-45 % for 2-4 weeks around the Spring Festival (春节) and in random episodes (wage
  disputes, other sites), more often with poor contractors; work scales with crew^0.8;
* noise: an AR(1) (φ = 0.7) log-normal weekly factor.

Signals that correlate with trouble: new tickets per week ~ Poisson(0.15 + 0.25·max(0, -q)
+ 1.5·lag), where lag is planned minus actual progress; each open ticket closes with a weekly
chance that is lower for poor contractors and becomes overdue after 3 weeks. Check-ins per
week ~ Poisson(3 · crew ratio · diligence), with diligence rising with q. Payments lag
progress: planned_paid is a 10 % advance plus 85 % of the planned progress 4 weeks earlier;
actual_paid is the advance plus 85 % of the actual progress `lag_pay` weeks earlier (4-12,
longer for projects whose owner pays slowly), both cumulative and rounded to the yuan.

Histories are observed up to `as_of` (default: the end of start_year + 5); projects not done
by then have actual_end None and weeks only up to as_of, as in real data. With the default
parameters about 25-40 % of finished projects are more than 30 days late.

`simulate(n, seed)` is deterministic for a seed (numpy's PCG64 stream, consumed in a fixed
order). A second, deliberately different generator for held-out tests is altgen.py.
"""

import math
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
from scipy.special import betainc

from backend.risk.history import History, Week

# 春节 (first day of the lunar year).
SPRING_FESTIVAL = {
    2015: date(2015, 2, 19),
    2016: date(2016, 2, 8),
    2017: date(2017, 1, 28),
    2018: date(2018, 2, 16),
    2019: date(2019, 2, 5),
    2020: date(2020, 1, 25),
    2021: date(2021, 2, 12),
    2022: date(2022, 2, 1),
    2023: date(2023, 1, 22),
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
    2031: date(2031, 1, 23),
    2032: date(2032, 2, 11),
    2033: date(2033, 1, 31),
    2034: date(2034, 2, 19),
    2035: date(2035, 2, 8),
}

# name: (share, base efficiency, weather sensitivity, median investment in 亿 yuan, shortage factor)
INDUSTRIES = {
    "交通": (0.25, 0.97, 0.80, 12.0, 1.2),
    "水利": (0.15, 0.96, 0.85, 6.0, 1.0),
    "能源": (0.12, 0.99, 0.60, 15.0, 1.3),
    "市政": (0.20, 0.98, 0.70, 3.0, 1.0),
    "产业": (0.15, 1.01, 0.35, 5.0, 0.8),
    "社会事业": (0.13, 1.00, 0.40, 2.0, 0.8),
}

# Zhejiang county-level codes (a sample).
REGIONS = (
    "330102",
    "330105",
    "330106",
    "330108",
    "330110",
    "330203",
    "330212",
    "330302",
    "330402",
    "330502",
    "330602",
    "330702",
    "330802",
    "330902",
    "331002",
    "331102",
)

# Probability that a day of the month is lost to weather (rain season, typhoons, cold).
BAD_WEATHER = (0.16, 0.14, 0.10, 0.08, 0.09, 0.22, 0.20, 0.18, 0.16, 0.07, 0.07, 0.12)

_MEAN_BAD_WEATHER = sum(BAD_WEATHER) / 12
_GRID = np.linspace(0.0, 1.0, 1001)
SLACK = 1.08  # plans are a little generous on average

_CITY = ("杭州", "宁波", "温州", "嘉兴", "湖州", "绍兴", "金华", "衢州", "舟山", "台州", "丽水")
_WORD = ("建工", "交建", "水电", "城建", "路桥", "市政", "安装", "土木", "远大", "恒信", "华海", "东方")


def _spring_festival_weeks(week_start: date) -> bool:
    for year in (week_start.year, week_start.year + 1):
        festival = SPRING_FESTIVAL.get(year)
        if festival and -14 <= (week_start - festival).days <= 14:
            return True
    return False


def _festival_weeks(first: date, count: int) -> list[bool]:
    marks = [False] * count
    for festival in SPRING_FESTIVAL.values():
        for i in range(max((festival - first).days - 14, 0) // 7, count):
            delta = (first + timedelta(days=7 * i) - festival).days
            if delta > 14:
                break
            if delta >= -14:
                marks[i] = True
    return marks


def _contractors(rng, n_projects: int, prefix: str) -> tuple[list[str], np.ndarray]:
    count = max(4, n_projects // 6)
    names = []
    for k in range(count):
        city = _CITY[k % len(_CITY)]
        word = _WORD[(k // len(_CITY)) % len(_WORD)]
        names.append(f"{city}{word}{prefix}{k + 1:03d}建设有限公司")
    quality = rng.normal(0.0, 1.0, count)
    return names, quality


def _market_shocks(rng, first: date, weeks: int) -> np.ndarray:
    """Weekly multiplier of the shortage hazard shared by all projects (steel, cement,
    sand price spikes): one episode of 8-20 weeks at 3-4× per ~80 weeks."""
    shock = np.ones(weeks)
    for _ in range(weeks // 80 + 1):
        start = int(rng.integers(0, weeks))
        end = start + int(rng.integers(8, 21))
        shock[start:end] = np.maximum(shock[start:end], rng.uniform(3, 4))  # overlaps do not compound
    return shock


def _poisson(lam: float, u: float) -> int:
    """Inverse-CDF Poisson draw from one uniform (keeps the draws pre-allocated)."""
    k, p = 0, math.exp(-lam)
    cumulative = p
    while u > cumulative and k < 200:
        k += 1
        p *= lam / k
        cumulative += p
    return k


def _money(value: float) -> Decimal:
    return Decimal(int(round(value))).quantize(Decimal("0.01"))


def simulate(
    n: int, seed: int, *, start_year: int = 2018, as_of: date | None = None, id_prefix: str = "SIM"
) -> list[History]:
    """n project histories, deterministic for seed (see the module docstring)."""
    rng = np.random.default_rng(seed)
    as_of = as_of or date(start_year + 5, 12, 31)
    first_day = date(start_year, 1, 1)
    names, quality = _contractors(rng, n, f"{seed % 1000:03d}")
    # A few contractors win many projects.
    weights = rng.pareto(3.0, len(names)) + 1
    weights /= weights.sum()
    horizon_weeks = (as_of - first_day).days // 7 + 1
    shock = _market_shocks(rng, first_day, horizon_weeks + 10)
    industries = list(INDUSTRIES)
    shares = np.array([INDUSTRIES[i][0] for i in industries])
    shares /= shares.sum()
    histories = []
    for index in range(n):
        histories.append(
            _project(
                rng,
                project_id=f"{id_prefix}{seed}-{index + 1:05d}",
                industry=industries[int(rng.choice(len(industries), p=shares))],
                contractor=int(rng.choice(len(names), p=weights)),
                names=names,
                quality=quality,
                first_day=first_day,
                as_of=as_of,
                shock=shock,
            )
        )
    return histories


def _project(rng, *, project_id, industry, contractor, names, quality, first_day, as_of, shock) -> History:
    _, base_eff, sensitivity, median_yi, shortage_factor = INDUSTRIES[industry]
    q = float(quality[contractor])
    investment = float(np.clip(rng.lognormal(np.log(median_yi * 1e8), 0.8), 5e6, 5e10))
    size = np.log10(investment / 1e8)  # 0 at 1 亿
    duration = int(np.clip(round(52 + 26 * size + rng.normal(0, 12)), 26, 220))
    # Start on a Monday within the first five years (later starters may be unfinished).
    offset = int(rng.integers(0, 5 * 52)) * 7
    monday = first_day - timedelta(days=first_day.weekday())
    planned_start = monday + timedelta(days=offset)
    planned_end = planned_start + timedelta(days=7 * duration - 3)
    a, b = rng.uniform(1.6, 2.6), rng.uniform(1.6, 2.6)

    # Planners allow for the usual weather and holiday losses of the industry; what makes a
    # project late is everything beyond that.
    allowance = 1 / ((1 - sensitivity * _MEAN_BAD_WEATHER) * (1 - 0.06) * (1 - 0.02 * shortage_factor))
    eff0 = (
        allowance
        * SLACK
        * base_eff
        * (1 + 0.07 * q)
        * (1 - 0.025 * max(size, -1))
        * (1 + rng.normal(0, 0.05))
    )
    eff0 = max(eff0, 0.55)
    crew_scale = 30 + 40 * max(size + 1.5, 0.2)
    pay_lag = int(np.clip(round(6 + rng.exponential(2) - 1.5 * q), 4, 12))
    diligence = float(np.exp(0.25 * q + rng.normal(0, 0.15)))
    shortage_hazard = 0.015 * shortage_factor * float(np.exp(-0.35 * q))
    drop_hazard = 0.008 * float(np.exp(-0.45 * q))
    close_chance = float(np.clip(0.45 + 0.08 * q, 0.15, 0.8))

    curve = betainc(a, b, _GRID).tolist()
    steps = len(curve) - 1

    def plan(t: float) -> float:
        x = min(max(t / duration, 0.0), 1.0) * steps
        i = min(int(x), steps - 1)
        return curve[i] + (curve[i + 1] - curve[i]) * (x - i)

    # Independent draws up front (fast, and the stream's order stays fixed).
    limit = max((as_of - planned_start).days // 7 + 1, 1)
    starts = [planned_start + timedelta(days=7 * i) for i in range(limit)]
    months = np.array([d.month - 1 for d in starts])
    bad_all = rng.binomial(7, np.asarray(BAD_WEATHER)[months])
    shock_at = np.clip([(d - first_day).days // 7 for d in starts], 0, len(shock) - 1)
    u_short, short_len, short_days = rng.random(limit), rng.geometric(0.2, limit), rng.integers(2, 8, limit)
    u_drop, drop_len, drop_lvl = rng.random(limit), rng.integers(2, 7, limit), rng.uniform(0.3, 0.7, limit)
    festival_lvl = rng.uniform(0.2, 0.45, limit)
    shocks = rng.normal(0, 0.08, limit)
    u_close = rng.random((limit, 64))
    u_tickets = rng.random(limit)
    u_checkin = rng.random(limit)
    handover = int(rng.integers(0, 22)) + int(7 * max(-q, 0))
    festival = _festival_weeks(planned_start, limit)
    planned_at = np.interp(np.minimum(np.arange(1, limit + 1) / duration, 1.0), _GRID, curve).tolist()

    v = 0.0
    noise = 0.0
    shortage_left = 0
    drop_left = 0
    drop_level = 1.0
    tickets: list[int] = []  # ages in weeks
    actual_hist: list[float] = []
    weeks: list[Week] = []
    actual_end = None
    for week_index in range(limit):
        week_start = starts[week_index]
        # Weather.
        bad_days = int(bad_all[week_index])
        weather = 1 - sensitivity * bad_days / 7
        # Material shortage episodes.
        if shortage_left == 0 and u_short[week_index] < shortage_hazard * shock[shock_at[week_index]]:
            shortage_left = int(short_len[week_index])
        shortage_days = int(short_days[week_index]) if shortage_left else 0
        shortage_left = max(shortage_left - 1, 0)
        material = 1 - 0.5 * shortage_days / 7
        # Workforce: Spring Festival and random drops.
        if drop_left == 0 and u_drop[week_index] < drop_hazard:
            drop_left = int(drop_len[week_index])
            drop_level = float(drop_lvl[week_index])
        crew_ratio = drop_level if drop_left else 1.0
        drop_left = max(drop_left - 1, 0)
        if festival[week_index]:
            crew_ratio = min(crew_ratio, float(festival_lvl[week_index]))
        noise = 0.7 * noise + shocks[week_index]
        eff = eff0 * weather * material * crew_ratio**0.8 * float(np.exp(noise))
        v += max(eff, 0.0)
        actual = plan(v)
        planned = planned_at[week_index]
        actual_hist.append(actual)
        # Tickets: new ones with trouble, closing slower with poor contractors.
        lag = max(planned - actual, 0.0)
        rate = 0.15 + 0.25 * max(-q, 0) + 1.5 * lag + 0.1 * (shortage_days > 0)
        new = _poisson(rate, u_tickets[week_index])
        row = u_close[week_index]
        tickets = [age + 1 for i, age in enumerate(tickets) if row[i % 64] > close_chance] + [0] * new
        overdue = sum(1 for age in tickets if age >= 3)
        checkins = _poisson(3 * crew_ratio * diligence, u_checkin[week_index])
        increment = planned - (planned_at[week_index - 1] if week_index else 0.0)
        workforce = int(round(crew_scale * (0.3 + 0.7 * increment * duration / 1.5) * crew_ratio))
        # Payments (cumulative): advance + progress a few weeks earlier.
        planned_paid = investment * (0.10 + 0.85 * (planned_at[week_index - 4] if week_index >= 4 else 0.0))
        paid_progress = actual_hist[-1 - pay_lag] if len(actual_hist) > pay_lag else 0.0
        actual_paid = investment * (0.10 + 0.85 * paid_progress)
        weeks.append(
            Week(
                week_start=week_start,
                planned_progress=round(planned, 4),
                actual_progress=round(actual, 4),
                planned_paid=_money(planned_paid),
                actual_paid=_money(actual_paid),
                open_tickets=len(tickets),
                overdue_tickets=overdue,
                checkins=checkins,
                workforce=max(workforce, 0),
                material_shortage_days=shortage_days,
                bad_weather_days=bad_days,
            )
        )
        if v >= duration:
            actual_end = week_start + timedelta(days=6 + handover)
            if actual_end > as_of:
                actual_end = None
            break
    return History(
        project_id=project_id,
        industry=industry,
        region_code=REGIONS[int(rng.integers(0, len(REGIONS)))],
        contractor=names[contractor],
        total_investment=_money(investment),
        planned_start=planned_start,
        planned_end=planned_end,
        actual_end=actual_end,
        weeks=tuple(weeks),
    )


def late_share(histories: list[History]) -> float:
    """Share of finished histories more than 30 days late."""
    done = [h for h in histories if h.late is not None]
    return sum(h.late for h in done) / len(done) if done else 0.0
