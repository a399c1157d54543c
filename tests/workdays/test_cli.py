"""flask calendar seed|show|set-day|import-year through the CLI runner."""

import json
from datetime import UTC, date, datetime

import time_machine

from backend.workdays.models import CalendarDay, CalendarYear
from backend.workdays.service import get_calendar


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=["calendar", *args])


def test_seed_then_show(app, session):
    with time_machine.travel(datetime(2026, 6, 1, 2, 0, tzinfo=UTC), tick=False):
        result = invoke(app, "seed", "--first-year", "2025", "--last-year", "2026")
    assert result.exit_code == 0, result.output
    assert "rows created or changed" in result.output
    assert "warning: 2027" in result.output  # next year's schedule is not entered yet
    assert session.get(CalendarYear, 2025).complete is True

    again = invoke(app, "seed", "--first-year", "2025", "--last-year", "2026")
    assert again.exit_code == 0, again.output
    assert ": 0 rows" in again.output

    shown = invoke(app, "show", "2025")
    assert shown.exit_code == 0, shown.output
    assert "2025: complete" in shown.output
    assert "2025-10-01 周三 放假 国庆节" in shown.output
    assert "2025-09-28 周日 上班 调休上班" in shown.output


def test_seed_past_the_package_does_not_fail(app, session):
    result = invoke(app, "seed", "--first-year", "2026", "--last-year", "2027")
    assert result.exit_code == 0, result.output
    assert session.get(CalendarYear, 2027) is None


def test_show_an_unknown_year(app, session):
    result = invoke(app, "show", "2027")
    assert result.exit_code == 0, result.output
    assert "NOT complete" in result.output


def test_set_day(app, session):
    result = invoke(app, "set-day", "2025-10-10", "--holiday", "--name", "临时放假")
    assert result.exit_code == 0, result.output
    row = session.get(CalendarDay, date(2025, 10, 10))
    assert (row.is_workday, row.name, row.source) == (False, "临时放假", "admin")

    result = invoke(app, "set-day", "2025-10-10", "--workday")
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert session.get(CalendarDay, date(2025, 10, 10)).is_workday is True

    missing_flag = invoke(app, "set-day", "2025-10-10")
    assert missing_flag.exit_code == 2
    assert "--workday or --holiday" in missing_flag.output


def test_import_year(app, session, tmp_path):
    # A made-up schedule: the real 2027 one is not published yet.
    schedule = {
        "year": 2027,
        "holidays": {"2027-01-01": "元旦", "2027-01-02": "元旦", "2027-01-03": "元旦"},
        "working_weekends": ["2027-01-09"],
        "note": "test schedule",
    }
    path = tmp_path / "2027.json"
    path.write_text(json.dumps(schedule, ensure_ascii=False), encoding="utf-8")
    result = invoke(app, "import-year", str(path))
    assert result.exit_code == 0, result.output
    assert "imported 2027: 3 holidays, 1 working weekends" in result.output

    calendar = get_calendar(session=session)
    assert calendar.missing_years(2027, 2027) == []
    assert calendar.is_workday(date(2027, 1, 1)) is False
    assert calendar.is_workday(date(2027, 1, 9)) is True

    shown = invoke(app, "show", "2027")
    assert "2027: complete (source: admin)" in shown.output
    assert "note: test schedule" in shown.output
    assert "2027-01-09 周六 上班 调休上班" in shown.output


def test_import_year_reports_every_problem_and_writes_nothing(app, session, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps(
            {"year": 2027, "holidays": ["2027-01-01", "2028-01-01"], "working_weekends": ["2027-01-04"]}
        ),
        encoding="utf-8",
    )
    result = invoke(app, "import-year", str(path))
    assert result.exit_code == 1
    assert "2 个问题" in result.output
    assert "2028-01-01 is not in 2027" in result.output
    assert "2027-01-04 is a weekday" in result.output
    assert session.get(CalendarYear, 2027) is None

    path.write_text('{"year": 2027, "holidays": ["01/01/2027"]}', encoding="utf-8")
    assert "not a date" in invoke(app, "import-year", str(path)).output
    path.write_text("not json", encoding="utf-8")
    assert "not JSON" in invoke(app, "import-year", str(path)).output
