"""The test corpus itself (tests/ocr/corpus.py): its ground truth is what the documents show,
its project codes are valid, its formats are worked out by hand, and it is deterministic."""

import html
import json
import random
import re
from datetime import date
from decimal import Decimal

import pypdfium2 as pdfium
import pytest
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
    assert corpus.FRESH_LAYOUTS == ("filing_certificate", "approval_reply", "plan_table")
    assert corpus.BLIND_LAYOUTS == ("fund_application", "progress_card", "review_opinion")
    assert corpus.BLIND2_LAYOUTS == ("platform_print", "project_request", "meeting_minutes")
    assert corpus.BLIND3_LAYOUTS == ("approval_sheet", "tender_scheme", "public_notice")
    assert corpus.LAYOUTS == (
        corpus.DEV_LAYOUTS
        + corpus.HELD_OUT_LAYOUTS
        + corpus.FRESH_LAYOUTS
        + corpus.BLIND_LAYOUTS
        + corpus.BLIND2_LAYOUTS
        + corpus.BLIND3_LAYOUTS
    )
    assert set(corpus.RENDERERS) == set(corpus.LAYOUTS)
    # test_accuracy tells a document's layout by the end of its name
    for layout in corpus.LAYOUTS:
        assert [other for other in corpus.LAYOUTS if layout.endswith(other)] == [layout]


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
    assert {s.layout for s in periods} & set(corpus.FRESH_LAYOUTS)
    for spec in periods:
        # worded as those documents word it
        blind = corpus.FRESH_LAYOUTS + corpus.BLIND_LAYOUTS + corpus.BLIND2_LAYOUTS + corpus.BLIND3_LAYOUTS
        if spec.layout in blind:
            assert f"{spec.extra['construction_period']}个月" in spec.html
        else:
            assert f"建设期{spec.extra['construction_period']}个月，自" in spec.html


def test_text_pdfs_show_their_truth(tmp_path):
    paths = corpus.generate(tmp_path, n=len(corpus.LAYOUTS), seed=3, scans=False)
    assert [p.name for p in paths] == [f"doc-{i:03d}-{layout}.pdf" for i, layout in enumerate(corpus.LAYOUTS)]
    for path in paths:
        truth = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        text = _squeezed(_text(path.read_bytes()))
        for key in ("project_name", "project_code", "owner_unit", "location"):
            if key in truth:
                assert truth[key] in text, (path.name, key)
        assert truth == corpus.spec_of(path, seed=3, n=len(corpus.LAYOUTS)).truth


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


# --- the FRESH layouts (session 21) ---------------------------------------------------------


def _html_text(markup: str) -> str:
    """What a document shows, from its HTML: no style sheet, no tags, no whitespace."""
    markup = re.sub(r"<style>.*?</style>", "", markup, flags=re.S)
    return _squeezed(html.unescape(re.sub(r"<[^>]+>", "", markup)))


def _values_and_omitted(seed: int, i: int):
    """The values and omitted keys document i of `specs(seed=seed)` was drawn with."""
    rng = random.Random(f"ocr-corpus:{seed}:{i}")
    return corpus._values(rng), corpus._omitted(rng)


def _amount_forms(yuan: str) -> set[str]:
    """How a document may write an amount: with its unit, or as a bare 万元 figure in a table
    (or a bare 亿元 figure with two places, under a label in 亿元)."""
    wan = Decimal(yuan) / 10000
    written = {corpus.amount_text(wan, style) for style in corpus.amount_styles(wan)}
    if wan % 100 == 0:
        written.add(f"{wan / 10000:.2f}")
    return written | {f"{wan:.2f}", corpus._wan_text(wan, commas=True), corpus._wan_text(wan, commas=False)}


def _with_unit(forms: set[str]) -> set[str]:
    return {f for f in forms if f.endswith("元")} | {f for f in forms if "." in f}


def _month_forms(year_month: str) -> set[str]:
    year, month = (int(x) for x in year_month.split("-"))
    forms = {corpus.month_text(year, month, style) for style in ("cn", "cn0", "dot", "dash", "slash")}
    return forms | {f"{year}.{month}"}


def _without_days(text: str) -> str:
    # the document's own date (落款, 填报日期) is a day, never a planned month
    return re.sub(r"\d{4}年\d{1,2}月\d{1,2}日", "", text)


