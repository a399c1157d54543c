import copy
import json
from pathlib import Path

import pytest
from werkzeug.datastructures import FileStorage, MultiDict

from backend.forms.parse import apply_row_action, parse_submission, upload_paths
from backend.forms.render import render_form
from backend.forms.validate import validate
from tests.forms.helpers import FULL_VALUES, KINDS, SHA_A, SHA_B, doc, posted

FORMS = Path(__file__).resolve().parents[2] / "forms"


def round_trip(schema, values, files_map=None):
    return parse_submission(schema, posted(render_form(schema, values=values, errors={})), files_map)


def test_every_kind_survives_render_post_parse():
    assert round_trip(KINDS, FULL_VALUES) == FULL_VALUES


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "名称"),
        ("notes", "多行\n文本"),
        ("count", 0),
        ("ratio", 12.25),
        ("amount", "0.10"),
        ("start", "2024-02-29"),
        ("meeting", "2025-12-31T15:59:00+00:00"),
        ("level", "a"),
        ("size", "small"),
        ("approved", True),
        ("tags", ["water"]),
        ("items", [{"label": "一", "cost": "1.00"}]),
        ("reasons", ["只有一条"]),
        ("report", {"kind": "other", "sha256": SHA_B, "name": "b.pdf"}),
        ("photos", [SHA_B]),
    ],
)
def test_each_kind_round_trips(field, value):
    data = round_trip(KINDS, {field: value})
    assert data[field] == value
    assert type(data[field]) is type(value)


def test_unchecked_checkbox_is_false_and_untouched_fields_are_absent():
    data = round_trip(KINDS, {"name": "x"})
    assert data["urgent"] is False
    assert "count" not in data and "approved" not in data and "tags" not in data
    # The blank row offered for the required array comes back as an (invalid) empty row.
    assert data["items"] == [{}]


def test_read_only_fields_are_not_taken_from_the_post():
    form = MultiDict({"name": "x", "history": "伪造"})
    assert "history" not in parse_submission(KINDS, form)


def test_money_is_normalised_to_two_decimals():
    form = MultiDict({"amount": " 1,234.5 ", "items[0][label]": "a", "items[0][cost]": "¥7"})
    data = parse_submission(KINDS, form)
    assert data["amount"] == "1234.50" and data["items"][0]["cost"] == "7.00"


@pytest.mark.parametrize(
    ("field", "typed"),
    [
        ("count", "三个"),
        ("count", "1.5"),
        ("ratio", "half"),
        ("amount", "12.345"),
        ("amount", "abc"),
        ("meeting", "明天"),
    ],
)
def test_unparseable_input_is_kept_as_typed(field, typed):
    assert parse_submission(KINDS, MultiDict({field: typed}))[field] == typed


def test_unknown_option_is_kept_as_typed():
    data = parse_submission(KINDS, MultiDict({"level": "zz", "approved": "maybe", "tags": ["road", "bogus"]}))
    assert data["level"] == "zz" and data["approved"] == "maybe" and data["tags"] == ["road", "bogus"]


def test_datetime_local_input_is_read_as_shanghai_time_and_kept_in_utc():
    assert (
        parse_submission(KINDS, MultiDict({"meeting": "2025-03-01T09:30"}))["meeting"]
        == "2025-03-01T01:30:00+00:00"
    )


def test_nothing_typed_is_lost_on_error():
    typed = MultiDict(
        {
            "name": "<b>名称</b>",
            "count": "十",
            "ratio": "1e",
            "amount": "12.345",
            "start": "2025-02-30",
            "meeting": "昨天",
            "level": "a",
            "approved": "false",
            "items[0][label]": "",
            "items[0][cost]": "一百",
            "reasons[0]": "第一",
        }
    )
    data = parse_submission(KINDS, typed)
    errors = validate(KINDS, data)
    assert {"count", "ratio", "amount", "start", "meeting", "items.0.label", "items.0.cost"} <= set(errors)
    tree = doc(render_form(KINDS, values=data, errors=errors))
    for name, value in typed.items():
        element = tree.xpath(f'//*[@name="{name}"]')
        assert element, name
        if element[0].tag == "input" and element[0].get("type") == "radio":
            assert tree.xpath(f'//input[@name="{name}"][@checked]/@value') == [value]
        elif element[0].tag == "select":
            assert element[0].xpath("option[@selected]/@value") == [value]
        else:
            assert element[0].get("value") == value, name
            assert "is-invalid" in element[0].get("class") or name in ("name", "level", "reasons[0]")
    # The re-rendered form posts exactly what was typed.
    assert parse_submission(KINDS, posted(render_form(KINDS, values=data, errors=errors))) == data


def test_file_uploads_from_files_map():
    form = MultiDict({"report[kind]": "plan", "photos[0]": SHA_A})
    files_map = {
        "report": {"sha256": SHA_B, "name": "新方案.pdf"},
        "photos": [{"sha256": SHA_B, "name": "p.jpg"}],
    }
    data = parse_submission(KINDS, form, files_map)
    assert data["report"] == {"kind": "plan", "sha256": SHA_B, "name": "新方案.pdf"}
    assert data["photos"] == [SHA_A, SHA_B]


def test_upload_paths_maps_file_inputs_to_data_paths():
    empty = FileStorage(filename="")
    chosen = FileStorage(filename="a.pdf")
    files = MultiDict(
        [
            ("documents[1][_file]", chosen),
            ("photos[_file]", chosen),
            ("photos[_file]", chosen),
            ("report[_file]", empty),
        ]
    )
    assert upload_paths(files) == {"documents.1": [chosen], "photos": [chosen, chosen]}


