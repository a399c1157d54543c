"""Corpora for the OCR tests (tests/ocr/corpus.py), built once per test session in a
temporary folder: generating them takes a few seconds, reading them most of the run."""

import pytest

from tests.ocr import corpus

# Corpora of the accuracy tests, of every layout but the DEV ones: three text PDFs and two
# scans per layout, read in about a minute and a half.
TEXT_SEED, TEXT_N = 11, 3 * len(corpus.MEASURED_LAYOUTS)
SCAN_SEED, SCAN_N = 12, 2 * len(corpus.MEASURED_LAYOUTS)


@pytest.fixture(scope="session")
def held_out_text_pdfs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ocr-text")
    return corpus.generate(folder, n=TEXT_N, seed=TEXT_SEED, layouts=corpus.MEASURED_LAYOUTS, scans=False)


@pytest.fixture(scope="session")
def held_out_scans(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ocr-scans")
    return corpus.generate(
        folder, n=SCAN_N, seed=SCAN_SEED, layouts=corpus.MEASURED_LAYOUTS, scans=True, text=False
    )
