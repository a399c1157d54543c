"""A second, independent generator of project histories, for held-out evaluation.

It is written deliberately unlike simulator.py, so a model that does well on both has learnt
something about delays rather than one formula:

* Plan: a trapezoid, not an S-curve: the planned work rate ramps up linearly over the first
  r1 of the duration, is flat, and ramps down over the last r2 (r1, r2 ∈ [0.1, 0.3]); planned
  progress is its integral.
* Site state: a three-state Markov chain per week, NORMAL → DISRUPTED → RECOVERING → NORMAL.
  Work done in a week is the planned rate *at the current actual progress* (work is consumed
  in plan order) times a state multiplier: NORMAL U(0.92, 1.12), DISRUPTED U(0.05, 0.45),
  RECOVERING U(1.0, 1.3) (overtime catch-up, capped by the remaining work).
* Disruption hazard (NORMAL → DISRUPTED) is logistic: logit h = -4.3 + 1.6·(1 - reliability)
  + 0.9·storm + 0.6·(market tightness) + 0.35·log10(investment / 1 亿) + industry term, where
  reliability ~ Beta(5, 2) is the contractor's (no normal latent factor here), a storm week is
  a Bernoulli of a monthly typhoon/plum-rain climate, and market tightness is a slowly varying
  sine + random-walk index shared by all projects. Each disruption has one cause drawn with
  these weights: weather (storm weeks), materials, labour, design change; the cause decides
  which signal shows it (bad-weather days, shortage days, workforce drop, tickets).
  DISRUPTED → RECOVERING with probability 0.25 + 0.3·reliability per week; RECOVERING → NORMAL
  with 0.5.
* Spring Festival: the two weeks from the festival are forced DISRUPTED with a labour cause
  (workforce 10-40 %), but the plan *also* pauses for them (planners know the festival), so
  only contractors that recover slowly lose time.
* Delay = weeks past the plan when progress reaches 1, plus an acceptance wait drawn from a
  gamma distribution (shape 2, scale 6 days, doubled for design-change-heavy projects).
* Signals: tickets arrive in bursts (a design change opens 2-6 at once; other disruptions 0-2),
  each has a 2-8 week deadline and closes with 0.35 + 0.4·reliability per week; check-ins are
  a supervisor's fixed weekday rota (1-5 a week by owner diligence) skipped in disrupted
  weeks; payments are milestone-based: 15 % advance, then 17 % at each 20 % of physical
  progress, paid after a lag of 3-10 weeks; planned payments the same on the plan.

`generate(n, seed)` is deterministic for a seed (Python's random.Random, not numpy), with
project ids `ALT<seed>-00001`. Histories end at `as_of` (default end of start_year + 5); later
projects stay unfinished.
"""

import math
import random
from datetime import date, timedelta
from decimal import Decimal

from backend.risk.history import History, Week
from backend.risk.simulator import REGIONS, SPRING_FESTIVAL

NORMAL, DISRUPTED, RECOVERING = 0, 1, 2

# name: (weight, hazard term, weather exposure, log-normal median investment in 亿)
INDUSTRIES = {
    "交通": (3, 0.30, 1.0, 10.0),
    "水利": (2, 0.25, 1.2, 5.0),
    "能源": (1.5, 0.20, 0.7, 12.0),
    "市政": (2.5, 0.10, 0.8, 2.5),
    "产业": (2, -0.20, 0.4, 4.0),
    "社会事业": (2, -0.15, 0.5, 1.5),
}
# Chance that a week has a storm (typhoon season, 梅雨, winter freezes).
STORM = (0.10, 0.08, 0.05, 0.06, 0.08, 0.30, 0.25, 0.32, 0.28, 0.10, 0.05, 0.09)
CAUSES = ("weather", "material", "labour", "design")


