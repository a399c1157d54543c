import json
from pathlib import Path

import pytest

from backend.forms.render import render_form
from tests.forms.helpers import FULL_VALUES, KINDS, SHA_A, doc

FORMS = sorted((Path(__file__).resolve().parents[2] / "forms").glob("*.json"))


def one(tree, xpath):
    found = tree.xpath(xpath)
    assert len(found) == 1, f"{xpath}: {len(found)} matches"
    return found[0]


@pytest.fixture()
def full():
    return doc(render_form(KINDS, values=FULL_VALUES, errors={}))


def test_every_control_has_a_unique_id_and_a_label_for_it(full):
    ids = [e.get("id") for e in full.xpath("//*[@id]")]
    assert len(ids) == len(set(ids))
    for control in full.xpath("//input[not(@type='hidden')] | //select | //textarea | //output"):
        if control.get("type") == "file":
            assert control.get("aria-label") or control.get("aria-labelledby")
            continue
        assert full.xpath(f'//label[@for="{control.get("id")}"]'), control.get("name")


def test_text_textarea_and_help(full):
    name = one(full, '//input[@name="name"]')
    assert (name.get("type"), name.get("class"), name.get("value"), name.get("maxlength")) == (
        "text",
        "form-control",
        "城东 <快速路> & 桥",
        "50",
    )
    assert name.get("required") is not None
    assert "*" in one(full, '//label[@for="f-name"]').text_content()
    help_ = one(full, '//*[@id="f-name-help"]')
    assert help_.text_content() == "项目的<正式>名称" and help_.get("class") == "form-text"
    assert name.get("aria-describedby") == "f-name-help"
    assert one(full, '//textarea[@name="notes"]').text_content() == "\n第一行\n第二行"  # maxLength > 200
    assert one(full, '//textarea[@name="memo"]').get("class") == "form-control"  # x-widget textarea
    assert "*" not in one(full, '//label[@for="f-notes"]').text_content()


def test_numbers_money_and_dates(full):
    count = one(full, '//input[@name="count"]')
    assert (count.get("type"), count.get("step"), count.get("min"), count.get("value")) == (
        "number",
        "1",
        "1",
        "3",
    )
    ratio = one(full, '//input[@name="ratio"]')
    assert (ratio.get("type"), ratio.get("step"), ratio.get("value")) == ("number", "any", "0.5")
    amount = one(full, '//input[@name="amount"]')
    assert (amount.get("type"), amount.get("inputmode"), amount.get("value")) == (
        "text",
        "decimal",
        "1200.50",
    )
    assert one(full, '//input[@name="start"]').get("type") == "date"
    meeting = one(full, '//input[@name="meeting"]')
    assert (meeting.get("type"), meeting.get("value")) == ("datetime-local", "2025-03-01T09:30")


def test_money_is_shown_with_two_decimals():
    tree = doc(
        render_form(KINDS, values={"amount": "100", "items": [{"label": "x", "cost": "3.5"}]}, errors={})
    )
    assert one(tree, '//input[@name="amount"]').get("value") == "100.00"
    assert one(tree, '//input[@name="items[0][cost]"]').get("value") == "3.50"


def test_datetime_is_shown_in_shanghai_time():
    tree = doc(render_form(KINDS, values={"meeting": "2025-03-01T01:30:00+00:00"}, errors={}))
    assert one(tree, '//input[@name="meeting"]').get("value") == "2025-03-01T09:30"


def test_enums_select_and_radio(full):
    level = one(full, '//select[@name="level"]')
    assert level.get("class") == "form-select"
    options = [
        (o.get("value"), o.text_content(), o.get("selected") is not None) for o in level.xpath("option")
    ]
    assert options == [
        ("", "请选择", False),
        ("a", "甲", False),
        ("b", "乙", False),
        ("c", "丙", True),
        ("d", "丁", False),
    ]
    radios = full.xpath('//input[@name="size"]')  # 2 options from oneOf: radio
    assert [(r.get("type"), r.get("value"), r.get("checked") is not None) for r in radios] == [
        ("radio", "small", False),
        ("radio", "large", True),
    ]
    assert one(full, '//label[@for="f-size-1"]').text_content() == "大"


