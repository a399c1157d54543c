"""Field finding (backend/ocr/fields.py) on page texts written by hand: tables, prose, covers,
as the PDF text layer and as OCR gives them; and amounts normalised to yuan."""

from decimal import Decimal

import pytest

from backend.ocr.fields import FIELDS, correct_places, find_fields, parse_amount
from backend.ocr.reader import Document, Page


def doc(*texts: str, method: str = "text", scores=None) -> Document:
    pages = [
        Page(i + 1, text, method, 0.0, tuple(scores[i]) if scores else ()) for i, text in enumerate(texts)
    ]
    return Document(pages=pages, seconds=0.0)


def values(document: Document) -> dict:
    return {name: found.value for name, found in find_fields(document).items()}


@pytest.mark.parametrize(
    ("text", "yuan"),
    [
        ("1.25亿元", "125000000.00"),
        ("12,500万元", "125000000.00"),
        ("125000000元", "125000000.00"),
        ("12,500.50万元", "125005000.00"),
        ("约3.5亿元", "350000000.00"),
        ("人民币4,300.25元", "4300.25"),
        ("１２，５００万元", "125000000.00"),  # full-width digits and comma
        ("1亿2500万元", "125000000.00"),
        ("壹亿贰仟伍佰万元整", "125000000.00"),
        ("叁仟零伍万元整", "30050000.00"),
        ("12.500.00万元", "125000000.00"),  # OCR read the thousands comma as a dot
        ("2,368.4万元", "23684000.00"),
        ("0.8亿", "80000000.00"),
    ],
)
def test_parse_amount(text, yuan):
    assert parse_amount(text) == Decimal(yuan)


@pytest.mark.parametrize("text", ["无", "待定", "2026年3月", ""])
def test_parse_amount_without_an_amount(text):
    assert parse_amount(text) is None


TABLE = """项目概况表
项目名称 杭州市西湖区留下街道农贸市场改造工程
项目代码 2025-330106-48-01-31415A
建设单位 杭州市西湖区城市建设发展有限公司
建设地点 浙江省杭州市西湖区留下街道
建设性质 新建
项目总投资 12,500.00万元
资金来源 中央预算内资金3000万元，地方政府专项债券6000万元，企业自筹3500万元
计划开工时间 2026年3月
计划竣工时间 2028.02
建设规模及内容 改造农贸市场及配套用房建筑面积8600平方米，同步实施排水、照明工程。"""


def test_a_summary_table():
    found = find_fields(doc(TABLE))
    assert {name: f.value for name, f in found.items()} == {
        "project_name": "杭州市西湖区留下街道农贸市场改造工程",
        "project_code": "2025-330106-48-01-31415A",
        "owner_unit": "杭州市西湖区城市建设发展有限公司",
        "location": "浙江省杭州市西湖区留下街道",
        "total_investment_yuan": Decimal("125000000.00"),
        "funding_sources": [
            {"source": "中央预算内资金", "amount": Decimal("30000000.00")},
            {"source": "地方政府专项债券", "amount": Decimal("60000000.00")},
            {"source": "企业自筹", "amount": Decimal("35000000.00")},
        ],
        "planned_start": "2026-03",
        "planned_end": "2028-02",
        "scale_content": "改造农贸市场及配套用房建筑面积8600平方米，同步实施排水、照明工程。",
    }
    assert set(found) <= set(FIELDS)
    owner = found["owner_unit"]
    assert owner.page == 1 and "建设单位" in owner.snippet and 0.9 <= owner.confidence <= 1.0
    assert found["total_investment_yuan"].snippet == "项目总投资 12,500.00万元"


