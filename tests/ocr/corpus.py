"""Synthetic project documents with ground truth, for the OCR extraction (issue 11).

`generate(folder, n=..., seed=...)` writes documents that look like what applicants upload
(项目建议书, 可行性研究报告, 初步设计, 申报表, 请示, 说明书) as text PDFs rendered by
WeasyPrint with the Noto CJK fonts and, with `scans=True`, as scan-like images (rendered at
150–200 dpi, rotated up to ±1.5°, blurred, noisy, greyscale, saved as PNG, JPEG or an
image-only PDF, so the reader has to OCR them). Beside each document `X.pdf` / `X.png` /
`X.jpg` lies `X.json` in the issue's format:

    {"project_name", "project_code", "owner_unit", "location",
     "total_investment_yuan" (decimal string, yuan), "planned_start", "planned_end" (YYYY-MM)}

A key is absent when the document does not state that field. In particular a document that
gives only the construction period ("建设期24个月，自2026年3月起") has `planned_start` but no
`planned_end`: the completion month is not written in it (and "24 months from March" is read
both as February and as March of the end year). `Spec.extra` holds what the JSON format has
no key for (funding sources, construction period, scale and content) for tests that want it.

Layouts. The extraction may be written and tuned against the DEV layouts only; the accuracy
targets are measured on the HELD_OUT layouts, whose labels, units and arrangement differ
(unit in the label, merged cells, prose letters, tables split across pages):

    DEV       proposal_cover  项目建议书: cover page, then a 项目概况表 summary table
              fsr_prose       可行性研究报告: chapter "第一章 项目概况" in prose
              design_kv       初步设计: two key-value pairs per table row
    HELD_OUT  form_grid       申报表: grid table with merged cells, amounts in 万元 by label
              letter          关于…项目的请示: a letter in prose
              mixed_report    说明书 with running headers/footers and a table split over two pages
              register_columns 信息登记表: labels in a header row, values in the row below
              cost_summary    初步设计概算书: labelled lines; the total is the 合计 of the cost table

register_columns and cost_summary were added after the extraction had been developed with
the three others in view, so that some held-out layouts are new to it.

Deterministic for a seed: the same documents, values and images (PDF metadata aside).
"""

from __future__ import annotations

import html
import io
import json
import random
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from backend.ocr.evaluate import TRUTH_FIELDS
from backend.org.regions import CITIES, PROVINCE

DEV_LAYOUTS = ("proposal_cover", "fsr_prose", "design_kv")
HELD_OUT_LAYOUTS = ("form_grid", "letter", "mixed_report", "register_columns", "cost_summary")
LAYOUTS = DEV_LAYOUTS + HELD_OUT_LAYOUTS

# The keys of the ground-truth JSON (the evaluate command's).
TRUTH_KEYS = TRUTH_FIELDS

# --- values -------------------------------------------------------------------------------

# County code -> real 街道/镇 of that county (a subset of the counties of backend.org.regions).
STREETS = {
    "330106": ("留下街道", "转塘街道", "蒋村街道", "西溪街道", "三墩镇"),
    "330108": ("长河街道", "西兴街道", "浦沿街道"),
    "330110": ("良渚街道", "五常街道", "闲林街道", "仓前街道"),
    "330109": ("北干街道", "宁围街道", "瓜沥镇"),
    "330105": ("祥符街道", "半山街道", "康桥街道"),
    "330203": ("南门街道", "石碶街道", "集士港镇"),
    "330212": ("首南街道", "钟公庙街道", "姜山镇"),
    "330302": ("五马街道", "七都街道"),
    "330381": ("安阳街道", "塘下镇"),
    "330402": ("南湖街道", "七星街道"),
    "330481": ("海洲街道", "许村镇"),
    "330502": ("龙泉街道", "织里镇"),
    "330602": ("府山街道", "皋埠街道"),
    "330603": ("柯桥街道", "齐贤街道"),
    "330782": ("稠城街道", "佛堂镇"),
    "330802": ("信安街道", "府山街道"),
    "330902": ("昌国街道", "临城街道"),
    "331002": ("海门街道", "白云街道"),
    "331102": ("紫金街道", "白云街道"),
}
ROADS = ("人民路", "文化路", "迎宾大道", "滨江大道", "环城东路", "新华路", "学府路", "工业大道")
RIVERS = ("沿山河", "横港河", "南排河", "新塘河", "西塘河", "白马湖港")
DESIGNERS = (
    "浙江省城乡规划设计研究院",
    "杭州市城建设计研究院有限公司",
    "浙江省建筑设计研究院有限公司",
    "宁波市政工程设计研究院有限公司",
    "中国联合工程有限公司",
    "华东勘测设计研究院有限公司",
)
FUNDING = (
    "中央预算内资金",
    "省级财政补助资金",
    "地方政府专项债券",
    "市级财政资金",
    "区县财政资金",
    "企业自筹",
    "银行贷款",
)
SURNAMES = "王李张刘陈杨黄赵周吴徐孙朱胡郭何高林"
GIVEN = ("建国", "晓东", "丽华", "志强", "海燕", "伟", "静", "明", "敏", "军", "磊", "婷")

