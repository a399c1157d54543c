"""The test corpus itself (tests/ocr/corpus.py): its ground truth is what the documents show,
its project codes are valid, its formats are worked out by hand, and it is deterministic."""

import json
from datetime import date
from decimal import Decimal

import pypdfium2 as pdfium
from PIL import Image

from backend.org.regions import KNOWN_CODES
from backend.projects.service import validate_project_code
from tests.ocr import corpus


def _text(data: bytes) -> str:
    document = pdfium.PdfDocument(data)
    try:
        return "".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()


def _squeezed(text: str) -> str:
    return "".join(text.split())


def test_layouts_split_into_dev_and_held_out():
    assert corpus.DEV_LAYOUTS == ("proposal_cover", "fsr_prose", "design_kv")
    assert corpus.HELD_OUT_LAYOUTS == (
        "form_grid",
        "letter",
        "mixed_report",
        "register_columns",
        "cost_summary",
    )
    assert set(corpus.RENDERERS) == set(corpus.LAYOUTS)


def test_amount_formats():
    wan = Decimal("12500")
    assert corpus.amount_text(wan, "wan_commas") == "12,500万元"
    assert corpus.amount_text(wan, "wan") == "12500万元"
    assert corpus.amount_text(wan, "wan_2dp") == "12500.00万元"
    assert corpus.amount_text(wan, "yi") == "1.25亿元"
    assert corpus.amount_text(wan, "about_yi") == "约1.25亿元"
    assert corpus.amount_text(wan, "yuan") == "125000000元"
    assert corpus.amount_text(wan, "yuan_commas") == "125,000,000.00元"
    assert corpus.amount_text(Decimal("8650.35"), "wan_commas") == "8,650.35万元"
    assert "yi" not in corpus.amount_styles(Decimal("8650.35"))


def test_capital_amounts():
    assert corpus.capital_yuan(125000000) == "壹亿贰仟伍佰万元整"
    assert corpus.capital_yuan(100000500) == "壹亿零伍佰元整"
    assert corpus.capital_yuan(245810700) == "贰亿肆仟伍佰捌拾壹万零柒佰元整"
    assert corpus.capital_yuan(24581070) == "贰仟肆佰伍拾捌万壹仟零柒拾元整"


def test_month_formats():
    assert [corpus.month_text(2026, 3, s) for s in ("cn", "cn0", "dot", "dash", "slash")] == [
        "2026年3月",
        "2026年03月",
        "2026.03",
        "2026-03",
        "2026/03",
    ]


def test_same_seed_same_documents_other_seed_others():
    first = corpus.specs(n=6, seed=5)
    assert [s.truth for s in first] == [s.truth for s in corpus.specs(n=6, seed=5)]
    assert [s.html for s in first] == [s.html for s in corpus.specs(n=6, seed=5)]
    assert [s.truth for s in first] != [s.truth for s in corpus.specs(n=6, seed=6)]
    assert [s.layout for s in first] == list(corpus.LAYOUTS[:6])


def test_truth_values_are_valid():
    for spec in corpus.specs(n=60, seed=2):
        truth = spec.truth
        assert set(truth) <= set(corpus.TRUTH_KEYS)
        assert truth["project_name"]
        if "project_code" in truth:
            assert validate_project_code(truth["project_code"], today=date(2026, 12, 31)) == []
            assert truth["project_code"][5:11] in KNOWN_CODES
        funding = sum(Decimal(f["amount"]) for f in spec.extra["funding_sources"])
        if "total_investment_yuan" in truth:
            assert Decimal(truth["total_investment_yuan"]) == funding
        for key in ("planned_start", "planned_end"):
            if key in truth:
                year, month = truth[key].split("-")
                assert len(year) == 4 and 1 <= int(month) <= 12
        if "planned_end" in truth:
            assert truth["planned_start"] < truth["planned_end"]


def test_period_only_documents_have_no_completion_month():
    periods = [
        s for s in corpus.specs(n=60, seed=2) if "planned_start" in s.truth and "planned_end" not in s.truth
    ]
    assert periods  # the form occurs
    for spec in periods:
        assert f"建设期{spec.extra['construction_period']}个月，自" in spec.html


def test_text_pdfs_show_their_truth(tmp_path):
    paths = corpus.generate(tmp_path, n=8, seed=3, scans=False)
    assert [p.name for p in paths] == [f"doc-{i:03d}-{layout}.pdf" for i, layout in enumerate(corpus.LAYOUTS)]
    for path in paths:
        truth = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        text = _squeezed(_text(path.read_bytes()))
        for key in ("project_name", "project_code", "owner_unit", "location"):
            if key in truth:
                assert truth[key] in text, (path.name, key)
        assert truth == corpus.spec_of(path, seed=3, n=8).truth


def test_scans_are_images_to_ocr(tmp_path):
    paths = corpus.generate(tmp_path, n=6, seed=3, scans=True, text=False)
    assert all(p.stem.endswith("-scan") for p in paths)
    text_truths = [s.truth for s in corpus.specs(n=6, seed=3)]
    assert [json.loads(p.with_suffix(".json").read_text(encoding="utf-8")) for p in paths] == text_truths
    for path in paths:
        if path.suffix == ".pdf":
            # image-only: no text layer
            assert _squeezed(_text(path.read_bytes())) == ""
        else:
            image = Image.open(path)
            assert image.mode == "L"
            assert 150 <= round(image.info["dpi"][0]) <= 200
            # A4 at 150–200 dpi, a little larger for the rotation
            assert 1240 <= image.width <= 1700 and 1750 <= image.height <= 2400
    # the two-page layouts are scanned into multi-page image PDFs
    cover = next(p for p in paths if "proposal_cover" in p.name)
    assert cover.suffix == ".pdf"
    document = pdfium.PdfDocument(cover.read_bytes())
    try:
        assert len(document) == 2
    finally:
        document.close()