def test_two_pairs_per_row_and_a_value_below_its_label():
    text = (
        "项目名称 余杭区良渚街道中心幼儿园建设项目\n"
        "项目代码 2024-330110-83-02-55555X 建设单位 杭州市余杭区教育局\n"
        "建设地点 余杭区良渚街道 建设性质 新建\n"
        "概算总投资 8,600万元 设计单位 浙江省建筑设计研究院有限公司\n"
        "建设年限 2025.04—2026.09 所属行业 教育\n"
        "项目法人\n"
        "杭州市余杭区教育局"
    )
    assert values(doc(text)) == {
        "project_name": "余杭区良渚街道中心幼儿园建设项目",
        "project_code": "2024-330110-83-02-55555X",
        "owner_unit": "杭州市余杭区教育局",
        "location": "余杭区良渚街道",
        "total_investment_yuan": Decimal("86000000.00"),
        "planned_start": "2025-04",
        "planned_end": "2026-09",
        "construction_period": 18,
    }


def test_prose_with_partial_sums_and_a_title():
    text = (
        "宁波市鄞州区姜山镇污水管网提标改造工程\n"
        "可行性研究报告\n"
        "第一章 项目概况\n"
        "宁波市鄞州区姜山镇污水管网提标改造工程（以下简称“本项目”），项目代码为2026-330212-48-03-\n"
        "00012K。本项目建设单位为宁波市鄞州区城市建设投资集团有限公司。项目建设地点位于宁波市鄞州\n"
        "区姜山镇。\n"
        "经估算，本项目总投资约1.25亿元，其中工程费用9800万元，其余为工程建设其他费用及预备费。\n"
        "本项目计划于2026年5月开工建设，2027年10月竣工验收，建设工期18个月。"
    )
    assert values(doc(text)) == {
        "project_name": "宁波市鄞州区姜山镇污水管网提标改造工程",
        "owner_unit": "宁波市鄞州区城市建设投资集团有限公司",
        "location": "宁波市鄞州区姜山镇",
        "total_investment_yuan": Decimal("125000000.00"),
        "planned_start": "2026-05",
        "planned_end": "2027-10",
        "construction_period": 18,
        # Wrapped after a hyphen at the end of a line: the lines of the paragraph are joined.
        "project_code": "2026-330212-48-03-00012K",
    }


def test_a_period_without_an_end_month_gives_no_planned_end():
    # "24 months from March 2026": the completion month is not written in the document.
    found = values(doc("项目名称 临城街道社区卫生服务中心迁建工程\n建设工期 建设期24个月，自2026年3月起"))
    assert found["planned_start"] == "2026-03"
    assert found["construction_period"] == 24
    assert "planned_end" not in found


def test_a_unit_in_the_label_and_a_cover_page():
    cover = "舟山市定海区昌国街道道路提升改造工程\n项目建议书\n项目单位：舟山市定海区交通投资集团有限公司\n2025年6月15日"
    form = "项目名称 舟山市定海区昌国街道道路提升改造工程\n总投资（万元） 4,350.5\n其中：市级财政资金（万元） 2000"
    found = values(doc(cover, form))
    assert found["project_name"] == "舟山市定海区昌国街道道路提升改造工程"
    assert found["owner_unit"] == "舟山市定海区交通投资集团有限公司"
    assert found["total_investment_yuan"] == Decimal("43505000.00")
    assert "planned_start" not in found and "location" not in found and "project_code" not in found


def test_ocr_lines_carry_their_confidence_and_ocr_misreadings():
    text = "建设地点 湖州市吴兴区织里镇\n项目总投资 3,600万元\n计划峻工时间 2027年6月"
    found = find_fields(doc(text, method="ocr", scores=[(0.99, 0.62, 0.95)]))
    assert found["location"].value == "湖州市吴兴区织里镇"
    assert found["total_investment_yuan"].value == Decimal("36000000.00")
    # 竣 read as 峻 still labels the completion month.
    assert found["planned_end"].value == "2027-06"
    # The weak line's score bounds its field's confidence.
    assert found["total_investment_yuan"].confidence <= 0.62 < found["location"].confidence


def test_a_value_stated_twice_beats_a_stray_one():
    text = "项目名称 A区污水处理厂扩建工程\n总投资 12500万元\n总投资估算表\n项目总投资为1.25亿元\n投资估算 9800万元"
    found = find_fields(doc(text))
    assert found["total_investment_yuan"].value == Decimal("125000000.00")