# industry: (name patterns, owner patterns, scale pattern, sector code of the project code).
# {S} street, {s} street without 街道/镇, {R} road, {V} river; owners get {P} (city+county or county).
INDUSTRIES = {
    "市政": (
        (
            "{S}农贸市场改造工程",
            "{R}道路提升改造工程",
            "{s}片区地下综合管廊工程",
            "{s}片区污水管网提标改造工程",
        ),
        ("{P}城市建设发展有限公司", "{P}城市建设投资集团有限公司", "{P}住房和城乡建设局"),
        "道路及管线全长{k}公里，同步实施排水、照明、绿化及交通设施工程，改造农贸市场及配套用房建筑面积{a}平方米。",
        "48",
    ),
    "水利": (
        ("{V}综合整治工程", "{V}堤防加固工程"),
        ("{P}水利投资发展有限公司", "{P}水利局"),
        "整治河道{k}公里，加固堤防{k2}公里，新建排涝泵站{n}座及滨水绿道。",
        "76",
    ),
    "教育": (
        ("{s}九年一贯制学校新建工程", "{S}中心幼儿园建设项目"),
        ("{P}教育局",),
        "新建{n}班学校，总建筑面积{a}平方米，配套风雨操场、地下车库及室外活动场地。",
        "83",
    ),
    "卫生": (
        ("人民医院门急诊综合楼建设项目", "{s}社区卫生服务中心迁建工程"),
        ("{P}卫生健康局", "{P}人民医院"),
        "新建门急诊综合楼，总建筑面积{a}平方米，新增床位{n}张，配套医技用房及地下停车库。",
        "84",
    ),
    "住房": (
        ("{s}单元保障性租赁住房项目", "{S}城中村改造安置房工程"),
        ("{P}安居集团有限公司", "{P}城市建设发展有限公司"),
        "新建住房{n}套，总建筑面积{a}平方米，配套地下车库及社区服务用房。",
        "47",
    ),
    "交通": (
        ("公交首末站建设项目", "{R}快速路工程"),
        ("{P}交通投资集团有限公司", "{P}交通运输局"),
        "新建道路{k}公里，公交首末站{n}处，配套充电桩{m}个及交通安全设施。",
        "48",
    ),
    "体育": (
        ("全民健身中心建设项目",),
        ("{P}体育发展中心", "{P}文化和广电旅游体育局"),
        "新建全民健身中心，总建筑面积{a}平方米，含游泳馆、篮球馆、健身房及配套用房。",
        "89",
    ),
}

# The check character's alphabet as in the unified social credit code (no I, O, S, V, Z).
CHECK_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
DIGITS = "零壹贰叁肆伍陆柒捌玖"
# Telephone area codes of the cities of STREETS.
AREA_CODES = {
    "330100": "0571",
    "330200": "0574",
    "330300": "0577",
    "330400": "0573",
    "330500": "0572",
    "330600": "0575",
    "330700": "0579",
    "330800": "0570",
    "330900": "0580",
    "331000": "0576",
    "331100": "0578",
}


@dataclass
class Spec:
    """One document: its layout, everything it shows, and its ground truth."""

    stem: str
    layout: str
    truth: dict  # the JSON (TRUTH_KEYS, absent when not in the document)
    extra: dict = field(default_factory=dict)  # funding_sources, construction_period, scale_content
    html: str = ""


# --- number and date formats --------------------------------------------------------------


def _wan_text(wan: Decimal, *, commas: bool) -> str:
    text = f"{wan:,.2f}" if commas else f"{wan:.2f}"
    return text[:-3] if text.endswith(".00") else text


def amount_text(wan: Decimal, style: str) -> str:
    """The amount (in 万元) as documents write it."""
    if style == "wan":
        return _wan_text(wan, commas=False) + "万元"
    if style == "wan_commas":
        return _wan_text(wan, commas=True) + "万元"
    if style == "wan_2dp":
        return f"{wan:.2f}万元"
    if style in ("yi", "about_yi"):
        yi = (wan / 10000).normalize()
        return ("约" if style == "about_yi" else "") + f"{yi:f}亿元"
    if style == "yuan":
        return f"{wan * 10000:.0f}元"
    if style == "yuan_commas":
        return f"{wan * 10000:,.2f}元"
    raise ValueError(style)


def amount_styles(wan: Decimal) -> tuple[str, ...]:
    styles = ["wan", "wan_commas", "wan_2dp", "yuan", "yuan_commas"]
    if wan % 100 == 0:  # 亿 with at most two places
        styles += ["yi", "about_yi"]
    return tuple(styles)


def capital_yuan(yuan: int) -> str:
    """Whole yuan in financial capitals (大写), e.g. 125000000 -> 壹亿贰仟伍佰万元整."""
    if yuan == 0:
        return "零元整"

    def four(n: int) -> str:  # 0 < n < 10000
        out, zero = "", False
        for value, unit in ((1000, "仟"), (100, "佰"), (10, "拾"), (1, "")):
            d = n // value % 10
            if d == 0:
                zero = bool(out)
            else:
                out += ("零" if zero else "") + DIGITS[d] + unit
                zero = False
        return out

    groups = []
    n = yuan
    while n:
        groups.append(n % 10000)
        n //= 10000
    out = ""
    for i in range(len(groups) - 1, -1, -1):
        g = groups[i]
        if g == 0:
            continue
        if out and (g < 1000 or groups[i + 1] == 0):
            out += "零"
        out += four(g) + ("", "万", "亿", "万亿")[i]
    return out.replace("零零", "零") + "元整"


def month_text(year: int, month: int, style: str) -> str:
    return {
        "cn": f"{year}年{month}月",
        "cn0": f"{year}年{month:02d}月",
        "dot": f"{year}.{month:02d}",
        "dash": f"{year}-{month:02d}",
        "slash": f"{year}/{month:02d}",
    }[style]


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    total = year * 12 + month - 1 + months
    return total // 12, total % 12 + 1


# --- one document's values ----------------------------------------------------------------


