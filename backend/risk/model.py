"""The delay model: probability that a project finishes more than 30 days late (issue 9).

Trained on finished histories, each cut at several fractions of its planned duration (one row per
cut, so the model sees projects at every stage); a regularised logistic regression on scale-free
signals (ratios, days, shares: see features.py), calibrated (isotonic) by cross-validation grouped
by project (cuts of one project never sit on both sides of a fold). Logistic regression, not
gradient boosting: on the cross-generator back-test (bench/risk_backtest.py) boosting learnt each
generator's own formula and transferred worse. Saved as versioned joblib files with a JSON card
under RISK_MODEL_DIR.

For other modules (W's warnings.py):
- `load_latest()` -> RiskModel | None: the newest saved version, None when there is none;
- `score_histories(model, histories)` -> list[(probability, factors)]: each history's last week is
  "now"; factors are explain.py's top 3 signals raising the score, each a dict with a plain-Chinese
  "text" (and "feature", "label", "value", "contribution": the log-odds it adds).
- `grade_of(probability, limits)` -> "red" | "orange" | "yellow" | None; limits may be
  {"red": .., "orange": .., "yellow": ..} or rules' {"model_red": .., ...} (Decimal or float).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import joblib
import numpy as np
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from backend.risk.features import FEATURES, LABELS, Context, Series, cut_date, features_at
from backend.risk.history import History

TRAIN_FRACTIONS = tuple(round(0.15 + 0.05 * i, 2) for i in range(15))  # 15% .. 85%
DEFAULT_THRESHOLDS = {"red": 0.7, "orange": 0.4, "yellow": 0.2}
GRADES = ("red", "orange", "yellow")
_FILE = re.compile(r"^model-v(\d+)\.joblib$")


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
class RiskModel:
    classifier: CalibratedClassifierCV
    context: Context
    medians: np.ndarray
    card: dict
    # 1st and 99th percentile of each signal in training (2, features): a platform project with a
    # value far outside them (a crew 12 times its early peak after a sparse start) counts as the
    # most extreme value seen, instead of the linear model extrapolating it into certainty.
    bounds: np.ndarray | None = None

    @property
    def version(self) -> int:
        return int(self.card["version"])

    def clipped(self, X: np.ndarray) -> np.ndarray:
        return X if self.bounds is None else np.clip(X, self.bounds[0], self.bounds[1])

    def score_matrix(self, X: np.ndarray) -> np.ndarray:
        if len(X) == 0:
            return np.empty(0)
        return self.classifier.predict_proba(self.clipped(X))[:, 1]

    def logit_matrix(self, X: np.ndarray) -> np.ndarray:
        """The uncalibrated log-odds (mean over the fold models): unlike the isotonic
        probability it never saturates, so explanations can rank signals even at 0 or 1."""
        if len(X) == 0:
            return np.empty(0)
        folds = self.classifier.calibrated_classifiers_
        X = self.clipped(X)
        return np.mean([c.estimator.decision_function(X) for c in folds], axis=0)

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
    folds = list(GroupKFold(n_splits=3, shuffle=True, random_state=seed).split(X, y, groups))
    base = make_pipeline(StandardScaler(), LogisticRegression(C=0.3, max_iter=2000))
    classifier = CalibratedClassifierCV(base, method="isotonic", cv=folds).fit(X, y)
    # Out-of-fold quality for the card from the fold models the calibration already fitted.
    oof = np.empty(len(y))
    for (_, test_idx), fold in zip(folds, classifier.calibrated_classifiers_, strict=True):
        oof[test_idx] = fold.predict_proba(X[test_idx])[:, 1]
    card = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "n_projects": len(finished),
        "n_late": n_late,
        "n_rows": len(y),
        "fractions": list(TRAIN_FRACTIONS),
        "features": [{"name": f, "label": LABELS[f]} for f in FEATURES],
        "seed": seed,
        "sklearn": sklearn.__version__,
        "method": "logistic regression, isotonic calibration (grouped 3-fold)",
        "metrics": {
            "cv_auc": round(float(roc_auc_score(y, oof)), 4),
            "cv_brier": round(float(np.mean((oof - y) ** 2)), 4),
        },
    }
    bounds = np.percentile(X, [1, 99], axis=0)
    return RiskModel(classifier, context, np.median(X, axis=0), card, bounds)


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
            "classifier": model.classifier,
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
    return RiskModel(data["classifier"], data["context"], data["medians"], data["card"], data.get("bounds"))


def load_latest(directory: str | os.PathLike | None = None) -> RiskModel | None:
    """The newest saved version, or None when no model was trained yet."""
    if not _versions(model_dir(directory)):
        return None
    return load(directory)


def latest_version(directory: str | os.PathLike | None = None) -> tuple[int, datetime] | None:
    """(version, when its file was written, UTC) of the newest model, None without one."""
    d = model_dir(directory)
    versions = _versions(d)
    if not versions:
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
