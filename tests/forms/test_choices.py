"""`x-choices`: options from the platform's data, per person, for rendering and validation."""

from backend.forms.choices import with_choices
from backend.forms.render import render_form
from backend.forms.validate import validate
from backend.org.models import Unit, User

SCHEMA = {
    "type": "object",
    "properties": {
        "owner_unit_id": {"type": "integer", "title": "建设单位", "x-choices": "own_unit"},
        "name": {"type": "string"},
    },
    "required": ["owner_unit_id"],
}


def _people(session):
    mine = Unit(name="杭州市城市建设发展集团", kind="owner", region_code=None)
    other = Unit(name="宁波市轨道交通集团", kind="owner", region_code=None)
    session.add_all([mine, other])
    session.flush()
    applicant = User(username="applicant", display_name="张伟", unit_id=mine.id, roles=["owner"])
    reviewer = User(username="li", display_name="李明", roles=["reviewer"])
    session.add_all([applicant, reviewer])
    session.flush()
    return mine, other, applicant, reviewer


def test_the_applicant_picks_only_their_own_unit_by_name(session):
    mine, other, applicant, _reviewer = _people(session)
    schema = with_choices(SCHEMA, session=session, user=applicant)
    html = str(render_form(schema, values={"owner_unit_id": mine.id}, errors={}))
    assert "杭州市城市建设发展集团" in html and "宁波市轨道交通集团" not in html
    assert SCHEMA["properties"]["owner_unit_id"].get("oneOf") is None  # the file's schema untouched
    assert validate(schema, {"owner_unit_id": mine.id}) == {}
    assert "owner_unit_id" in validate(schema, {"owner_unit_id": other.id})


def test_someone_else_sees_the_named_unit_by_name(session):
    mine, _other, _applicant, reviewer = _people(session)
    values = {"owner_unit_id": mine.id}
    schema = with_choices(SCHEMA, session=session, user=reviewer, values=values)
    html = str(render_form(schema, values=values, errors={}, readonly=True))
    assert "杭州市城市建设发展集团" in html


def test_a_schema_without_choices_is_returned_as_is(session):
    plain = {"type": "object", "properties": {"name": {"type": "string"}}}
    assert with_choices(plain, session=session, user=None) is plain