def _values(rng: random.Random) -> dict:
    county_code = rng.choice(sorted(STREETS))
    city_code = county_code[:4] + "00"
    city, counties = CITIES[city_code]
    county = dict(counties)[county_code]
    street = rng.choice(STREETS[county_code])
    short = street.removesuffix("街道").removesuffix("镇")
    industry = rng.choice(sorted(INDUSTRIES))
    names, owners, scale, sector = INDUSTRIES[industry]
    subject = rng.choice(names).format(S=street, s=short, R=rng.choice(ROADS), V=rng.choice(RIVERS))
    # 县级市 and 县 (codes 2x, 8x) are named without their city
    county_level = county_code[4] in "28"
    prefix = f"{city}{county}" if rng.random() < 0.7 and not county_level else county
    owner_prefix = f"{city}{county}" if rng.random() < 0.6 and not county_level else county
    owner = rng.choice(owners).format(P=owner_prefix)
    if industry == "市政" and "农贸市场" in subject and street.endswith("街道"):
        owner = f"{owner_prefix}人民政府{street}办事处"

    year = rng.choice((2024, 2025, 2026))
    code = "-".join(
        (
            str(year),
            county_code,
            sector,
            rng.choice(("01", "02", "03")),
            "".join(rng.choice("0123456789") for _ in range(5)) + rng.choice(CHECK_CHARS),
        )
    )
    location = rng.choice(
        (f"{PROVINCE[1]}{city}{county}{street}", f"{city}{county}{street}", f"{county}{street}")
    )

    if rng.random() < 0.6:
        wan = Decimal(rng.randrange(8, 600) * 100)  # round hundreds of 万
    elif rng.random() < 0.7:
        wan = Decimal(rng.randrange(800, 60000) * 10)
    else:
        wan = Decimal(rng.randrange(80000, 3000000)) / 100  # 万元 with two places
    k = rng.choice((2, 2, 3, 3, 4))
    sources = rng.sample(FUNDING, k)
    amounts, left = [], wan
    for _ in range(k - 1):
        part = (left * Decimal(rng.uniform(0.2, 0.6)) / 10).quantize(Decimal(1)) * 10
        amounts.append(part)
        left -= part
    amounts.append(left)
    funding = [(s, a) for s, a in zip(sources, amounts, strict=True)]

    start = (year + rng.choice((0, 1)), rng.randrange(1, 13))
    period = rng.choice((12, 18, 24, 30, 36, 48))
    end = _add_months(*start, period)
    scale_text = scale.format(
        k=f"{rng.randrange(8, 90) / 10:g}",
        k2=f"{rng.randrange(8, 60) / 10:g}",
        a=f"{rng.randrange(40, 1200) * 100}",
        n=rng.randrange(2, 60) if industry != "住房" else rng.randrange(300, 2000),
        m=rng.randrange(10, 80),
    )
    return {
        "city": city,
        "county": county,
        "street": street,
        "industry": industry,
        "project_name": prefix + subject,
        "project_code": code,
        "owner_unit": owner,
        "location": location,
        "wan": wan,
        "funding": funding,
        "start": start,
        "end": end,
        "period": period,
        "scale_content": scale_text,
        "designer": rng.choice(DESIGNERS),
        "contact": rng.choice(SURNAMES) + rng.choice(GIVEN),
        "phone": f"{AREA_CODES[city_code]}-8{rng.randrange(1000000, 9999999)}",
        "issued": (start[0] - (1 if start[1] <= 3 else 0), (start[1] - 4) % 12 + 1, rng.randrange(1, 29)),
        "nature": rng.choice(("新建", "新建", "改扩建")),
    }


def _omitted(rng: random.Random) -> set[str]:
    """Fields this document does not state (the name is always there)."""
    out = set()
    for key, p in (
        ("project_code", 0.15),
        ("owner_unit", 0.08),
        ("location", 0.1),
        ("total_investment_yuan", 0.05),
        ("dates", 0.12),
    ):
        if rng.random() < p:
            out.add(key)
    return out


# --- HTML ----------------------------------------------------------------------------------

BASE_CSS = """
@page { size: A4; margin: 2.2cm 2.2cm 2.4cm 2.2cm; }
body { font-family: "Noto Serif CJK SC"; font-size: 12pt; line-height: 1.7; color: #111; }
h1, h2, h3, th, .label { font-family: "Noto Sans CJK SC"; }
h1 { font-size: 20pt; text-align: center; margin: 0 0 0.6em; }
h2 { font-size: 15pt; margin: 1em 0 0.4em; }
h3 { font-size: 13pt; margin: 0.8em 0 0.2em; }
table { border-collapse: collapse; width: 100%; }
td, th { border: 1px solid #222; padding: 5px 7px; vertical-align: middle; }
.label { font-weight: bold; background: #f2f2f2; white-space: nowrap; }
.code { white-space: nowrap; }
p { text-indent: 2em; margin: 0.3em 0; text-align: justify; }
.plain { text-indent: 0; }
.right { text-align: right; }
.center { text-align: center; text-indent: 0; }
"""


def _e(value) -> str:
    return html.escape(str(value))


def _doc(body: str, css: str = "") -> str:
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><style>'
        + BASE_CSS
        + css
        + "</style></head><body>"
        + body
        + "</body></html>"
    )


def _funding_text(funding, style: str) -> str:
    return "，".join(f"{s}{amount_text(a, style)}" for s, a in funding)


def _date_forms(v, rng, *, allowed=("separate", "range", "period", "prose")):
    """How the planned dates are written: (form, start text, end text, month style)."""
    form = rng.choice(allowed)
    style = rng.choice(("cn", "cn0", "dot", "dash"))
    if form in ("period", "prose"):
        style = rng.choice(("cn", "cn0"))
    return form, month_text(*v["start"], style), month_text(*v["end"], style)