def test_amount_and_month_forms_of_the_checks():
    assert _amount_forms("125000000.00") >= {
        "12500万元",
        "1.25亿元",
        "12,500",
        "12500.00",
        "125,000,000.00元",
        "1.25",
    }
    assert "0.87" not in _amount_forms("86500000.00")  # 8650万元 is no round 亿 figure
    assert "12500" not in _with_unit(_amount_forms("125000000.00"))
    assert _month_forms("2026-03") == {"2026年3月", "2026年03月", "2026.03", "2026-03", "2026/03", "2026.3"}
    assert _without_days("2025年11月3日印发，2026年3月开工") == "印发，2026年3月开工"


@pytest.mark.parametrize(
    "layouts",
    [corpus.FRESH_LAYOUTS, corpus.BLIND_LAYOUTS, corpus.BLIND2_LAYOUTS, corpus.BLIND3_LAYOUTS],
    ids=["fresh", "blind", "blind2", "blind3"],
)
def test_fresh_layouts_show_their_truth_and_nothing_omitted(layouts):
    seed, n = 12, 150
    specs = corpus.specs(n=n, seed=seed, layouts=layouts)
    omitted_somewhere = set()
    period_only = 0
    for i, spec in enumerate(specs):
        v, omit = _values_and_omitted(seed, i)
        omitted_somewhere |= {(spec.layout, key) for key in omit}
        truth = spec.truth
        text = _html_text(spec.html)
        days_out = _without_days(text)
        assert truth["project_name"] == v["project_name"] and truth["project_name"] in text
        for key in ("project_code", "owner_unit", "location"):
            assert (key in truth) == (key not in omit), (spec.stem, key)
            if key in truth:
                assert truth[key] in text, (spec.stem, key)
            # (the name may hold the place or the owner: 柯桥区人民医院门急诊综合楼建设项目)
            elif v[key] not in v["project_name"]:
                assert v[key] not in text, (spec.stem, key)
        yuan = f"{v['wan'] * 10000:.2f}"
        if "total_investment_yuan" in omit:
            assert "total_investment_yuan" not in truth
            assert not {f for f in _with_unit(_amount_forms(yuan)) if f in text}, spec.stem
        else:
            assert truth["total_investment_yuan"] == yuan
            assert {f for f in _amount_forms(yuan) if f in text}, spec.stem
        start, end = "{:04d}-{:02d}".format(*v["start"]), "{:04d}-{:02d}".format(*v["end"])
        if "dates" in omit:
            assert "planned_start" not in truth and "planned_end" not in truth
            assert not {f for f in _month_forms(start) | _month_forms(end) if f in days_out}, spec.stem
            continue
        assert truth["planned_start"] == start
        assert {f for f in _month_forms(start) if f in text}, spec.stem
        if "planned_end" in truth:
            assert truth["planned_end"] == end
            assert {f for f in _month_forms(end) if f in text}, spec.stem
        else:  # only the construction period, and it is in the extra truth
            period_only += 1
            assert not {f for f in _month_forms(end) if f in days_out}, spec.stem
            assert f"{spec.extra['construction_period']}个月" in text
    # the sample exercises every omission in every layout, and the period-only form
    keys = ("project_code", "owner_unit", "location", "total_investment_yuan", "dates")
    assert omitted_somewhere == {(layout, key) for layout in layouts for key in keys}
    assert period_only


@pytest.mark.parametrize(
    "layouts",
    [corpus.FRESH_LAYOUTS, corpus.BLIND_LAYOUTS, corpus.BLIND2_LAYOUTS, corpus.BLIND3_LAYOUTS],
    ids=["fresh", "blind", "blind2", "blind3"],
)
def test_fresh_layouts_are_deterministic(layouts):
    first = corpus.specs(n=6, seed=5, layouts=layouts)
    again = corpus.specs(n=6, seed=5, layouts=layouts)
    assert [s.layout for s in first] == list(layouts) * 2
    assert [(s.truth, s.html) for s in first] == [(s.truth, s.html) for s in again]
    other = corpus.specs(n=6, seed=6, layouts=layouts)
    assert [s.html for s in first] != [s.html for s in other]


