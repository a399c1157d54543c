"""A KPI report's two files from its figures (reports.ReportData): the PDF through WeasyPrint
(A4, page numbers, a header and footer, charts as inline SVG drawn here) and the XLSX through
openpyxl (numbers as number cells with number formats).

The report is an official Chinese document: its texts are Chinese whatever the reader's UI
language, so they are plain strings here, not messages of the catalogue.
"""

from __future__ import annotations

import io
import logging
from decimal import Decimal
from html import escape

from backend.kpi import service
from backend.kpi.catalogue import BY_CODE, CATALOGUE

# WeasyPrint logs every layout step at INFO: a report would fill the log with them.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

FONT = "Noto Sans CJK SC"
LEVELS = {"province": "省", "city": "市", "county": "县（区）", "project": "项目"}
MONEY_CODES = ("investment_year", "investment_total", "disbursement")  # parts in yuan
DEPARTMENT_CODES = service.DEPARTMENT_CODES
CHART_COLOURS = ("#1f5fa8", "#c8102e", "#2e8b57", "#d98c00")
# The children's table (PDF and XLSX) and the bar chart of the children.
MAIN_CODES = (
    "investment_year",
    "investment_total",
    "disbursement",
    "start_rate",
    "completion_rate",
    "approval_on_time",
    "ticket_on_time",
    "warnings_red",
)
BAR_CODE = "investment_year"
RANK_SHOWN = 10  # top and bottom projects in the PDF (the XLSX has all of them)


def _display(value: service.Value | None) -> str:
    return value.display if value is not None else "—"


def _part(code: str, number: Decimal | None) -> str:
    if number is None or code == "benefit_ratio":
        return "—"
    if code in MONEY_CODES:
        return f"{number:,.2f}"
    return f"{number.normalize():f}" if number == number.to_integral_value() else f"{number:,.2f}"


def _beijing(moment) -> str:
    return moment.astimezone(service.SHANGHAI).strftime("%Y年%m月%d日 %H:%M")


# --- charts (inline SVG) ------------------------------------------------------------------------


def _number(value: service.Value | None) -> float | None:
    return None if value is None or value.value is None else float(value.value)