def _issued(v) -> str:
    y, m, d = v["issued"]
    return f"{y}年{m}月{d}日"


def render_proposal_cover(v, omit, rng):
    """项目建议书: a cover page, then 项目概况表 (label | value)."""
    form, start, end = _date_forms(v, rng, allowed=("separate", "range", "period"))
    style = rng.choice(amount_styles(v["wan"]))
    owner_label = rng.choice(("项目单位", "建设单位"))
    cover = (
        '<div class="cover">'
        f'<h1 class="title">{_e(v["project_name"])}</h1>'
        '<h1 class="kind">项目建议书</h1>'
        + (
            f'<p class="center big">{owner_label}：{_e(v["owner_unit"])}</p>'
            if "owner_unit" not in omit
            else ""
        )
        + f'<p class="center big">编制单位：{_e(v["designer"])}</p>'
        f'<p class="center big">{_issued(v)}</p></div>'
    )
    rows = [("项目名称", _e(v["project_name"]))]
    if "project_code" not in omit:
        rows.append(("项目代码", f'<span class="code">{_e(v["project_code"])}</span>'))
    if "owner_unit" not in omit:
        rows.append((owner_label, _e(v["owner_unit"])))
    if "location" not in omit:
        rows.append(("建设地点", _e(v["location"])))
    rows.append(("建设性质", v["nature"]))
    if "total_investment_yuan" not in omit:
        rows.append(("项目总投资", amount_text(v["wan"], style)))
    rows.append(("资金来源", _funding_text(v["funding"], "wan")))
    if "dates" not in omit:
        if form == "separate":
            rows += [("计划开工时间", start), ("计划竣工时间", end)]
        elif form == "range":
            rows.append(("建设起止年限", f"{start}至{end}"))
        else:
            rows.append(("建设工期", f"建设期{v['period']}个月，自{start}起"))
    rows.append(("建设规模及内容", _e(v["scale_content"])))
    table = "".join(f'<tr><td class="label">{k}</td><td>{val}</td></tr>' for k, val in rows)
    body = cover + '<h2 class="pagebreak">项目概况表</h2><table>' + table + "</table>"
    css = (
        ".cover { page-break-after: always; padding-top: 5cm; } .cover .title { font-size: 22pt; }"
        " .cover .kind { font-size: 26pt; margin-bottom: 6cm; } .big { font-size: 14pt; }"
    )
    return _doc(body, css), form, form == "period" and "dates" not in omit


def render_fsr_prose(v, omit, rng):
    """可行性研究报告, 第一章 项目概况, in prose."""
    form, start, end = _date_forms(v, rng, allowed=("prose", "period"))
    style = rng.choice(amount_styles(v["wan"]))
    first = f"{_e(v['project_name'])}（以下简称“本项目”）"
    if "project_code" not in omit:
        first += f'，项目代码为<span class="code">{_e(v["project_code"])}</span>'
    first += "。"
    if "owner_unit" not in omit:
        first += f"本项目建设单位为{_e(v['owner_unit'])}。"
    if "location" not in omit:
        first += f"项目建设地点位于{_e(v['location'])}。"
    invest = ""
    if "total_investment_yuan" not in omit:
        works = (v["wan"] * Decimal("0.78")).quantize(Decimal("0.01"))
        invest = (
            f"<p>经估算，本项目总投资为{amount_text(v['wan'], style)}，其中工程费用"
            f"{amount_text(works, 'wan')}，其余为工程建设其他费用及预备费。</p>"
        )
    invest += f"<p>项目资金来源：{_funding_text(v['funding'], 'wan')}。</p>"
    if "dates" in omit:
        schedule = "<p>项目建设进度将根据前期工作进展另行安排。</p>"
    elif form == "prose":
        schedule = f"<p>本项目计划于{start}开工建设，{end}竣工验收，建设工期{v['period']}个月。</p>"
    else:
        schedule = f"<p>本项目建设期{v['period']}个月，自{start}起。</p>"
    body = (
        f"<h1>{_e(v['project_name'])}<br>可行性研究报告</h1>"
        "<h2>第一章 项目概况</h2>"
        "<h3>1.1 项目基本情况</h3>"
        f"<p>{first}</p>"
        "<h3>1.2 建设规模及内容</h3>"
        f"<p>{_e(v['scale_content'])}</p>"
        "<h3>1.3 投资估算及资金筹措</h3>"
        + invest
        + "<h3>1.4 建设工期</h3>"
        + schedule
        + "<h3>1.5 编制单位</h3>"
        f"<p>本报告由{_e(v['designer'])}编制，编制日期为{_issued(v)}。</p>"
    )
    return _doc(body), form, "dates" not in omit


