import json
from pathlib import Path

import pytest

from backend.forms.validate import validate
from tests.forms.helpers import KINDS, SHA_A
from tests.forms.test_parse import VALID_APPLICATION

FORMS = Path(__file__).resolve().parents[2] / "forms"


def form(name):
    return json.loads((FORMS / name).read_text(encoding="utf-8"))


def test_valid_data_has_no_errors():
    assert validate(form("project_application.json"), VALID_APPLICATION) == {}


def test_required_messages_use_the_title_and_the_widget():
    errors = validate(KINDS, {})
    assert errors["name"] == "请填写名称"
    assert errors["approved"] == "请选择结论"


def test_nested_paths_and_titles():
    data = {
        **VALID_APPLICATION,
        "funding_sources": [
            {"source": "a", "amount": "1.00"},
            {"source": "", "amount": "1.234"},
            {"amount": "5"},
        ],
    }
    errors = validate(form("project_application.json"), data)
    assert errors == {
        "funding_sources.1.source": "请填写来源",
        "funding_sources.1.amount": "金额 (元)格式不正确",
        "funding_sources.2.source": "请填写来源",
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("project_name", "城", "项目名称至少需要 2 个字"),
        ("project_name", "城" * 201, "项目名称不能超过 200 个字"),
        ("owner_unit_id", 0, "建设单位不能小于 1"),
        ("owner_unit_id", "七", "建设单位须为整数"),
        ("project_code", "2025-33", "项目代码格式不正确"),
        ("nature", "rebuild", "请选择有效的建设性质"),
        ("planned_start", "2025-02-30", "请输入有效日期"),
        ("planned_start", "2025/03/01", "请输入有效日期"),
        ("funding_sources", [], "资金来源至少需要 1 项"),
    ],
)
def test_keyword_messages_in_chinese(field, value, message):
    errors = validate(form("project_application.json"), {**VALID_APPLICATION, field: value})
    assert errors == {field: message}


def test_contains_names_the_missing_document_kind():
    documents = [d for d in VALID_APPLICATION["documents"] if d["kind"] != "feasibility"]
    errors = validate(form("project_application.json"), {**VALID_APPLICATION, "documents": documents})
    assert errors == {"documents": "申报材料须包含: 可行性研究报告"}


def test_schema_error_message_overrides():
    schema = {
        "type": "object",
        "properties": {
            "phone": {
                "type": "string",
                "title": "电话",
                "pattern": "^1\\d{10}$",
                "x-errorMessage": "请输入 11 位手机号",
            },
            "code": {
                "type": "string",
                "title": "代码",
                "minLength": 3,
                "x-errorMessage": {"minLength": "代码太短"},
            },
        },
    }
    assert validate(schema, {"phone": "123", "code": "a"}) == {
        "phone": "请输入 11 位手机号",
        "code": "代码太短",
    }


def test_formats_date_time_and_money():
    errors = validate(KINDS, {"name": "x", "approved": True, "meeting": "2025-03-01 9:30", "amount": "1.234"})
    assert errors["meeting"] == "请输入有效的日期和时间"
    assert errors["amount"] in ("金额 (元)须为金额, 最多两位小数", "金额 (元)格式不正确")
    ok = validate(
        KINDS, {"name": "x", "approved": True, "meeting": "2025-03-01T09:30:00+08:00", "amount": "1.20"}
    )
    assert "meeting" not in ok and "amount" not in ok


def test_money_widget_without_pattern_is_checked():
    errors = validate(KINDS, {"name": "x", "approved": True, "items": [{"label": "a", "cost": "一百"}]})
    assert errors == {"items.0.cost": "金额须为金额, 最多两位小数"}


def test_number_type_and_bounds():
    errors = validate(KINDS, {"name": "x", "approved": True, "ratio": "half", "count": 0})
    assert errors == {"ratio": "比例须为数字", "count": "数量不能小于 1"}
    assert validate(KINDS, {"name": "x", "approved": True, "ratio": 2}) == {"ratio": "比例不能大于 1"}


def test_if_then_requires_a_reason_only_when_rejected():
    schema = form("approval_review.json")
    assert validate(schema, {"approved": True}) == {}
    assert validate(schema, {"approved": False}) == {"opinion": "请填写审查意见"}
    assert validate(schema, {"approved": False, "opinion": "  "}) == {"opinion": "请填写审查意见"}


def test_if_then_else_on_intake():
    schema = form("approval_intake.json")
    assert validate(schema, {"accepted": True}) == {"experts": "请填写评审专家"}
    assert validate(schema, {"accepted": True, "experts": []}) == {"experts": "评审专家至少需要 1 项"}
    assert validate(schema, {"accepted": True, "experts": ["a", "a"]}) == {"experts": "评审专家不能有重复项"}
    assert validate(schema, {"accepted": False, "return_reasons": ["补"]}) == {
        "return_reasons.0": "补正事项至少需要 2 个字"
    }


def test_array_items_and_additional_properties():
    schema = form("rectification_submit.json")
    errors = validate(
        schema, {"rectification_description": "好", "rectification_photos": [SHA_A, "xyz"], "extra": 1}
    )
    assert errors["rectification_photos.1"] == "照片文件哈希格式不正确"
    assert errors[""] == "包含不允许的字段: extra"
    assert validate(schema, {"rectification_description": "好"}) == {
        "rectification_photos": "请上传整改后照片"
    }


def test_wrong_boolean_is_a_choice_error():
    assert validate(form("rectification_verify.json"), {"passed": "maybe"}) == {"passed": "请选择复核结论"}


def test_missing_upload_in_a_document_row():
    data = {**VALID_APPLICATION, "documents": [{"kind": "proposal"}, *VALID_APPLICATION["documents"][1:]]}
    errors = validate(form("project_application.json"), data)
    assert errors["documents.0.sha256"] == "请上传材料"
