"""The delay model: probability that a project finishes more than 30 days late (issue 9).

Trained on finished histories, each cut at several fractions of its planned duration (one row per
cut, so the model sees projects at every stage), in two levels:

1. a regularised logistic regression on scale-free signals (ratios, days, shares: see
   features.py), whose out-of-fold log-odds come from a cross-validation grouped by project
   (cuts of one project never sit on both sides of a fold);
2. per stage of the plan (bins of the elapsed fraction, interpolated between their centres), a
   logistic regression of the outcome on the schedule deviation (the naive score: earned-schedule
   days behind) and those out-of-fold log-odds. The deviation is left (nearly) unpenalised and
   the signals' log-odds strongly penalised (STACK_C): the other signals only adjust the
   deviation's ranking, and less so late in the plan where the deviation says almost everything.
   This is also the calibration (Platt scaling per stage, on out-of-fold scores).

Why: on the cross-generator back-test (bench/risk_backtest.py) a single model over all signals
ranked projects worse than the deviation alone at 75 % on generators it was not trained on (it
learnt the training generator's own weights for payments, plan shape, contractor counts), and
isotonic calibration tied scores. Logistic regression, not gradient boosting: boosting (even
with monotone constraints) learnt each generator's own formula and transferred worse. Saved as
versioned joblib files with a JSON card under RISK_MODEL_DIR; files of an older FORMAT are
refused (load) and treated as absent (latest_version), so the scheduler retrains.

For other modules (W's warnings.py):
- `load_latest()` -> RiskModel | None: the newest saved version, None when there is none;
- `score_histories(model, histories)` -> list[(probability, factors)]: each history's last week is
  "now"; factors are explain.py's top 3 signals raising the score, each a dict with a plain-Chinese
  "text" (and "feature", "label", "value", "contribution": the log-odds it adds).
- `grade_of(probability, limits)` -> "red" | "orange" | "yellow" | None; limits may be
  {"red": .., "orange": .., "yellow": ..} or rules' {"model_red": .., ...} (Decimal or float).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import joblib
import numpy as np
import sklearn
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from backend.risk.features import FEATURES, LABELS, Context, Series, cut_date, features_at
from backend.risk.history import History

TRAIN_FRACTIONS = tuple(round(0.15 + 0.05 * i, 2) for i in range(15))  # 15% .. 85%
DEFAULT_THRESHOLDS = {"red": 0.7, "orange": 0.4, "yellow": 0.2}
GRADES = ("red", "orange", "yellow")
_FILE = re.compile(r"^model-v(\d+)\.joblib$")
# Saved-file layout; bump when the model's structure changes (older files are refused).
FORMAT = 2
# The signals the model reads: all but two that describe the training set rather than the
# project: the contractor's count of finished projects (its scale is the size of the training
# set's contractor pool) and the industry's late rate (which industries run late in the training
# world; on another generator it ranked projects worse than leaving it out). The contractor's
# late share stays: it is read from the scored world's own finished projects.
MODEL_FEATURES = tuple(f for f in FEATURES if f not in ("contractor_finished", "industry_late_rate"))
_COLUMNS = np.array([FEATURES.index(f) for f in MODEL_FEATURES])
_DEVIATION = FEATURES.index("es_days_behind")
_ELAPSED = FEATURES.index("elapsed_fraction")
BASE_C = 0.03
STACK_CENTRES = (0.2, 0.35, 0.5, 0.65, 0.8)  # elapsed fractions; training cuts within ±STACK_WIDTH
STACK_WIDTH = 0.1
# The stack's L2 on the standardised signals' log-odds, and how many times less the deviation's
# coefficient is penalised (its column is scaled up by this before the fit).
STACK_C = 0.01
DEVIATION_FREEDOM = 10.0


class RiskModelError(Exception):
    """Chinese message for the user."""


def model_dir(explicit: str | os.PathLike | None = None) -> Path:
    """RISK_MODEL_DIR from the app config (or the environment), default var/risk."""
    if explicit:
        return Path(explicit)
    try:
        from flask import current_app

        configured = current_app.config.get("RISK_MODEL_DIR")
    except RuntimeError:  # outside an app context
        configured = None
    configured = configured or os.environ.get("RISK_MODEL_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "var" / "risk"


def thresholds() -> dict[str, float]:
    """Grade thresholds: RISK_RED_THRESHOLD / RISK_ORANGE_THRESHOLD / RISK_YELLOW_THRESHOLD."""
    out = dict(DEFAULT_THRESHOLDS)
    try:
        from flask import current_app

        config = current_app.config
    except RuntimeError:
        config = {}
    for grade in GRADES:
        key = f"RISK_{grade.upper()}_THRESHOLD"
        value = config.get(key, os.environ.get(key))
        if value not in (None, ""):
            out[grade] = float(value)
    return out


def grade(probability: float, limits: dict[str, float] | None = None) -> str | None:
    """'red' / 'orange' / 'yellow' for the first threshold reached, None below yellow."""
    limits = limits or thresholds()
    for g in GRADES:
        if probability >= limits[g]:
            return g
    return None


def training_rows(histories: list[History], context: Context, fractions=TRAIN_FRACTIONS):
    """(X, y, groups): one row per finished history and cut fraction with at least one week."""
    rows, labels, groups = [], [], []
    for gi, h in enumerate(h for h in histories if h.actual_end is not None):
        s = Series(h)
        for f in fractions:
            n = s.weeks_ended_by(cut_date(h, f))
            if n == 0:
                continue
            rows.append(features_at(s, n, context))
            labels.append(int(bool(h.late)))
            groups.append(gi)
    return np.array(rows, dtype=float).reshape(-1, len(FEATURES)), np.array(labels), np.array(groups)


@dataclass
class Stack:
    """Per stage (centre of elapsed fraction): logit = intercept + coef · (z - mean) / scale,
    z = (deviation days, signals' log-odds); linear interpolation between centres."""

    centres: np.ndarray  # (bins,)
    mean: np.ndarray  # (bins, 2)
    scale: np.ndarray  # (bins, 2)
    coef: np.ndarray  # (bins, 2)
    intercept: np.ndarray  # (bins,)

    @classmethod
    def fit(cls, deviation, logit, elapsed, y, *, C=STACK_C) -> Stack:
        means, scales, coefs, intercepts = [], [], [], []
        z = np.column_stack([deviation, logit])
        for centre in STACK_CENTRES:
            rows = np.abs(elapsed - centre) <= STACK_WIDTH + 1e-9
            if len(np.unique(y[rows])) < 2:  # a tiny training set: fall back to all rows
                rows = np.ones(len(y), dtype=bool)
            mean, scale = z[rows].mean(axis=0), np.maximum(z[rows].std(axis=0), 1e-9)
            scale = scale / np.array([DEVIATION_FREEDOM, 1.0])
            fit = LogisticRegression(C=C, max_iter=2000).fit((z[rows] - mean) / scale, y[rows])
            means.append(mean), scales.append(scale)
            coefs.append(fit.coef_[0]), intercepts.append(fit.intercept_[0])
        return cls(
            np.array(STACK_CENTRES), np.array(means), np.array(scales), np.array(coefs), np.array(intercepts)
        )

    def logit(self, deviation, logit, elapsed) -> np.ndarray:
        z = np.column_stack([deviation, logit])[:, None, :]
        per_bin = ((z - self.mean) / self.scale * self.coef).sum(axis=2) + self.intercept
        position = np.interp(elapsed, self.centres, np.arange(len(self.centres)))
        lo = np.minimum(np.floor(position).astype(int), len(self.centres) - 1)
        hi = np.minimum(lo + 1, len(self.centres) - 1)
        t = position - lo
        rows = np.arange(len(per_bin))
        return (1 - t) * per_bin[rows, lo] + t * per_bin[rows, hi]


@dataclass
class RiskModel:
    base: Pipeline
    stack: Stack
    context: Context
    medians: np.ndarray
    card: dict
    # 1st and 99th percentile of each signal in training (2, features): a platform project with a
    # value far outside them (a crew 12 times its early peak after a sparse start) counts as the
    # most extreme value seen, instead of the linear model extrapolating it into certainty
    # (except the schedule deviation's own term in the stack: see logit_matrix).
    bounds: np.ndarray | None = None

    @property
    def version(self) -> int:
        return int(self.card["version"])

    def clipped(self, X: np.ndarray) -> np.ndarray:
        return X if self.bounds is None else np.clip(X, self.bounds[0], self.bounds[1])

    def score_matrix(self, X: np.ndarray) -> np.ndarray:
        if len(X) == 0:
            return np.empty(0)
        return expit(self.logit_matrix(X))

    def logit_matrix(self, X: np.ndarray) -> np.ndarray:
        """The log-odds of the score (never saturates, so explanations can rank signals even
        when the probability is near 0 or 1)."""
        if len(X) == 0:
            return np.empty(0)
        # The deviation enters the stack unclipped: it is the one signal whose far values do mean
        # near-certainty, and clipping it to the training range would tie every project of a
        # generator with longer delays at the same score.
        clipped = self.clipped(X)
        base = self.base.decision_function(clipped[:, _COLUMNS])
        return self.stack.logit(X[:, _DEVIATION], base, clipped[:, _ELAPSED])

    def matrix(self, histories: list[History], context: Context | None = None) -> np.ndarray:
        context = context or self.context
        X = np.empty((len(histories), len(FEATURES)))
        for i, h in enumerate(histories):
            X[i] = features_at(Series(h), len(h.weeks), context)
        return X

    def score(self, histories: list[History]) -> np.ndarray:
        """Probabilities of finishing > 30 days late, with each history's last week as 'now'."""
        return self.score_matrix(self.matrix(histories))


def train(histories: list[History], *, seed: int = 0) -> RiskModel:
    finished = [h for h in histories if h.actual_end is not None]
    n_late = sum(1 for h in finished if h.late)
    if n_late < 5 or len(finished) - n_late < 5:
        raise RiskModelError(
            f"训练数据不足：已完工项目{len(finished)}个，其中延期{n_late}个（两类各需至少5个）"
        )
    context = Context.fit(finished)
    X, y, groups = training_rows(finished, context)
    signals = X[:, _COLUMNS]

    def base_model() -> Pipeline:
        return make_pipeline(StandardScaler(), LogisticRegression(C=BASE_C, max_iter=3000))

    # Out-of-fold log-odds of the signals' model: the stack learns how far to trust them on
    # projects the model did not see.
    splits = min(5, len(np.unique(groups)))
    oof_logit = np.empty(len(y))
    for fit_rows, held in GroupKFold(n_splits=splits, shuffle=True, random_state=seed).split(X, y, groups):
        oof_logit[held] = base_model().fit(signals[fit_rows], y[fit_rows]).decision_function(signals[held])
    base = base_model().fit(signals, y)
    stack = Stack.fit(X[:, _DEVIATION], oof_logit, X[:, _ELAPSED], y)
    oof = expit(stack.logit(X[:, _DEVIATION], oof_logit, X[:, _ELAPSED]))
    card = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "n_projects": len(finished),
        "n_late": n_late,
        "n_rows": len(y),
        "fractions": list(TRAIN_FRACTIONS),
        "features": [{"name": f, "label": LABELS[f]} for f in FEATURES],
        "seed": seed,
        "sklearn": sklearn.__version__,
        "format": FORMAT,
        "method": (
            "logistic regression on the signals (grouped 5-fold out-of-fold log-odds), stacked per "
            "plan stage with the schedule deviation (penalised logistic regression, Platt-calibrated)"
        ),
        "metrics": {
            "cv_auc": round(float(roc_auc_score(y, oof)), 4),
            "cv_brier": round(float(np.mean((oof - y) ** 2)), 4),
        },
    }
    bounds = np.percentile(X, [1, 99], axis=0)
    return RiskModel(base, stack, context, np.median(X, axis=0), card, bounds)