def render_design_kv(v, omit, rng):
    """初步设计: 工程概况, a table with two label/value pairs per row."""
    form, start, end = _date_forms(v, rng, allowed=("separate", "range"))
    style = rng.choice(amount_styles(v["wan"]))
    cells = []

    def pair(label, value):
        cells.append((label, value))

    if "project_code" not in omit:
        pair("项目代码", f'<span class="code">{_e(v["project_code"])}</span>')
    if "owner_unit" not in omit:
        pair("建设单位", _e(v["owner_unit"]))
    if "location" not in omit:
        pair("建设地点", _e(v["location"]))
    pair("建设性质", v["nature"])
    if "total_investment_yuan" not in omit:
        pair("概算总投资", amount_text(v["wan"], style))
    pair("设计单位", _e(v["designer"]))
    if "dates" not in omit:
        if form == "separate":
            pair("计划开工", start)
            pair("计划竣工", end)
        else:
            pair("建设年限", f"{start}—{end}")
    if len(cells) % 2:
        pair("所属行业", v["industry"])
    rows = [f'<tr><td class="label">项目名称</td><td colspan="3">{_e(v["project_name"])}</td></tr>']
    for i in range(0, len(cells), 2):
        (a, av), (b, bv) = cells[i], cells[i + 1]
        rows.append(
            f'<tr><td class="label">{a}</td><td>{av}</td><td class="label">{b}</td><td>{bv}</td></tr>'
        )
    rows.append(
        f'<tr><td class="label">资金来源</td><td colspan="3">{_funding_text(v["funding"], "wan_commas")}</td></tr>'
    )
    rows.append(f'<tr><td class="label">建设规模</td><td colspan="3">{_e(v["scale_content"])}</td></tr>')
    body = (
        "<h1>初步设计说明书</h1><h2>一、工程概况</h2><table>"
        + "".join(rows)
        + "</table>"
        + f'<p class="plain right">{_e(v["designer"])}　{_issued(v)}</p>'
    )
    return _doc(body, "td { font-size: 11pt; }"), form, False


def render_form_grid(v, omit, rng):
    """申报表: grid with merged cells; amounts in 万元 by the column label."""
    form = rng.choice(("separate", "range"))
    style = rng.choice(("dot", "cn", "dash"))
    start, end = month_text(*v["start"], style), month_text(*v["end"], style)
    blank = "&nbsp;"
    code = f'<span class="code">{_e(v["project_code"])}</span>' if "project_code" not in omit else blank
    owner = _e(v["owner_unit"]) if "owner_unit" not in omit else blank
    location = _e(v["location"]) if "location" not in omit else blank
    if "dates" in omit:
        dates = f'<td class="label">计划开工年月</td><td>{blank}</td><td class="label">计划建成年月</td><td>{blank}</td>'
    elif form == "separate":
        dates = f'<td class="label">计划开工年月</td><td>{start}</td><td class="label">计划建成年月</td><td>{end}</td>'
    else:
        dates = f'<td class="label">建设起止年限</td><td colspan="3">{start}—{end}</td>'
    if "total_investment_yuan" not in omit:
        total = (
            f'<td class="label">总投资（万元）</td><td>{v["wan"]:.2f}</td>'
            f'<td class="label">大写</td><td>{capital_yuan(int(v["wan"] * 10000))}</td>'
        )
    else:
        total = f'<td class="label">总投资（万元）</td><td>{blank}</td><td class="label">大写</td><td>{blank}</td>'
    funding_rows = "".join(
        f'<tr><td colspan="2">{_e(s)}</td><td colspan="2">{a:.2f}</td></tr>' for s, a in v["funding"]
    )
    k = len(v["funding"])
    body = (
        "<h1>浙江省政府投资项目申报表</h1>"
        f'<p class="plain">填报单位（盖章）：{owner}<span class="right-gap"></span>填报日期：{_issued(v)}</p>'
        "<table>"
        f'<tr><td class="label group" rowspan="6">项目基本情况</td><td class="label">项目名称</td>'
        f'<td colspan="3">{_e(v["project_name"])}</td></tr>'
        f'<tr><td class="label">项目代码</td><td>{code}</td><td class="label">所属行业</td><td>{v["industry"]}</td></tr>'
        f'<tr><td class="label">项目（法人）单位</td><td colspan="3">{owner}</td></tr>'
        f'<tr><td class="label">建设地址</td><td colspan="3">{location}</td></tr>'
        f'<tr><td class="label">建设性质</td><td>{v["nature"]}</td>{dates}</tr>'
        f'<tr><td class="label">建设规模及主要建设内容</td><td colspan="3">{_e(v["scale_content"])}</td></tr>'
        f'<tr><td class="label group" rowspan="{k + 2}">投资及资金来源</td>{total}</tr>'
        '<tr><td class="label" colspan="2">资金来源</td><td class="label" colspan="2">金额（万元）</td></tr>'
        + funding_rows
        + f'<tr><td class="label group">联系方式</td><td class="label">联系人</td><td>{v["contact"]}</td>'
        f'<td class="label">联系电话</td><td>{v["phone"]}</td></tr>'
        "</table>"
    )
    css = (
        "td { font-size: 10.5pt; } .group { width: 1.6em; white-space: normal; text-align: center; }"
        " table tr td:nth-child(2) { min-width: 5em; } .right-gap { display: inline-block; width: 5em; }"
    )
    return _doc(body, css), form, False


