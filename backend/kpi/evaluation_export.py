"""The evaluation ranking as a file (绩效评价导出, issue 10): the rows the ranking page shows,
in CSV (UTF-8 with the BOM Excel needs) or XLSX (openpyxl; scores, values and amounts as
numbers, not texts, and a second sheet saying which scheme version, region and period).

Headers are translated at call time (the person's language). Texts that a spreadsheet would
read as a formula (= + - @) are kept as text."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from flask_babel import gettext as _
from openpyxl import Workbook

from backend.kpi import evaluation
from backend.kpi.catalogue import BY_CODE

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _safe(value):
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def table(rows: list[tuple[int, evaluation.Scored]], *, of: str, scheme: evaluation.Scheme):
    """(headers, rows): numbers are Decimal or int, None when there is none (not ranked, no
    score, no value)."""
    if of == "unit":
        headers = [_("排名"), _("建设单位"), _("得分"), _("项目数"), _("计分项目总投资（元）")]
        body = [
            [rank or None, _safe(item.name), item.score, item.project_count, item.investment]
            for rank, item in rows
        ]
        return headers, body
    headers = [_("排名"), _("项目代码"), _("项目名称"), _("得分"), _("计入的权重")]
    for rule in scheme.rules:
        indicator = BY_CODE[rule.code]
        headers += [
            _("%(name)s（%(unit)s）", name=indicator.name, unit=indicator.unit),
            _("%(name)s得分", name=indicator.name),
        ]
    body = []
    for rank, item in rows:
        line = [rank or None, _safe(item.code), _safe(item.name), item.score, item.weight_sum]
        for entry in item.lines:
            line += [entry.value.value, entry.points]
        body.append(line)
    return headers, body


def _text(value) -> str:
    if value is None:
        return ""
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def to_csv(headers: list[str], body: list[list]) -> bytes:
    out = io.StringIO()
    out.write("\ufeff")  # Excel opens UTF-8 Chinese only with the BOM
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows([_text(v) for v in line] for line in body)
    return out.getvalue().encode("utf-8")


def to_xlsx(headers: list[str], body: list[list], *, about: list[tuple[str, str]]) -> bytes:
    """`about`: (label, text) lines of the second sheet."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("排名"))
    sheet.append(headers)
    for line in body:
        sheet.append(line)  # Decimal and int are written as numbers
    notes = book.create_sheet(_("说明"))
    for label, text in about:
        notes.append([label, _safe(text)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
