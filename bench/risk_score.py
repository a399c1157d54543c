"""Time to score a province: 10,000 running projects with the delay model (issue 9 target ≤ 10 s).

    .venv/bin/python bench/risk_score.py [--projects 10000] [--runs 3]

Trains a model on 600 simulated histories, then builds 10,000 running projects (simulated
histories of several generators, each cut at a random point of its plan) and times
`model.score_histories` (features, probabilities and the top-3 Chinese factors of every project)
and, separately, the probabilities alone. Prints the median seconds of --runs runs. Run by
people, not by CI.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.risk import altgen, simulator  # noqa: E402
from backend.risk.features import snapshot  # noqa: E402
from backend.risk.model import score_histories, train  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    model = train(simulator.simulate(600, seed=1), seed=0)
    pool = simulator.simulate(1000, seed=3) + altgen.generate(1000, seed=3)
    rnd = random.Random(0)
    running = []
    while len(running) < args.projects:
        h = rnd.choice(pool)
        cut = snapshot(h, rnd.uniform(0.1, 0.95))
        if cut.weeks:
            running.append(cut)
    weeks = sum(len(h.weeks) for h in running)
    print(f"projects={len(running)} weeks={weeks}")
    full, probs, cpu = [], [], []
    for _ in range(args.runs):
        t, c = time.perf_counter(), time.process_time()
        scored = score_histories(model, running)
        full.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        t = time.perf_counter()
        model.score(running)
        probs.append(time.perf_counter() - t)
    assert len(scored) == len(running)
    print(f"score_histories_seconds={statistics.median(full):.2f} (features, probabilities, top-3 factors)")
    # CPU seconds of this process: what the scoring costs when other programs share the cores.
    print(f"score_histories_cpu_seconds={statistics.median(cpu):.2f}")
    print(f"probabilities_only_seconds={statistics.median(probs):.2f}")


if __name__ == "__main__":
    main()