def render_letter(v, omit, rng):
    """关于…的请示: a letter in prose from the owner unit to the development and reform bureau."""
    form, start, end = _date_forms(v, rng, allowed=("prose", "period"))
    style = rng.choice(
        ("about_yi", "yi", "wan", "wan_commas") if v["wan"] % 100 == 0 else ("wan", "wan_commas")
    )
    sender = v["owner_unit"] if "owner_unit" not in omit else "我单位"
    recipient = f"{v['county']}发展和改革局" if rng.random() < 0.5 else f"{v['city']}发展和改革委员会"
    parts = [
        f"为进一步完善区域公共服务设施，{_e(sender)}拟实施{_e(v['project_name'])}。现将有关情况请示如下："
    ]
    basic = "一、项目基本情况。"
    if "project_code" not in omit:
        basic += f'本项目已在投资项目在线审批监管平台赋码，项目代码<span class="code">{_e(v["project_code"])}</span>。'
    if "owner_unit" not in omit:
        basic += f"项目建设单位为{_e(v['owner_unit'])}。"
    if "location" not in omit:
        basic += f"项目拟建于{_e(v['location'])}。"
    basic += f"主要建设内容：{_e(v['scale_content'])}"
    parts.append(basic)
    invest = "二、投资估算及资金来源。"
    if "total_investment_yuan" not in omit:
        invest += f"项目总投资{amount_text(v['wan'], style)}，"
    invest += f"资金来源为{_funding_text(v['funding'], 'wan')}。"
    parts.append(invest)
    if "dates" not in omit:
        if form == "prose":
            parts.append(f"三、建设周期。项目计划于{start}开工，{end}建成投用。")
        else:
            parts.append(f"三、建设周期。项目建设期{v['period']}个月，自{start}起。")
    parts.append("妥否，请批示。")
    body = (
        f'<p class="plain sender">{_e(sender)}</p>'
        f'<h1 class="title">关于{_e(v["project_name"])}的请示</h1>'
        f'<p class="plain">{recipient}：</p>'
        + "".join(f"<p>{p}</p>" for p in parts)
        + f'<p class="plain right sign">{_e(sender)}<br>{_issued(v)}</p>'
        f'<p class="plain small">（联系人：{v["contact"]}，联系电话：{v["phone"]}）</p>'
    )
    css = (
        ".sender { font-family: 'Noto Sans CJK SC'; font-size: 16pt; text-align: center; color: #b00;"
        " border-bottom: 2px solid #b00; padding-bottom: 0.3em; margin-bottom: 1em; }"
        " .title { font-size: 17pt; } .sign { margin-top: 2em; } .small { font-size: 10.5pt; }"
    )
    return _doc(body, css), form, form == "period" and "dates" not in omit