def test_nothing_found_in_an_unrelated_page():
    assert find_fields(doc("会议纪要\n参会人员：张三、李四\n会议讨论了年度工作安排。")) == {}


def test_the_evaluation_counts_by_the_comparison_rule():
    from backend.ocr.evaluate import Evaluation, score
    from backend.ocr.fields import Found

    def f(name, value):
        return Found(name, value, "", 1, 1.0)

    result = Evaluation()
    truth = {
        "project_name": "Ａ区（一期）工程",
        "total_investment_yuan": "125000000.00",
        "planned_start": "2026-03",
        "owner_unit": "某某局",
    }
    found = {
        "project_name": f("project_name", "Ａ区 (一期)工程"),  # equal after folding and spaces
        "total_investment_yuan": f("total_investment_yuan", Decimal("125000000")),
        "planned_start": f("planned_start", "2026-04"),  # wrong: a false positive and a miss
        "location": f("location", "西湖区"),  # not in the truth: a false positive
    }
    score(result, "x.pdf", truth, found)
    counts = {name: (c.tp, c.fp, c.fn) for name, c in result.fields.items()}
    assert counts == {
        "project_name": (1, 0, 0),
        "project_code": (0, 0, 0),
        "owner_unit": (0, 0, 1),
        "location": (0, 1, 0),
        "total_investment_yuan": (1, 0, 0),
        "planned_start": (0, 1, 1),
        "planned_end": (0, 0, 0),
    }
    overall = result.overall
    assert (overall.tp, overall.fp, overall.fn) == (2, 2, 2)
    assert overall.precision == 0.5 and overall.recall == 0.5


