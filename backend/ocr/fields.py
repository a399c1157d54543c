"""The key fields of an application document, found in its pages' text by rules written for
Chinese project documents: labels and their variants in tables (value after the label on the
same line, or on the next line) and in prose ("本项目总投资约1.25亿元，其中…").

Every label occurrence gives a candidate; candidates of the same value add up, so a value
stated both on the summary table and in the text wins over a stray one. Each Found carries
its snippet, page and a confidence (label strength × OCR line confidence).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

FIELDS = (
    "project_name",
    "project_code",
    "owner_unit",
    "location",
    "total_investment_yuan",
    "funding_sources",
    "planned_start",
    "planned_end",
    "construction_period",
    "scale_content",
)

_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Found:
    name: str
    value: object  # str; Decimal yuan; "YYYY-MM"; list of {"source", "amount"}; int months
    snippet: str
    page: int
    confidence: float  # 0..1


# --- amounts ----------------------------------------------------------------------------

_UNITS = {"亿": Decimal(100_000_000), "万": Decimal(10_000), "元": Decimal(1)}
_NUMBER = r"\d[\d,，.]*"
_AMOUNT = re.compile(
    rf"(?:(?P<yi>{_NUMBER})\s*亿\s*(?P<wan2>{_NUMBER})\s*万\s*元?)"  # 1亿2500万元
    rf"|(?:(?P<n>{_NUMBER})\s*(?P<unit>亿元|亿|万元|万|元))"
)
_CN_DIGITS = {c: i for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")} | {
    c: i for i, c in enumerate("〇一二三四五六七八九")
}
_CN_DIGITS["两"] = 2
_CN_SMALL = {"拾": 10, "十": 10, "佰": 100, "百": 100, "仟": 1000, "千": 1000}
_CN_BIG = {"万": 10_000, "亿": 100_000_000}
_CN_AMOUNT = re.compile(
    r"[零壹贰叁肆伍陆柒捌玖拾佰仟万亿〇一二三四五六七八九十百千两]+元(?:[零壹贰叁肆伍陆柒捌玖]角)?(?:[零壹贰叁肆伍陆柒捌玖]分)?"
)


def _number(text: str) -> Decimal | None:
    """A written number: "12,500.00", OCR's "12.500.00" (a dot read for a comma), "1，25"."""
    text = text.replace("，", ",").rstrip(",.")
    if not text:
        return None
    if text.count(".") > 1:  # all but the last dot are thousands separators
        head, _, tail = text.rpartition(".")
        text = head.replace(".", "") + "." + tail
    # A comma before exactly one or two final digits is a decimal point read wrongly.
    text = re.sub(r",(\d{1,2})$", r".\1", text) if "." not in text else text
    text = text.replace(",", "")
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _chinese_amount(text: str) -> Decimal | None:
    """壹亿贰仟伍佰万元整 -> 125000000."""
    total, section, digit = 0, 0, 0
    body, _, cents = text.partition("元")
    for char in body:
        if char in _CN_DIGITS:
            digit = _CN_DIGITS[char]
        elif char in _CN_SMALL:
            section += (digit or 1) * _CN_SMALL[char]
            digit = 0
        elif char in _CN_BIG:
            section += digit
            total = (total + section) * _CN_BIG[char] if char == "亿" else total + section * _CN_BIG[char]
            section, digit = 0, 0
        else:
            return None
    value = Decimal(total + section + digit)
    jiao = re.search(r"(.)角", cents)
    fen = re.search(r"(.)分", cents)
    value += Decimal(_CN_DIGITS.get(jiao.group(1), 0) if jiao else 0) / 10
    value += Decimal(_CN_DIGITS.get(fen.group(1), 0) if fen else 0) / 100
    return value if value > 0 else None


def _amount_match(text: str, *, default_unit: str | None = None):
    """(value in yuan, match start, match end) of the first amount in `text`, or None."""
    text = unicodedata.normalize("NFKC", text)
    found = []  # (start, preference, (value, start, end)): the first amount wins, a unit breaks ties
    match = _AMOUNT.search(text)
    if match is not None and (value := _unit_amount(match)) is not None:
        found.append((match.start(), 0, (value, match.start(), match.end())))
    cn = _CN_AMOUNT.search(text)
    if cn and (value := _chinese_amount(cn.group(0))) is not None:
        found.append((cn.start(), 1, (value.quantize(_CENT), cn.start(), cn.end())))
    if default_unit:
        # A bare number in a column or label's unit: "总投资（万元） 157630.00 大写 壹拾伍亿…".
        # It is the value when it opens the cell; further in ("共3个子项目…") only if nothing
        # with a unit is there.
        # (Not a month of a range: "2026.06-2030.06" in a cell run on into the amounts.)
        bare = re.search(r"(?<![\d年月.-])(\d[\d,，.]*)(?![\d年月%.,，]|\s*[-—~～至]\s*(?:19|20)\d{2})", text)
        if bare and (value := _number(bare.group(1))) is not None:
            value = (value * _UNITS[default_unit]).quantize(_CENT)
            order = 0 if bare.start() == 0 else len(text) + 1
            found.append((order, 2, (value, bare.start(), bare.end())))
    return min(found)[2] if found else None


def _unit_amount(match) -> Decimal | None:
    if match.group("yi"):
        yi, wan = _number(match.group("yi")), _number(match.group("wan2"))
        if yi is None or wan is None:
            return None
        return (yi * _UNITS["亿"] + wan * _UNITS["万"]).quantize(_CENT)
    number = _number(match.group("n"))
    return None if number is None else (number * _UNITS[match.group("unit")[0]]).quantize(_CENT)


def parse_amount(text: str) -> Decimal | None:
    """The first amount in `text` in yuan (2 places): "1.25亿元", "12,500万元", "125000000元",
    full-width digits, "1亿2500万元", financial capitals "壹亿贰仟伍佰万元整"."""
    found = _amount_match(text)
    return found[0] if found else None


# --- dates --------------------------------------------------------------------------------

_MONTH = re.compile(r"(?P<y>(?:19|20)\d{2})\s*(?:年\s*(?P<m1>\d{1,2})\s*月?|[.\-/](?P<m2>\d{1,2})(?!\d))")
# "—" between two months is often read as "一" by OCR.
_RANGE_SEP = r"\s*(?:至|到|~|～|－|—|–|-|―|─|一|/|／)+\s*"
_END_WORDS = (
    r"(?:底前|以前|之前|底|末|前)?\s*(?:全面)?(?:竣工|峻工|完工|建成|完成建设|建设完成|投入使用|投用|交付)"
)
_START_WORDS = r"(?:初|底|中)?\s*(?:前|以前|之前)?\s*(?:正式)?(?:开工|动工|启动建设|开始建设|进场)"


def _month(match) -> str | None:
    month = int(match.group("m1") or match.group("m2"))
    if not 1 <= month <= 12:
        return None
    return f"{match.group('y')}-{month:02d}"