def render_mixed_report(v, omit, rng):
    """说明书 with running header and footer; 主要技术经济指标表 split over two pages."""
    form, start, end = _date_forms(v, rng, allowed=("separate", "range"))
    rows = []
    n = 0

    def row(name, unit, value, note=""):
        nonlocal n
        n += 1
        rows.append(f"<tr><td>{n}</td><td>{name}</td><td>{unit}</td><td>{value}</td><td>{note}</td></tr>")

    row("项目名称", "—", _e(v["project_name"]))
    if "project_code" not in omit:
        row("项目代码", "—", f'<span class="code">{_e(v["project_code"])}</span>')
    if "owner_unit" not in omit:
        row("建设单位", "—", _e(v["owner_unit"]))
    row("设计单位", "—", _e(v["designer"]))
    land = rng.randrange(4000, 60000)
    above = land * rng.randrange(8, 30) // 10
    below = above * rng.randrange(15, 40) // 100
    floors = rng.randrange(3, 24)
    for name, unit, value in (
        ("规划用地面积", "平方米", land),
        ("总建筑面积", "平方米", above + below),
        ("其中：地上建筑面积", "平方米", above),
        ("地下建筑面积", "平方米", below),
        ("容积率", "—", f"{above / land:.2f}"),
        ("建筑密度", "%", f"{rng.randrange(180, 450) / 10:.1f}"),
        ("绿地率", "%", f"{rng.randrange(200, 400) / 10:.1f}"),
        ("机动车停车位", "个", below // 35),
        ("非机动车停车位", "个", above // 60),
        ("建筑高度", "米", f"{floors * 3.9 + 1.2:.1f}"),
        ("建筑层数", "层", floors),
        ("抗震设防烈度", "度", 6),
        ("设计使用年限", "年", 50),
        ("道路及广场面积", "平方米", land * rng.randrange(15, 30) // 100),
        ("给水管网长度", "米", rng.randrange(300, 3000)),
        ("雨水管网长度", "米", rng.randrange(300, 3000)),
        ("污水管网长度", "米", rng.randrange(300, 3000)),
        ("供电负荷", "千瓦", rng.randrange(400, 8000)),
    ):
        row(name, unit, value)
    if "location" not in omit:
        row("建设地点", "—", _e(v["location"]))
    if "total_investment_yuan" not in omit:
        row("工程总投资", "万元", f"{v['wan']:.2f}")
        row("其中：建筑安装工程费", "万元", f"{(v['wan'] * Decimal('0.72')).quantize(Decimal('0.01'))}")
        row("工程建设其他费用", "万元", f"{(v['wan'] * Decimal('0.18')).quantize(Decimal('0.01'))}")
    for s, a in v["funding"]:
        row(f"资金来源：{s}", "万元", f"{a:.2f}")
    if "dates" not in omit:
        if form == "separate":
            row("计划开工时间", "年月", start)
            row("计划竣工时间", "年月", end)
        else:
            row("建设起止年限", "年月", f"{start}—{end}")
    row("建设工期", "月", v["period"])
    intro = (
        f"<p>本说明书为{_e(v['project_name'])}初步设计之总论部分。设计依据国家及浙江省现行规范、"
        "标准，以及可行性研究报告批复文件编制。主要技术经济指标见表1-1，工程概算详见第十篇。</p>"
        "<p>设计范围包括建筑、结构、给排水、电气、暖通、智能化、室外总体及海绵城市设施等专业内容，"
        "各专业设计深度满足《建筑工程设计文件编制深度规定》的要求。</p>"
    )
    body = (
        "<h1>第一篇 总论</h1><h2>1.1 工程概况</h2>"
        + intro
        + '<p class="center caption">表1-1 主要技术经济指标表</p>'
        "<table><thead><tr><th>序号</th><th>指标名称</th><th>单位</th><th>数值</th><th>备注</th></tr></thead>"
        "<tbody>" + "".join(rows) + "</tbody></table>"
        "<h2>1.2 建设规模及内容</h2>"
        f"<p>{_e(v['scale_content'])}</p>"
    )
    css = (
        "@page { @top-left { content: '"
        + v["designer"]
        + "'; font-family: 'Noto Sans CJK SC'; font-size: 9pt; }"
        " @top-right { content: '初步设计说明书 · 第一篇 总论'; font-family: 'Noto Sans CJK SC'; font-size: 9pt; }"
        " @bottom-center { content: '第 ' counter(page) ' 页 共 ' counter(pages) ' 页';"
        " font-family: 'Noto Sans CJK SC'; font-size: 9pt; } }"
        " td, th { font-size: 10.5pt; padding: 4px 6px; } tr { page-break-inside: avoid; }"
        " th:nth-child(1) { width: 2.6em; } th:nth-child(3) { width: 3.6em; } th:nth-child(5) { width: 3em; }"
        " .caption { font-family: 'Noto Sans CJK SC'; margin-top: 1em; }"
    )
    return _doc(body, css), form, True


def render_register_columns(v, omit, rng):
    """项目信息登记表: labels in a header row, the values in the row below them."""
    style = rng.choice(("slash", "cn"))
    start, end = month_text(*v["start"], style), month_text(*v["end"], style)
    amount_style = rng.choice(amount_styles(v["wan"]))
    pairs = []
    if "project_code" not in omit:
        pairs.append(("项目代码", f'<span class="code">{_e(v["project_code"])}</span>'))
    pairs.append(("所属行业", v["industry"]))
    if "owner_unit" not in omit:
        pairs.append(("项目单位", _e(v["owner_unit"])))
    if "location" not in omit:
        pairs.append(("建设地点", _e(v["location"])))
    if "total_investment_yuan" not in omit:
        pairs.append(("总投资", amount_text(v["wan"], amount_style)))
    pairs.append(("建设性质", v["nature"]))
    if "dates" not in omit:
        pairs += [("开工年月", start), ("竣工年月", end)]
    if len(pairs) % 2:
        pairs.append(("联系人", v["contact"]))
    rows = [f'<tr><th colspan="2">项目名称</th></tr><tr><td colspan="2">{_e(v["project_name"])}</td></tr>']
    for i in range(0, len(pairs), 2):
        (a, av), (b, bv) = pairs[i], pairs[i + 1]
        rows.append(f"<tr><th>{a}</th><th>{b}</th></tr><tr><td>{av}</td><td>{bv}</td></tr>")
    rows.append(
        f'<tr><th colspan="2">资金来源（万元）</th></tr><tr><td colspan="2">{_funding_text(v["funding"], "wan")}</td></tr>'
    )
    rows.append(
        f'<tr><th colspan="2">建设规模及内容</th></tr><tr><td colspan="2">{_e(v["scale_content"])}</td></tr>'
    )
    body = (
        "<h1>投资项目信息登记表</h1>"
        f'<p class="plain right">登记日期：{_issued(v)}</p>'
        "<table>" + "".join(rows) + "</table>"
        f'<p class="plain">填表人：{v["contact"]}　　联系电话：{v["phone"]}</p>'
    )
    css = "th { background: #e8e8e8; text-align: left; width: 50%; } td { height: 1.6em; }"
    return _doc(body, css), "separate", False


def render_cost_summary(v, omit, rng):
    """初步设计概算书: labelled lines, then a cost summary table whose 合计 is the total."""
    form = rng.choice(("tilde", "period"))
    style = rng.choice(("cn", "cn0"))
    start, end = month_text(*v["start"], style), month_text(*v["end"], style)
    lines = [f"工程名称：{_e(v['project_name'])}"]
    if "project_code" not in omit:
        lines.append(f'项目统一代码：<span class="code">{_e(v["project_code"])}</span>')
    if "owner_unit" not in omit:
        lines.append(f"建设单位：{_e(v['owner_unit'])}")
    if "location" not in omit:
        lines.append(f"工程地点：{_e(v['location'])}")
    lines.append(f"编制单位：{_e(v['designer'])}")
    if "dates" not in omit:
        if form == "tilde":
            lines.append(f"开竣工时间：{start}～{end}")
        else:
            lines.append(f"建设工期：建设期{v['period']}个月，自{start}起")
    lines.append(f"编制日期：{_issued(v)}")
    table = ""
    if "total_investment_yuan" not in omit:
        works = (v["wan"] * Decimal("0.78")).quantize(Decimal("0.01"))
        other = (v["wan"] * Decimal("0.14")).quantize(Decimal("0.01"))
        reserve = v["wan"] - works - other
        items = (("一", "工程费用", works), ("二", "工程建设其他费用", other), ("三", "预备费", reserve))
        table = (
            '<p class="center caption">概算汇总表（单位：万元）</p><table>'
            "<tr><th>序号</th><th>费用名称</th><th>金额</th><th>占比（%）</th></tr>"
            + "".join(
                f"<tr><td>{n}</td><td>{name}</td><td>{a:.2f}</td><td>{a / v['wan'] * 100:.1f}</td></tr>"
                for n, name, a in items
            )
            + f"<tr><td></td><td>合计</td><td>{v['wan']:.2f}</td><td>100.0</td></tr></table>"
        )
    body = (
        f"<h1>{_e(v['project_name'])}</h1><h1>初步设计概算书</h1>"
        + "".join(f'<p class="plain">{line}</p>' for line in lines)
        + table
        + f"<p>资金来源：{_funding_text(v['funding'], 'wan_2dp')}。</p>"
    )
    css = ".caption { font-family: 'Noto Sans CJK SC'; margin-top: 1.2em; } h1 + h1 { margin-bottom: 1.2em; }"
    return _doc(body, css), form if form == "period" else "separate", form == "period" and "dates" not in omit


RENDERERS = {
    "proposal_cover": render_proposal_cover,
    "fsr_prose": render_fsr_prose,
    "design_kv": render_design_kv,
    "form_grid": render_form_grid,
    "letter": render_letter,
    "mixed_report": render_mixed_report,
    "register_columns": render_register_columns,
    "cost_summary": render_cost_summary,
}


def make_spec(stem: str, layout: str, rng: random.Random) -> Spec:
    """The values, HTML and ground truth of one document."""
    v = _values(rng)
    omit = _omitted(rng)
    if layout == "letter":  # a letter always has its sender, the owner unit
        omit.discard("owner_unit")
    markup, form, period_stated = RENDERERS[layout](v, omit, rng)
    truth = {"project_name": v["project_name"]}
    for key in ("project_code", "owner_unit", "location"):
        if key not in omit:
            truth[key] = v[key]
    if "total_investment_yuan" not in omit:
        truth["total_investment_yuan"] = f"{v['wan'] * 10000:.2f}"
    if "dates" not in omit:
        truth["planned_start"] = "{:04d}-{:02d}".format(*v["start"])
        if form != "period":  # "建设期N个月，自…起" states no completion month
            truth["planned_end"] = "{:04d}-{:02d}".format(*v["end"])
    extra = {
        "funding_sources": [{"source": s, "amount": f"{a * 10000:.2f}"} for s, a in v["funding"]],
        "scale_content": v["scale_content"],
    }
    if period_stated:
        extra["construction_period"] = v["period"]
    return Spec(stem=stem, layout=layout, truth=truth, extra=extra, html=markup)


# --- rendering -----------------------------------------------------------------------------


def text_pdf(spec: Spec) -> bytes:
    from weasyprint import HTML

    return HTML(string=spec.html).write_pdf()


def scan_images(pdf: bytes, rng: random.Random) -> list:
    """The PDF's pages as scan-like greyscale images (Pillow): 150–200 dpi, rotated up to
    ±1.5°, blurred, with noise and uneven contrast."""
    import numpy as np
    import pypdfium2 as pdfium
    from PIL import Image, ImageFilter

    dpi = rng.randrange(150, 201)
    document = pdfium.PdfDocument(pdf)
    pages = []
    try:
        for page in document:
            image = page.render(scale=dpi / 72).to_pil().convert("L")
            page.close()
            angle = rng.uniform(0.3, 1.5) * rng.choice((-1, 1))
            image = image.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=255)
            image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 1.0)))
            pixels = np.asarray(image, dtype=np.float32)
            noise = np.random.default_rng(rng.randrange(2**32)).normal(0, rng.uniform(6, 14), pixels.shape)
            # paper a little grey, ink a little light, as a photocopy
            pixels = pixels * rng.uniform(0.82, 0.92) + rng.uniform(12, 30) + noise
            image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L")
            image.info["dpi"] = (dpi, dpi)
            pages.append(image)
    finally:
        document.close()
    return pages


