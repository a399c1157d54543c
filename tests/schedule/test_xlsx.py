"""XLSX export → import round trip, and bad files refused whole with row/column errors."""

from datetime import date
from decimal import Decimal
from io import BytesIO

import pytest
import sqlalchemy as sa
from openpyxl import Workbook, load_workbook

from backend.org.models import Unit
from backend.schedule import service, xlsx
from backend.schedule.models import WbsItem
from backend.schedule.xlsx import HEADERS, ImportErrors

from .conftest import make_project

D = date


def snapshot(session, project_id):
    items = service.items_of(session=session, project_id=project_id)
    code_of = {i.id: i.code for i in items}
    deps = sorted(
        (code_of[p], code_of[s]) for p, s in service.dependencies_of(session=session, project_id=project_id)
    )
    rows = [
        (
            i.code,
            i.name,
            i.level,
            i.unit_id,
            i.responsible,
            i.planned_start,
            i.planned_end,
            i.weight,
            i.is_milestone,
            i.deliverables,
        )
        for i in items
    ]
    return rows, deps


def test_export_then_import_gives_the_same_breakdown(session, project, owner):
    contractor = Unit(name="浙江省建工集团有限责任公司", kind="contractor")
    session.add(contractor)
    session.flush()

    def make(code, start, end, weight, **extra):
        return service.create_item(
            session=session,
            project_id=project.id,
            code=code,
            name=f"任务{code}",
            planned_start=start,
            planned_end=end,
            weight=Decimal(weight),
            **extra,
        )

    make("1", D(2026, 3, 2), D(2026, 6, 30), "3", unit_id=owner.id, responsible="zhang")
    a = make(
        "1.1", D(2026, 3, 2), D(2026, 3, 31), "0.3333", unit_id=contractor.id, deliverables="基坑验收记录"
    )
    b = make("1.2", D(2026, 4, 1), D(2026, 6, 30), "2.5", is_milestone=True, responsible="li")
    make("1.2.1", D(2026, 4, 1), D(2026, 4, 30), "1")
    c = make("2", D(2026, 7, 1), D(2026, 9, 30), "1")
    make("10", D(2026, 7, 1), D(2026, 7, 1), "0", is_milestone=True)
    service.add_dependency(session=session, predecessor=a, successor=b)
    service.add_dependency(session=session, predecessor=b, successor=c)
    service.add_dependency(session=session, predecessor=a, successor=c)

    data = xlsx.export_xlsx(session=session, project_id=project.id)
    sheet = load_workbook(BytesIO(data)).active
    assert [c.value for c in sheet[1]] == HEADERS
    assert [c.value for c in sheet[3]][:3] == ["1.1", "任务1.1", 2]
    assert sheet["K4"].value == "1.1"  # 1.2's predecessor (rows in code order: header, 1, 1.1, 1.2, …)

    other = make_project(session, code="2026-330100-48-01-000002", owner=owner)
    created = xlsx.import_xlsx(session=session, project_id=other.id, data=data, by="planner")
    assert len(created) == 6
    assert snapshot(session, other.id) == snapshot(session, project.id)
    # …and exporting the copy gives the same cells.
    again = load_workbook(BytesIO(xlsx.export_xlsx(session=session, project_id=other.id))).active
    assert [[c.value for c in row] for row in again.iter_rows()] == [
        [c.value for c in row] for row in sheet.iter_rows()
    ]


def workbook(rows) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(row)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def count(session, project):
    return session.scalar(
        sa.select(sa.func.count()).select_from(WbsItem).where(WbsItem.project_id == project.id)
    )


