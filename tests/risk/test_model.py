"""The delay model: training, calibration sanity, grading, save/load and versions (issue 9)."""

import dataclasses
import json
import random
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest

from backend.risk import model as risk_model
from backend.risk.explain import explain, explain_histories
from backend.risk.features import FEATURES
from backend.risk.history import History, Week
from backend.risk.model import RiskModelError, grade, load, save, thresholds, train


def make_history(
    pid: str,
    *,
    slow: float,
    weeks_total: int = 60,
    shortage: float = 0.0,
    seed: int = 0,
    contractor: str = "甲建设",
    industry: str = "交通",
    start=date(2022, 3, 7),
) -> History:
    """A small hand-made history: the actual pace is the plan's times (1 - slow), plus noise;
    shortage is the chance of a lost day. Finished when actual progress reaches 1."""
    rnd = random.Random(seed)
    end = start + timedelta(weeks=weeks_total)
    weeks, actual, w = [], 0.0, 0
    while actual < 1.0 and w < weeks_total * 3:
        lost = sum(rnd.random() < shortage for _ in range(7))
        planned = min((w + 1) / weeks_total, 1.0)
        actual = min(actual + (1 - slow) * (7 - lost) / 7 / weeks_total * rnd.uniform(0.8, 1.2), 1.0)
        weeks.append(
            Week(
                start + timedelta(weeks=w),
                planned,
                actual,
                Decimal(int(planned * 1e6)),
                Decimal(int(actual * 0.9e6)),
                2 + int(slow * 10),
                int(slow * 5),
                5,
                40,
                lost,
                0,
            )
        )
        w += 1
    actual_end = start + timedelta(weeks=w) if actual >= 1.0 else None
    return History(
        pid, industry, "110000", contractor, Decimal("50000000"), start, end, actual_end, tuple(weeks)
    )


def make_set(n: int, seed: int) -> list[History]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        bad = rnd.random() < 0.4
        slow = rnd.uniform(0.15, 0.45) if bad else rnd.uniform(-0.1, 0.1)
        out.append(
            make_history(
                f"P{seed}-{i}",
                slow=slow,
                shortage=rnd.uniform(0, 0.2) + 0.2 * bad,
                weeks_total=rnd.randint(40, 90),
                seed=seed * 1000 + i,
                contractor=f"承建{rnd.randint(1, 8)}",
                start=date(2020, 1, 6) + timedelta(weeks=rnd.randint(0, 150)),
            )
        )
    return out


@pytest.fixture(scope="module")
def trained():
    histories = make_set(160, seed=1)
    return histories, train(histories, seed=0)


@pytest.fixture()
def model_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "RISK_MODEL_DIR", str(tmp_path / "models"))
    return tmp_path / "models"


def test_train_separates_slow_projects(trained):
    histories, model = trained
    assert model.card["metrics"]["cv_auc"] > 0.8
    test = make_set(60, seed=2)
    from backend.risk.features import snapshot

    cut = [snapshot(h, 0.5) for h in test if h.actual_end is not None]
    p = model.score(cut)
    late = np.array([bool(h.late) for h in test if h.actual_end is not None])
    assert ((p >= 0) & (p <= 1)).all()
    assert p[late].mean() > p[~late].mean() + 0.2


def test_too_little_data_is_refused():
    with pytest.raises(RiskModelError, match="训练数据不足"):
        train(make_set(6, seed=3))


def test_versions_save_load_and_latest(app, trained, model_dir):
    _, model = trained
    with app.app_context():
        assert risk_model.load_latest() is None
        assert risk_model.latest_version() is None
        first = save(model)
        second = save(model)
        assert (first.name, second.name) == ("model-v1.joblib", "model-v2.joblib")
        card = json.loads((model_dir / "model-v2.json").read_text("utf-8"))
        assert card["version"] == 2 and card["features"][0]["name"] == "gap_now"
        latest = risk_model.load_latest()
        assert latest.version == 2
        assert load(version=1).version == 1
        with pytest.raises(RiskModelError, match="v9"):
            load(version=9)
        h = make_set(3, seed=4)
        assert np.allclose(latest.score(h), model.score(h))