def _months_between(start: str, end: str) -> int:
    (y1, m1), (y2, m2) = (map(int, start.split("-")), map(int, end.split("-")))
    return (y2 - y1) * 12 + m2 - m1 + 1


# --- labels -------------------------------------------------------------------------------

# field -> (label, strength); longer variants first so that "项目总投资" is one label.
LABELS: dict[str, tuple[tuple[str, float], ...]] = {
    "project_name": (
        ("建设项目名称", 1.0),
        ("项目名称", 1.0),
        ("工程名称", 0.95),
        ("项目全称", 1.0),
    ),
    "project_code": (
        ("统一项目代码", 1.0),
        ("项目统一代码", 1.0),
        ("投资项目代码", 1.0),
        ("项目代码", 1.0),
        ("项目编码", 0.95),
        ("项目编号", 0.8),
        ("项目赋码", 0.9),
    ),
    "owner_unit": (
        ("项目建设单位", 1.0),
        ("建设单位", 1.0),
        ("项目法人单位", 1.0),
        ("项目单位", 0.95),
        ("项目法人", 0.95),
        ("业主单位", 0.95),
        ("项目业主", 0.9),
        ("实施主体", 0.9),
        ("实施单位", 0.85),
        ("建设主体", 0.9),
        ("招标人", 0.8),
        ("申报单位", 0.75),
        ("单位名称", 0.7),
        ("申请单位", 0.7),
    ),
    "location": (
        ("项目建设地点", 1.0),
        ("建设地点", 1.0),
        ("建设地址", 0.95),
        ("项目地点", 0.95),
        ("项目地址", 0.95),
        ("工程地点", 0.9),
        ("项目选址", 0.9),
        ("选址", 0.8),
        ("建设地", 0.85),
    ),
    "total_investment_yuan": (
        ("项目总投资", 1.0),
        ("估算总投资", 1.0),
        ("概算总投资", 1.0),
        ("计划总投资", 1.0),
        ("工程总投资", 0.95),
        ("总投资估算", 0.95),
        ("总投资", 0.95),
        ("投资总额", 0.9),
        ("总投资额", 0.95),
        ("投资额", 0.75),
        ("投资估算", 0.6),
    ),
    "funding_sources": (
        ("资金来源", 1.0),
        ("资金筹措", 0.95),
    ),
    "planned_start": (
        ("计划开工时间", 1.0),
        ("计划开工日期", 1.0),
        ("计划开工", 1.0),
        ("拟开工时间", 0.95),
        ("预计开工时间", 0.95),
        ("计划开工年月", 1.0),
        ("开工年月", 0.95),
        ("开工时间", 0.95),
        ("开工日期", 0.95),
    ),
    "planned_end": (
        ("计划竣工时间", 1.0),
        ("计划竣工日期", 1.0),
        ("计划完工时间", 1.0),
        ("计划竣工", 1.0),
        ("计划完工", 1.0),
        ("竣工时间", 0.95),
        ("完工时间", 0.95),
        ("竣工日期", 0.95),
        ("计划建成时间", 1.0),
        ("预计竣工时间", 0.95),
        ("计划完成时间", 0.9),
        ("计划竣工年月", 1.0),
        ("竣工年月", 0.95),
        ("建成年月", 0.9),
        ("建成时间", 0.9),
    ),
    "construction_period": (
        ("建设起止年限", 1.0),
        ("建设起止时间", 1.0),
        ("建设起止年月", 1.0),
        ("计划建设期", 1.0),
        ("建设年限", 0.95),
        ("建设工期", 0.95),
        ("建设周期", 0.95),
        ("建设期", 0.95),
        ("起止年限", 0.9),
        ("计划起止时间", 1.0),
        ("开竣工时间", 1.0),
        ("开竣工年月", 1.0),
        ("开竣工日期", 1.0),
        ("起止时间", 0.9),
        ("起止日期", 0.9),
        ("建设期限", 0.95),
        ("实施期限", 0.9),
        ("实施年限", 0.9),
        ("建设时间", 0.85),
        ("计划工期", 0.9),
        ("工期", 0.8),
    ),
    "scale_content": (
        ("建设规模及内容", 1.0),
        ("建设内容及规模", 1.0),
        ("建设规模和内容", 1.0),
        ("主要建设内容", 0.95),
        ("建设内容", 0.95),
        ("建设规模", 0.9),
    ),
}
# Labels of other facts on the same forms: they end the value before them ("建设地点 X 建设性质 新建").
OTHER_LABELS = (
    "建设性质",
    "项目性质",
    "所属行业",
    "行业类别",
    "行业分类",
    "项目类型",
    "建设类型",
    "设计单位",
    "编制单位",
    "咨询单位",
    "施工单位",
    "主管部门",
    "主管单位",
    "审批部门",
    "联系人",
    "联系电话",
    "项目负责人",
    "法定代表人",
    "申报日期",
    "填报日期",
    "批复文号",
    "占地面积",
    "用地面积",
    "总建筑面积",
    "资金性质",
    "统一社会信用代码",
    "组织机构代码",
    "法人代表",
    "单位性质",
    "单位地址",
    "通讯地址",
    "邮政编码",
    "手机",
    "备注",
    "项目类别",
    "项目级别",
    "重点类别",
    "责任领导",
    "责任单位",
    "牵头单位",
    "年度计划投资",
    "形象进度",
)
# OCR misreads or drops 竣 ("计划峻工时间", "计划工时间").
_OCR_LABEL_VARIANTS = {"竣": "[竣峻俊唆]?"}


# Between a label's characters: spaces (letter-spaced "项 目 名 称", a label wrapped in a narrow
# cell "建设规模及\n内容"), or a bracketed qualifier of forms ("项目（法人）单位").
_INSIDE_LABEL = r"\s*(?:[(（][^()（）\n]{1,4}[)）]\s*)?"


def _label_pattern(label: str) -> str:
    return _INSIDE_LABEL.join(_OCR_LABEL_VARIANTS.get(char, re.escape(char)) for char in label)