def line_chart(title: str, unit: str, points: list[tuple[str, service.Value]], colour: str) -> str:
    """A month-by-month line with its values written at the points; gaps where there is none."""
    width, height, left, right, top, bottom = 520, 200, 46, 12, 28, 30
    values = [_number(v) for _, v in points]
    known = [v for v in values if v is not None]
    high = max(known + [0.0]) or 1.0
    high = high * 1.15
    pad = 28  # the first and last month clear of the axis and the edge
    step = (width - left - right - 2 * pad) / max(len(points) - 1, 1)

    def x(i: int) -> float:
        return left + pad + (i * step if len(points) > 1 else (width - left - right - 2 * pad) / 2)

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - v / high)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="10">',
        f'<text x="{left}" y="16" font-size="12" font-weight="bold">{escape(title)}（{escape(unit)}）</text>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#888"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#888"/>',
    ]
    for fraction in (0.5, 1.0):
        gy = y(high / 1.15 * fraction)
        parts.append(
            f'<line x1="{left}" y1="{gy:.1f}" x2="{width - right}" y2="{gy:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 4}" y="{gy + 3:.1f}" text-anchor="end" fill="#666">{high / 1.15 * fraction:.1f}</text>'
        )
    segment: list[str] = []
    segments = []
    for i, v in enumerate(values):
        if v is None:
            if segment:
                segments.append(segment)
            segment = []
        else:
            segment.append(f"{x(i):.1f},{y(v):.1f}")
    if segment:
        segments.append(segment)
    for seg in segments:
        if len(seg) > 1:
            parts.append(
                f'<polyline points="{" ".join(seg)}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
    for i, ((month, value), v) in enumerate(zip(points, values, strict=True)):
        label = f"{int(month[5:])}月"
        parts.append(
            f'<text x="{x(i):.1f}" y="{height - bottom + 14}" text-anchor="middle" fill="#444">{label}</text>'
        )
        if v is not None:
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"/>'
                f'<text x="{x(i):.1f}" y="{y(v) - 6:.1f}" text-anchor="middle">{escape(value.display)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(title: str, unit: str, rows: list[tuple[str, service.Value | None]], colour: str) -> str:
    """Horizontal bars, one per child, its value at the end."""
    bar, gap, left, right, top = 16, 6, 120, 70, 26
    width = 520
    height = top + len(rows) * (bar + gap) + 8
    known = [v for v in (_number(value) for _, value in rows) if v is not None]
    high = max(known + [0.0]) or 1.0
    span = width - left - right
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="10">',
        f'<text x="0" y="16" font-size="12" font-weight="bold">{escape(title)}（{escape(unit)}）</text>',
    ]
    for i, (name, value) in enumerate(rows):
        ty = top + i * (bar + gap)
        v = _number(value)
        length = 0.0 if v is None else max(v, 0.0) / high * span
        parts.append(
            f'<text x="{left - 6}" y="{ty + bar - 4}" text-anchor="end">{escape(name[:12])}</text>'
            f'<rect x="{left}" y="{ty}" width="{length:.1f}" height="{bar}" fill="{colour}"/>'
            f'<text x="{left + length + 4:.1f}" y="{ty + bar - 4}">{escape(_display(value))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


# --- PDF ----------------------------------------------------------------------------------------

CSS = f"""
@page {{
  size: A4;
  margin: 22mm 16mm 20mm 16mm;
  font-family: "{FONT}", sans-serif;
  @top-left {{ content: string(report-title); font-size: 8pt; color: #666; }}
  @top-right {{ content: string(report-time); font-size: 8pt; color: #666; }}
  @bottom-left {{ content: "数据来源：重点项目管理平台"; font-size: 8pt; color: #666; }}
  @bottom-right {{ content: "第 " counter(page) " 页 / 共 " counter(pages) " 页"; font-size: 8pt; color: #666; }}
}}
@page :first {{ @top-left {{ content: none; }} @top-right {{ content: none; }} }}
body {{ font-family: "{FONT}", sans-serif; font-size: 9.5pt; color: #222; }}
.cover {{ page-break-after: always; text-align: center; padding-top: 70mm; }}
.cover h1 {{ string-set: report-title content(); font-size: 22pt; margin-bottom: 12mm; }}
.cover p {{ font-size: 11pt; margin: 3mm 0; }}
.cover .time {{ string-set: report-time content(); }}
h2 {{ font-size: 13pt; border-bottom: 1.5pt solid #1f5fa8; padding-bottom: 1mm; margin-top: 7mm; }}
table {{ width: 100%; border-collapse: collapse; margin: 2mm 0 4mm; }}
th, td {{ border: 0.5pt solid #aaa; padding: 1.2mm 1.5mm; vertical-align: top; }}
th {{ background: #eef3fa; font-weight: bold; }}
td.n {{ text-align: right; white-space: nowrap; }}
td:first-child, th:first-child {{ white-space: nowrap; }}
tr {{ page-break-inside: avoid; }}
.note {{ color: #666; font-size: 8.5pt; }}
.warn {{ font-size: 12pt; }}
.red {{ color: #c8102e; font-weight: bold; }}
.orange {{ color: #d98c00; font-weight: bold; }}
.chart {{ margin: 2mm 0 4mm; page-break-inside: avoid; }}
"""


def _table(head: list[str], rows: list[list[tuple[str, bool]]]) -> str:
    """rows of (text, numeric) cells, already plain text (escaped here)."""
    out = ["<table><thead><tr>", *(f"<th>{escape(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>")
        out.extend(f'<td class="n">{escape(t)}</td>' if n else f"<td>{escape(t)}</td>" for t, n in row)
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def html(data) -> str:
    """The report as one HTML document (what WeasyPrint lays out)."""
    area, period = data.area, data.period
    end = period.end.fromordinal(period.end.toordinal() - 1)
    values = area.values
    red, orange = values.get("warnings_red"), values.get("warnings_orange")
    body = [
        '<section class="cover">',
        f"<h1>{escape(data.title)}</h1>",
        f"<p>统计范围：{escape(data.region_name)}（{escape(data.region_code)}），项目 {area.project_count} 个</p>",
        f"<p>统计期间：{period.start:%Y年%m月%d日} 至 {end:%Y年%m月%d日}</p>",
        f'<p class="time">生成时间：{_beijing(data.generated_at)}（北京时间）</p>',
        # Figures read from the cockpit's stored snapshot say when they were computed.
        f"<p>指标计算时间：{_beijing(area.as_of)}</p>" if getattr(area, "as_of", None) else "",
        "</section>",
        "<h2>一、风险预警</h2>",
        f'<p class="warn">红色预警 <span class="red">{_display(red)}</span>，'
        f'橙色预警 <span class="orange">{_display(orange)}</span>，'
        f"黄色预警 {_display(values.get('warnings_yellow'))}（发出时间在统计期间内）。</p>",
        "<h2>二、绩效指标</h2>",
        _table(
            ["指标", "数值", "分子", "分母", "计算公式"],
            [
                [
                    (i.name, False),
                    (_display(values.get(i.code)), True),
                    (_part(i.code, values[i.code].numerator) if i.code in values else "—", True),
                    (_part(i.code, values[i.code].denominator) if i.code in values else "—", True),
                    (i.formula, False),
                ]
                for i in CATALOGUE
            ],
        ),
        '<p class="note">金额单位：元。“—”表示该期间没有可计算的数据。</p>',
    ]
    codes = [c for c in MAIN_CODES if c in BY_CODE]
    if data.children:
        body.append("<h2>三、下级地区（项目）</h2>")
        body.append(
            _table(
                ["名称", "层级", "项目数", *(BY_CODE[c].name for c in codes)],
                [
                    [
                        (child.name, False),
                        (LEVELS.get(child.level, child.level), False),
                        (str(child.project_count), True),
                        *((_display(child.values.get(c)), True) for c in codes),
                    ]
                    for child in data.children
                ],
            )
        )
        indicator = BY_CODE[BAR_CODE]
        chart = bar_chart(
            f"各下级{indicator.name}",
            indicator.unit,
            [(child.name, child.values.get(indicator.code)) for child in data.children[:40]],
            CHART_COLOURS[0],
        )
        body.append(f'<div class="chart">{chart}</div>')
    body.append("<h2>四、月度趋势</h2>")
    for n, (code, points) in enumerate(data.trends.items()):
        indicator = BY_CODE[code]
        chart = line_chart(indicator.name, indicator.unit, points, CHART_COLOURS[n % len(CHART_COLOURS)])
        body.append(f'<div class="chart">{chart}</div>')
    body.append("<h2>五、分行业</h2>")
    industry_codes = ("investment_year", "disbursement", "start_rate", "completion_rate", "warnings_red")
    body.append(
        _table(
            ["行业", *(BY_CODE[c].name for c in industry_codes)],
            [
                [(key, False), *((_display(v.get(c)), True) for c in industry_codes)]
                for key, v in data.industries
            ]
            or [[("没有数据", False), *(("—", True) for _ in industry_codes)]],
        )
    )
    body.append("<h2>六、审批部门</h2>")
    body.append(
        _table(
            ["审批部门", "审批时限达标率", "达标环节 / 有时限环节", "平均审批用时", "审批环节数"],
            [
                [
                    (name, False),
                    (_display(v.get("approval_on_time")), True),
                    (
                        f"{_part('approval_on_time', v['approval_on_time'].numerator)} / "
                        f"{_part('approval_on_time', v['approval_on_time'].denominator)}",
                        True,
                    ),
                    (_display(v.get("approval_mean_days")), True),
                    (_part("approval_mean_days", v["approval_mean_days"].denominator), True),
                ]
                for name, v in data.departments
            ]
            or [[("没有数据", False), ("—", True), ("—", True), ("—", True), ("—", True)]],
        )
    )
    body.append("<h2>七、绩效评价排名</h2>")
    body.append(
        f'<p class="note">评价方案：{escape(data.scheme_name)}；共 {len(data.ranking)} 个项目计分。</p>'
    )
    if data.ranking:
        shown = RANK_SHOWN
        top = data.ranking[:shown]
        bottom = data.ranking[-shown:] if len(data.ranking) > shown else []
        for caption, rows in (("前列", top), ("末位", bottom)):
            if not rows:
                continue
            body.append(f"<p><strong>{caption}</strong></p>")
            body.append(
                _table(
                    ["排名", "项目代码", "项目名称", "得分"],
                    [
                        [(str(r), True), (i.code, False), (i.name, False), (f"{i.score}", True)]
                        for r, i in rows
                    ],
                )
            )
    else:
        body.append("<p>该期间没有计分的项目。</p>")
    return (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{escape(data.title)}</title><style>{CSS}</style></head><body>"
        + "".join(body)
        + "</body></html>"
    )


def pdf_bytes(data) -> bytes:
    from weasyprint import HTML  # heavy import (Pango): only where a report is made

    return HTML(string=html(data)).write_pdf()


# --- XLSX ---------------------------------------------------------------------------------------

PERCENT_FORMAT = "0.0"
DECIMAL_FORMAT = "0.00"
MONEY_FORMAT = "#,##0.00"
COUNT_FORMAT = "0"


def _value_format(code: str) -> str:
    unit = BY_CODE[code].unit
    return {"%": PERCENT_FORMAT, "个": COUNT_FORMAT}.get(unit, DECIMAL_FORMAT)


def _part_format(code: str) -> str:
    return MONEY_FORMAT if code in MONEY_CODES else "0.##" if code == "approval_mean_days" else COUNT_FORMAT


def xlsx_bytes(data) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    bold = Font(bold=True)
    rows_done: dict[str, int] = {}  # rows written per sheet (the header is row 1)

    def sheet(title: str, head: list[str], first: bool = False):
        ws = book.active if first else book.create_sheet()
        ws.title = title
        ws.append(head)
        for cell in ws[1]:
            cell.font = bold
        ws.freeze_panes = "A2"
        return ws

    def put(ws, row: list, formats: list[str | None]) -> None:
        # Cells written one by one: ws[ws.max_row] after append() rescans the sheet (quadratic).
        r = rows_done[ws.title] = rows_done.get(ws.title, 1) + 1
        for c, value in enumerate(row, 1):
            cell = ws.cell(row=r, column=c, value=value)
            fmt = formats[c - 1] if c <= len(formats) else None
            if fmt and isinstance(value, int | float | Decimal):
                cell.number_format = fmt

    ws = sheet("指标", ["指标", "数值", "分子", "分母", "单位", "计算公式"], first=True)
    for indicator in CATALOGUE:
        value = data.area.values.get(indicator.code)
        put(
            ws,
            [
                indicator.name,
                value.value if value else None,
                value.numerator if value else None,
                value.denominator if value else None,
                indicator.unit,
                indicator.formula,
            ],
            [None, _value_format(indicator.code), _part_format(indicator.code), _part_format(indicator.code)],
        )
    codes = [c for c in MAIN_CODES if c in BY_CODE]
    ws = sheet(
        "下级地区",
        ["代码", "名称", "层级", "项目数", *(f"{BY_CODE[c].name}（{BY_CODE[c].unit}）" for c in codes)],
    )
    for child in data.children:
        put(
            ws,
            [
                child.code,
                child.name,
                LEVELS.get(child.level, child.level),
                child.project_count,
                *(child.values[c].value if c in child.values else None for c in codes),
            ],
            [None, None, None, COUNT_FORMAT, *(_value_format(c) for c in codes)],
        )
    trend_codes = list(data.trends)
    ws = sheet("月度趋势", ["月份", *(f"{BY_CODE[c].name}（{BY_CODE[c].unit}）" for c in trend_codes)])
    months = [month for month, _ in next(iter(data.trends.values()), [])]
    for i, month in enumerate(months):
        put(
            ws,
            [month, *(data.trends[c][i][1].value for c in trend_codes)],
            [None, *(_value_format(c) for c in trend_codes)],
        )
    industry_codes = [
        i.code for i in CATALOGUE if i.code not in DEPARTMENT_CODES and i.code != "benefit_ratio"
    ]
    ws = sheet("行业", ["行业", *(f"{BY_CODE[c].name}（{BY_CODE[c].unit}）" for c in industry_codes)])
    for key, values in data.industries:
        put(
            ws,
            [key, *(values[c].value if values.get(c) else None for c in industry_codes)],
            [None, *(_value_format(c) for c in industry_codes)],
        )
    ws = sheet(
        "审批部门",
        ["审批部门", "审批时限达标率（%）", "达标环节数", "有时限环节数", "平均审批用时（天）", "审批环节数"],
    )
    for name, values in data.departments:
        on_time, mean = values["approval_on_time"], values["approval_mean_days"]
        put(
            ws,
            [name, on_time.value, on_time.numerator, on_time.denominator, mean.value, mean.denominator],
            [None, PERCENT_FORMAT, COUNT_FORMAT, COUNT_FORMAT, DECIMAL_FORMAT, COUNT_FORMAT],
        )
    ws = sheet("绩效排名", ["排名", "项目代码", "项目名称", "得分"])
    for rank, item in data.ranking:
        put(ws, [rank, item.code, item.name, item.score], [COUNT_FORMAT, None, None, DECIMAL_FORMAT])
    for ws in book.worksheets:
        ws.column_dimensions["A"].width = 22
        ws.column_dimensions["B"].width = 18
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