def _versions(directory: Path) -> list[int]:
    if not directory.is_dir():
        return []
    return sorted(int(m.group(1)) for p in directory.iterdir() if (m := _FILE.match(p.name)))


def save(model: RiskModel, directory: str | os.PathLike | None = None) -> Path:
    """Store as the next version: model-vN.joblib plus model-vN.json (the card)."""
    d = model_dir(directory)
    d.mkdir(parents=True, exist_ok=True)
    version = (_versions(d) or [0])[-1] + 1
    model.card["version"] = version
    path = d / f"model-v{version}.joblib"
    tmp = path.with_suffix(".tmp")
    joblib.dump(
        {
            "format": FORMAT,
            "base": model.base,
            "stack": dataclasses.asdict(model.stack),
            "context": model.context,
            "medians": model.medians,
            "card": model.card,
            "bounds": model.bounds,
        },
        tmp,
    )
    (d / f"model-v{version}.json").write_text(json.dumps(model.card, ensure_ascii=False, indent=2), "utf-8")
    tmp.replace(path)  # the joblib appears last, so a listed version is always complete
    return path


def load(directory: str | os.PathLike | None = None, version: int | None = None) -> RiskModel:
    """The given version, or the latest one."""
    d = model_dir(directory)
    versions = _versions(d)
    if not versions:
        raise RiskModelError(f"尚无训练好的风险模型（目录 {d}），请先运行 flask --app app risk train")
    version = versions[-1] if version is None else version
    if version not in versions:
        raise RiskModelError(f"风险模型版本 v{version} 不存在")
    data = joblib.load(d / f"model-v{version}.joblib")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RiskModelError(
            f"风险模型 v{version} 是旧格式的文件，已不再使用，请重新训练（flask --app app risk train）"
        )
    stack = Stack(**data["stack"])
    return RiskModel(data["base"], stack, data["context"], data["medians"], data["card"], data.get("bounds"))