def _trapezoid(r1: float, r2: float):
    """Planned cumulative progress at fraction x of the duration (area normalised to 1)."""
    height = 1 / (1 - (r1 + r2) / 2)

    def cumulative(x: float) -> float:
        x = min(max(x, 0.0), 1.0)
        if x < r1:
            return height * x * x / (2 * r1)
        if x <= 1 - r2:
            return height * (r1 / 2 + (x - r1))
        y = 1 - x
        return 1 - height * y * y / (2 * r2)

    def rate(p: float) -> float:
        """Planned rate (per unit duration) where the plan stands at progress p (closed-form
        inverse of cumulative)."""
        floor = height * 0.08
        if p < height * r1 / 2:
            x = math.sqrt(2 * r1 * max(p, 0.0) / height)
            return max(height * x / r1, floor)
        if p <= 1 - height * r2 / 2:
            return height
        y = math.sqrt(2 * r2 * max(1 - p, 0.0) / height)
        return max(height * y / r2, floor)

    return cumulative, rate


def _market(rnd: random.Random, weeks: int) -> list[float]:
    level, out = 0.0, []
    phase = rnd.uniform(0, 2 * math.pi)
    for i in range(weeks):
        level = 0.97 * level + rnd.gauss(0, 0.15)
        out.append(math.sin(phase + 2 * math.pi * i / 130) + level)
    return out


def _money(value: float) -> Decimal:
    return Decimal(int(round(value))).quantize(Decimal("0.01"))