def test_grades_accept_rule_keys_and_decimals():
    limits = {"model_red": Decimal("0.8"), "model_orange": Decimal("0.5"), "model_yellow": Decimal("0.3")}
    assert risk_model.grade_of(0.85, limits) == "red"
    assert risk_model.grade_of(0.5, limits) == "orange"
    assert risk_model.grade_of(0.31, limits) == "yellow"
    assert risk_model.grade_of(0.29, limits) is None
    assert grade(0.71, {"red": 0.7, "orange": 0.4, "yellow": 0.2}) == "red"
    assert thresholds() == {"red": 0.7, "orange": 0.4, "yellow": 0.2}


def test_score_histories_gives_probability_and_chinese_factors(trained):
    _, model = trained
    slow = make_history("SLOW", slow=0.5, shortage=0.4, seed=9)
    fast = make_history("FAST", slow=-0.1, seed=10)
    from backend.risk.features import snapshot

    scored = risk_model.score_histories(model, [snapshot(slow, 0.5), snapshot(fast, 0.5)])
    (p_slow, f_slow), (p_fast, _) = scored
    assert p_slow > 0.7 > 0.3 > p_fast
    assert 1 <= len(f_slow) <= 3
    assert all(f["contribution"] > 0 and any("\u4e00" <= ch <= "\u9fff" for ch in f["text"]) for f in f_slow)
    assert risk_model.score_histories(model, []) == []
    # explain agrees with score_histories
    assert explain_histories(model, [snapshot(slow, 0.5)])[0] == f_slow
    assert explain(model, model.matrix([snapshot(slow, 0.5)]), top=1)[0] == f_slow[:1]


def test_model_page_cards_match_saved_versions(app, trained, model_dir):
    _, model = trained
    with app.app_context():
        save(model)
        assert [p.name for p in sorted(model_dir.iterdir())] == ["model-v1.joblib", "model-v1.json"]


def test_history_helper_is_late_when_slow():
    h = make_history("X", slow=0.4, seed=1)
    assert h.late
    assert not make_history("Y", slow=-0.1, seed=1).late
    assert dataclasses.replace(h, actual_end=None).late is None


def test_signals_far_outside_training_count_as_the_most_extreme_seen(trained, app, model_dir):
    """A linear model would extrapolate a signal far outside training (a crew 50 times its early
    peak after a sparse start on the platform) into certainty; the model scores it as the
    training data's 99th percentile instead. Not the schedule deviation: days behind far beyond
    training do mean late, and other generators' projects run later than the training set's."""
    histories, model = trained
    X = model.matrix([histories[0]])
    unclipped = dataclasses.replace(model, bounds=None)
    moved = 0
    deviation = FEATURES.index("es_days_behind")
    far = X.copy()
    far[0, deviation] = model.bounds[1, deviation] + 365
    assert model.logit_matrix(far)[0] > model.logit_matrix(X)[0] + 1
    for column in range(X.shape[1]):
        if column == deviation:
            continue
        at_bound, far_out = X.copy(), X.copy()
        at_bound[0, column] = model.bounds[1, column]
        far_out[0, column] = model.bounds[1, column] + 50 * (abs(model.bounds[1, column]) + 1)
        assert model.logit_matrix(far_out)[0] == pytest.approx(model.logit_matrix(at_bound)[0])
        moved += unclipped.logit_matrix(far_out)[0] != pytest.approx(unclipped.logit_matrix(at_bound)[0])
    assert moved >= 3  # without the bounds the same values do move the score
    with app.app_context():
        save(model)
        assert np.allclose(risk_model.load_latest().bounds, model.bounds)


def test_a_file_of_the_older_format_is_refused_and_counts_as_no_model(app, trained, model_dir):
    """A model saved before the stacked format: load refuses it in Chinese, latest_version says
    there is none (so the scheduler retrains at once), and the next save is a new version."""
    import joblib

    _, model = trained
    with app.app_context():
        save(model)
        old_card = {k: v for k, v in model.card.items() if k != "format"}
        joblib.dump(
            {"classifier": object(), "context": model.context, "card": old_card},
            model_dir / "model-v1.joblib",
        )
        (model_dir / "model-v1.json").write_text(json.dumps(old_card), "utf-8")
        with pytest.raises(RiskModelError, match="旧格式.*重新训练"):
            load(version=1)
        with pytest.raises(RiskModelError, match="旧格式"):
            risk_model.load_latest()
        assert risk_model.latest_version() is None
        from backend.risk.warnings import load_model

        assert load_model() is None  # the rules still run without it
        save(model)
        assert risk_model.latest_version()[0] == 2
        assert risk_model.load_latest().version == 2
