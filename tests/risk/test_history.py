"""The exchange format: strict parse with field names and 1-based line numbers, round trip."""

import json

import pytest

from backend.risk import simulator
from backend.risk.history import HistoryError, dump_line, parse_line, read_jsonl, write_jsonl


@pytest.fixture(scope="module")
def histories():
    return simulator.simulate(6, seed=3)


def test_dump_parse_round_trip(histories):
    for h in histories:
        assert parse_line(dump_line(h)) == h


def test_write_read_file_round_trip(tmp_path, histories):
    path = tmp_path / "h.jsonl"
    assert write_jsonl(path, histories) == len(histories)
    loaded, errors = read_jsonl(path)
    assert errors == []
    assert loaded == histories


def _broken(h, **changes):
    obj = json.loads(dump_line(h))
    for key, value in changes.items():
        if key.startswith("week0_"):
            obj["weeks"][0][key.removeprefix("week0_")] = value
        else:
            obj[key] = value
    return json.dumps(obj, ensure_ascii=False)


def test_errors_name_field_and_line_and_the_rest_loads(tmp_path, histories):
    h0, h1, h2, h3 = histories[:4]
    lines = [
        dump_line(h0),
        _broken(h1, week0_actual_progress=1.5),
        "",  # blank lines are skipped, not errors
        "{not json",
        dump_line(h2),
        _broken(h3, total_investment=12.5),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    loaded, errors = read_jsonl(path)
    assert [h.project_id for h in loaded] == [h0.project_id, h2.project_id]
    assert [n for n, _ in errors] == [2, 4, 6]
    assert "weeks[0].actual_progress" in errors[0][1]
    assert "JSON" in errors[1][1]
    assert "total_investment" in errors[2][1]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"planned_end": "2019-13-01"}, "planned_end"),
        ({"region_code": "abc"}, "region_code"),
        ({"week0_material_shortage_days": 8}, "weeks[0].material_shortage_days"),
        ({"week0_overdue_tickets": 99}, "weeks[0].overdue_tickets"),
        ({"week0_checkins": -1}, "weeks[0].checkins"),
        ({"contractor": ""}, "contractor"),
        ({"extra": 1}, "extra"),
    ],
)
def test_parse_errors_name_the_field(histories, changes, field):
    with pytest.raises(HistoryError) as exc:
        parse_line(_broken(histories[0], **changes))
    assert field in str(exc.value)


def test_duplicate_project_id_is_an_error_on_the_later_line(histories):
    loaded, errors = read_jsonl([dump_line(histories[0]), dump_line(histories[1]), dump_line(histories[0])])
    assert len(loaded) == 2
    assert errors[0][0] == 3 and "第 1 行" in errors[0][1]
