"""Write a corpus of synthetic project documents with ground truth (issue 11) for the evaluation:

    .venv/bin/python bench/ocr_corpus.py OUT_DIR [--n 60] [--seed 1] [--held-out-only] [--no-scans]
    .venv/bin/flask --app app ocr evaluate OUT_DIR

Each document is written as a text PDF `X.pdf` and a scan-like image `X-scan.png` / `.jpg` /
`.pdf`, each with its truth `X.json` (tests/ocr/corpus.py describes the layouts, which of them
are held out from the extraction's development, and the truth's format). Deterministic for a seed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.ocr import corpus  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--n", type=int, default=60, help="documents (each as text PDF and scan)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--held-out-only", action="store_true", help="only the held-out layouts")
    parser.add_argument("--no-scans", action="store_true", help="text PDFs only")
    args = parser.parse_args(argv)
    layouts = corpus.HELD_OUT_LAYOUTS if args.held_out_only else corpus.LAYOUTS
    started = time.perf_counter()
    paths = corpus.generate(args.out_dir, n=args.n, seed=args.seed, layouts=layouts, scans=not args.no_scans)
    kinds = Counter(p.suffix for p in paths)
    print(
        f"{len(paths)} documents in {args.out_dir} ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}),"
        f" layouts {', '.join(layouts)}, seed {args.seed}, {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