_ALL_LABELS = sorted(
    ((label, name, strength) for name, labels in LABELS.items() for label, strength in labels),
    key=lambda item: -len(item[0]),
) + [(label, None, 0.0) for label in OTHER_LABELS]
_LABEL_RE = re.compile(
    "|".join(f"(?P<L{i}>{_label_pattern(label)})" for i, (label, _n, _s) in enumerate(_ALL_LABELS))
)
# A unit given in the label: "总投资（万元）", "总投资(亿元)".
_LABEL_UNIT = re.compile(r"^\s*[(（]\s*(?:单位\s*[:：]\s*)?(亿元|万元|元)\s*[)）]")
# What a form adds to a label: "建设单位（盖章）", "建设单位名称".
_LABEL_SUFFIX = re.compile(
    r"^\s*(?:名称|全称|详情|详址)?\s*(?:[(（]\s*(?:盖章|签章|公章|全称|名称)\s*[)）])?"
)
# "金额单位：万元" above a table: the unit of its bare numbers (here and on the next page).
_TABLE_UNIT = re.compile(r"(?:金额|投资)?单位\s*[:：]\s*(亿元|万元|元)")
# What stands between a label and its value: spaces, colons, and leaders ("建设单位 — X", "……").
_SEPARATORS = " \t:：;；,，.、—–－-―─·…_"
_DOC_KINDS = re.compile(
    r"(?:可行性研究报告|项目建议书|建议书|初步设计(?:说明书|文件)?|实施方案|申报书|申报表|"
    r"资金申请报告|项目申请报告|申请报告|设计说明书|说明书|的请示|请示|报告)$"
)
_NAME_END = re.compile(r"(?:工程|项目|建设|改造|提升|整治|新建|迁建|扩建|(?:[(（][^()（）]{1,8}[)）]))$")
_UNIT_END = re.compile(
    r"(?:公司|集团|局|委员会|委|办事处|政府|中心|医院|学校|学院|大学|院|所|站|管委会|管理处|指挥部|办公室|街道|镇)$"
)
_CODE = re.compile(
    r"((?:19|20)\d{2})\s*[-－—–‐_~]\s*(\d{6})\s*[-－—–‐_~]\s*(\d{2})\s*[-－—–‐_~]\s*(\d{2})\s*[-－—–‐_~]\s*([0-9A-Z]{6})(?![0-9A-Za-z])"
)
_PLACE_END = re.compile(r"(?:街道|镇|乡|村|区|县|市|路|号|园区|地块|以[东南西北])$")
_COMPLETE = {"project_name": _NAME_END, "owner_unit": _UNIT_END, "location": _PLACE_END}
_PROSE_LEAD = re.compile(r"^(?:为|是|位于|在|于|约为|约|共计|合计|总计|达|拟定为|拟为|设在|:|：)+")


# Full-width digits, letters and signs as ASCII (OCR and typesetting mix both); the Chinese
# comma, semicolon, colon and parentheses stay as written, for the values shown to applicants.
_FOLD = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F) if chr(code) not in "，；：（）"} | {
    0x3000: 0x20
}


@dataclass
class _Line:
    page: int
    text: str  # folded by _FOLD
    score: float


def _place_names() -> dict[int, list[str]]:
    from backend.org.regions import CITIES

    names = {city for city, _counties in CITIES.values()}
    names |= {county for _city, counties in CITIES.values() for _code, county in counties}
    by_length: dict[int, list[str]] = defaultdict(list)
    for name in sorted(names):
        if len(name) >= 3:
            by_length[len(name)].append(name)
    return by_length


_PLACES = _place_names()
_KNOWN_PLACES = {name for names in _PLACES.values() for name in names}


def correct_places(text: str) -> str:
    """OCR's misread division names put right against the region table: "郸州区" is
    "鄞州区" (one character off a known name, itself no known name, same last character)."""
    out = text
    for length, names in _PLACES.items():
        for match in re.finditer(rf"(?=([\u4e00-\u9fff]{{{length}}}))", out):
            word = match.group(1)
            if word in _KNOWN_PLACES or word[-1] not in "市区县":
                continue
            close = [
                n
                for n in names
                if n[-1] == word[-1] and sum(a != b for a, b in zip(n, word, strict=True)) == 1
            ]
            if len(close) == 1:
                out = out[: match.start()] + close[0] + out[match.start() + length :]
    return out


def _join_split_labels(lines: list[_Line]) -> list[_Line]:
    """A label wrapped in a narrow cell: "建设" over "单位 X公司", or "建设 X公司" over "单位"."""
    out: list[_Line] = []
    skip = False
    for i, line in enumerate(lines):
        if skip:
            skip = False
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) and lines[i + 1].page == line.page else None
        labels = _labels_in(line.text)
        if (
            nxt
            and labels
            and labels[-1][1] == len(line.text)
            and re.match(r"(?:名称|全称)(?:\s|$)", nxt.text)
        ):
            # "项目（法人）单位" / "名称 X公司": the label's last word wrapped in its cell.
            out.append(_Line(line.page, line.text + nxt.text, min(line.score, nxt.score)))
            skip = True
            continue
        head, _, rest = line.text.partition(" ")
        if nxt and len(head) <= 4 and not _starts_with_label(line.text):
            nxt_head, _, nxt_rest = nxt.text.partition(" ")
            if len(nxt_head) <= 4 and _LABEL_RE.fullmatch(head + nxt_head) and not (rest and nxt_rest):
                joined = " ".join(part for part in (head + nxt_head, rest, nxt_rest) if part)
                out.append(_Line(line.page, joined, min(line.score, nxt.score)))
                skip = True
                continue
        out.append(line)
    return out


# A numbered item starts its own line, however wide the one before: "二、", "（三）", "4.".
_ENUMERATED = re.compile(
    r"^(?:[一二三四五六七八九十]{1,3}\s*[、.．]|[(（][一二三四五六七八九十\d]{1,3}[)）]|\d{1,2}\s*[、．.](?!\d))"
)


def _starts_with_label(text: str) -> bool:
    return bool(_LABEL_RE.match(text))


def _width(text: str) -> float:
    return sum(1.0 if "\u2e80" <= char <= "\u9fff" or char >= "\uff00" else 0.55 for char in text)


def _lines(document) -> list[_Line]:
    """The pages' lines, folded (_FOLD), with the lines of a paragraph wrapped by the layout
    joined again: a line as wide as the page's text that does not end a sentence goes on."""
    out = []
    for page in document.pages:
        raw = page.text.split("\n")
        scores = list(page.line_scores) if page.line_scores else []
        lines = []
        for i, text in enumerate(raw):
            folded = text.translate(_FOLD).strip()
            if folded and page.method == "ocr":
                folded = correct_places(folded)
            if folded:
                lines.append(_Line(page.number, folded, scores[i] if i < len(scores) else 1.0))
        lines = _join_split_labels(lines)
        widths = sorted(_width(line.text) for line in lines)
        full = 0.85 * widths[int(0.9 * (len(widths) - 1))] if widths else 0
        merged: list[_Line] = []
        for line in lines:
            if (
                merged
                and _width(merged[-1].text) >= full >= 24
                and merged[-1].text[-1] not in "。!?！？:;；"
                and not _starts_with_label(line.text)
                and not _ENUMERATED.match(line.text)
            ):
                last = merged[-1]
                glue = " " if last.text[-1].isascii() and line.text[0].isascii() else ""
                merged[-1] = _Line(last.page, last.text + glue + line.text, min(last.score, line.score))
            else:
                merged.append(line)
        out += merged
    return out


@dataclass
class _Candidate:
    name: str
    value: object
    snippet: str
    page: int
    score: float


def find_fields(document) -> dict[str, Found]:
    """The fields found in the document's pages; a field not found has no key."""
    lines = _lines(document)
    candidates: list[_Candidate] = []
    for index in range(len(lines)):
        candidates += _labelled(lines, index)
        candidates += _prose(lines[index])
    candidates += _title_name(lines)
    candidates += _addressee(lines)
    candidates += _total_rows(lines)
    candidates += _column_tables(document)
    return _choose(candidates)


