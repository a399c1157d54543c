"""How well could anything predict "> 30 days late" at 25 % of the plan? (issue 9, the ceiling)

    .venv/bin/python bench/risk_ceiling.py [--train-n 1200] [--test-n 800] [--horizon 0.25]

For each generator (simulator.py, altgen.py, altgen2.py) it trains on one seed and tests on
another seed of the SAME generator, at the horizon's snapshot, with three sets of inputs:

* `observed`: the model's signals at the cut (features.py; contractor records from the training
  set and the test set's own projects finished before the cut, as the back-test does);
* `+advance`: plus what the generator's mechanism fixes before the project starts and a
  well-informed planner could know: the contractor's latent quality (simulator: q; altgen:
  reliability; altgen2: skill and supplier), the industry's constants, the plan's exposure to
  the generator's own bad-weather months, the owner's payment lag (and diligence);
* `+oracle`: plus what the generator draws at the start that nobody could know (simulator: the
  project's efficiency noise and hand-over; altgen2: the pace and the tasks' Weibull overruns;
  all: the shared market index over the planned window, i.e. the future).

Each set is fitted with a logistic regression and a gradient-boosting classifier; the printed
AUC is on the test seed. `+advance` is the honest ceiling for an early warning; `+oracle` an upper
bound no model can reach. The latents are recorded by wrapping each generator's `_project` and the
random generator it is handed (every draw passes through unchanged, so the histories are the
same as `generate(n, seed)`'s; the script checks that). Run by people, not by CI (a few minutes: each set is generated twice).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from backend.risk import altgen, altgen2, simulator  # noqa: E402
from backend.risk.features import FEATURES, Context, Series, cut_date, features_at  # noqa: E402


class Recorder:
    """Passes every call through to the wrapped random generator and logs (method, args, result)."""

    def __init__(self, rng):
        self._rng = rng
        self.calls: list[tuple[str, tuple, object]] = []

    def __getattr__(self, name):
        method = getattr(self._rng, name)

        def call(*args, **kwargs):
            value = method(*args, **kwargs)
            self.calls.append((name, args, value))
            return value

        return call

    def nth(self, name: str, n: int = 0, args: tuple | None = None):
        hits = [v for m, a, v in self.calls if m == name and (args is None or a[: len(args)] == args)]
        return hits[n]


def _window(first, start, weeks: int) -> slice:
    i = (start - first).days // 7
    return slice(max(i, 0), max(i, 0) + max(weeks, 1))


def _months(start, weeks: int) -> np.ndarray:
    from datetime import timedelta

    return np.array([(start + timedelta(weeks=k)).month - 1 for k in range(max(weeks, 1))])


def _simulator_latents(rec: Recorder, h, kw) -> tuple[list[float], list[float]]:
    _, base_eff, sensitivity, _, shortage_factor = simulator.INDUSTRIES[h.industry]
    q = float(kw["quality"][kw["contractor"]])
    weeks = (h.planned_end - h.planned_start).days // 7 + 1
    rain = float(np.mean(np.asarray(simulator.BAD_WEATHER)[_months(h.planned_start, weeks)])) * sensitivity
    pay = float(rec.nth("exponential"))
    diligence = float(rec.nth("normal", 2))
    advance = [q, base_eff, sensitivity, shortage_factor, rain, pay, diligence]
    noise = float(rec.nth("normal", 1))  # the project's N(0, 0.05) efficiency factor
    handover = float(rec.nth("integers", args=(0, 22)))
    shock = kw["shock"][_window(kw["first_day"], h.planned_start, weeks)]
    return advance, [noise, handover, float(np.mean(shock)), float(np.max(shock))]


def _altgen_latents(rec: Recorder, h, kw) -> tuple[list[float], list[float]]:
    _, term, exposure, _ = altgen.INDUSTRIES[h.industry]
    rel = float(kw["reliability"][kw["contractor"]])
    weeks = (h.planned_end - h.planned_start).days // 7 + 1
    storm = float(np.mean(np.asarray(altgen.STORM)[_months(h.planned_start, weeks)])) * exposure
    diligence, pay = float(rec.nth("randint", 0)), float(rec.nth("randint", 1))
    market = np.asarray(kw["market"])[_window(kw["first"], h.planned_start, weeks)]
    return [rel, term, exposure, storm, diligence, pay], [float(np.mean(np.maximum(market, 0)))]


def _altgen2_latents(rec: Recorder, h, args) -> tuple[list[float], list[float]]:
    _, _, _, _, skill, supplier, first, _, market = args
    _, _, outdoor = altgen2.INDUSTRIES[h.industry]
    weeks = (h.planned_end - h.planned_start).days // 7 + 1
    wet = float(np.mean(np.asarray(altgen2.WET_START)[_months(h.planned_start, weeks)])) * outdoor
    pay = float(rec.nth("gamma", 1))
    advance = [skill, supplier, outdoor, wet, pay, float(pay > 8)]
    pace = float(rec.nth("normal", 1))  # N(1.3, 0.06); the first normal is the duration's
    sizes, multipliers = rec.nth("gamma", 0), rec.nth("weibull")
    k_shape = 1.2 + 4.0 * skill
    median = np.exp(np.log(np.log(2)) / k_shape)
    slack = 0.92 + 0.1 * float(rec.nth("random", 0))
    overrun = float(np.sum(sizes * multipliers) / median / np.sum(sizes)) * slack
    worst = float(np.max(multipliers) / median)
    mk = np.asarray(market)[_window(first, h.planned_start, weeks)]
    return advance, [pace, overrun, worst, float(np.mean(mk))]


def record(module, make, latents, n: int, seed: int):
    """(histories, advance latents, oracle latents), with the histories checked unchanged."""
    original = module._project
    rows: list[tuple[list[float], list[float]]] = []

    def wrapped(rng, *args, **kwargs):
        rec = Recorder(rng)
        h = original(rec, *args, **kwargs)
        rows.append(latents(rec, h, kwargs if kwargs else (rng, *args)))
        return h

    module._project = wrapped
    try:
        histories = make(n, seed)
    finally:
        module._project = original
    if histories != make(n, seed):
        raise SystemExit(f"{module.__name__}: recording changed the histories")
    return histories, np.array([a for a, _ in rows]), np.array([o for _, o in rows])


GENERATORS = {
    "simulator": (simulator, lambda n, s: simulator.simulate(n, seed=s), _simulator_latents),
    "altgen": (altgen, lambda n, s: altgen.generate(n, seed=s), _altgen_latents),
    "altgen2": (altgen2, lambda n, s: altgen2.generate(n, seed=s), _altgen2_latents),
}


def observed(histories, context, horizon):
    return np.array(
        [
            features_at(s, s.weeks_ended_by(cut_date(h, horizon)), context)
            for h in histories
            for s in [Series(h)]
        ]
    ).reshape(-1, len(FEATURES))


def fits(X, y, Xt, yt) -> dict[str, float]:
    lr = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000)).fit(X, y)
    hgb = HistGradientBoostingClassifier(
        max_iter=300, learning_rate=0.04, max_leaf_nodes=15, min_samples_leaf=30, random_state=0
    ).fit(X, y)
    return {
        "logistic": roc_auc_score(yt, lr.decision_function(Xt)),
        "boosting": roc_auc_score(yt, hgb.decision_function(Xt)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-n", type=int, default=1200)
    parser.add_argument("--test-n", type=int, default=800)
    parser.add_argument("--horizon", type=float, default=0.25)
    args = parser.parse_args()
    started = time.perf_counter()
    naive = FEATURES.index("es_days_behind")
    pct = f"{round(args.horizon * 100)}%"
    for name, (module, make, latents) in GENERATORS.items():
        train, adv, ora = record(module, make, latents, args.train_n, 1)
        test, adv_t, ora_t = record(module, make, latents, args.test_n, 7)
        keep, keep_t = [h.actual_end is not None for h in train], [h.actual_end is not None for h in test]
        train = [h for h, k in zip(train, keep, strict=True) if k]
        test = [h for h, k in zip(test, keep_t, strict=True) if k]
        adv, ora, adv_t, ora_t = adv[keep], ora[keep], adv_t[keep_t], ora_t[keep_t]
        context = Context.fit(train)
        X, Xt = (
            observed(train, context, args.horizon),
            observed(test, context.with_records(test), args.horizon),
        )
        y, yt = np.array([int(h.late) for h in train]), np.array([int(h.late) for h in test])
        sets = {
            "observed": (X, Xt),
            "+advance": (np.hstack([X, adv]), np.hstack([Xt, adv_t])),
            "+oracle": (np.hstack([X, adv, ora]), np.hstack([Xt, adv_t, ora_t])),
        }
        print(f"generator={name} horizon={pct} naive_auc={roc_auc_score(yt, Xt[:, naive]):.3f}", end="")
        for label, (a, b) in sets.items():
            result = fits(a, y, b, yt)
            best = max(result.values())
            detail = "/".join(f"{v:.3f}" for v in result.values())
            print(f" {label}_auc={best:.3f} ({detail})", end="")
        print(flush=True)
    print("(each: the better of logistic / boosting, both in brackets; trained seed 1, tested seed 7)")
    print(f"seconds={time.perf_counter() - started:.0f}")


if __name__ == "__main__":
    main()
