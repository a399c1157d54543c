"""Back-test: reproducible for a seed, in the issue's line format, through the CLI too."""

import re

import pytest

from backend.risk import altgen, simulator
from backend.risk.backtest import HORIZONS, evaluate, lines, run
from backend.risk.history import write_jsonl
from backend.risk.model import train

LINE = re.compile(
    r"^horizon=(25|50|75)% auc=(0\.\d{3}|1\.000|nan) naive_auc=(0\.\d{3}|1\.000|nan) "
    r"red_precision=(\d\.\d{3}|nan) red_recall=(\d\.\d{3}|nan) "
    r"orange_precision=(\d\.\d{3}|nan) orange_recall=(\d\.\d{3}|nan)$"
)


@pytest.fixture(scope="module")
def sets():
    return simulator.simulate(150, seed=31), altgen.generate(120, seed=32)


def test_lines_reproducible_and_in_the_issue_format(sets):
    a, b = sets
    first = run(a, b, seed=3)
    assert first == run(a, b, seed=3)
    assert len(first) == 4
    assert [LINE.match(line).group(1) for line in first[:3]] == ["25", "50", "75"]
    assert re.fullmatch(r"lead_time_median_days=-?\d+", first[3])


def test_evaluate_is_better_than_chance_and_leads_are_per_late_project(sets):
    a, b = sets
    result = evaluate(train(a, seed=0), b)
    assert set(result["horizons"]) == set(HORIZONS)
    assert result["horizons"][0.75]["auc"] > 0.7
    assert len(result["leads"]) == result["n_late"] > 0
    assert lines(result)[-1] == f"lead_time_median_days={result['lead_time_median_days']:.0f}"


def test_cli_backtest_prints_the_lines(app, sets, tmp_path):
    a, b = sets
    write_jsonl(tmp_path / "a.jsonl", a)
    write_jsonl(tmp_path / "b.jsonl", b)
    args = ["risk", "backtest", "--train", str(tmp_path / "a.jsonl"), "--test", str(tmp_path / "b.jsonl")]
    result = app.test_cli_runner().invoke(args=[*args, "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == run(a, b, seed=3)


def test_cli_backtest_with_too_little_training_data_fails_in_chinese(app, sets, tmp_path):
    a, b = sets
    write_jsonl(tmp_path / "a.jsonl", a[:4])
    write_jsonl(tmp_path / "b.jsonl", b)
    args = ["risk", "backtest", "--train", str(tmp_path / "a.jsonl"), "--test", str(tmp_path / "b.jsonl")]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 1
    assert "训练数据不足" in result.output


def test_cli_train_saves_a_version(app, sets, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "RISK_MODEL_DIR", str(tmp_path / "models"))
    write_jsonl(tmp_path / "a.jsonl", sets[0])
    result = app.test_cli_runner().invoke(args=["risk", "train", "--file", str(tmp_path / "a.jsonl")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("version=1 projects=")
    assert (tmp_path / "models" / "model-v1.joblib").exists()


@pytest.fixture(scope="module")
def cross_generator():
    return simulator.simulate(300, seed=41), altgen.generate(300, seed=141)


def test_on_another_generator_the_model_does_not_rank_below_the_schedule_deviation(cross_generator):
    """Trained on the simulator, scored on altgen (another mechanism): at every horizon the
    model ranks projects at least about as well as the naive score (the schedule deviation). The
    earlier single logistic model fell 0.009 below it at 75 % here (its other signals overrode
    the deviation late in the plan); the stacked model stays within rounding of it or above.
    A small fixed-seed set, so a margin of 0.002 is allowed instead of a strict "above"."""
    a, b = cross_generator
    result = evaluate(train(a, seed=0), b)
    for horizon, m in result["horizons"].items():
        assert m["auc"] >= m["naive_auc"] - 0.002, (horizon, m["auc"], m["naive_auc"])
    early = result["horizons"][0.25]
    assert early["auc"] > early["naive_auc"] + 0.005