def load_latest(directory: str | os.PathLike | None = None) -> RiskModel | None:
    """The newest saved version, or None when no model was trained yet."""
    if not _versions(model_dir(directory)):
        return None
    return load(directory)


def _current_format(directory: Path, version: int) -> bool:
    try:
        card = json.loads((directory / f"model-v{version}.json").read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(card, dict) and card.get("format") == FORMAT


def latest_version(directory: str | os.PathLike | None = None) -> tuple[int, datetime] | None:
    """(version, when its file was written, UTC) of the newest model, None without one or when
    the newest is of an older FORMAT (so the scheduler and the demo data retrain at once)."""
    d = model_dir(directory)
    versions = _versions(d)
    if not versions or not _current_format(d, versions[-1]):
        return None
    mtime = (d / f"model-v{versions[-1]}.joblib").stat().st_mtime
    return versions[-1], datetime.fromtimestamp(mtime, UTC)


def grade_of(probability: float, limits: dict | None = None) -> str | None:
    """Like `grade`, also accepting the rules' keys ("model_red", ...) and Decimal values."""
    if limits is None:
        return grade(probability)
    plain = {g: float(limits[f"model_{g}"] if f"model_{g}" in limits else limits[g]) for g in GRADES}
    return grade(probability, plain)


def score_histories(
    model: RiskModel, histories: list[History], *, top: int = 3
) -> list[tuple[float, list[dict]]]:
    """(probability of finishing > 30 days late, top factors in Chinese) per history, each with its
    last week as "now"; one matrix for all, so 10,000 projects score in a few seconds."""
    from backend.risk.explain import explain

    histories = list(histories)
    if not histories:
        return []
    X = model.matrix(histories)
    probabilities = model.score_matrix(X)
    factors = explain(model, X, top=top)
    return [(float(p), f) for p, f in zip(probabilities, factors, strict=True)]