def generate(n: int, seed: int, *, start_year: int = 2018, as_of: date | None = None) -> list[History]:
    rnd = random.Random(seed)
    as_of = as_of or date(start_year + 5, 12, 31)
    first = date(start_year, 1, 1)
    first -= timedelta(days=first.weekday())
    market = _market(rnd, (as_of - first).days // 7 + 2)
    # Zipf-like contractor sizes: a few firms take most projects.
    count = max(5, n // 5)
    contractors = [
        f"浙江{['华', '东', '中', '新', '正'][k % 5]}{['达', '源', '泰', '诚', '宏', '信'][k % 6]}工程{seed}-{k + 1:03d}号公司"
        for k in range(count)
    ]
    reliability = [rnd.betavariate(5, 2) for _ in range(count)]
    zipf = [1 / (k + 1) ** 0.8 for k in range(count)]
    industries = list(INDUSTRIES)
    industry_weights = [INDUSTRIES[i][0] for i in industries]
    return [
        _project(
            rnd,
            project_id=f"ALT{seed}-{i + 1:05d}",
            industry=rnd.choices(industries, industry_weights)[0],
            contractor=rnd.choices(range(count), zipf)[0],
            contractors=contractors,
            reliability=reliability,
            first=first,
            as_of=as_of,
            market=market,
        )
        for i in range(n)
    ]


def _festival_week(day: date) -> bool:
    festival = SPRING_FESTIVAL.get(day.year)
    return festival is not None and 0 <= (day - festival).days < 14


def _project(
    rnd, *, project_id, industry, contractor, contractors, reliability, first, as_of, market
) -> History:
    _, industry_term, exposure, median = INDUSTRIES[industry]
    rel = reliability[contractor]
    investment = min(max(rnd.lognormvariate(math.log(median * 1e8), 0.9), 3e6), 8e10)
    size = math.log10(investment / 1e8)
    duration = int(min(max(40 + 30 * size + rnd.gauss(0, 15), 20), 240))
    start = first + timedelta(weeks=rnd.randrange(0, 5 * 52))
    # The plan skips the festival weeks: the planned end is later by their number.
    cumulative, rate = _trapezoid(rnd.uniform(0.1, 0.3), rnd.uniform(0.1, 0.3))
    plan_weeks, calendar, w = [], 0, 0
    while w < duration:
        day = start + timedelta(weeks=calendar)
        if not _festival_week(day):
            w += 1
        plan_weeks.append(w)  # plan weeks done by the end of this calendar week
        calendar += 1
    planned_end = start + timedelta(weeks=calendar) - timedelta(days=1)
    owner_diligence = rnd.randint(1, 5)
    pay_lag = rnd.randint(3, 10)
    crew = int(20 + 25 * max(size + 2, 0.3))

    state, cause = NORMAL, None
    progress = 0.0
    progress_log: list[float] = []
    tickets: list[int] = []  # weeks left to each open ticket's deadline
    design_changes = 0
    weeks: list[Week] = []
    actual_end = None
    index = 0
    while True:
        day = start + timedelta(weeks=index)
        if day > as_of:
            break
        storm = rnd.random() < STORM[day.month - 1] * exposure
        market_now = market[min((day - first).days // 7, len(market) - 1)]
        festival = _festival_week(day)
        # State transition.
        if festival:
            state, cause = DISRUPTED, "labour"
        elif state == NORMAL:
            logit = (
                -4.3 + 1.6 * (1 - rel) + 0.9 * storm + 0.6 * max(market_now, 0) + 0.35 * size + industry_term
            )
            if rnd.random() < 1 / (1 + math.exp(-logit)):
                state = DISRUPTED
                weights = (3.0 if storm else 0.3, 1 + max(market_now, 0), 1.0, 0.6)
                cause = rnd.choices(CAUSES, weights)[0]
                design_changes += cause == "design"
        elif state == DISRUPTED:
            if rnd.random() < 0.25 + 0.3 * rel:
                state = RECOVERING
        elif rnd.random() < 0.5:
            state, cause = NORMAL, None
        multiplier = {
            NORMAL: rnd.uniform(0.92, 1.12),
            DISRUPTED: rnd.uniform(0.05, 0.45),
            RECOVERING: rnd.uniform(1.0, 1.3),
        }[state]
        if festival:
            multiplier = rnd.uniform(0.0, 0.2) + 0.6 * rel * 0.2
        progress = min(1.0, progress + rate(progress) / duration * multiplier)
        progress_log.append(progress)
        planned = cumulative(plan_weeks[index] / duration) if index < len(plan_weeks) else 1.0
        # Signals by cause.
        bad_days = min(7, sum(rnd.random() < 0.25 for _ in range(7)) + (rnd.randint(2, 5) if storm else 0))
        disrupted = state == DISRUPTED
        shortage = rnd.randint(3, 7) if disrupted and cause == "material" else 0
        workforce_share = rnd.uniform(0.1, 0.4) if disrupted and cause == "labour" else rnd.uniform(0.85, 1.1)
        new_tickets = 0
        if disrupted and cause == "design" and rnd.random() < 0.5:
            new_tickets = rnd.randint(2, 6)
        elif disrupted and rnd.random() < 0.35:
            new_tickets = rnd.randint(0, 2)
        elif rnd.random() < 0.04:
            new_tickets = 1
        tickets = [left - 1 for left in tickets if rnd.random() > 0.35 + 0.4 * rel] + [
            rnd.randint(2, 8) for _ in range(new_tickets)
        ]
        checkins = 0 if disrupted and rnd.random() < 0.6 else owner_diligence
        # Milestone payments: 15 % advance, 17 % per 20 % of progress, after a lag.
        paid_progress = progress_log[-1 - pay_lag] if len(progress_log) > pay_lag else 0.0
        planned_lagged = (
            cumulative(plan_weeks[index - pay_lag] / duration)
            if 0 <= index - pay_lag < len(plan_weeks)
            else 0.0
        )
        if index - pay_lag >= len(plan_weeks):
            planned_lagged = 1.0
        weeks.append(
            Week(
                week_start=day,
                planned_progress=round(planned, 4),
                actual_progress=round(progress, 4),
                planned_paid=_money(investment * (0.15 + 0.17 * math.floor(planned_lagged * 5 + 1e-9))),
                actual_paid=_money(investment * (0.15 + 0.17 * math.floor(paid_progress * 5 + 1e-9))),
                open_tickets=len(tickets),
                overdue_tickets=sum(1 for left in tickets if left < 0),
                checkins=checkins,
                workforce=max(0, int(crew * workforce_share)),
                material_shortage_days=shortage,
                bad_weather_days=bad_days,
            )
        )
        index += 1
        if progress >= 1.0:
            wait = rnd.gammavariate(2, 6) * (2 if design_changes >= 2 else 1)
            actual_end = day + timedelta(days=6 + int(wait))
            if actual_end > as_of:
                actual_end = None
            break
    return History(
        project_id=project_id,
        industry=industry,
        region_code=rnd.choice(REGIONS),
        contractor=contractors[contractor],
        total_investment=_money(investment),
        planned_start=start,
        planned_end=planned_end,
        actual_end=actual_end,
        weeks=tuple(weeks),
    )
