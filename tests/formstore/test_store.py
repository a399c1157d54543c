"""The form store: versions seeded from FORMS_DIR, editor saves, and what is refused."""

import re

import pytest

from backend.forms import store
from backend.forms.errors import InvalidFormName
from backend.forms.models import FormVersion

from .conftest import REVIEW_V1, REVIEW_V2, write_form

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def test_a_file_is_seeded_once_as_version_one(session, forms_dir):
    write_form(forms_dir, "review.json", REVIEW_V1)
    first = store.current(session=session, name="review.json")
    assert (first.name, first.version, first.source, first.saved_by) == ("review.json", 1, "file", None)
    assert first.schema == REVIEW_V1 and len(first.content_hash) == 64
    again = store.current(session=session, name="review.json")
    assert again.id == first.id
    assert [v.version for v in store.versions(session=session, name="review.json")] == [1]


def test_no_file_and_nothing_stored_is_none(session, forms_dir):
    assert store.current(session=session, name="nope.json") is None
    assert store.versions(session=session, name="nope.json") == []


def test_an_editor_save_is_not_undone_by_the_unchanged_file(session, forms_dir):
    write_form(forms_dir, "review.json", REVIEW_V1)
    saved = store.save(session=session, name="review.json", schema=REVIEW_V2, saved_by="designer")
    # The file was stored first, so the save is version 2 and stays the newest.
    assert (saved.version, saved.source, saved.saved_by) == (2, "editor", "designer")
    assert store.current(session=session, name="review.json").id == saved.id
    assert [(v.version, v.source) for v in store.versions(session=session, name="review.json")] == [
        (2, "editor"),
        (1, "file"),
    ]


def test_saving_the_newest_content_again_stores_nothing(session, forms_dir):
    saved = store.save(session=session, name="new.json", schema=REVIEW_V1, saved_by="designer")
    assert saved.version == 1
    # Key order does not matter: the hash is of the canonical JSON.
    reordered = dict(reversed(list(REVIEW_V1.items())))
    assert store.save(session=session, name="new.json", schema=reordered, saved_by="other").id == saved.id
    assert session.query(FormVersion).filter_by(name="new.json").count() == 1


def test_a_changed_file_becomes_the_newest_version(session, forms_dir):
    write_form(forms_dir, "review.json", REVIEW_V1)
    store.save(session=session, name="review.json", schema=REVIEW_V2, saved_by="designer")
    changed = {**REVIEW_V1, "title": "审核 (新)"}
    write_form(forms_dir, "review.json", changed)
    newest = store.current(session=session, name="review.json")
    assert (newest.version, newest.source, newest.schema) == (3, "file", changed)
    # A file put back to an earlier version's content is that version: nothing new is stored.
    write_form(forms_dir, "review.json", REVIEW_V1)
    assert store.current(session=session, name="review.json").version == 3


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ([], "表单须是 JSON 对象"),
        ({"type": "objec"}, "不是有效的 JSON Schema"),
        ({"type": "string", "title": "单个字段"}, "顶层须是对象"),
        (
            {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}},
            "引用的定义不存在: #/$defs/missing",
        ),
        ({"type": "object", "properties": {"a": {"$ref": "https://x.example/s.json"}}}, "只支持表单内的引用"),
        (
            {"type": "object", "properties": {"a": {"type": "string", "x-widget": "slider"}}},
            "x-widget 不受支持: slider",
        ),
        (
            {
                "type": "object",
                "properties": {"a": {"type": "integer"}},
                "if": {"properties": {"a": {"minimum": 3}}},
                "then": {"properties": {"b": {"type": "string"}}},
            },
            "条件 (if) 只能按一个字段的取值",
        ),
        (
            {
                "type": "object",
                "properties": {
                    "rows": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"w": {"x-widget": "dial"}}},
                    }
                },
            },
            "字段 rows.[].w 的 x-widget 不受支持: dial",
        ),
    ],
)
def test_invalid_schemas_are_refused_in_chinese(session, forms_dir, schema, expected):
    assert store.schema_problems(schema)
    with pytest.raises(store.InvalidForm) as caught:
        store.save(session=session, name="bad.json", schema=schema, saved_by="designer")
    assert any(expected in p for p in caught.value.problems), caught.value.problems
    assert all(CHINESE.search(p) for p in caught.value.problems)
    assert session.query(FormVersion).filter_by(name="bad.json").count() == 0


def test_the_repository_forms_are_all_valid(app):
    from pathlib import Path

    from backend.forms.schema import load_form

    folder = Path(app.config["FORMS_DIR"])
    for path in folder.glob("*.json"):
        assert store.schema_problems(load_form(path.name, forms_dir=folder)) == [], path.name


def test_names_follow_the_file_rules(session, forms_dir):
    for bad in ("../x.json", "x.txt", "", "a/b.json"):
        with pytest.raises(InvalidFormName):
            store.save(session=session, name=bad, schema=REVIEW_V1, saved_by="designer")
        with pytest.raises(InvalidFormName):
            store.current(session=session, name=bad)


def test_a_broken_file_is_not_stored(session, forms_dir):
    write_form(forms_dir, "broken.json", {"type": "string"})
    with pytest.raises(store.InvalidForm) as caught:
        store.current(session=session, name="broken.json")
    assert "表单 broken.json" in str(caught.value)
    # The editor may replace it.
    fixed = store.save(session=session, name="broken.json", schema=REVIEW_V1, saved_by="designer")
    assert fixed.version == 1


def test_names_are_stored_and_file_names_sorted(session, forms_dir):
    write_form(forms_dir, "b.json", REVIEW_V1)
    write_form(forms_dir, "notes.txt", "not a form")
    store.save(session=session, name="a.json", schema=REVIEW_V1, saved_by="designer")
    store.save(session=session, name="c.json", schema=REVIEW_V1, saved_by="designer")
    assert store.names(session=session) == ["a.json", "b.json", "c.json"]


def test_schema_of_a_version_never_changes(session, forms_dir):
    first = store.save(session=session, name="r.json", schema=REVIEW_V1, saved_by="designer")
    store.save(session=session, name="r.json", schema=REVIEW_V2, saved_by="designer")
    assert store.schema_of(session=session, form_version_id=first.id) == REVIEW_V1
    assert store.schema_of(session=session, form_version_id=first.id) == REVIEW_V1  # cached


def test_the_field_order_survives_the_database(session, forms_dir):
    # The order of `properties` is the order of the fields on the form; PostgreSQL's jsonb
    # would sort the keys (this runs against PostgreSQL in CI's second pass).
    fields = ["zeta", "alpha", "mid", "beta"]
    schema = {"type": "object", "properties": {name: {"type": "string", "title": name} for name in fields}}
    saved = store.save(session=session, name="order.json", schema=schema, saved_by="designer")
    session.commit()
    session.expire_all()
    stored = session.get(FormVersion, saved.id)
    assert list(stored.schema["properties"]) == fields