def _labels_in(text: str):
    """(start, end, field, strength) of every label in a line, in order."""
    out = []
    for match in _LABEL_RE.finditer(text):
        i = int(match.lastgroup[1:])
        label, name, strength = _ALL_LABELS[i]
        if name is None and match.start() > 0 and text[match.start() - 1] not in " \t|":
            continue  # "建设性质" inside prose is no cell of a form
        out.append((match.start(), match.end(), name, strength))
    return out


def _labelled(lines: list[_Line], index: int) -> list[_Candidate]:
    line = lines[index]
    labels = _labels_in(line.text)
    out = []
    for k, (start, end, name, strength) in enumerate(labels):
        if name is None:
            continue
        stop = labels[k + 1][0] if k + 1 < len(labels) else len(line.text)
        raw_value = after_label = line.text[end:stop]
        unit = _page_unit(lines, index)
        raw_value = raw_value[_LABEL_SUFFIX.match(raw_value).end() :]
        unit_match = _LABEL_UNIT.match(raw_value)
        if unit_match:
            unit = unit_match.group(1)[0]
            raw_value = raw_value[unit_match.end() :]
        # Label at the start of a line and followed by a separator: a table cell or "X：Y".
        tabular = start == 0 or line.text[start - 1] in _SEPARATORS
        if re.match(r"\s*(?:[、和及与或等]|(?:基本)?(?:情况|概况|简介)\s*$)", raw_value):
            continue  # "建设地点、规模发生变更": nouns listed in a sentence, not a label and its value
        glued = not tabular and not re.match(r"\s|[:：为是(（]|\d|位于|设在|在|名称|全称", after_label)
        if glued and (name not in _NUMERIC or not re.match(r"[^。，,；;]{0,8}?\d", raw_value)):
            continue  # inside a word: "执行项目法人责任制" is not the label 项目法人
        before = line.text[max(0, start - 4) : start]
        if name == "total_investment_yuan" and re.search(r"其中|分别|占", before):
            continue  # a partial sum's explanation, not the total
        if name == "total_investment_yuan" and re.search(r"计划|年度|本年|完成|累计|估算金", before):
            continue  # a year's plan or what was spent so far ("2026年计划投资额"), not the total
        if name == "total_investment_yuan" and re.search(r"报审|送审|申报|原|调整前", before):
            strength *= 0.5  # what was asked for; a 批复 states the approved total after it
        value = raw_value.strip(_SEPARATORS + "|")
        if name == "construction_period" and re.search(r"[\d月]\s*[—–－\-―─~～至到一]\s*$", raw_value):
            value += "—"  # a range cut by a wrapped cell: its end is on the next line
        # One stray character (a letter of a vertical merged header, a speck read by OCR) is no value.
        if len(value) == 1 and value not in "无否略空/":
            value = raw_value = ""
        snippet_line = line
        follows = []
        if not value and index + 1 < len(lines) and not _labels_in(lines[index + 1].text)[:1]:
            # Value in the next row / cell wrapped below its label.
            snippet_line = lines[index + 1]
            value = snippet_line.text.strip(_SEPARATORS)
            follows = lines[index + 2 : index + 4]
            # A header row of labels over a row of values: the k-th value is the k-th label's.
            cells = value.split()
            if len(labels) > 1 and len(cells) == len(labels) and not line.text[labels[-1][1] :].strip():
                value, follows = cells[k], []
        elif index + 1 < len(lines):
            follows = lines[index + 1 : index + 3]
        if (
            name in ("project_name", "owner_unit", "location")
            and not raw_value.strip(_SEPARATORS + "|")
            and k == len(labels) - 1
            and 0 < index < len(lines) - 1
            and not _ENUMERATED.match(line.text)  # a numbered heading: its value is below it
        ):
            # A two-line cell beside a one-line label: its first line sits above the label's
            # row, the rest below ("X有限" / "项目代码 … 建设单位" / "公司").
            above, below = lines[index - 1], lines[index + 1]
            joined = above.text + below.text
            if (
                above.page == line.page == below.page
                and " " not in above.text + below.text
                and not _labels_in(above.text)
                and not _labels_in(below.text)
                and len(below.text) <= 8
                and _COMPLETE[name].search(joined)
            ):
                value, follows = joined, []
                snippet_line = below
        weight = strength * (1.0 if tabular else 0.85) * min(line.score, snippet_line.score)
        snippet = _snippet(line.text, start, snippet_line.text if snippet_line is not line else "")
        found = _values_for(name, value, follows, unit, snippet, line.page, weight, labelled=True)
        if line.text[start:end] in _WEAK_LABELS:  # "招标人应严格…": only a whole unit's name
            found = [c for c in found if _COMPLETE[name].search(str(c.value))]
        if not found and not raw_value.strip(_SEPARATORS + "|") and name in _NUMERIC:
            found = _value_further_down(lines, index, name, unit, snippet, weight)
        if not found and not raw_value.strip(_SEPARATORS + "|") and name == "owner_unit":
            found = _sub_label_name(lines, index, weight)
        out += found
    return out


# Labels that are also ordinary words of a sentence: their value must be a complete name.
_WEAK_LABELS = ("招标人",)
# Fields whose value is recognisable on its own: looked for a few lines below an empty label
# (a row split over two pages, with the running header and footer in between).
_NUMERIC = ("total_investment_yuan", "planned_start", "planned_end")


_SUB_NAME = re.compile(r"^(?:单位)?(?:名称|全称)\s*[:：]?\s*(?P<value>\S.*)$")


def _sub_label_name(lines, index, weight) -> list[_Candidate]:
    """A merged label cell ("项目单位" spanning 名称 / 法定代表人 rows): its 名称 row nearby."""
    for line in lines[max(0, index - 2) : index + 3]:
        match = _SUB_NAME.match(line.text)
        if match:
            snippet = _snippet(lines[index].text, 0, line.text)
            return _values_for(
                "owner_unit", match.group("value"), [], None, snippet, line.page, 0.8 * weight, labelled=True
            )
    return []


def _value_further_down(lines, index, name, unit, snippet, weight) -> list[_Candidate]:
    for line in lines[index + 2 : index + 9]:
        if _starts_with_label(line.text):
            break
        found = _values_for(name, line.text, [], unit, snippet, line.page, 0.8 * weight, labelled=True)
        if found:
            return found
    return []


def _page_unit(lines: list[_Line], index: int) -> str | None:
    """The unit a "单位：万元" line above gives, on this page or the one before."""
    page = lines[index].page
    for line in reversed(lines[max(0, index - 60) : index + 1]):
        if line.page < page - 1:
            break
        match = _TABLE_UNIT.search(line.text)
        if match:
            return match.group(1)[0]
    return None


