"""Extraction measured against ground truth: every `X.pdf` / `X.png` / `X.jpg` / `X.jpeg` in a
folder with `X.json` beside it (the issue's format; a missing key = not in the document).

Per field: a prediction equal to the truth (comparison rule below) is a true positive; a
wrong prediction is a false positive and, the truth being missed, also a false negative; a
prediction for a field absent from the truth is a false positive; a truth with no correct
prediction is a false negative. Strings are compared without whitespace and with full-width
forms folded (NFKC); amounts as Decimal; months as "YYYY-MM" strings.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from backend.ocr.fields import find_fields
from backend.ocr.reader import DocumentError, read_document

TRUTH_FIELDS = (
    "project_name",
    "project_code",
    "owner_unit",
    "location",
    "total_investment_yuan",
    "planned_start",
    "planned_end",
)
DOCUMENT_SUFFIXES = (".pdf", ".png", ".jpg", ".jpeg")


def normalise(value) -> str:
    return "".join(unicodedata.normalize("NFKC", str(value)).split())


def same(name: str, truth, predicted) -> bool:
    if name == "total_investment_yuan":
        try:
            return Decimal(str(truth)) == Decimal(str(predicted))
        except InvalidOperation:
            return False
    if name in ("planned_start", "planned_end"):
        return str(truth) == str(predicted)
    return normalise(truth) == normalise(predicted)


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def as_dict(self) -> dict:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
        }


@dataclass
class Evaluation:
    fields: dict[str, Counts] = field(default_factory=lambda: {name: Counts() for name in TRUTH_FIELDS})
    documents: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)  # (file, DocumentError message)
    misses: list[str] = field(default_factory=list)
    # method ("text" | "ocr") -> [pages, seconds]
    pages: dict[str, list] = field(default_factory=lambda: {"text": [0, 0.0], "ocr": [0, 0.0]})

    @property
    def overall(self) -> Counts:
        return Counts(
            tp=sum(c.tp for c in self.fields.values()),
            fp=sum(c.fp for c in self.fields.values()),
            fn=sum(c.fn for c in self.fields.values()),
        )

    def seconds_per_page(self, method: str) -> float | None:
        pages, seconds = self.pages[method]
        return seconds / pages if pages else None

    def as_dict(self) -> dict:
        return {
            "documents": self.documents,
            "fields": {name: counts.as_dict() for name, counts in self.fields.items()},
            "overall": self.overall.as_dict(),
            "pages": {
                method: {
                    "pages": pages,
                    "seconds": round(seconds, 3),
                    "seconds_per_page": None if not pages else round(seconds / pages, 3),
                }
                for method, (pages, seconds) in self.pages.items()
            },
            "errors": [{"file": name, "message": message} for name, message in self.errors],
            "misses": self.misses,
        }


def documents_in(folder: Path) -> list[Path]:
    """The documents of `folder` that have a ground-truth JSON beside them, by name."""
    return sorted(
        path
        for path in Path(folder).iterdir()
        if path.suffix.lower() in DOCUMENT_SUFFIXES and path.with_suffix(".json").is_file()
    )


def evaluate(folder: Path, *, progress: Callable[[Path], None] | None = None) -> Evaluation:
    result = Evaluation()
    for path in documents_in(folder):
        if progress:
            progress(path)
        truth = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        result.documents += 1
        try:
            document = read_document(path.read_bytes(), filename=path.name)
        except DocumentError as exc:
            result.errors.append((path.name, str(exc)))
            found = {}
        else:
            for page in document.pages:
                result.pages[page.method][0] += 1
                result.pages[page.method][1] += page.seconds
            found = find_fields(document)
        score(result, path.name, truth, found)
    return result


def score(result: Evaluation, name: str, truth: dict, found: dict) -> None:
    """Add one document's predictions to the counts (the rule of the module docstring)."""
    for field_name in TRUTH_FIELDS:
        hit = found.get(field_name)
        counts = result.fields[field_name]
        expected = truth.get(field_name)
        if hit is not None and expected is not None and same(field_name, expected, hit.value):
            counts.tp += 1
            continue
        if hit is not None:
            counts.fp += 1
        if expected is not None:
            counts.fn += 1
        if hit is None and expected is None:
            continue
        result.misses.append(
            f"{name} {field_name}: truth {expected!r}, found {hit.value if hit else None!r}"
            + (f" from {hit.snippet!r} p.{hit.page}" if hit else "")
        )


def report(result: Evaluation) -> str:
    lines = [f"{result.documents} documents", f"{'field':24} {'precision':>9} {'recall':>9}   tp/fp/fn"]
    for name, counts in [*result.fields.items(), ("overall", result.overall)]:
        lines.append(
            f"{name:24} {counts.precision:>9.2%} {counts.recall:>9.2%}   {counts.tp}/{counts.fp}/{counts.fn}"
        )
    for method, label in (("text", "text-PDF pages"), ("ocr", "scanned (OCR) pages")):
        per_page = result.seconds_per_page(method)
        pages = result.pages[method][0]
        lines.append(f"{label}: {pages}" + (f", {per_page:.2f} s per page" if per_page is not None else ""))
    for name, message in result.errors:
        lines.append(f"unreadable {name}: {message}")
    return "\n".join(lines)