def test_booleans_checkbox_and_approve(full):
    urgent = one(full, '//input[@name="urgent"]')
    assert (urgent.get("type"), urgent.get("class"), urgent.get("value")) == (
        "checkbox",
        "form-check-input",
        "true",
    )
    assert urgent.get("checked") is not None
    assert one(full, '//label[@for="f-urgent"]').get("class") == "form-check-label"
    approve = full.xpath('//input[@name="approved"]')
    labels = [one(full, f'//label[@for="{r.get("id")}"]').text_content() for r in approve]
    assert labels == ["同意", "不同意"]
    assert [r.get("checked") is not None for r in approve] == [False, True]


def test_enum_array_is_checkboxes(full):
    boxes = full.xpath('//input[@name="tags"]')
    assert [(b.get("type"), b.get("value"), b.get("checked") is not None) for b in boxes] == [
        ("checkbox", "road", True),
        ("checkbox", "water", False),
        ("checkbox", "school", True),
    ]


def test_object_rows_with_add_and_remove_buttons(full):
    assert [e.get("value") for e in full.xpath('//input[starts-with(@name, "items[")]')] == [
        "土建",
        "100.00",
        "设备",
        "20.10",
    ]
    assert one(full, '//input[@name="items[1][label]"]').get("id") == "f-items-1-label"
    removes = full.xpath('//button[@name="_remove"][starts-with(@value, "items.")]')
    assert [(b.get("type"), b.get("value")) for b in removes] == [
        ("submit", "items.0"),
        ("submit", "items.1"),
    ]
    add = one(full, '//button[@name="_add"][@value="items"]')
    assert add.get("type") == "submit" and add.get("formnovalidate") is not None


def test_an_empty_required_array_offers_one_blank_row():
    tree = doc(render_form(KINDS, values={}, errors={}))
    assert one(tree, '//input[@name="items[0][label]"]').get("value") == ""
    assert not tree.xpath('//input[starts-with(@name, "reasons[")]')


def test_scalar_list_rows(full):
    assert [e.get("value") for e in full.xpath('//input[starts-with(@name, "reasons[")]')] == [
        "材料不全",
        "金额有误",
    ]
    one(full, '//button[@name="_remove"][@value="reasons.1"]')
    one(full, '//button[@name="_add"][@value="reasons"]')


def test_file_object_keeps_the_uploaded_file_in_hidden_inputs(full):
    assert one(full, '//input[@name="report[sha256]"]').get("type") == "hidden"
    assert one(full, '//input[@name="report[sha256]"]').get("value") == SHA_A
    assert one(full, '//input[@name="report[name]"]').get("value") == "方案.pdf"
    assert "方案.pdf" in one(full, f'//*[@data-file="{SHA_A}"]').text_content()
    assert one(full, '//input[@name="report[_file]"]').get("type") == "file"
    assert one(full, '//input[@name="report[kind]"][@checked]').get("value") == "plan"


def test_file_hash_list(full):
    assert [e.get("value") for e in full.xpath('//input[starts-with(@name, "photos[")][@type="hidden"]')] == [
        SHA_A,
        "b" * 64,
    ]
    upload = one(full, '//input[@name="photos[_file]"]')
    assert upload.get("type") == "file" and upload.get("multiple") is not None


def test_read_only_field_is_text_not_an_input():
    tree = doc(render_form(KINDS, values={"history": "上轮<不同意>"}, errors={}))
    assert not tree.xpath('//*[@name="history"]')
    assert one(tree, '//output[@id="f-history"]').text_content() == "上轮<不同意>"


def test_read_only_field_without_earlier_data_is_left_out_of_an_editable_form():
    editable = doc(render_form(KINDS, values={}, errors={}))
    assert not editable.xpath('//*[@id="f-history"]')
    shown = doc(render_form(KINDS, values={}, errors={}, readonly=True))
    assert shown.xpath('//output[@id="f-history"]')


def test_whole_form_read_only():
    tree = doc(render_form(KINDS, values=FULL_VALUES, errors={}, readonly=True))
    assert not tree.xpath("//input | //select | //textarea | //button")
    assert one(tree, '//output[@id="f-level"]').text_content() == "丙"
    assert one(tree, '//output[@id="f-approved"]').text_content() == "不同意"
    assert one(tree, '//output[@id="f-amount"]').text_content() == "1200.50"
    assert "土建" in one(tree, '//*[@id="f-items"]').text_content()