def test_the_evaluate_command_prints_json(app, tmp_path):
    import json

    from weasyprint import HTML

    html = (
        "<html><body style=\"font-family: 'Noto Sans CJK SC'\"><p>项目名称：西湖区三墩镇污水管网改造工程</p>"
        "<p>建设地点：杭州市西湖区三墩镇</p><p>项目总投资：3,200万元</p></body></html>"
    )
    (tmp_path / "a.pdf").write_bytes(HTML(string=html).write_pdf())
    truth = {"project_name": "西湖区三墩镇污水管网改造工程", "location": "杭州市西湖区三墩镇"}
    truth["total_investment_yuan"] = "30000000.00"  # the document says 3,200万元: wrong on purpose
    (tmp_path / "a.json").write_text(json.dumps(truth, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "b.pdf").write_bytes(b"no truth beside it: skipped")
    result = app.test_cli_runner().invoke(args=["ocr", "evaluate", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["documents"] == 1
    assert data["overall"] == {"tp": 2, "fp": 1, "fn": 1, "precision": 0.6667, "recall": 0.6667}
    assert data["fields"]["total_investment_yuan"] == {
        "tp": 0,
        "fp": 1,
        "fn": 1,
        "precision": 0.0,
        "recall": 0.0,
    }
    assert data["pages"]["text"]["pages"] == 1 and data["pages"]["ocr"]["pages"] == 0


def test_ocr_misreadings_of_division_names_are_put_right():
    text = "项目名称 郸州区全民健身中心建设项目\n建设地点 浙江省宁波市郸州区首南街道"
    found = values(doc(text, method="ocr", scores=[(0.9, 0.9)]))
    assert found["project_name"] == "鄞州区全民健身中心建设项目"
    assert found["location"] == "浙江省宁波市鄞州区首南街道"
    # Known names are left alone; a text layer is never corrected.
    assert correct_places("临平区与临安区") == "临平区与临安区"
    assert values(doc(text))["location"] == "浙江省宁波市郸州区首南街道"


def test_a_row_of_labels_over_a_row_of_values():
    text = "项目名称 萧山区北干街道道路提升改造工程\n计划开工时间 计划竣工时间\n2026年3月 2028年10月"
    found = values(doc(text))
    assert (found["planned_start"], found["planned_end"]) == ("2026-03", "2028-10")


def test_a_label_wrapped_in_a_narrow_cell():
    found = values(
        doc("项目名称 滨江区浦沿街道污水管网提标改造工程\n建设\n单位 杭州市滨江区城市建设投资集团有限公司")
    )
    assert found["owner_unit"] == "杭州市滨江区城市建设投资集团有限公司"
    found = values(doc("建设 浙江省杭州市滨江区浦沿街道\n地点"))
    assert found["location"] == "浙江省杭州市滨江区浦沿街道"


def test_a_row_split_over_two_pages():
    # The label ends page 1; page 2 starts with its running header, then the value.
    page_1 = "项目名称 浦沿街道污水管网提标改造工程\n项目总投资"
    page_2 = "浦沿街道污水管网提标改造工程 初步设计说明书\n56,100.00万元\n建设地点 浦沿街道"
    assert values(doc(page_1, page_2))["total_investment_yuan"] == Decimal("561000000.00")


def test_merged_cells_a_unit_column_and_sub_labels():
    text = (
        "项目名称 北干街道农贸市场改造工程\n"
        "名称 杭州市萧山区城市建设发展有限公司 统一社会信用代码 91330109MA2H0XXXX1\n"
        "项目单位\n"
        "法定代表人 王建国\n"
        "项目总投资 万元 8,600.00\n"
        "计划时间\n"
        "开工 2026年3月\n"
        "竣工 2027年9月"
    )
    found = values(doc(text))
    assert found["owner_unit"] == "杭州市萧山区城市建设发展有限公司"
    assert found["total_investment_yuan"] == Decimal("86000000.00")
    assert (found["planned_start"], found["planned_end"]) == ("2026-03", "2027-09")


def test_a_two_line_cell_beside_its_label_and_a_qualified_label():
    # OCR joins boxes by rows: the value's first line sits above the label's row.
    text = (
        "项目名称 椒江区公交首末站建设项目\n"
        "台州市椒江区交通投资集团有限\n"
        "项目代码 2024-331002-48-01-716577 建设单位\n"
        "公司\n"
        "项目（法人）单位 台州市椒江区交通投资集团有限公司"
    )
    found = find_fields(doc(text))
    assert found["owner_unit"].value == "台州市椒江区交通投资集团有限公司"
    assert found["project_code"].value == "2024-331002-48-01-716577"
    # Not complete (no 公司/局/… at its end): no two-line guess.
    assert "owner_unit" not in values(doc("某某\n项目代码 2024-331002-48-01-716577 建设单位\n其他"))


def test_the_total_row_of_an_investment_table():
    text = "项目名称 宁围街道农贸市场改造工程\n投资估算表 单位：万元\n序号 费用名称 金额\n1 工程费用 2800\n2 其他费用 760\n合计 3560"
    assert values(doc(text))["total_investment_yuan"] == Decimal("35600000.00")
    # A labelled total wins over the table's 合计.
    assert values(doc("项目总投资 3,600万元\n" + text))["total_investment_yuan"] == Decimal("36000000.00")


def test_a_stray_character_is_no_value():
    # "况" of a vertical merged header cell sits between the label and its value's line.
    found = values(doc("项目名称 宁围街道农贸市场改造工程\n计划竣工时间 况\n2027年11月\n建设地点 无\n备注"))
    assert found["planned_end"] == "2027-11"
    assert "location" not in found  # "无" is an answer: nothing is looked for below it


def test_the_total_row_of_a_budget_estimate_table():
    # A 概算书 never says 投资: its 概算汇总表's 合计 is the total investment, in the caption's unit.
    page = "概算汇总表（单位：万元）\n序号 费用名称 金额 占比（%）\n一 工程费用 27768.00 78.0\n合计 35600.00 100.0"
    assert values(doc(page))["total_investment_yuan"] == Decimal("356000000.00")
    # A 合计 on a page about nothing of the kind is not a total investment.
    assert "total_investment_yuan" not in values(doc("参会人数统计（单位：人）\n合计 356"))


def test_a_range_wrapped_after_its_dash():
    page = "项目名称 某某学校新建工程\n建设性质 新建 建设起止年限 2026.05—\n2027.11\n联系人 胡静"
    found = values(doc(page))
    assert (found["planned_start"], found["planned_end"]) == ("2026-05", "2027-11")
    # Without the dash, the next line's month is not taken for the end.
    found = values(doc("建设起止年限 2026.05\n2027.11"))
    assert "planned_end" not in found


def test_a_wrapped_range_as_ocr_reads_it():
    # The dash read as 一, and the letter 况 of a vertical merged header before the end month.
    page = "项目名称 某某全民健身中心建设项目\n情 建设性质 新建 建设起止年限 2025年7月一\n况 2027年1月\n联系人 高敏"
    found = values(doc(page, method="ocr"))
    assert (found["planned_start"], found["planned_end"]) == ("2025-07", "2027-01")


def test_a_bare_number_in_the_label_unit_before_its_amount_in_capitals():
    found = values(
        doc("项目名称 某某全民健身中心建设项目\n总投资（万元） 157630.00 大写 壹拾伍亿柒仟陆佰叁拾万元")
    )
    assert found["total_investment_yuan"] == Decimal("1576300000.00")
    # A count further in is no amount when an amount with its unit follows.
    found = values(doc("项目名称 某某全民健身中心建设项目\n总投资（万元） 共3个子项目合计12,500万元"))
    assert found["total_investment_yuan"] == Decimal("125000000.00")


def test_numbered_items_of_a_certificate_are_not_one_paragraph():
    # Lines as wide as the page: the layout did not wrap them, each item is its own.
    page = (
        "下列项目信息已予登记备案，特此证明，请项目单位按照有关规定办理后续手续并按期开工：\n"
        "一、项目名称：杭州市余杭区五常单元保障性租赁住房项目，由项目单位负责组织实施建设\n"
        "二、项目代码：2025-330110-47-02-08504J，为投资项目在线审批监管平台赋予的唯一代码\n"
        "三、项目单位：杭州市余杭区城市建设发展有限公司\n"
        "3. 项目法人发生变化，建设地点、规模、内容发生重大变更的，应当及时告知备案机关。"
    )
    found = values(doc(page))
    assert found["project_name"] == "杭州市余杭区五常单元保障性租赁住房项目"
    assert found["owner_unit"] == "杭州市余杭区城市建设发展有限公司"
    assert "location" not in found  # "建设地点、规模…" lists nouns: no label with a value


def test_a_reply_letter_names_the_project_the_owner_and_the_approved_total():
    page = (
        "关于西湖区蒋村社区卫生服务中心迁建工程项目建议书的批\n复\n"
        "杭州市西湖区人民医院：\n"
        "你院报来的《关于要求审批西湖区蒋村社区卫生服务中心迁建工程项目建议书的请示》及相关材料收悉。\n"
        "一、项目报审总投资38980万元，经审核，核定项目总投资估算为35600万元（核减3380万元）。\n"
        "二、请严格执行项目法人责任制、招标投标制和合同管理制。"
    )
    found = values(doc(page))
    assert found["project_name"] == "西湖区蒋村社区卫生服务中心迁建工程"
    assert found["owner_unit"] == "杭州市西湖区人民医院"  # not "责任制…" of 项目法人责任制
    assert found["total_investment_yuan"] == Decimal("356000000.00")  # approved, not asked for
    # A reply to the 发改局 that forwarded the request does not name the owner in its address.
    forwarded = page.replace("杭州市西湖区人民医院：\n你院", "西湖区发展和改革局：\n你局")
    assert "owner_unit" not in values(doc(forwarded))


def plan_table_page() -> Page:
    """A landscape 投资计划表's runs as the PDF text layer gives them: (left, bottom, right,
    top, text) in PDF points (y up), turned into the reader's boxes (y down)."""
    runs = [
        (750, 501, 802, 511, "单位：万元"),
        (45, 473, 53, 481, "序"),
        (45, 462, 53, 469, "号"),
        (77, 467, 111, 475, "项目名称"),
        (143, 467, 176, 475, "项目代码"),
        (202, 467, 236, 476, "项目单位"),
        (265, 467, 298, 475, "建设地点"),
        (317, 473, 334, 481, "建设"),
        (317, 462, 333, 470, "性质"),
        (442, 473, 484, 481, "计划开工年"),
        (459, 462, 466, 469, "月"),
        (490, 473, 532, 481, "计划竣工年"),
        (507, 462, 514, 469, "月"),
        (547, 467, 572, 475, "总投资"),
        (780, 467, 797, 475, "备注"),
        (279, 437, 296, 445, "合计"),
        (543, 436, 575, 444, "408,790"),
        (47, 403, 51, 410, "1"),
        (61, 414, 128, 422, "宁波市鄞州区钟公"),
        (61, 403, 128, 411, "庙街道中心幼儿园"),
        (77, 391, 110, 399, "建设项目"),
        (134, 415, 185, 421, "2025-330212-"),
        (136, 403, 183, 410, "83-01-28569"),
        (156, 392, 162, 398, "U"),
        (194, 408, 244, 416, "宁波市鄞州区"),
        (206, 397, 231, 405, "教育局"),
        (256, 408, 306, 416, "宁波市鄞州区"),
        (260, 397, 302, 405, "钟公庙街道"),
        (317, 403, 334, 411, "新建"),
        (448, 403, 478, 410, "2026.05"),
        (496, 403, 526, 410, "2029.05"),
        (544, 402, 574, 410, "408,790"),
        (781, 408, 797, 416, "省重"),
        (785, 397, 793, 405, "点"),
    ]
    boxes = tuple(
        (left, 595 - top, right, 595 - bottom, text, 1.0) for left, bottom, right, top, text in runs
    )
    # In reading order the wrapped cells' lines interleave, as pdfium gives them.
    text = "\n".join(r[4] for r in runs)
    return Page(1, text, "text", 0.0, boxes=boxes)


def test_a_plan_table_read_by_the_places_of_its_cells():
    found = values(Document(pages=[plan_table_page()], seconds=0.0))
    assert found["project_name"] == "宁波市鄞州区钟公庙街道中心幼儿园建设项目"
    assert found["project_code"] == "2025-330212-83-01-28569U"
    assert found["owner_unit"] == "宁波市鄞州区教育局"
    assert found["location"] == "宁波市鄞州区钟公庙街道"
    assert (found["planned_start"], found["planned_end"]) == ("2026-05", "2029-05")
    assert found["total_investment_yuan"] == Decimal("4087900000.00")  # 万元 by the page's unit line


def test_a_key_value_table_is_no_header_row():
    # Three label/value pairs in a row: half the band is values, so no column is read.
    runs = [
        (40, 100, 80, 110, "项目名称"),
        (90, 100, 200, 110, "某某工程"),
        (210, 100, 250, 110, "项目代码"),
        (260, 100, 380, 110, "2025-330212-83-01-285690"),
        (390, 100, 430, 110, "建设单位"),
        (440, 100, 520, 110, "某某有限公司"),
        (40, 130, 80, 140, "建设地点"),
        (90, 130, 200, 140, "某某街道"),
    ]
    page = Page(1, "", "text", 0.0, boxes=tuple((*r[:4], r[4], 1.0) for r in runs))
    from backend.ocr.fields import _column_tables

    assert _column_tables(Document(pages=[page], seconds=0.0)) == []


def test_a_card_of_boxes_with_each_label_above_its_value():
    # Two boxes a row, the label in small type on top; in reading order the two values of a
    # row (the unit's wrapped in two lines) come after both labels.
    runs = [
        (40, 100, 90, 108, "实施主体"),
        (300, 100, 350, 108, "项目地址"),
        (40, 112, 240, 124, "杭州市余杭区城市建设发展"),
        (300, 112, 420, 124, "余杭区良渚街道"),
        (40, 126, 90, 138, "有限公司"),
        (40, 150, 110, 158, "总投资（亿元）"),
        (300, 150, 350, 158, "计划开工时间"),
        (40, 162, 70, 174, "2.91"),
        (300, 162, 360, 174, "2027-02"),
    ]
    boxes = tuple((*r[:4], r[4], 1.0) for r in runs)
    text = "实施主体 项目地址\n杭州市余杭区城市建设发展 余杭区良渚街道\n有限公司\n总投资（亿元） 计划开工时间\n2.91 2027-02"
    found = values(Document(pages=[Page(1, text, "text", 0.0, boxes=boxes)], seconds=0.0))
    assert found["owner_unit"] == "杭州市余杭区城市建设发展有限公司"
    assert found["location"] == "余杭区良渚街道"
    assert found["total_investment_yuan"] == Decimal("291000000.00")
    assert found["planned_start"] == "2027-02"


def test_a_scanned_card_whose_rows_sit_close():
    # On a scan the next row's label is close under a value: it is a cell of its own, even
    # when it labels no field of ours (项目类别), and a box run on into a label is cut there.
    runs = [
        (162, 348, 235, 373, "项目代码"),
        (593, 348, 667, 374, "业主单位"),
        (162, 377, 419, 405, "2026-331002-48-01-17716J"),
        (591, 377, 825, 405, "椒江区住房和城乡建设局"),
        (162, 410, 237, 436, "项目地址"),
        (593, 410, 667, 436, "项目类别"),
        (160, 440, 313, 466, "椒江区海门街道建设性质"),
        (591, 440, 780, 466, "省重点建设项目"),
    ]
    boxes = tuple((*r[:4], r[4], 0.95) for r in runs)
    page = Page(1, "\n".join(r[4] for r in runs), "ocr", 0.0, tuple(0.95 for _ in runs), boxes)
    found = values(Document(pages=[page], seconds=0.0))
    assert found["owner_unit"] == "椒江区住房和城乡建设局"
    assert found["location"] == "椒江区海门街道"


def test_meeting_minutes_name_the_project_they_agree_to():
    page = (
        "关于西湖区全民健身中心建设项目推进工作的专题会议纪要\n"
        "一、关于项目实施。会议同意实施西湖区全民健身中心建设项目（项目代码：2026-330106-89-02-89904D）。"
        "项目选址于杭州市西湖区西溪街道，场地现状以空地为主，由杭州市西湖区体育发展中心负责实施。"
    )
    found = values(doc(page))
    assert found["project_name"] == "西湖区全民健身中心建设项目"
    assert found["owner_unit"] == "杭州市西湖区体育发展中心"
    assert found["location"] == "杭州市西湖区西溪街道"


def test_a_platform_printout_with_its_label_wrapped_in_the_grey_column():
    page = (
        "项目名称 杭州市余杭区五常单元保障性租赁住房项目\n"
        "项目（法人）单位\n名称\n杭州市余杭区城市建设发展有限\n公司 统一社会信用代码 91330110FR9U62BMYY\n"
        "详细建设地点 浙江省杭州市余杭区五常街道 拟开工时间 2025-07"
    )
    found = values(doc(page))
    assert found["owner_unit"] == "杭州市余杭区城市建设发展有限公司"
    assert found["location"] == "浙江省杭州市余杭区五常街道"
    assert found["planned_start"] == "2025-07"


def test_dates_as_deadlines_and_a_place_after_the_code():
    page = (
        "西湖区南排河综合整治工程（项目代码：2024-330106-76-03-94467F）位于西湖区三墩镇。\n"
        "三、关于建设进度。会议要求，确保项目2026年8月底前开工建设，2029年2月底前竣工投用。"
    )
    found = values(doc(page))
    assert found["location"] == "西湖区三墩镇"
    assert (found["planned_start"], found["planned_end"]) == ("2026-08", "2029-02")


def test_a_scanned_plan_table_whose_header_is_in_pieces():
    # RapidOCR's boxes of a landscape scan (pixels): header words split ("建设 建设规模及主要建",
    # "设内容", "性质"), sub-headers run into the 合计 row, and the range run into the amounts.
    runs = [
        (1138, 190, 1265, 216, "资金来源（万元）"),
        (613, 206, 798, 234, "建设 建设规模及主要建"),
        (939, 206, 1025, 253, "总投资（万元）"),
        (104, 209, 131, 236, "序"),
        (818, 217, 921, 242, "建设起止年限"),
        (516, 217, 588, 243, "建设地址"),
        (287, 218, 360, 244, "项目代码"),
        (398, 218, 472, 244, "建设单位"),
        (166, 218, 239, 244, "项目名称"),
        (1025, 221, 1115, 298, "市级财政资金147350.00"),
        (614, 227, 655, 254, "性质"),
        (106, 227, 127, 253, "号"),
        (703, 228, 759, 255, "设内容"),
        (500, 273, 540, 304, "合计"),
        (941, 277, 1025, 298, "401260.00"),
        (271, 320, 375, 385, "2025-330381-48-01-56441F"),
        (134, 330, 275, 378, "瑞安市文化路快速路工程"),
        (381, 330, 486, 375, "瑞安市交通运输局"),
        (602, 342, 656, 364, "新建"),
        (804, 342, 1116, 362, "2026.06-2030.06401260.00147350.00"),
        (98, 420, 990, 483, "填表人：杨磊注：1.项目代码为投资项目在线审批监管平台赋予的代码"),
    ]
    boxes = tuple((*r[:4], r[4], 0.95) for r in runs)
    page = Page(1, "\n".join(r[4] for r in runs), "ocr", 0.0, tuple(0.95 for _ in runs), boxes)
    found = values(Document(pages=[page], seconds=0.0))
    assert found["project_name"] == "瑞安市文化路快速路工程"
    assert found["project_code"] == "2025-330381-48-01-56441F"
    assert found["owner_unit"] == "瑞安市交通运输局"
    assert "location" not in found  # its cell was not read: not the 填表人 line under the table
    # The range's first month is no amount in 万元 (2026.06 万元), and the 合计 row is skipped.
    assert "total_investment_yuan" not in found


def test_an_address_run_on_into_the_next_cell():
    found = values(
        doc(
            "项目名称 某某工程\n建设地点 浙江省舟山市定海区昌国街道2027年计划投资（万元）119730", method="ocr"
        )
    )
    assert found["location"] == "浙江省舟山市定海区昌国街道"


def test_a_form_of_short_labels():
    page = (
        "项目名称 莲都区新华路快速路工程\n招标人 丽水市莲都区交通运输局\n建设地 莲都区紫金街道\n"
        "投资额 人民币29100万元\n2026年计划投资额 5000万元\n开竣工年月 2026年08月／2029年02月\n"
        "招标人应严格按照核准的招标方案组织招标，不得擅自变更。"
    )
    found = values(doc(page))
    assert found["owner_unit"] == "丽水市莲都区交通运输局"
    assert found["location"] == "莲都区紫金街道"
    assert found["total_investment_yuan"] == Decimal("291000000.00")
    assert (found["planned_start"], found["planned_end"]) == ("2026-08", "2029-02")
    # Neither a year's plan nor a sentence starting with 招标人 gives a value.
    alone = values(doc("2026年计划投资额 5000万元\n招标人应严格按照核准的招标方案组织招标。"))
    assert "total_investment_yuan" not in alone and "owner_unit" not in alone


def test_a_sentence_about_the_owner_names_nobody():
    page = (
        "说明：\n1. 项目单位应在开工建设前依法办理规划、用地、环评、施工许可等相关手续。\n"
        "2. 项目法人发生变化，建设地点、规模、内容发生重大变更的，应当及时告知备案机关。"
    )
    assert "owner_unit" not in values(doc(page))


def test_the_reviewed_column_of_a_review_table_is_the_total():
    page = (
        "投资估算评估对比表（单位：万元）\n序号 费用名称 申报数 评估数 增减（+/-）\n"
        "一 工程费用 3800.00 3680.00 -120.00\n合计 4750.00 4600.00 -150.00"
    )
    assert values(doc(page))["total_investment_yuan"] == Decimal("46000000.00")


def test_a_review_table_whose_total_row_lost_a_cell():
    # A scan lost the 合计 row's other cells: its one amount is read, rather than an IndexError.
    page = "投资估算评估对比表（单位：万元）\n序号 费用名称 申报数 评估数 增减（+/-）\n合计 4750.00"
    assert values(doc(page))["total_investment_yuan"] == Decimal("47500000.00")
