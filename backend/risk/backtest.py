"""Back-test of the delay model (issue 9): train on A, score B's snapshots, print one line per horizon.

- `auc`: ROC AUC of the model's probability for "finishes > 30 days late" over B's finished
  projects cut at 25/50/75% of their planned duration (only the weeks ended by then);
- `naive_auc`: the same for the current schedule deviation alone (earned-schedule days behind);
- `red_*` / `orange_*`: precision and recall of grade red, and of grade orange or worse (what
  dispatches a response); `nan` when nothing was flagged;
- `lead_time_median_days`: over B's late projects, days from the first red grade (scanning the
  weekly snapshots in time order) to the planned end; a late project never flagged red counts as
  flagged on its actual end (a negative lead of its delay), so missed projects pull the median down.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from backend.risk.features import FEATURES, Series, cut_date, features_at
from backend.risk.history import History
from backend.risk.model import RiskModel, thresholds, train

HORIZONS = (0.25, 0.50, 0.75)
_NAIVE = FEATURES.index("es_days_behind")


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    return float(roc_auc_score(y, score)) if 0 < y.sum() < len(y) else float("nan")


def _precision_recall(y: np.ndarray, flagged: np.ndarray) -> tuple[float, float]:
    tp = float((flagged & (y == 1)).sum())
    precision = tp / flagged.sum() if flagged.any() else float("nan")
    recall = tp / y.sum() if y.any() else float("nan")
    return precision, recall


def _fmt(v: float) -> str:
    return "nan" if v != v else f"{v:.3f}"


def evaluate(model: RiskModel, test: list[History], limits: dict[str, float] | None = None) -> dict:
    limits = limits or thresholds()
    finished = [h for h in test if h.actual_end is not None]
    # B's own projects that finished before a cut date are part of its contractors' records
    # (known then); a project's own outcome never is (features exclude it by id and date).
    context = model.context.with_records(finished)
    y = np.array([int(bool(h.late)) for h in finished])
    series = [Series(h) for h in finished]
    result: dict = {"horizons": {}, "n": len(finished), "n_late": int(y.sum())}
    for f in HORIZONS:
        X = np.array(
            [
                features_at(s, s.weeks_ended_by(cut_date(h, f)), context)
                for s, h in zip(series, finished, strict=True)
            ]
        ).reshape(-1, len(FEATURES))
        p = model.score_matrix(X)
        red_p, red_r = _precision_recall(y, p >= limits["red"])
        orange_p, orange_r = _precision_recall(y, p >= limits["orange"])
        result["horizons"][f] = {
            "auc": _auc(y, p),
            "naive_auc": _auc(y, X[:, _NAIVE]),
            "red_precision": red_p,
            "red_recall": red_r,
            "orange_precision": orange_p,
            "orange_recall": orange_r,
        }
    leads = []
    for s, h in zip(series, finished, strict=True):
        if not h.late:
            continue
        n = len(h.weeks)
        X = np.array([features_at(s, k, context) for k in range(1, n + 1)]).reshape(-1, len(FEATURES))
        red = np.flatnonzero(model.score_matrix(X) >= limits["red"])
        if len(red):
            now = int(s.start[red[0]]) + 7
            leads.append(h.planned_end.toordinal() - now)
        else:
            leads.append(-h.delay_days)
    result["lead_time_median_days"] = float(np.median(leads)) if leads else float("nan")
    result["leads"] = leads
    return result


def lines(result: dict) -> list[str]:
    out = []
    for f, m in result["horizons"].items():
        out.append(
            f"horizon={round(f * 100)}% auc={_fmt(m['auc'])} naive_auc={_fmt(m['naive_auc'])} "
            f"red_precision={_fmt(m['red_precision'])} red_recall={_fmt(m['red_recall'])} "
            f"orange_precision={_fmt(m['orange_precision'])} orange_recall={_fmt(m['orange_recall'])}"
        )
    lead = result["lead_time_median_days"]
    out.append(f"lead_time_median_days={'nan' if lead != lead else f'{lead:.0f}'}")
    return out


def run(train_histories: list[History], test_histories: list[History], *, seed: int = 0) -> list[str]:
    """Train on A only, evaluate on B; the printed lines."""
    model = train(train_histories, seed=seed)
    return lines(evaluate(model, test_histories))
