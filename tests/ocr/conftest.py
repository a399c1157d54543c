"""Corpora for the OCR tests (tests/ocr/corpus.py), built once per test session in a
temporary folder: generating them takes a few seconds, reading them most of the run."""

import pytest

from tests.ocr import corpus

# Held-out corpora of the accuracy tests: small enough to read in about a minute.
TEXT_SEED, TEXT_N = 11, 15
SCAN_SEED, SCAN_N = 12, 10


@pytest.fixture(scope="session")
def held_out_text_pdfs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ocr-text")
    return corpus.generate(folder, n=TEXT_N, seed=TEXT_SEED, layouts=corpus.HELD_OUT_LAYOUTS, scans=False)


@pytest.fixture(scope="session")
def held_out_scans(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ocr-scans")
    return corpus.generate(
        folder, n=SCAN_N, seed=SCAN_SEED, layouts=corpus.HELD_OUT_LAYOUTS, scans=True, text=False
    )
