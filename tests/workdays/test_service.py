"""Working-day arithmetic on the official calendar, checked against chinese-calendar and by hand.

Hand-checked facts (State Council schedules, confirmed with chinese_calendar 1.11.0):
2025 National Day: 10-01..10-08 off, Sun 09-28 and Sat 10-11 working.
2026 Spring Festival: 02-15..02-23 off, Sat 02-14 and Sat 02-28 working.
"""

import logging
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
import sqlalchemy as sa
import time_machine

from backend.workdays import service
from backend.workdays.models import CalendarDay, CalendarYear
from backend.workdays.service import (
    InvalidSchedule,
    get_calendar,
    import_year,
    load_calendar,
    script_helpers,
    seed_from_chinese_calendar,
    set_day,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def end_of(day: date) -> datetime:
    """00:00 +08:00 of the next day, as the UTC instant the service returns."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), SHANGHAI).astimezone(UTC)


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch):
    monkeypatch.setattr(service, "_warned_years", set())


@pytest.fixture()
def calendar(session):
    seed_from_chinese_calendar(session=session, first_year=2025, last_year=2026)
    session.commit()
    return get_calendar(session=session)


def reference_add(start: date, n: int) -> date:
    """The n-th working day after `start` by chinese_calendar itself."""
    day = start
    while n:
        day += timedelta(days=1)
        if chinese_calendar.is_workday(day):
            n -= 1
    return day


# --- seeding -------------------------------------------------------------------------


def test_seed_stores_named_days_and_marks_years_complete(session):
    seed_from_chinese_calendar(session=session, first_year=2025, last_year=2025)
    national_day = session.get(CalendarDay, date(2025, 10, 1))
    assert (national_day.is_workday, national_day.name) == (False, "国庆节")
    assert national_day.source == "chinese-calendar"
    assert session.get(CalendarDay, date(2025, 10, 6)).name == "中秋"
    working_sunday = session.get(CalendarDay, date(2025, 9, 28))
    assert (working_sunday.is_workday, working_sunday.name) == (True, "调休上班")
    # Weekend days of a holiday period are stored too, so a year reads like the official notice.
    assert session.get(CalendarDay, date(2025, 10, 4)).is_workday is False
    # An ordinary weekday is not stored.
    assert session.get(CalendarDay, date(2025, 10, 9)) is None
    year = session.get(CalendarYear, 2025)
    assert (year.complete, year.source) == (True, "chinese-calendar")


def test_seed_agrees_with_chinese_calendar_on_every_day(session):
    seed_from_chinese_calendar(session=session, first_year=2024, last_year=2026)
    calendar = load_calendar(session=session)
    day = date(2024, 1, 1)
    while day.year <= 2026:
        assert calendar.is_workday(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_seed_is_idempotent_and_keeps_admin_entries(session):
    assert seed_from_chinese_calendar(session=session, first_year=2025, last_year=2026) > 0
    session.commit()
    rows = session.scalar(sa.select(sa.func.count()).select_from(CalendarDay))
    assert seed_from_chinese_calendar(session=session, first_year=2025, last_year=2026) == 0

    # An admin reopens the office on 2025-10-08 and closes it on Friday 2025-10-10.
    set_day(session=session, day=date(2025, 10, 8), is_workday=True, name="临时上班")
    set_day(session=session, day=date(2025, 10, 10), is_workday=False, name="临时放假")
    session.commit()
    assert seed_from_chinese_calendar(session=session, first_year=2025, last_year=2026) == 0
    session.commit()
    edited = session.get(CalendarDay, date(2025, 10, 8))
    assert (edited.is_workday, edited.name, edited.source) == (True, "临时上班", "admin")
    assert session.get(CalendarDay, date(2025, 10, 10)).source == "admin"
    assert session.scalar(sa.select(sa.func.count()).select_from(CalendarDay)) == rows + 1


def test_seed_repairs_its_own_rows(session):
    seed_from_chinese_calendar(session=session, first_year=2025, last_year=2025)
    session.get(CalendarDay, date(2025, 10, 1)).is_workday = True
    session.add(CalendarDay(day=date(2025, 3, 3), is_workday=False, name="bogus", source="chinese-calendar"))
    session.flush()
    assert seed_from_chinese_calendar(session=session, first_year=2025, last_year=2025) == 2
    assert session.get(CalendarDay, date(2025, 10, 1)).is_workday is False
    assert session.get(CalendarDay, date(2025, 3, 3)) is None


def test_seed_skips_years_the_package_does_not_know(session):
    assert seed_from_chinese_calendar(session=session, first_year=2026, last_year=2027) > 0
    assert session.get(CalendarYear, 2026) is not None
    assert session.get(CalendarYear, 2027) is None
    assert (
        session.scalar(
            sa.select(sa.func.count()).select_from(CalendarDay).where(CalendarDay.day >= date(2027, 1, 1))
        )
        == 0
    )


# --- arithmetic ----------------------------------------------------------------------


def test_national_day_2025(calendar):
    start = shanghai(2025, 9, 30, 10, 0)  # Tuesday, the last working day before the holiday
    # Due in 1 working day: 10-01..10-08 are off, so the end of Thursday 10-09.
    assert calendar.add_working_days(start, 1) == datetime(2025, 10, 9, 16, 0, tzinfo=UTC)
    assert calendar.add_working_days(start, 1) == shanghai(2025, 10, 10, 0, 0)
    assert calendar.add_working_days(start, 2) == shanghai(2025, 10, 11, 0, 0)  # Fri 10-10
    # Saturday 10-11 is an adjusted working day and counts.
    assert calendar.add_working_days(start, 3) == shanghai(2025, 10, 12, 0, 0)
    assert calendar.add_working_days(start, 4) == shanghai(2025, 10, 14, 0, 0)  # Mon 10-13
    assert calendar.working_days_between(start, shanghai(2025, 10, 12, 9, 0)) == 3


def test_adjusted_working_sunday_counts(calendar):
    start = shanghai(2025, 9, 26, 10, 0)  # Friday
    assert calendar.is_workday(date(2025, 9, 28))
    assert not calendar.is_workday(date(2025, 9, 27))
    assert calendar.add_working_days(start, 1) == shanghai(2025, 9, 29, 0, 0)  # Sun 09-28
    assert calendar.add_working_days(start, 4) == shanghai(2025, 10, 10, 0, 0)  # 28, 29, 30, then 10-09


def test_spring_festival_2026(calendar):
    start = shanghai(2026, 2, 13, 10, 0)  # Friday
    assert calendar.add_working_days(start, 1) == shanghai(2026, 2, 15, 0, 0)  # Sat 02-14 works
    assert calendar.add_working_days(start, 2) == shanghai(2026, 2, 25, 0, 0)  # 02-15..23 off; Tue 02-24
    # (02-13, 02-28]: 14, 24, 25, 26, 27 and the working Saturday 28.
    assert calendar.working_days_between(start, shanghai(2026, 2, 28, 18, 0)) == 6
    assert calendar.working_days_between(shanghai(2026, 2, 28, 18, 0), start) == -6


def test_negative_and_zero_counts(calendar):
    start = shanghai(2025, 10, 9, 10, 0)  # Thursday, first working day after National Day
    assert calendar.add_working_days(start, 0) == shanghai(2025, 10, 10, 0, 0)
    assert calendar.add_working_days(start, -1) == shanghai(2025, 10, 1, 0, 0)  # end of Tue 09-30
    assert calendar.add_working_days(start, -3) == shanghai(2025, 9, 29, 0, 0)  # end of the working Sun 09-28
    assert calendar.add_working_days(start, -4) == shanghai(2025, 9, 27, 0, 0)  # end of Fri 09-26


def test_matches_chinese_calendar_for_every_start_of_2025(calendar):
    day = date(2025, 1, 1)
    while day.year == 2025:
        start = shanghai(day.year, day.month, day.day, 9, 30)
        for n in (1, 2, 3, 5, 10, 20):
            expected = reference_add(day, n)
            assert calendar.add_working_days(start, n) == end_of(expected), (day, n)
            assert (
                calendar.working_days_between(
                    start, shanghai(expected.year, expected.month, expected.day, 12)
                )
                == n
            )
        day += timedelta(days=1)


def test_shanghai_date_boundary(calendar):
    # 17:00 UTC on 30 Sep is already 01:00 on 1 October in Shanghai: a holiday.
    late = datetime(2025, 9, 30, 17, 0, tzinfo=UTC)
    early = datetime(2025, 9, 30, 15, 59, tzinfo=UTC)
    assert calendar.is_workday(late) is False
    assert calendar.is_workday(early) is True
    assert calendar.add_working_days(late, 0) == shanghai(2025, 10, 2, 0, 0)
    assert calendar.add_working_days(early, 0) == shanghai(2025, 10, 1, 0, 0)
    # 16:30 UTC on 8 Oct is 00:30 on Thursday 9 Oct, a working day.
    assert calendar.working_days_between(early, datetime(2025, 10, 8, 16, 30, tzinfo=UTC)) == 1
    assert calendar.working_days_between(early, datetime(2025, 10, 8, 15, 30, tzinfo=UTC)) == 0


def test_naive_datetimes_are_refused(calendar):
    with pytest.raises(ValueError, match="naive"):
        calendar.add_working_days(datetime(2025, 9, 30, 10, 0), 1)


def test_reminder_is_one_working_day_before_the_deadline(calendar):
    deadline = calendar.add_working_days(shanghai(2025, 9, 30, 10, 0), 1)  # end of 10-09
    assert calendar.deadline_minus_working_days(deadline, 1) == shanghai(2025, 10, 1, 0, 0)  # end of 09-30
    assert calendar.deadline_minus_working_days(deadline, 0) == deadline

    day = date(2025, 9, 1)
    while day < date(2025, 10, 31):
        start = shanghai(day.year, day.month, day.day, 14, 0)
        for n in range(1, 8):
            deadline = calendar.add_working_days(start, n)
            if n >= 2 or calendar.is_workday(day):
                assert calendar.deadline_minus_working_days(deadline, 1) == calendar.add_working_days(
                    start, n - 1
                )
        day += timedelta(days=1)


# --- years without data, and importing them --------------------------------------------


def test_year_without_data_counts_weekends_only_and_warns_once(calendar, caplog):
    start = shanghai(2026, 12, 31, 10, 0)  # Thursday
    with caplog.at_level(logging.WARNING, logger="backend.workdays.service"):
        assert calendar.add_working_days(start, 1) == shanghai(2027, 1, 2, 0, 0)  # Fri 2027-01-01, unknown
        assert calendar.add_working_days(start, 2) == shanghai(2027, 1, 5, 0, 0)  # skips the weekend
        assert calendar.is_workday(date(2027, 1, 2)) is False
    warnings = [r for r in caplog.records if getattr(r, "year", None) == 2027]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert calendar.missing_years(2025, 2027) == [2027]


def test_importing_2027_changes_the_count(session, calendar):
    start = shanghai(2026, 12, 31, 10, 0)
    until = shanghai(2027, 1, 8, 18, 0)
    assert calendar.working_days_between(start, until) == 6  # 1, 4, 5, 6, 7, 8 by the weekday rule

    # A made-up schedule: the real 2027 one is not published yet.
    import_year(
        session=session,
        year=2027,
        holidays=[date(2027, 1, 1), date(2027, 1, 2), date(2027, 1, 3)],
        working_weekends=[date(2027, 1, 9)],
        names={date(2027, 1, 1): "元旦"},
    )
    session.commit()
    updated = get_calendar(session=session)
    assert updated is not calendar
    assert updated.working_days_between(start, until) == 5
    assert updated.add_working_days(start, 1) == shanghai(2027, 1, 5, 0, 0)
    assert updated.add_working_days(start, 6) == shanghai(2027, 1, 10, 0, 0)  # Sat 01-09 works
    assert updated.missing_years(2025, 2027) == []
    assert session.get(CalendarDay, date(2027, 1, 1)).name == "元旦"
    assert session.get(CalendarDay, date(2027, 1, 9)).name == "调休上班"

    # Importing again replaces the year's days rather than adding to them.
    import_year(session=session, year=2027, holidays=[date(2027, 1, 1)], working_weekends=[])
    session.commit()
    assert session.get(CalendarDay, date(2027, 1, 9)) is None
    assert get_calendar(session=session).working_days_between(start, until) == 5  # 4..8


def test_import_refuses_an_inconsistent_schedule(session):
    with pytest.raises(InvalidSchedule) as raised:
        import_year(
            session=session,
            year=2027,
            holidays=[date(2027, 1, 1), date(2026, 12, 31), date(2027, 2, 6)],
            working_weekends=[date(2027, 2, 6), date(2027, 2, 8)],
        )
    problems = raised.value.problems
    assert "2026-12-31 is not in 2027" in problems
    assert "2027-02-06 is both a holiday and a working weekend" in problems
    assert "2027-02-08 is a weekday, not a weekend to work on" in problems
    assert session.get(CalendarYear, 2027) is None
    assert session.scalar(sa.select(sa.func.count()).select_from(CalendarDay)) == 0


# --- the process-wide cache ----------------------------------------------------------


def test_cache_is_reused_until_the_data_changes(session, calendar):
    assert get_calendar(session=session) is calendar
    set_day(session=session, day=date(2025, 10, 10), is_workday=False)
    changed = get_calendar(session=session)
    assert changed is not calendar
    assert changed.is_workday(date(2025, 10, 10)) is False
    session.rollback()
    assert get_calendar(session=session).is_workday(date(2025, 10, 10)) is True


# --- helpers for BPMN expressions ------------------------------------------------------


def test_script_helpers_speak_iso_with_shanghai_offset(calendar):
    now = datetime(2025, 9, 30, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    helpers = script_helpers(calendar, lambda: now)
    due = helpers["working_days_from_now"](1)
    assert due == "2025-10-10T00:00:00+08:00"
    assert datetime.fromisoformat(due) == calendar.add_working_days(now, 1)
    assert helpers["working_days_from_now"]("3") == "2025-10-12T00:00:00+08:00"
    assert helpers["working_days_after"]("2025-09-26T10:00:00+08:00", 1) == "2025-09-29T00:00:00+08:00"
    assert helpers["working_days_after"]("2025-09-30T17:00:00Z", 0) == "2025-10-02T00:00:00+08:00"
    assert helpers["working_days_before"](due, 1) == "2025-10-01T00:00:00+08:00"
    assert helpers["working_days_before"](helpers["working_days_from_now"](5), 1) == helpers[
        "working_days_from_now"
    ](4)
    assert helpers["is_workday"]("2025-09-28") is True
    assert helpers["is_workday"]("2025-10-01") is False
    assert helpers["is_workday"]("2025-09-30T17:00:00+00:00") is False
    assert helpers["working_days_between"]("2025-09-30", "2025-10-11") == 3
    with pytest.raises(TypeError):
        helpers["working_days_from_now"](True)
    with pytest.raises(TypeError):
        helpers["working_days_from_now"](1.5)


def test_script_helpers_default_to_the_platform_clock(calendar):
    with time_machine.travel(datetime(2026, 2, 13, 2, 0, tzinfo=UTC), tick=False):
        helpers = script_helpers(calendar)
        assert helpers["working_days_from_now"](2) == "2026-02-25T00:00:00+08:00"