def test_everything_is_escaped():
    evil = '"><script>alert(1)</script>'
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "title": evil, "description": evil},
            "b": {"type": "string", "title": "b", "enum": [evil, "x"], "x-widget": "select"},
            "c": {"type": "string", "maxLength": 1000},
        },
    }
    html = str(
        render_form(schema, values={"a": evil, "b": evil, "c": "</textarea>" + evil}, errors={"a": evil})
    )
    assert "<script>" not in html
    tree = doc(html)
    assert not tree.xpath("//script")
    assert one(tree, '//input[@name="a"]').get("value") == evil
    assert one(tree, '//textarea[@name="c"]').text_content() == "\n</textarea>" + evil
    assert one(tree, '//*[@id="f-a-error"]').text_content() == evil


def test_errors_are_shown_next_to_their_fields():
    errors = {
        "name": "请填写名称",
        "items.1.cost": "金额格式不正确",
        "approved": "请选择结论",
        "tags": "至少需要 1 项",
    }
    values = {"items": [{"label": "a", "cost": "1"}, {"label": "b", "cost": "x"}]}
    tree = doc(render_form(KINDS, values=values, errors=errors))
    name = one(tree, '//input[@name="name"]')
    assert "is-invalid" in name.get("class")
    assert (
        name.getnext().get("class").startswith("invalid-feedback")
        and name.getnext().text_content() == "请填写名称"
    )
    cost = one(tree, '//input[@name="items[1][cost]"]')
    assert "is-invalid" in cost.get("class") and cost.getnext().text_content() == "金额格式不正确"
    assert "is-invalid" not in one(tree, '//input[@name="items[0][cost]"]').get("class")
    assert all("is-invalid" in r.get("class") for r in tree.xpath('//input[@name="approved"]'))
    assert "请选择结论" in one(tree, '//fieldset[@data-field="approved"]').text_content()
    assert not tree.xpath('//*[contains(@class, "alert")]')


def test_errors_without_a_field_are_listed_on_top():
    tree = doc(render_form(KINDS, values={}, errors={"": "表单不符合要求", "ghost": "看不见的字段"}))
    alert = one(tree, '//div[contains(@class, "alert-danger")]')
    assert "表单不符合要求" in alert.text_content() and "看不见的字段" in alert.text_content()


CONDITIONAL = {
    "type": "object",
    "properties": {
        "accepted": {
            "type": "boolean",
            "title": "是否受理",
            "oneOf": [{"const": True, "title": "受理"}, {"const": False, "title": "退回"}],
        },
        "mode": {"type": "string", "title": "方式", "enum": ["online", "paper"]},
    },
    "required": ["accepted"],
    "allOf": [],
    "if": {"properties": {"accepted": {"const": True}}, "required": ["accepted"]},
    "then": {
        "properties": {"experts": {"type": "array", "title": "专家", "items": {"type": "string"}}},
        "required": ["experts"],
    },
    "else": {"properties": {"reason": {"type": "string", "title": "退回理由"}}, "required": ["reason"]},
}


@pytest.mark.parametrize(
    ("values", "experts_hidden", "reason_hidden"),
    [({}, True, True), ({"accepted": True}, False, True), ({"accepted": False}, True, False)],
)
def test_conditional_sections_hide_the_inactive_branch(values, experts_hidden, reason_hidden):
    tree = doc(render_form(CONDITIONAL, values=values, errors={}))
    experts = one(tree, '//div[@data-show-when="accepted=true"]')
    reason = one(tree, '//div[@data-show-when="accepted!=true"]')
    assert experts.xpath('.//*[@data-field="experts"]') and reason.xpath('.//input[@name="reason"]')
    assert (experts.get("hidden") is not None, reason.get("hidden") is not None) == (
        experts_hidden,
        reason_hidden,
    )


def test_conditional_on_an_enum():
    schema = {
        "type": "object",
        "properties": {"measure": {"type": "string", "enum": ["phone", "notice", "listed", "interview"]}},
        "if": {"properties": {"measure": {"enum": ["notice", "listed"]}}},
        "then": {"properties": {"notice_no": {"type": "string", "title": "通报文号"}}},
    }
    shown = one(
        doc(render_form(schema, values={"measure": "listed"}, errors={})),
        '//div[@data-show-when="measure=notice|listed"]',
    )
    assert shown.get("hidden") is None
    hidden = one(
        doc(render_form(schema, values={"measure": "phone"}, errors={})),
        '//div[@data-show-when="measure=notice|listed"]',
    )
    assert hidden.get("hidden") is not None