def _snippet(text: str, start: int, extra: str = "") -> str:
    if len(text) > 80:
        text = text[max(0, start - 30) : start + 60]
    return (text + (" " + extra if extra else ""))[:160]


def _continue_name(value: str, follows: list[_Line], end_pattern) -> str:
    """A name wrapped in a narrow cell: add the next line while the name is not complete."""
    for line in follows[:1]:
        # The wrapped rest may share its line with the next cell: "公司 统一社会信用代码 …".
        rest = line.text.split(" ")[0] if _labels_in(line.text) else line.text
        if _labels_in(rest) or len(rest) > 16:
            break
        joined = value + rest
        # "…提标改造" + "工程": a short rest that ends the name too (改造 alone may end one).
        if end_pattern.search(joined) and (not end_pattern.search(value) or len(rest) <= 4):
            return joined
    return value


def _complete_before_space(value: str, end_pattern) -> str:
    """ "X公司 9133010…" (the next cell of an unknown label): the name ends where it is complete."""
    head = value.strip(_SEPARATORS).split(" ")[0]
    return head if end_pattern.search(head) and len(head) >= 4 else value


# A value that starts a sentence ("项目单位应在开工前…"): the label word was its subject.
_SENTENCE = re.compile(r"^(?:应|须|必须|需|需要|要|将|可|不得|负责|按照|依法|在|对|的)")


# What a unit's name ends with (broader than _UNIT_END, which says a wrapped name is complete):
# "项目法人发生变化" names nobody.
_OWNER_LIKE = re.compile(
    r"(?:公司|集团|局|委|办|政府|中心|院|所|站|处|部|校|学|馆|社|厂|会|行|场|街道|镇|乡|村|队|团|[)）])$"
)


def _clean_name(value: str, *, stops: str = "。;；,，") -> str:
    value = _PROSE_LEAD.sub("", value.strip())
    for stop in stops:
        value = value.split(stop)[0]
    value = re.split(r"\s{2,}|\s+(?=\S+[:：])", value)[0]
    value = value.split("(以下简称")[0].split("（以下简称")[0]
    return value.strip(" \"'“”‘’《》「」【】|")


def _values_for(name, value, follows, unit, snippet, page, weight, *, labelled) -> list[_Candidate]:
    def cand(field, val, w=weight):
        return _Candidate(field, val, snippet, page, w)

    if name == "project_name":
        value = _complete_before_space(value, _NAME_END)
        text = _continue_name(_clean_name(value), follows, _NAME_END)
        text = _DOC_KINDS.sub("", text) if len(text) > 6 else text
        return [cand(name, text)] if 4 <= len(text) <= 60 else []
    if name == "project_code":
        match = _CODE.search(value.upper().replace("O", "0"))
        return [cand(name, "-".join(match.groups()))] if match else []
    if name == "owner_unit":
        value = _complete_before_space(value, _UNIT_END)
        text = _continue_name(_clean_name(value), follows, _UNIT_END)
        named = _OWNER_LIKE.search(text) and not _SENTENCE.match(text)
        return [cand(name, text)] if 4 <= len(text) <= 50 and named else []
    if name == "location":
        text = _clean_name(value, stops="。;；")
        text = re.split(r"[,，](?=(?:项目|总|建设|计划|占地|用地|本|规划))", text)[0].rstrip("，,")
        # A scan's box run on into the next cell: "…昌国街道2027年计划投资（万元）".
        text = re.split(r"(?<=[道镇乡村区县市路号])(?=(?:19|20)\d{2}年)", text)[0]
        # "选址于X街道，场地现状…": a complete address ends at its comma.
        head = re.split(r"[,，]", text)[0]
        text = head if _PLACE_END.search(head) else text
        text = _continue_name(text, follows, _PLACE_END)
        return [cand(name, text)] if 2 <= len(text) <= 60 else []
    if name == "total_investment_yuan":
        # A unit column before the number: "项目总投资 万元 56,100.00".
        unit_column = re.match(r"^(亿元|万元|元)\s+(?=\d)", value)
        if unit_column:
            unit, value = unit_column.group(1)[0], value[unit_column.end() :]
        found = _amount_match(value[:40], default_unit=unit)
        if found and found[1] <= 12:
            return [cand(name, found[0])]
        return []
    if name == "funding_sources":
        text = value
        for line in follows:
            if _labels_in(line.text):
                break
            text += "，" + line.text
        sources = _funding(text, unit)
        return [cand(name, sources)] if sources else []
    if name in ("planned_start", "planned_end"):
        match = _MONTH.search(value[:30])
        month = _month(match) if match else None
        return [cand(name, month)] if month else []
    if name == "construction_period":
        return _period(value, follows, cand)
    if name == "scale_content":
        text = value
        for line in follows:
            if _labels_in(line.text) or re.match(
                r"^(?:\d+(?:\.\d+)*|[一二三四五六七八九十]+[、.])", line.text
            ):
                break
            text += line.text
        text = text.strip()
        return [cand(name, text[:500])] if len(text) >= 6 else []
    return []


_FUNDING_ITEM = re.compile(
    r"(?P<source>[\u4e00-\u9fffA-Za-z()（）]{2,24}?)\s*(?:为|约|:|：)?\s*(?P<amount>\d[\d,，.]*\s*(?:亿元|亿|万元|万|元)?)"
)


def _funding(text: str, unit: str | None) -> list[dict]:
    out = []
    for part in re.split(r"[,，;；。、]", text):
        match = _FUNDING_ITEM.search(part)
        if not match:
            continue
        source = re.sub(r"^(?:其中|包括|申请|拟申请|使用|争取|安排|和|及)+", "", match.group("source"))
        found = _amount_match(match.group("amount"), default_unit=unit)
        if found and len(source) >= 2:
            out.append({"source": source, "amount": found[0]})
    return out


def _period(value: str, follows, cand) -> list[_Candidate]:
    out = []
    head = value[:60]
    first = _MONTH.search(head)
    if first:
        start = _month(first)
        rest = head[first.end() :]
        second = re.match(_RANGE_SEP + r"(?P<body>.*)", rest)
        body = second.group("body") if second else ""
        if second and not body.strip() and follows:
            # A narrow cell wraps after the dash: "2026.05—" / "2027.11" on the next line.
            # (OCR reads the dash as 一, and puts a vertical header's letter before the month.)
            body = re.sub(r"^[\u4e00-\u9fff]\s+(?=(?:19|20)\d{2})", "", follows[0].text)
        end_match = _MONTH.match(body.strip()) if second else None
        end = _month(end_match) if end_match else None
        if start:
            out.append(cand("planned_start", start))
        if start and end:
            out.append(cand("planned_end", end))
            out.append(cand("construction_period", _months_between(start, end)))
    months = re.search(r"(\d{1,3})\s*个?月", head)
    years = re.search(r"(\d{1,2}(?:\.5)?)\s*年(?!\d|\s*\d{1,2}\s*月)", head)
    if months and (not first or months.start() < first.start() or not out[1:]):
        out.append(cand("construction_period", int(months.group(1))))
    elif years and not first:
        out.append(cand("construction_period", int(Decimal(years.group(1)) * 12)))
    return out