def test_bad_rows_are_named_and_nothing_is_imported(session, project):
    data = workbook(
        [
            ["1", "土建", 1, "", "", D(2026, 3, 2), D(2026, 3, 31), 1, "否", "", ""],  # row 2: fine
            ["1.1", "基础", 2, "", "", D(2026, 3, 2), "2026-13-01", 1, "否", "", ""],  # row 3: bad date
            ["1.2", "主体", 2, "不存在的单位", "", D(2026, 3, 2), D(2026, 3, 9), -2, "也许", "", ""],  # row 4
            ["1.3", "", 3, "", "", D(2026, 3, 2), D(2026, 4, 9), "x", "否", "", "1.4"],  # row 5
            ["1.4", "装修", 2, "", "", D(2026, 3, 2), D(2026, 3, 9), 1, "否", "", "1.3"],  # row 6: cycle
            ["3.1", "附属", 2, "", "", D(2026, 3, 9), D(2026, 3, 2), 1, "否", "", "1,9"],  # row 7
            ["1", "重复", 1, "", "", D(2026, 3, 2), D(2026, 3, 31), 1, "否", "", ""],  # row 8
        ]
    )
    with pytest.raises(ImportErrors) as caught:
        xlsx.import_xlsx(session=session, project_id=project.id, data=data, by="planner")
    problems = caught.value.problems
    expected = [
        "第3行 第G列（计划完成）：“2026-13-01”不是日期",
        "第4行 第D列（责任单位）：找不到单位“不存在的单位”",
        "第4行 第H列（权重）：权重不能为负数",
        "第4行 第I列（里程碑）：应填“是”或“否”",
        "第5行 第B列（名称）：必须填写名称",
        "第5行 第C列（层级）：层级 3 与编码 1.3 不符",
        "第5行 第H列（权重）：“x”不是数字",
        "第5行 第F列（计划开始）：计划日期须在上级 1",
        "第7行 第G列（计划完成）：计划完成日期不能早于计划开始日期",
        "第7行 第A列（编码）：上级编码 3 不在表中",
        "第7行 第K列（前置任务）：前置任务 9 不在表中",
        "第8行 第A列（编码）：编码 1 与第2行重复",
        "第5行 第K列（前置任务）：任务 1.3 处于循环依赖中",
        "第6行 第K列（前置任务）：任务 1.4 处于循环依赖中",
    ]
    for text in expected:
        assert any(p.startswith(text) for p in problems), (text, problems)
    assert count(session, project) == 0


def test_import_refuses_a_wrong_header_a_non_xlsx_file_and_a_non_empty_breakdown(session, project):
    with pytest.raises(ImportErrors, match="不是有效的 XLSX"):
        xlsx.import_xlsx(session=session, project_id=project.id, data=b"code,name\n1,x\n", by="planner")
    book = Workbook()
    book.active.append(["code", "name"])
    out = BytesIO()
    book.save(out)
    with pytest.raises(ImportErrors, match="第1行：表头应为"):
        xlsx.import_xlsx(session=session, project_id=project.id, data=out.getvalue(), by="planner")
    good = workbook([["1", "土建", 1, "", "", D(2026, 3, 2), D(2026, 3, 31), 1, "否", "", ""]])
    xlsx.import_xlsx(session=session, project_id=project.id, data=good, by="planner")
    with pytest.raises(ImportErrors, match="已有任务分解"):
        xlsx.import_xlsx(session=session, project_id=project.id, data=good, by="planner")
    assert count(session, project) == 1


def test_an_xlsx_carrying_an_entity_bomb_is_refused(session, project):
    """XLSX is zipped XML: a sheet declaring entities (billion laughs, XXE) is refused, not
    expanded (openpyxl parses through defusedxml, issue 7)."""
    import zipfile

    good = workbook([["1", "土建", 1, "", "", D(2026, 3, 2), D(2026, 3, 31), 1, "否", "", ""]])
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    )
    source, out = zipfile.ZipFile(BytesIO(good)), BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                text = content.decode().split("?>", 1)[-1]
                content = (bomb + text.replace("土建", "&lol3;", 1)).encode()
            target.writestr(item, content)
    with pytest.raises(ImportErrors, match="不是有效的 XLSX"):
        xlsx.import_xlsx(session=session, project_id=project.id, data=out.getvalue(), by="planner")
    assert count(session, project) == 0