@pytest.mark.parametrize(
    "layouts",
    [corpus.FRESH_LAYOUTS, corpus.BLIND_LAYOUTS, corpus.BLIND2_LAYOUTS, corpus.BLIND3_LAYOUTS],
    ids=["fresh", "blind", "blind2", "blind3"],
)
def test_fresh_text_pdfs_and_scans(tmp_path, layouts):
    paths = corpus.generate(tmp_path, n=6, seed=8, layouts=layouts, scans=True)
    assert len(paths) == 12
    texts = [p for p in paths if not p.stem.endswith("-scan")]
    assert [p.name for p in texts] == [f"doc-{i:03d}-{layout}.pdf" for i, layout in enumerate(layouts * 2)]
    for path in texts:
        truth = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        assert truth == corpus.spec_of(path, seed=8, n=6, layouts=layouts).truth
        text = _squeezed(_text(path.read_bytes()))
        for key in ("project_name", "project_code", "owner_unit", "location"):
            if key in truth:
                assert truth[key] in text, (path.name, key)
        if "total_investment_yuan" in truth:
            assert {f for f in _amount_forms(truth["total_investment_yuan"]) if f in text}, path.name
        if "planned_start" in truth:
            assert {f for f in _month_forms(truth["planned_start"]) if f in text}, path.name
    for path in (p for p in paths if p.stem.endswith("-scan")):
        text_twin = tmp_path / (path.stem.removesuffix("-scan") + ".json")
        assert path.with_suffix(".json").read_text(encoding="utf-8") == text_twin.read_text(encoding="utf-8")
        if path.suffix == ".pdf":
            document = pdfium.PdfDocument(path.read_bytes())
            try:
                width, height = document[0].get_size()
            finally:
                document.close()
            assert _squeezed(_text(path.read_bytes())) == ""
        else:
            image = Image.open(path)
            assert image.mode == "L"
            width, height = image.size
        # the plan table is printed in landscape, the certificate and the letter in portrait
        assert (width > height) == ("plan_table" in path.name), path.name


# --- the BLIND layouts (session 21) ---------------------------------------------------------


def test_cover_month_in_chinese_numerals():
    assert corpus._cn_month(2025, 10) == "二〇二五年十月"
    assert corpus._cn_month(2030, 12) == "二〇三〇年十二月"
    assert corpus._cn_month(2026, 1) == "二〇二六年一月"


def test_blind_layouts_arrangement():
    """Each BLIND layout is arranged as its kind of document: a heading line and the value in the
    paragraph below; a label above its value in a box; the reviewed total apart from the asked one."""
    changed = set()
    for spec in corpus.specs(n=90, seed=14, layouts=corpus.BLIND_LAYOUTS):
        truth, markup = spec.truth, spec.html
        name = html.escape(truth["project_name"])
        if spec.layout == "fund_application":
            assert re.search(
                r'<p class="plain sub">(（一）|1．)项目名称</p><p>' + re.escape(name) + "</p>", markup
            )
            if "owner_unit" in truth:
                owner = re.escape(html.escape(truth["owner_unit"]))
                assert re.search(r"(项目单位|项目法人单位|项目单位基本情况)</p><p>" + owner, markup)
        elif spec.layout == "progress_card":
            assert f'<div class="k">项目名称</div><div class="val name">{name}</div>' in markup
            if "project_code" in truth:
                code = f'<div class="val"><span class="code">{truth["project_code"]}</span></div>'
                assert re.search(r'<div class="k">项目(代码|赋码)</div>' + re.escape(code), markup)
        else:
            text = _html_text(markup)
            if "total_investment_yuan" not in truth:
                assert "申报总投资" not in text and "合计" not in text
                continue
            reviewed = Decimal(truth["total_investment_yuan"]) / 10000
            asked = re.search(r"申报总投资([\d,.]+)(万元|亿元|元)", text)
            factor = {"万元": 1, "亿元": 10000, "元": Decimal("0.0001")}[asked.group(2)]
            asked = Decimal(asked.group(1).replace(",", "")) * factor
            # the comparison table: asked, reviewed, difference, in 万元; the conclusion the reviewed
            assert f"合计{asked:.2f}{reviewed:.2f}{reviewed - asked:+.2f}" in text
            assert re.search(r"建议项目总投资[^。]*。建议项目单位根据本评估意见", text)
            conclusion = text[text.index("六、结论和建议") :]
            assert {f for f in _amount_forms(truth["total_investment_yuan"]) if f in conclusion}
            changed.add("same" if asked == reviewed else "cut" if asked > reviewed else "raise")
    assert changed == {"same", "cut", "raise"}


