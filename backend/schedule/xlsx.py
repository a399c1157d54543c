"""The breakdown as one XLSX sheet, one row per item, and back (round-trip safe).

Import is all or nothing: every row is checked first (errors name the row and the column, in
Chinese) and nothing is written unless the whole file is valid. It fills an EMPTY breakdown
only; re-importing over existing items (with their progress and baselines) is not supported
yet. The payment-milestone link and progress are not part of the sheet.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from io import BytesIO

import sqlalchemy as sa
from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter

from backend.audit import record
from backend.org.models import Unit
from backend.schedule import service
from backend.schedule.models import WbsItem

COLUMNS = (
    ("code", "编码"),
    ("name", "名称"),
    ("level", "层级"),
    ("unit", "责任单位"),
    ("responsible", "责任人"),
    ("planned_start", "计划开始"),
    ("planned_end", "计划完成"),
    ("weight", "权重"),
    ("milestone", "里程碑"),
    ("deliverables", "交付成果"),
    ("predecessors", "前置任务"),
)
HEADERS = [title for _, title in COLUMNS]
COL = {key: index for index, (key, _) in enumerate(COLUMNS)}
SHEET = "任务分解"
YES, NO = "是", "否"


class ImportErrors(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("；".join(problems))


def export_xlsx(*, session, project_id: int) -> bytes:
    items = service.items_of(session=session, project_id=project_id)
    code_of = {item.id: item.code for item in items}
    preds: dict[int, list[str]] = {}
    for p, s in service.dependencies_of(session=session, project_id=project_id):
        preds.setdefault(s, []).append(code_of[p])
    units = {
        u.id: u.name for u in session.scalars(sa.select(Unit).where(Unit.id.in_({i.unit_id for i in items})))
    }
    book = Workbook()
    sheet = book.active
    sheet.title = SHEET
    sheet.append(HEADERS)
    for item in items:
        sheet.append(
            [
                item.code,
                item.name,
                item.level,
                units.get(item.unit_id, ""),
                item.responsible or "",
                item.planned_start,
                item.planned_end,
                item.weight,
                YES if item.is_milestone else NO,
                item.deliverables or "",
                ",".join(sorted(preds.get(item.id, []), key=service.code_key)),
            ]
        )
    for row in sheet.iter_rows(min_row=2):
        for index in (COL["planned_start"], COL["planned_end"]):
            row[index].number_format = "yyyy-mm-dd"
    for index, width in enumerate((10, 30, 6, 28, 12, 12, 12, 8, 8, 30, 16), start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    out = BytesIO()
    book.save(out)
    return out.getvalue()


@dataclass
class _Row:
    number: int
    code: str
    name: str
    unit_id: int | None
    responsible: str | None
    planned_start: date | None
    planned_end: date | None
    weight: Decimal
    is_milestone: bool
    deliverables: str
    predecessors: list[str] = field(default_factory=list)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _date(value):
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    if not text:
        raise ValueError("必须填写日期")
    try:
        return date.fromisoformat(text.replace("/", "-"))
    except ValueError as exc:
        raise ValueError(f"“{text}”不是日期（应为 2026-03-01 格式）") from exc


def import_xlsx(*, session, project_id: int, data: bytes, by: str | None) -> list[WbsItem]:
    """Create the breakdown of a project with no items from an XLSX file; ImportErrors lists
    every problem and nothing is written then."""
    try:
        book = load_workbook(BytesIO(data), data_only=True, read_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a non-XLSX upload
        raise ImportErrors(["文件不是有效的 XLSX 表格"]) from exc
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    if not rows or [_text(v) for v in rows[0][: len(HEADERS)]] != HEADERS:
        raise ImportErrors(["第1行：表头应为 " + "、".join(HEADERS)])
    if session.scalar(
        sa.select(sa.func.count()).select_from(WbsItem).where(WbsItem.project_id == project_id)
    ):
        raise ImportErrors(["本项目已有任务分解，只能导入到空的任务分解"])
    units = {u.name: u.id for u in session.scalars(sa.select(Unit))}
    problems: list[str] = []
    parsed: list[_Row] = []

    for number, values in enumerate(rows[1:], start=2):
        values = list(values) + [None] * (len(HEADERS) - len(values))
        if all(_text(v) == "" for v in values[: len(HEADERS)]):
            continue

        def problem(key, message, number=number):
            index = COL[key]
            problems.append(f"第{number}行 第{get_column_letter(index + 1)}列（{HEADERS[index]}）：{message}")

        def cell(key, values=values):
            return values[COL[key]]

        code = _text(cell("code"))
        if not service.valid_code(code):
            problem("code", f"编码“{code}”格式不正确，应为 1、1.2、1.2.3 这样的数字分级编码")
        name = _text(cell("name"))
        if not name:
            problem("name", "必须填写名称")
        level = _text(cell("level"))
        if level and service.valid_code(code) and level != str(code.count(".") + 1):
            problem("level", f"层级 {level} 与编码 {code} 不符（应为 {code.count('.') + 1}）")
        unit_name = _text(cell("unit"))
        unit_id = None
        if unit_name:
            unit_id = units.get(unit_name)
            if unit_id is None:
                problem("unit", f"找不到单位“{unit_name}”")
        start = end = None
        try:
            start = _date(cell("planned_start"))
        except ValueError as exc:
            problem("planned_start", str(exc))
        try:
            end = _date(cell("planned_end"))
        except ValueError as exc:
            problem("planned_end", str(exc))
        if start and end and end < start:
            problem("planned_end", "计划完成日期不能早于计划开始日期")
        weight = Decimal("1")
        raw_weight = _text(cell("weight"))
        if raw_weight:
            try:
                weight = Decimal(raw_weight).quantize(service.FOUR)
                if weight < 0:
                    problem("weight", "权重不能为负数")
            except InvalidOperation:
                problem("weight", f"“{raw_weight}”不是数字")
        milestone = _text(cell("milestone"))
        if milestone not in ("", YES, NO):
            problem("milestone", f"应填“{YES}”或“{NO}”")
        predecessors = [
            p.strip() for p in _text(cell("predecessors")).replace("，", ",").split(",") if p.strip()
        ]
        parsed.append(
            _Row(
                number=number,
                code=code,
                name=name,
                unit_id=unit_id,
                responsible=_text(cell("responsible")) or None,
                planned_start=start,
                planned_end=end,
                weight=weight,
                is_milestone=milestone == YES,
                deliverables=_text(cell("deliverables")),
                predecessors=predecessors,
            )
        )

    if not parsed and not problems:
        problems.append("第2行：表格中没有任务")
    _check_structure(parsed, problems)
    if problems:
        raise ImportErrors(problems)

    created: dict[str, WbsItem] = {}
    for row in sorted(parsed, key=lambda r: service.code_key(r.code)):
        created[row.code] = service.create_item(
            session=session,
            project_id=project_id,
            code=row.code,
            name=row.name,
            planned_start=row.planned_start,
            planned_end=row.planned_end,
            weight=row.weight,
            unit_id=row.unit_id,
            responsible=row.responsible,
            deliverables=row.deliverables,
            is_milestone=row.is_milestone,
            by=by,
            audit=False,
        )
    for row in parsed:
        for pred in row.predecessors:
            service.add_dependency(
                session=session, predecessor=created[pred], successor=created[row.code], by=by, audit=False
            )
    record(
        "wbs.import",
        object_type="project",
        object_id=project_id,
        detail={"items": len(created)},
        username=by,
        session=session,
    )
    return list(created.values())


def _check_structure(parsed: list[_Row], problems: list[str]) -> None:
    """Across rows: unique codes, parents present, children inside parents, predecessors
    known, not related by ancestry, and no cycles — the same rules as service, before writing."""
    code_col = f"第{get_column_letter(COL['code'] + 1)}列（{HEADERS[COL['code']]}）"
    pred_col = f"第{get_column_letter(COL['predecessors'] + 1)}列（{HEADERS[COL['predecessors']]}）"
    start_col = f"第{get_column_letter(COL['planned_start'] + 1)}列（{HEADERS[COL['planned_start']]}）"
    by_code: dict[str, _Row] = {}
    for row in parsed:
        if not service.valid_code(row.code):
            continue
        if row.code in by_code:
            problems.append(
                f"第{row.number}行 {code_col}：编码 {row.code} 与第{by_code[row.code].number}行重复"
            )
            continue
        by_code[row.code] = row
    for row in by_code.values():
        parent_code = service.parent_code(row.code)
        if parent_code is None:
            continue
        parent = by_code.get(parent_code)
        if parent is None:
            problems.append(f"第{row.number}行 {code_col}：上级编码 {parent_code} 不在表中")
        elif (
            row.planned_start
            and row.planned_end
            and parent.planned_start
            and parent.planned_end
            and (row.planned_start < parent.planned_start or row.planned_end > parent.planned_end)
        ):
            problems.append(
                f"第{row.number}行 {start_col}：计划日期须在上级 {parent_code}（第{parent.number}行）之内"
            )
    edges: dict[str, set[str]] = {}
    for row in by_code.values():
        for pred in row.predecessors:
            if pred not in by_code:
                problems.append(f"第{row.number}行 {pred_col}：前置任务 {pred} 不在表中")
            elif pred == row.code:
                problems.append(f"第{row.number}行 {pred_col}：任务不能依赖自身")
            elif row.code.startswith(pred + ".") or pred.startswith(row.code + "."):
                problems.append(
                    f"第{row.number}行 {pred_col}：{pred} 与 {row.code} 是上下级关系，不能设为前置任务"
                )
            else:
                edges.setdefault(pred, set()).add(row.code)
    cyclic = _in_cycles(edges)
    for code in sorted(cyclic, key=service.code_key):
        problems.append(f"第{by_code[code].number}行 {pred_col}：任务 {code} 处于循环依赖中")


def _in_cycles(edges: dict[str, set[str]]) -> set[str]:
    """Nodes that can reach themselves (files are small: a search per node is enough)."""
    nodes = set(edges) | {s for targets in edges.values() for s in targets}
    on_cycle = set()
    for node in nodes:
        stack, seen = list(edges.get(node, ())), set()
        while stack:
            current = stack.pop()
            if current == node:
                on_cycle.add(node)
                break
            if current in seen:
                continue
            seen.add(current)
            stack.extend(edges.get(current, ()))
    return on_cycle