def test_field_required_only_in_a_branch_gets_a_conditional_marker():
    schema = json.loads((FORMS[0].parent / "approval_review.json").read_text())
    rejected = doc(render_form(schema, values={"approved": False}, errors={}))
    marker = one(rejected, '//label[@for="f-opinion"]/span[@data-show-when="approved=false"]')
    assert marker.get("hidden") is None
    approved = doc(render_form(schema, values={"approved": True}, errors={}))
    assert one(approved, '//label[@for="f-opinion"]/span').get("hidden") is not None
    assert one(approved, '//textarea[@name="opinion"]') is not None  # the opinion box stays available


def test_intake_form_toggles_experts_and_return_reasons():
    schema = json.loads((FORMS[0].parent / "approval_intake.json").read_text())
    tree = doc(render_form(schema, values={"accepted": False, "return_reasons": ["缺少可研"]}, errors={}))
    assert one(tree, '//div[@data-show-when="accepted=true"]').get("hidden") is not None
    section = one(tree, '//div[@data-show-when="accepted!=true"]')
    assert section.get("hidden") is None
    assert section.xpath('.//input[@name="return_reasons[0]"]/@value') == ["缺少可研"]


@pytest.mark.parametrize("path", FORMS, ids=lambda p: p.name)
def test_every_real_form_renders(path):
    schema = json.loads(path.read_text(encoding="utf-8"))
    for readonly in (False, True):
        tree = doc(render_form(schema, values={}, errors={}, readonly=readonly))
        ids = [e.get("id") for e in tree.xpath("//*[@id]")]
        assert len(ids) == len(set(ids))
    tree = doc(render_form(schema, values={}, errors={}))
    for name, prop in schema["properties"].items():
        if not prop.get("readOnly") and "$ref" not in prop:
            assert tree.xpath(f'//*[@data-field="{name}"]'), name


def test_revise_form_shows_the_review_round_read_only():
    schema = json.loads((FORMS[0].parent / "approval_revise.json").read_text())
    round_ = {
        "round_no": 2,
        "outcome": "rejected",
        "opinions": [{"department_name": "住建局", "decision": "rejected", "opinion": "规模<偏大>"}],
    }
    tree = doc(render_form(schema, values={"review_round": round_}, errors={}))
    shown = one(tree, '//*[@id="f-review_round"]').text_content()
    assert "住建局" in shown and "不同意" in shown and "规模<偏大>" in shown
    assert not tree.xpath('//*[starts-with(@name, "review_round")]')


def test_errors_inside_a_hidden_section_are_listed_on_top():
    tree = doc(
        render_form(CONDITIONAL, values={}, errors={"reason": "请填写退回理由", "accepted": "请选择是否受理"})
    )
    assert "请填写退回理由" in one(tree, '//div[contains(@class, "alert-danger")]').text_content()
    assert "请选择是否受理" not in one(tree, '//div[contains(@class, "alert-danger")]').text_content()
    shown = doc(render_form(CONDITIONAL, values={"accepted": False}, errors={"reason": "请填写退回理由"}))
    assert not shown.xpath('//div[contains(@class, "alert-danger")]')


def test_inputs_in_sections_are_not_browser_required():
    schema = {
        "type": "object",
        "properties": {"on": {"type": "boolean", "title": "开"}},
        "if": {"properties": {"on": {"const": True}}},
        "then": {
            "properties": {
                "rows": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]},
                }
            }
        },
    }
    tree = doc(render_form(schema, values={"on": False}, errors={}))
    assert one(tree, '//input[@name="rows[0][x]"]').get("required") is None
    plain = {"type": "object", "properties": schema["then"]["properties"]}
    assert (
        one(doc(render_form(plain, values={}, errors={})), '//input[@name="rows[0][x]"]').get("required")
        is not None
    )


def test_missing_upload_in_a_document_row_is_shown_at_its_file_input():
    schema = json.loads((FORMS[0].parent / "project_application.json").read_text())
    errors = {"documents.0.sha256": "请上传材料"}
    tree = doc(render_form(schema, values={"documents": [{"kind": "proposal"}]}, errors=errors))
    upload = one(tree, '//input[@name="documents[0][_file]"]')
    assert "is-invalid" in upload.get("class") and upload.getnext().text_content() == "请上传材料"