# --- prose --------------------------------------------------------------------------------

_PROSE_START = re.compile(
    r"(?:计划|拟|预计|将)?于?\s*(?P<date>(?:19|20)\d{2}\s*(?:年\s*\d{1,2}\s*月|[.\-/]\d{1,2}))\s*"
    + _START_WORDS
)
_PROSE_END = re.compile(
    r"(?P<date>(?:19|20)\d{2}\s*(?:年\s*\d{1,2}\s*月|[.\-/]\d{1,2}))\s*(?:份)?\s*" + _END_WORDS
)
_PROSE_NAME = re.compile(r"^(?P<name>[^,，。:：;；]{6,60}?)\s*[(（]以下简称")
_PROSE_PLACE = re.compile(
    r"(?:项目|工程)(?:[(（][^()（）]{0,40}[)）])?[^。,，;；]{0,6}?(?:位于|坐落于|选址于|选址在|建于|建在)(?P<place>[^。;；]{2,60})"
)
# "…由杭州市西湖区体育发展中心负责实施", "项目建设单位为…" is a label.
_PROSE_OWNER = re.compile(
    r"由(?P<unit>[^，。；,;（(由]{4,40}?)(?:负责|作为项目法人|组织)(?:实施|建设|组织实施)?"
)
_PROSE_FROM = re.compile(r"自\s*(?P<date>(?:19|20)\d{2}\s*(?:年\s*\d{1,2}\s*月|[.\-/]\d{1,2}))\s*(?:起|开始)")


# Sub-labels under a merged "计划时间" / "建设期限" cell: "开工 2026年3月", "竣工 2028年10月".
_SHORT_START = re.compile(r"^(?:计划|拟)?(?:开工|动工)(?:时间|日期|年月)?\s*[:：]?\s*(?=(?:19|20)\d{2})")
_SHORT_END = re.compile(
    r"^(?:计划|拟)?(?:[竣峻]工|完工|建成)(?:时间|日期|年月)?\s*[:：]?\s*(?=(?:19|20)\d{2})"
)


def _prose(line: _Line) -> list[_Candidate]:
    out = []
    text = line.text
    for pattern, name in ((_SHORT_START, "planned_start"), (_SHORT_END, "planned_end")):
        match = pattern.match(text)
        month = _MONTH.match(text, match.end()) if match else None
        if month and _month(month):
            out.append(_Candidate(name, _month(month), _snippet(text, 0), line.page, 0.8 * line.score))
    for pattern, name in ((_PROSE_START, "planned_start"), (_PROSE_END, "planned_end")):
        for match in pattern.finditer(text):
            month = _month(_MONTH.match(match.group("date")))
            if month:
                out.append(
                    _Candidate(name, month, _snippet(text, match.start()), line.page, 0.9 * line.score)
                )
    for match in _PROSE_FROM.finditer(text):
        month = _month(_MONTH.match(match.group("date")))
        if month:
            out.append(
                _Candidate(
                    "planned_start", month, _snippet(text, match.start()), line.page, 0.85 * line.score
                )
            )
    for match in _PROSE_OWNER.finditer(text):
        unit = match.group("unit").strip()
        if _UNIT_END.search(unit):
            out.append(
                _Candidate("owner_unit", unit, _snippet(text, match.start()), line.page, 0.8 * line.score)
            )
    for match in _PROSE_PLACE.finditer(text):
        place = _clean_name(match.group("place"), stops="。;；,，")
        if 4 <= len(place) <= 40:
            out.append(
                _Candidate("location", place, _snippet(text, match.start()), line.page, 0.8 * line.score)
            )
    for pattern in (_QUOTED_TITLE, _AGREED):
        for match in pattern.finditer(text.replace(" ", "")):
            name = _named_by_title(match.group("title"))
            if name:
                out.append(_Candidate("project_name", name, _snippet(text, 0), line.page, 0.7 * line.score))
    for match in _AGREED_PROJECT.finditer(text.replace(" ", "")):
        name = match.group("name")
        if _NAME_END.search(name) and not _FUND_CHANNEL.fullmatch(name):
            out.append(_Candidate("project_name", name, _snippet(text, 0), line.page, 0.7 * line.score))
    match = _PROSE_NAME.search(text)
    if match:
        name = match.group("name").strip('“”"')
        out.append(_Candidate("project_name", name, _snippet(text, 0), line.page, 0.9 * line.score))
    for match in _CODE.finditer(text.upper()):
        out.append(
            _Candidate(
                "project_code",
                "-".join(match.groups()),
                _snippet(text, match.start()),
                line.page,
                0.8 * line.score,
            )
        )
    return out


_TOTAL_ROW = re.compile(r"^(?:\d+\s+)?(?:总计|合计|投资合计|总投资合计)\s*[:：]?\s*(?P<rest>.*)$")


def _total_rows(lines: list[_Line]) -> list[_Candidate]:
    """The 合计 row of an investment estimate table (投资估算表) is the total investment; a weak
    candidate, for documents that give the total only there."""
    out = []
    # 概算 / 估算 are estimates of the investment: their tables' 合计 is the total too.
    pages_about_investment = {line.page for line in lines if re.search("投资|概算|估算", line.text)}
    for index, line in enumerate(lines):
        match = _TOTAL_ROW.match(line.text)
        if not match or line.page not in pages_about_investment:
            continue
        rest = match.group("rest")
        unit = _page_unit(lines, index)
        unit_column = re.match(r"^(亿元|万元|元)\s+(?=\d)", rest)
        if unit_column:
            unit, rest = unit_column.group(1)[0], rest[unit_column.end() :]
        column, parts = _reviewed_column(lines, index), rest.split()
        rest = parts[column] if column and column < len(parts) else rest  # (a scan may merge cells)
        found = _amount_match(rest[:40], default_unit=unit)
        if found and found[1] <= 3:
            out.append(
                _Candidate(
                    "total_investment_yuan", found[0], _snippet(line.text, 0), line.page, 0.6 * line.score
                )
            )
    return out


_ASKED_COLUMN = re.compile(r"^(?:申报|送审|报审|原)(?:数|金额|投资)?$")
_REVIEWED_COLUMN = re.compile(r"^(?:评估|审定|核定|审核|调整后)(?:数|金额|投资)?$")


def _reviewed_column(lines: list[_Line], index: int) -> int | None:
    """In a 申报数 / 评估数 / 增减 table the total is the reviewed column's: its place among the
    amount columns (0 = the first after the name), when a header above says so."""
    for line in reversed(lines[max(0, index - 12) : index]):
        words = line.text.split()
        asked = [i for i, w in enumerate(words) if _ASKED_COLUMN.match(w)]
        reviewed = [i for i, w in enumerate(words) if _REVIEWED_COLUMN.match(w)]
        if asked and reviewed:
            first = min(asked + reviewed)
            return reviewed[0] - first if reviewed[0] > first else None
    return None