def test_add_and_remove_rows_without_javascript():
    values = {
        "items": [{"label": "a", "cost": "1.00"}, {"label": "b", "cost": "2.00"}],
        "reasons": ["x", "y", "z"],
    }
    html = render_form(KINDS, values=values, errors={})
    data = parse_submission(KINDS, posted(html, _add="items"))
    assert apply_row_action(KINDS, data, posted(html, _add="items")) is True
    assert data["items"] == values["items"] + [{}]
    tree = doc(render_form(KINDS, values=data, errors={}))
    assert tree.xpath('//input[@name="items[2][label]"]')

    form = posted(html, _remove="items.0")
    data = parse_submission(KINDS, form)
    assert apply_row_action(KINDS, data, form) is True
    assert data["items"] == [{"label": "b", "cost": "2.00"}]

    form = posted(html, _remove="reasons.1")
    data = parse_submission(KINDS, form)
    apply_row_action(KINDS, data, form)
    assert data["reasons"] == ["x", "z"]

    form = posted(render_form(KINDS, values={}, errors={}), _add="reasons")
    data = parse_submission(KINDS, form)
    apply_row_action(KINDS, data, form)
    assert data["reasons"] == [""]
    assert doc(render_form(KINDS, values=data, errors={})).xpath('//input[@name="reasons[0]"]')


def test_no_row_action_without_a_row_button():
    data = {"items": []}
    assert apply_row_action(KINDS, data, MultiDict({"name": "x"})) is False
    assert data == {"items": []}


def test_emptied_row_keeps_its_place():
    form = MultiDict({"reasons[0]": "a", "reasons[1]": "", "reasons[2]": "c"})
    assert parse_submission(KINDS, form)["reasons"] == ["a", "", "c"]


VALID_APPLICATION = {
    "project_name": "城东快速路工程",
    "project_code": "2025-330106-48-01-00017X",
    "owner_unit_id": 7,
    "region_code": "330106",
    "industry": "交通",
    "nature": "new",
    "total_investment": "1500000.00",
    "funding_sources": [
        {"source": "中央预算内资金", "amount": "1000000.00"},
        {"source": "企业自筹", "amount": "500000.00"},
    ],
    "planned_start": "2025-03-01",
    "planned_end": "2026-12-31",
    "scale_content": "全长 5 公里",
    "contact_name": "张三",
    "contact_phone": "13800000000",
    "documents": [
        {"kind": "proposal", "sha256": SHA_A, "name": "建议书.pdf"},
        {"kind": "feasibility", "sha256": SHA_B, "name": "可研.pdf"},
        {"kind": "preliminary_design", "sha256": "c" * 64, "name": "初设.pdf"},
    ],
}


def test_real_application_form_round_trips_and_validates():
    schema = json.loads((FORMS / "project_application.json").read_text())
    with_readonly = {**VALID_APPLICATION, "return_reasons": ["缺少初步设计"]}
    data = round_trip(schema, with_readonly)
    assert data == VALID_APPLICATION
    assert validate(schema, data) == {}


@pytest.mark.parametrize(
    ("name", "values"),
    [
        (
            "approval_intake.json",
            {"accepted": True, "experts": ["expert1", "expert2"], "opinion": "材料齐全"},
        ),
        ("approval_intake.json", {"accepted": False, "return_reasons": ["补充可研报告"]}),
        ("approval_expert.json", {"approved": False, "opinion": "投资偏高"}),
        (
            "rectification_supervise.json",
            {"supervision_opinion": "限期完成", "supervision_measure": "listed"},
        ),
        (
            "rectification_submit.json",
            {"rectification_description": "已整改", "rectification_photos": [SHA_A]},
        ),
        ("payment_finance_approval.json", {"finance_approved": True, "finance_opinion": "同意"}),
    ],
)
def test_real_forms_round_trip(name, values):
    schema = json.loads((FORMS / name).read_text())
    assert round_trip(schema, copy.deepcopy(values)) == values
    assert validate(schema, values) == {}


NESTED = {
    "type": "object",
    "properties": {
        "sections": {
            "type": "array",
            "title": "标段",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "title": "标段名称"},
                    "lines": {
                        "type": "array",
                        "title": "清单",
                        "items": {
                            "type": "object",
                            "properties": {"cost": {"type": "string", "format": "money"}},
                        },
                    },
                },
            },
        }
    },
}


def test_nested_rows_round_trip_and_row_buttons():
    values = {"sections": [{"name": "一标", "lines": [{"cost": "1.00"}, {"cost": "2.00"}]}, {"name": "二标"}]}
    html = render_form(NESTED, values=values, errors={})
    assert doc(html).xpath('//input[@name="sections[0][lines][1][cost]"]/@value') == ["2.00"]
    assert round_trip(NESTED, values) == values
    form = posted(html, _add="sections.1.lines")
    data = parse_submission(NESTED, form)
    apply_row_action(NESTED, data, form)
    assert data["sections"][1]["lines"] == [{}]
    form = posted(html, _remove="sections.0.lines.0")
    data = parse_submission(NESTED, form)
    apply_row_action(NESTED, data, form)
    assert data["sections"][0]["lines"] == [{"cost": "2.00"}]
