"""Cross-generator back-test of the delay model (issue 9): train on one generator, test on another.

    .venv/bin/python bench/risk_backtest.py [--train-n 1200] [--test-n 800] [--seed 0]

Three generators with different mechanisms (backend/risk/simulator.py, altgen.py, altgen2.py).
For each ordered pair (train ≠ test) it prints the back-test's lines (`flask risk backtest`
format) prefixed with the pair, then the matrix of AUC (naive AUC) and of AUC − naive AUC at
each horizon, and a leave-one-generator-out block (train on the other two, test on the third).
Deterministic for the seeds: training sets use seed 1, test sets seed 7. Run by people, not by CI (a few minutes).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.risk import altgen, altgen2, simulator  # noqa: E402
from backend.risk.backtest import evaluate, lines  # noqa: E402
from backend.risk.model import train  # noqa: E402

GENERATORS = {
    "simulator": lambda n, seed: simulator.simulate(n, seed=seed),
    "altgen": lambda n, seed: altgen.generate(n, seed=seed),
    "altgen2": lambda n, seed: altgen2.generate(n, seed=seed),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-n", type=int, default=1200)
    parser.add_argument("--test-n", type=int, default=800)
    parser.add_argument("--seed", type=int, default=0, help="the model's seed (folds)")
    args = parser.parse_args()
    started = time.perf_counter()
    trains = {g: make(args.train_n, 1) for g, make in GENERATORS.items()}
    tests = {g: make(args.test_n, 7) for g, make in GENERATORS.items()}
    models = {g: train(hs, seed=args.seed) for g, hs in trains.items()}
    results = {}
    for a, model in models.items():
        for b, test in tests.items():
            if a == b:
                continue
            results[a, b] = result = evaluate(model, test)
            for line in lines(result):
                print(f"train={a} test={b} {line}", flush=True)
    print("\nAUC (naive) at 25% / 50% / 75%, rows: trained on, columns: tested on")
    names = list(GENERATORS)
    print(" " * 10 + "".join(f"{b:>42}" for b in names))
    for a in names:
        cells = []
        for b in names:
            if a == b:
                cells.append(f"{'-':>42}")
                continue
            h = results[a, b]["horizons"]
            text = " ".join(f"{m['auc']:.3f}({m['naive_auc']:.3f})" for m in h.values())
            cells.append(f"{text:>42}")
        print(f"{a:>10}" + "".join(cells))
    # The target is "above naive at every horizon": the margins, to 4 decimals (late in the plan
    # they are small, and 3 decimals would show ties).
    print("\nAUC - naive AUC at 25% / 50% / 75%")
    for a in names:
        cells = []
        for b in names:
            if a == b:
                cells.append(f"{'-':>30}")
                continue
            h = results[a, b]["horizons"]
            text = " ".join(f"{m['auc'] - m['naive_auc']:+.4f}" for m in h.values())
            cells.append(f"{text:>30}")
        print(f"{a:>10}" + "".join(cells))
    print("\nleave one generator out (train on the other two)")
    for b in names:
        pooled = [h for a in names if a != b for h in trains[a]]
        result = evaluate(train(pooled, seed=args.seed), tests[b])
        for line in lines(result):
            print(f"train=not-{b} test={b} {line}", flush=True)
    print(f"\nseconds={time.perf_counter() - started:.0f}")


if __name__ == "__main__":
    main()