# --- the BLIND2 layouts (session 21) --------------------------------------------------------


def test_blind2_layouts_arrangement():
    """Each BLIND2 layout is arranged as its kind of document: the platform's grey label cell
    beside its value (an empty cell for what is not filled in); a decimal heading and the value in
    the sentence below it; the facts in what the meeting agreed."""
    seen = set()
    for spec in corpus.specs(n=60, seed=15, layouts=corpus.BLIND2_LAYOUTS):
        truth, markup = spec.truth, spec.html
        name = re.escape(html.escape(truth["project_name"]))
        if spec.layout == "platform_print":
            assert re.search(r'<td class="k">项目名称</td><td( colspan="3")?>' + name + "</td>", markup)
            total = re.search(r'<td class="k">总投资（万元）</td><td>([\d.]*)</td>', markup).group(1)
            if "total_investment_yuan" in truth:
                assert Decimal(total) * 10000 == Decimal(truth["total_investment_yuan"])
                seen.add(("platform_print", len(total.split(".")[1])))
            else:
                assert total == ""
            assert "tzxm.zjzwfw.gov.cn" in markup  # the URL in the page footer
        elif spec.layout == "project_request":
            assert re.search(r"<h3>[12]\.1 项目名称</h3><p>本项目名称为“" + name + "”。</p>", markup)
            if "project_code" in truth:
                assert re.search(
                    r"<h3>[12]\.\d 项目(代码|赋码情况)</h3><p>[^<]*项目代码为<span class=\"code\">"
                    + truth["project_code"],
                    markup,
                )
            seen.add(("project_request", "人民币" in markup))
        else:
            assert re.search(r"一、关于项目实施。会议同意实施" + name, markup)
            if "owner_unit" in truth:
                assert "由" + html.escape(truth["owner_unit"]) + "负责实施" in markup
            if "planned_end" in truth:
                seen.add(("meeting_minutes", "底前开工" in markup))
    # the sample shows 2, 4 and 6 decimals on the platform, 人民币 and plain amounts in the
    # report, both ways of setting the dates in the minutes
    assert seen >= {("platform_print", 2), ("platform_print", 4), ("platform_print", 6)}
    assert seen >= {("project_request", True), ("project_request", False)}
    assert seen >= {("meeting_minutes", True), ("meeting_minutes", False)}


# --- the BLIND3 layouts (session 21) --------------------------------------------------------


def test_blind3_layouts_arrangement():
    """Each BLIND3 layout is arranged as its kind of document: the routed sheet's vertical group
    labels and opinion boxes; the tender plan's short labels and √ grid; the website notice's
    "公示如下" and 公示期."""
    seen = set()
    for spec in corpus.specs(n=60, seed=16, layouts=corpus.BLIND3_LAYOUTS):
        truth, markup = spec.truth, spec.html
        name = html.escape(truth["project_name"])
        if spec.layout == "approval_sheet":
            assert "项<br>目<br>基<br>本<br>情<br>况" in markup and "分管领导意见" in markup
            assert re.search(
                r'<td class="label">项目名称</td><td colspan="3">' + re.escape(name) + "</td>", markup
            )
            seen.add(("approval_sheet", "总投资（万元）" in markup))
        elif spec.layout == "tender_scheme":
            assert "招标组织形式" in markup and "√" in markup
            if "location" in truth:
                assert f'<td class="label">建设地</td><td>{html.escape(truth["location"])}</td>' in markup
            if "planned_end" in truth:
                assert "开竣工年月" in markup
            seen.add(("tender_scheme", "项目代码：" in markup))
        else:
            assert f"现将{name}有关情况公示如下：" in markup and "公示期：" in markup
            seen.add(("public_notice", "关于" in markup.split("<h1>")[1][:4]))
    assert seen >= {("approval_sheet", True), ("approval_sheet", False)}
    assert seen >= {("tender_scheme", True), ("tender_scheme", False)}
    assert seen >= {("public_notice", True), ("public_notice", False)}
