"""Seconds per scanned page with RapidOCR (issue 11 target ≤ 3 s per scanned page), and the
character error rate, for the reader's settings and alternatives.

    .venv/bin/python bench/ocr.py [--pages 6] [--seed 7] [--variants]

Builds scan-like pages with the test corpus' generator (tests/ocr/corpus.py: 150–200 dpi,
rotated up to ±1.5°, blurred, noisy, PNG/JPEG/image-only PDF), reads them with
backend.ocr.reader as the application does (render or downscale to OCR_LONG_SIDE, detection,
recognition, line joining) and prints seconds per page and the character error rate of the
OCR text against the page's text layer (edit distance without whitespace: it counts reading-order
differences of tables too, so compare it between settings, not with other tools). --variants also times other settings (recognition
height, detection side, render size, threads) for comparison. Run by people, not by CI: the
numbers depend on what else the machine is doing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.ocr import reader  # noqa: E402

VARIANTS = {
    "reader (rec 48 px, det max 1280, 1600 px, 1 thread)": {},
    "rec 36 px": {"rec_height": 36},
    "rec 32 px": {"rec_height": 32},
    "det on the full page (RapidOCR default: min side ≥ 736)": {
        "options": {"det_limit_type": "min", "det_limit_side_len": 736}
    },
    "2 onnxruntime threads": {"options": {"intra_op_num_threads": 2}},
    "render 2000 px": {"long_side": 2000},
}


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
        previous = current
    return previous[-1]


def _pages(count: int, seed: int):
    """(scan bytes, file name, the text layer of the page's PDF) for `count` single pages."""
    import pypdfium2

    from tests.ocr import corpus

    folder = Path(tempfile.mkdtemp(prefix="bench-ocr-"))
    out = []
    for spec in corpus.specs(n=count, seed=seed):
        pdf = corpus.text_pdf(spec)
        import random

        images = corpus.scan_images(pdf, random.Random(f"bench:{seed}:{spec.stem}"))
        document = pypdfium2.PdfDocument(pdf)
        for index, image in enumerate(images):
            text = document[index].get_textpage().get_text_range()
            path = folder / f"{spec.stem}-{index + 1}.png"
            image.save(path, "PNG")
            out.append((path.read_bytes(), path.name, "".join(text.split())))
            if len(out) >= count:
                return out
    return out


def _configure(*, rec_height=None, options=None, long_side=None) -> None:
    defaults = _DEFAULTS
    reader._engine = None
    reader.ENGINE_OPTIONS.clear()
    reader.ENGINE_OPTIONS.update(defaults["options"] | (options or {}))
    reader.REC_HEIGHT = rec_height or defaults["rec_height"]
    reader.OCR_LONG_SIDE = long_side or defaults["long_side"]
    reader.engine()  # loading the models is not part of a page's time


_DEFAULTS = {
    "options": dict(reader.ENGINE_OPTIONS),
    "rec_height": reader.REC_HEIGHT,
    "long_side": reader.OCR_LONG_SIDE,
}


def run(pages, label: str) -> None:
    seconds, errors, chars = [], 0, 0
    for data, name, truth in pages:
        started = time.perf_counter()
        document = reader.read_document(data, filename=name)
        seconds.append(time.perf_counter() - started)
        text = "".join(document.pages[0].text.split())
        errors += _edit_distance(truth, text)
        chars += len(truth)
    print(
        f"{label:58} {statistics.mean(seconds):5.2f} s/page (median {statistics.median(seconds):.2f}, "
        f"max {max(seconds):.2f})  CER {errors / max(chars, 1):.2%}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--variants", action="store_true")
    args = parser.parse_args()
    pages = _pages(args.pages, args.seed)
    print(f"{len(pages)} scanned pages; {sum(len(t) for *_x, t in pages)} characters of text")
    variants = VARIANTS if args.variants else dict(list(VARIANTS.items())[:1])
    for label, settings in variants.items():
        _configure(**settings)
        run(pages, label)
    _configure()


if __name__ == "__main__":
    main()