# "关于X初步设计的批复" / "《关于要求审批X可行性研究报告的请示》": the document kind is followed by
# what the letter is (the request, the reply), and preceded by what was asked.
_LETTER_END = re.compile(
    r"的(?:批复|复函|请示|函|报告|通知|(?:评估|审查|评审|审核)?意见|决定|(?:专题|协调|工作)?会议纪要)$"
)
# What a title says it is about, after the project: "关于X推进工作的专题会议纪要".
_ABOUT = re.compile(r"(?:前期工作推进|推进工作|前期工作|建设推进|有关事宜|有关问题|相关事宜|相关问题)$")
_LETTER_START = re.compile(r"^关于(?:要求|申请|请求|报请)?(?:审批|核准|批准|审查|批复)?")
_QUOTED_TITLE = re.compile(r"《(?P<title>[^《》]{6,80})》")
# "会议同意实施X（项目代码：…）".
_AGREED_PROJECT = re.compile(
    r"同意(?:实施|建设|启动|开工建设|立项)(?P<name>[^，。；,;（(]{6,60}?)(?=[（(。，,；;]|$)"
)
_AGREED = re.compile(
    r"(?:原则)?同意(?P<title>[^，。；,;（(]{6,60}?(?:可行性研究报告|项目建议书|初步设计|实施方案))"
)


# "中央预算内投资项目资金申请报告": the kind of money asked for, not the project's name.
_FUND_CHANNEL = re.compile(
    r"(?:中央预算内投资|中央预算内|地方政府专项债券|专项债券|政府投资|超长期特别国债|重点建设|重大)项目"
)


def _letter_title(lines: list[_Line], i: int) -> tuple[str, int]:
    """A "关于…的批复" title wrapped over up to three lines, joined; and the lines it took."""
    text = lines[i].text.replace(" ", "")
    taken = 1
    while (
        text.startswith("关于")
        and not _LETTER_END.search(text)
        and taken < 3
        and i + taken < len(lines)
        and lines[i + taken].page == lines[i].page
        and not _labels_in(lines[i + taken].text)
    ):
        text += lines[i + taken].text.replace(" ", "")
        taken += 1
    return text, taken


def _named_by_title(title: str) -> str | None:
    """The project named in "关于要求审批X可行性研究报告的请示" (None when it is no such title)."""
    ended = _LETTER_END.search(title)
    title = _LETTER_START.sub("", _LETTER_END.sub("", title)).strip("《》")
    kind = _DOC_KINDS.search(title)
    name = title[: kind.start()].strip("《》") if kind else ""
    if not kind and ended and _ABOUT.search(title):
        name = _ABOUT.sub("", title)  # minutes are about a project, not a document of it
    if _FUND_CHANNEL.fullmatch(name):
        return None
    return name if 6 <= len(name) <= 60 and _NAME_END.search(name) else None


_YOUR_UNIT = re.compile(r"^你(?:公司|集团|局|院|单位|中心|委|校|所|站|办|处|馆|会)")


def _addressee(lines: list[_Line]) -> list[_Candidate]:
    """A reply's addressee is the owner when the letter goes on "你公司报来的…": "X有限公司：".
    (A reply addressed to the 发改局 that forwarded the request names the owner elsewhere.)"""
    out = []
    for line, after in zip(lines[:15], lines[1:16], strict=False):
        text = line.text.replace(" ", "")
        if not re.search("[:：]$", text) or not _YOUR_UNIT.match(after.text) or _labels_in(text):
            continue
        name = text.rstrip(":：")
        if 4 <= len(name) <= 50 and _UNIT_END.search(name) and not re.search("发展和改革|发改", name):
            out.append(
                _Candidate("owner_unit", name, line.text + after.text[:20], line.page, 0.7 * line.score)
            )
    return out


def _title_name(lines: list[_Line]) -> list[_Candidate]:
    """A title "X可行性研究报告" (on one line or two) near the top of the first pages names the project."""
    out = []
    for i, line in enumerate(lines[:40]):
        text = line.text.replace(" ", "")
        if text.startswith("关于") and line.page <= 2:
            title, _taken = _letter_title(lines, i)
            name = _named_by_title(title)
            if name and _LETTER_END.search(title):
                out.append(_Candidate("project_name", name, title, line.page, 0.75 * line.score))
                continue
        if _labels_in(text):
            continue
        kind = _DOC_KINDS.search(text)
        if kind and line.page <= 2:
            name = text[: kind.start()]
            if _FUND_CHANNEL.fullmatch(name):
                name = ""  # "X" / "中央预算内投资项目资金申请报告"
            if len(name) < 4 and i > 0:  # "X" / "可行性研究报告" on two lines
                previous = lines[i - 1].text.replace(" ", "")
                name = previous + name if not _labels_in(previous) else name
            name = re.sub(r"^关于", "", name)
            if 6 <= len(name) <= 60 and _NAME_END.search(name):
                out.append(_Candidate("project_name", name, line.text, line.page, 0.7 * line.score))
        elif (
            i + 1 < len(lines)
            and lines[i + 1].page == line.page <= 2
            and _DOC_KINDS.fullmatch(lines[i + 1].text.replace(" ", ""))
            and 6 <= len(text) <= 60
            and _NAME_END.search(text)
        ):
            out.append(_Candidate("project_name", text, line.text, line.page, 0.7 * line.score))
    return out


# --- tables read by position -------------------------------------------------------------
#
# A 计划表 puts one label per column in a header row and each project in a row below, its
# cells wrapped over several lines ("宁波市鄞州区钟公" / "庙街道中心幼儿园" / "建设项目"): in
# reading order the lines of all cells interleave. With the runs' places, the runs stacked in
# one cell are joined again, and each label's column gives its value: the first cell below the
# header in it, on a row that is not a 合计/小计 row.


@dataclass
class _Cell:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    score: float
    last: tuple[float, float]  # x0, x1 of the cell's last line

    @property
    def centre(self) -> float:
        return (self.x0 + self.x1) / 2


_TOTAL_CELL = re.compile(r"^(?:合计|小计|总计|共计)$")
_COLUMN_WEIGHT = 1.5  # a label over its column is stronger evidence than the reading order