def _save_scan(pages, path_stem: Path, rng: random.Random) -> Path:
    dpi = pages[0].info.get("dpi", (150, 150))[0]
    kind = "pdf" if len(pages) > 1 else rng.choice(("png", "jpg", "pdf"))
    path = path_stem.with_name(path_stem.name + "." + kind)
    if kind == "pdf":
        pages[0].save(path, "PDF", resolution=float(dpi), save_all=True, append_images=pages[1:])
    elif kind == "jpg":
        pages[0].save(path, "JPEG", quality=rng.randrange(70, 90), dpi=(dpi, dpi))
    else:
        buffer = io.BytesIO()
        pages[0].save(buffer, "PNG", dpi=(dpi, dpi))
        path.write_bytes(buffer.getvalue())
    return path


def specs(*, n: int, seed: int, layouts=LAYOUTS, prefix: str = "doc") -> list[Spec]:
    """n documents, the layouts taken in turn, all values drawn from the seed."""
    out = []
    for i in range(n):
        layout = layouts[i % len(layouts)]
        rng = random.Random(f"ocr-corpus:{seed}:{i}")
        out.append(make_spec(f"{prefix}-{i:03d}-{layout}", layout, rng))
    return out


def _write_truth(path: Path, truth: dict) -> None:
    path.with_suffix(".json").write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")


def generate(
    folder: Path, *, n: int, seed: int, layouts=LAYOUTS, scans: bool, text: bool = True
) -> list[Path]:
    """Write n documents to `folder`, each with its ground truth `X.json`, and return the
    documents' paths. `text`: the WeasyPrint PDF `X.pdf`; `scans`: a scan-like rendering
    `X-scan.png` / `.jpg` / `.pdf` (image-only PDF for documents of several pages)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in specs(n=n, seed=seed, layouts=layouts):
        pdf = text_pdf(spec)
        if text:
            path = folder / f"{spec.stem}.pdf"
            path.write_bytes(pdf)
            _write_truth(path, spec.truth)
            written.append(path)
        if scans:
            rng = random.Random(f"ocr-scan:{seed}:{spec.stem}")
            path = _save_scan(scan_images(pdf, rng), folder / f"{spec.stem}-scan", rng)
            _write_truth(path, spec.truth)
            written.append(path)
    return written


def spec_of(path: Path, *, seed: int, n: int, layouts=LAYOUTS) -> Spec:
    """The Spec a generated document came from (for the extra truth)."""
    stem = Path(path).stem.removesuffix("-scan")
    for spec in specs(n=n, seed=seed, layouts=layouts):
        if spec.stem == stem:
            return spec
    raise KeyError(stem)