def _stack(boxes, *, ocr: bool = False) -> tuple[list[_Cell], float]:
    """Runs stacked in one cell (same left edge or centre, a gap under a line) joined."""
    runs = sorted((b for b in boxes if b[4].strip()), key=lambda b: (b[1], b[0]))
    if not runs:
        return [], 0.0
    heights = sorted(b[3] - b[1] for b in runs)
    line = max(heights[len(heights) // 2], 1.0)
    cells: list[_Cell] = []
    for x0, y0, x1, y1, text, score in runs:
        text = text.translate(_FOLD).strip()
        text = correct_places(text) if ocr else text
        below = None
        is_label = _label_run(text)
        for cell in cells:
            gap = y0 - cell.y1
            aligned = abs(x0 - cell.last[0]) <= 0.6 * line or abs((x0 + x1) - sum(cell.last)) <= 1.2 * line
            if not (-0.3 * line <= gap <= 0.8 * line and aligned and min(x1, cell.x1) > max(x0, cell.x0)):
                continue
            # A label is a cell of its own (in a card the value sits right under its label),
            # unless its line wraps ("计划开工年" / "月").
            if (is_label or _label_run(cell.text)) and not _label_cell(cell.text + text):
                continue
            below = cell
        if below is None:
            cells.append(_Cell(x0, y0, x1, y1, text, score, (x0, x1)))
        else:
            below.text += text
            below.x0, below.x1 = min(below.x0, x0), max(below.x1, x1)
            below.y1, below.score, below.last = max(below.y1, y1), min(below.score, score), (x0, x1)
    return cells, line


def _label_run(text: str) -> bool:
    """A run that is a label of ours or of another field ("项目类别"), alone."""
    text = "".join(text.split())
    match = _LABEL_RE.match(text)
    return bool(_label_cell(text) or (match and len(text) - match.end() <= 1))


def _label_cell(text: str) -> tuple[str, str | None] | None:
    """(field, unit) when the cell holds a field's label and nothing else (a unit may follow;
    a number may precede, as in the heading "（一）项目名称")."""
    text = "".join(text.split())
    text = text[m.end() :] if (m := _ENUMERATED.match(text)) else text
    labels = _labels_in(text)
    if not labels or labels[0][0] != 0 or labels[0][2] is None or len(labels) > 1:
        return None
    rest = text[labels[0][1] :]
    rest = rest[_LABEL_SUFFIX.match(rest).end() :]
    unit = _LABEL_UNIT.match(rest)
    if unit:
        rest = rest[unit.end() :]
    return (labels[0][2], unit.group(1)[0] if unit else None) if len(rest) <= 1 else None


def _column_tables(document) -> list[_Candidate]:
    out = []
    for page in document.pages:
        if page.boxes:
            out += _columns_of_page(page)
    return out


def _columns_of_page(page) -> list[_Candidate]:
    cells, line = _stack(page.boxes, ocr=page.method == "ocr")
    labels = {id(cell): found for cell in cells if (found := _label_cell(cell.text))}
    page_text = "\n".join(c.text for c in cells)
    table_unit = _TABLE_UNIT.search(page_text)
    out = []
    for cell in cells:
        if id(cell) not in labels:
            continue
        # The label's row: a header of a 计划表 (three fields' labels or more, most of the
        # row labels) or a row of labels only (a card's boxes, a numbered heading).
        band = [c for c in cells if c.y0 < cell.y1 - 0.3 * line and c.y1 > cell.y0 + 0.3 * line]
        if not _header_band(band, labels):
            continue
        name, unit = labels[id(cell)]
        bottom = max(c.y1 for c in band)
        left = max((c.x1 for c in band if c.x1 <= cell.x0 + 1), default=None)
        right = min((c.x0 for c in band if c.x0 >= cell.x1 - 1), default=None)
        lo = (left + cell.x0) / 2 if left is not None else float("-inf")
        hi = (right + cell.x1) / 2 if right is not None else float("inf")
        below = sorted(
            (c for c in cells if c.y0 > bottom - 0.3 * line and lo <= c.centre < hi and c not in band),
            key=lambda c: c.y0,
        )
        for value in below:
            if value.y0 - bottom > 12 * line:
                break  # too far down to be this label's
            text = value.text
            inner = next((m for m in _LABEL_RE.finditer(text) if m.start() > 0), None)
            if inner and name != "scale_content":
                text = text[: inner.start()]  # a scan's box ran on into the next label
            row = [c for c in cells if c.y0 < value.y1 and c.y1 > value.y0]
            if any(_TOTAL_CELL.match("".join(c.text.split())) for c in row):
                continue  # the 合计 row: every project's sum, not this one's
            if _labelled_text(value.text) or re.search(r"[:：]", value.text[:8]):
                break  # the next row of labels, or the 填表人： lines under the table
            weight = _COLUMN_WEIGHT * min(cell.score, value.score)
            snippet = f"{cell.text} {text}"[:120]
            unit_here = unit or (table_unit.group(1)[0] if table_unit else None)
            out += _values_for(name, text, [], unit_here, snippet, page.number, weight, labelled=True)
            break
    return out


def _header_band(band: list[_Cell], labels: dict) -> bool:
    """A row of labels only, or a table's header: three fields' labels or more, and header
    cells a third of the row or more (a scan's header is in pieces, "建设规模及主要建" /
    "设内容", that are no labels). A key-value row of three pairs passes too; its label
    columns have the next row's labels under them, which end the search for a value."""
    headers = sum(1 for c in band if _labelled_text(c.text))
    if headers == len(band):
        return True
    fields_in = {labels[id(c)][0] for c in band if id(c) in labels}
    return len(fields_in) >= 3 and headers * 3 >= len(band)


def _labelled_text(text: str) -> bool:
    """A header cell: a label of ours or another's ("序号", "备注", "2026年计划投资" count too)."""
    text = "".join(text.split())
    return bool(
        _label_cell(text)
        or _LABEL_RE.match(text)
        or re.fullmatch(
            r"序号|备注|(?:19|20)\d{2}年[^\d]{2,12}|[^\d]{2,10}(?:资金|投资|贷款|自筹|债券)", text
        )
    )


# --- choosing -----------------------------------------------------------------------------


def _key(value) -> object:
    if isinstance(value, list):
        return tuple((item["source"], item["amount"]) for item in value)
    if isinstance(value, str):
        return "".join(value.split())
    return value


def _choose(candidates: list[_Candidate]) -> dict[str, Found]:
    """Per field, the value with the most support (sum of candidate scores); its best
    candidate's snippet and page; confidence = that candidate's score, raised a little
    when other occurrences agree and lowered when they disagree."""
    by_field: dict[str, dict[object, list[_Candidate]]] = defaultdict(lambda: defaultdict(list))
    for candidate in candidates:
        by_field[candidate.name][_key(candidate.value)].append(candidate)
    # Only the period given ("建设期24个月，自2026年3月起"): the end month is not in the document.
    out: dict[str, Found] = {}
    for name in FIELDS:
        values = by_field.get(name)
        if not values:
            continue
        support = {key: sum(c.score for c in group) for key, group in values.items()}
        best_key = max(support, key=lambda key: (support[key], -_first(values[key])))
        group = values[best_key]
        best = max(group, key=lambda c: c.score)
        total = sum(support.values())
        agreement = support[best_key] / total if total else 1.0
        confidence = min(1.0, best.score * (0.6 + 0.4 * agreement) + 0.05 * (len(group) - 1))
        out[name] = Found(name, best.value, best.snippet, best.page, round(confidence, 3))
    return out


def _first(group: list[_Candidate]) -> int:
    return min(c.page for c in group)
