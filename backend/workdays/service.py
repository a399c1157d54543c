"""Working-day arithmetic on the official Chinese calendar, and how its table is filled.

Government time limits (办理时限) count working days: public holidays are off, adjusted
working weekends (调休上班) are on. The table is seeded from the `chinese-calendar`
package (2004–2026); an admin enters each later year when the State Council publishes it.
A year without data is counted by weekends only and logged once per process: a timer must
never fail because next year's schedule is not out yet.
"""

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from types import MappingProxyType
from zoneinfo import ZoneInfo

import chinese_calendar
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from backend.db import utcnow
from backend.workdays.models import SOURCE_ADMIN, SOURCE_PACKAGE, CalendarDay, CalendarYear

log = logging.getLogger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")
WORKING_WEEKEND = "调休上班"
PACKAGE_YEARS = (2004, 2026)
# Forty years of working days: anything larger is a typo in a diagram, not a time limit.
MAX_WORKING_DAYS = 10_000


class InvalidSchedule(ValueError):
    """An imported year's schedule does not hold together; `problems` lists every reason."""

    def __init__(self, year: int, problems: list[str]):
        self.year = year
        self.problems = problems
        super().__init__(f"{year}: " + "; ".join(problems))


@dataclass(frozen=True)
class WorkCalendar:
    """The official calendar in memory: the stored days and the years entered completely.

    Semantics shared by every method:
    - Times are aware datetimes (naive ones are refused). Working days are counted on the
      Asia/Shanghai calendar date of a time: 2025-09-30 17:00 UTC is already 1 October.
    - A day stored in the table is what the table says; any other day of a complete year
      follows the weekday rule (Mon–Fri work). In a year not entered completely the other
      days follow the same rule (weekends only), which is logged once per process per
      year and never raised.
    - `add_working_days(start, n)`, n >= 1: the END of the n-th working day after start's
      local date, the day of receipt itself never counting (the way 办理时限 run). The end
      of a day is the local midnight beginning the next calendar day (00:00 +08:00),
      returned in UTC. n == 0: the end of start's own local day, working or not. n < 0:
      the end of the |n|-th working day before start's local date.
    - `working_days_between(start, end)`: the working days after start's local date up to
      and including end's local date; negative (and antisymmetric) when end is earlier.
      Note that a deadline from `add_working_days` is midnight, which is already the next
      day's date.
    - `deadline_minus_working_days(deadline, n)`: for reminders. The deadline's day is the
      local date of the last instant before it (so a midnight deadline belongs to the day
      it ends); the result is the end of the n-th working day before that day. Hence when
      `deadline == add_working_days(start, N)`, `deadline_minus_working_days(deadline, 1)
      == add_working_days(start, N - 1)` for N >= 2, and for N == 1 when start's day is
      itself a working day (otherwise the reminder falls before receipt and is due at once).
    """

    days: Mapping[date, bool] = field(default_factory=dict)
    complete_years: frozenset[int] = frozenset()

    def is_workday(self, day: date) -> bool:
        if isinstance(day, datetime):
            day = local_date(day)
        stored = self.days.get(day)
        if stored is not None:
            return stored
        if day.year not in self.complete_years:
            _warn_missing_year(day.year)
        return day.weekday() < 5

    def add_working_days(self, start: datetime, n: int) -> datetime:
        if abs(n) > MAX_WORKING_DAYS:
            raise ValueError(f"{n} working days is beyond any time limit (max {MAX_WORKING_DAYS})")
        day = local_date(start)
        step = 1 if n > 0 else -1
        remaining = abs(n)
        while remaining:
            day += timedelta(days=step)
            if self.is_workday(day):
                remaining -= 1
        return end_of_day(day)

    def working_days_between(self, start: datetime, end: datetime) -> int:
        first, last = local_date(start), local_date(end)
        sign = 1
        if last < first:
            first, last, sign = last, first, -1
        span = (last - first).days
        return sign * sum(
            1 for offset in range(1, span + 1) if self.is_workday(first + timedelta(days=offset))
        )

    def deadline_minus_working_days(self, deadline: datetime, n: int) -> datetime:
        deadline_day = local_date(deadline - timedelta(microseconds=1))
        return self.add_working_days(datetime.combine(deadline_day, time(12), SHANGHAI), -n)

    def missing_years(self, from_year: int, to_year: int) -> list[int]:
        return [year for year in range(from_year, to_year + 1) if year not in self.complete_years]


def local_date(moment: datetime) -> date:
    """The Asia/Shanghai calendar date of an aware datetime."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: working days need an aware time")
    return moment.astimezone(SHANGHAI).date()


def end_of_day(day: date) -> datetime:
    """The local midnight that ends `day` (00:00 +08:00 of the next day), in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), SHANGHAI).astimezone(UTC)


_warned_years: set[int] = set()
_warned_lock = threading.Lock()


def _warn_missing_year(year: int) -> None:
    if year in _warned_years:
        return
    with _warned_lock:
        if year in _warned_years:
            return
        _warned_years.add(year)
    log.warning(
        "no official working-day schedule for %s: counting weekends only until an admin imports it",
        year,
        extra={"year": year},
    )


# --- loading and caching -------------------------------------------------------------


def load_calendar(*, session) -> WorkCalendar:
    """Read the whole calendar (a few hundred rows) into a WorkCalendar."""
    days = dict(session.execute(sa.select(CalendarDay.day, CalendarDay.is_workday)).all())
    complete = session.scalars(sa.select(CalendarYear.year).where(CalendarYear.complete == sa.true())).all()
    # Read-only: one loaded calendar is shared by every thread of the process.
    return WorkCalendar(days=MappingProxyType(days), complete_years=frozenset(complete))


# The loaded calendar is kept per process and reused while its data version is unchanged.
# The version is asked of the database on every call: one aggregate query over two small
# tables, cheaper than reasoning about staleness after another process's edit, a rollback
# or a test truncating the tables. The in-process generation also catches edits within one
# process that leave count and latest timestamp unchanged (a frozen test clock).
_generation = 0
_cached: tuple[tuple, WorkCalendar] | None = None


def _bump_generation(session=None) -> None:
    global _generation
    _generation += 1
    if session is not None:
        # The edit may still roll back: look again when its transaction ends either way.
        session.info["calendar_edited"] = True


def _transaction_ended(session, *_args) -> None:
    if session.info.pop("calendar_edited", False):
        _bump_generation()


def install_session_hooks() -> None:
    if not event.contains(Session, "after_commit", _transaction_ended):
        event.listen(Session, "after_commit", _transaction_ended)
        event.listen(Session, "after_soft_rollback", _transaction_ended)


def _data_version(session) -> tuple:
    row = session.execute(
        sa.select(
            sa.select(sa.func.count()).select_from(CalendarDay).scalar_subquery(),
            sa.select(sa.func.max(CalendarDay.updated_at)).scalar_subquery(),
            sa.select(sa.func.count()).select_from(CalendarYear).scalar_subquery(),
            sa.select(sa.func.max(CalendarYear.updated_at)).scalar_subquery(),
        )
    ).one()
    return (_generation, *row)


# Every engine action asks for the calendar: look at the database's version at most this
# often. Edits in this process (set_day, import_year, seed) are seen at once; another
# process's edit within this many seconds.
RECHECK_SECONDS = 5.0
_checked_at = -RECHECK_SECONDS


def get_calendar(*, session) -> WorkCalendar:
    """The process-wide calendar, reloaded only when the stored data has changed."""
    global _cached, _checked_at
    cached = _cached
    now = monotonic()
    if cached is not None and cached[0][0] == _generation and now - _checked_at < RECHECK_SECONDS:
        return cached[1]
    version = _data_version(session)
    _checked_at = now
    if cached is not None and cached[0] == version:
        return cached[1]
    calendar = load_calendar(session=session)
    _cached = (version, calendar)
    return calendar


def clear_cache() -> None:
    """Forget the loaded calendar (tests that empty the tables behind its back)."""
    global _cached
    _cached = None


# --- filling the table ---------------------------------------------------------------


def seed_from_chinese_calendar(
    *, session, first_year: int = PACKAGE_YEARS[0], last_year: int = PACKAGE_YEARS[1]
) -> int:
    """Sync the package's schedules into the table; returns rows created, changed or removed.

    Idempotent. Days entered by an admin, and year rows an admin wrote, are left alone.
    Years the package does not know are skipped.
    """
    changed = 0
    for year in range(first_year, last_year + 1):
        try:
            schedule = _package_schedule(year)
        except (NotImplementedError, ValueError):
            log.info("chinese-calendar has no schedule for %s; skipped", year, extra={"year": year})
            continue
        changed += _sync_year_days(
            session, year=year, schedule=schedule, source=SOURCE_PACKAGE, keep_admin=True
        )
        row = session.get(CalendarYear, year)
        if row is None:
            session.add(CalendarYear(year=year, complete=True, source=SOURCE_PACKAGE, updated_at=utcnow()))
            changed += 1
        elif row.source != SOURCE_ADMIN and not row.complete:
            row.complete = True
            row.updated_at = utcnow()
            changed += 1
    if changed:
        session.flush()
        _bump_generation(session)
    return changed


def set_day(*, session, day: date, is_workday: bool, name: str | None = None) -> CalendarDay:
    """An admin's entry for one day; a later seed never overwrites it."""
    name = name or _default_name(day, is_workday)
    row = session.get(CalendarDay, day)
    if row is None:
        row = CalendarDay(day=day, is_workday=is_workday, name=name, source=SOURCE_ADMIN, updated_at=utcnow())
        session.add(row)
    else:
        row.is_workday, row.name, row.source, row.updated_at = is_workday, name, SOURCE_ADMIN, utcnow()
    session.flush()
    _bump_generation(session)
    return row


def import_year(
    *,
    session,
    year: int,
    holidays: Iterable[date],
    working_weekends: Iterable[date],
    names: Mapping[date, str] | None = None,
    note: str | None = None,
) -> CalendarYear:
    """Enter a year's published schedule: replaces all its stored days, marks it complete.

    `holidays` are the days off of each holiday period (weekend days included or not);
    `working_weekends` the adjusted working days. Raises InvalidSchedule listing every problem.
    """
    holidays, working_weekends, names = set(holidays), set(working_weekends), dict(names or {})
    problems = _schedule_problems(year, holidays, working_weekends, names)
    if problems:
        raise InvalidSchedule(year, problems)
    schedule = {day: (False, names.get(day)) for day in holidays}
    schedule.update({day: (True, names.get(day) or WORKING_WEEKEND) for day in working_weekends})
    _sync_year_days(session, year=year, schedule=schedule, source=SOURCE_ADMIN, keep_admin=False)
    row = session.get(CalendarYear, year)
    if row is None:
        row = CalendarYear(year=year)
        session.add(row)
    row.complete, row.source, row.note, row.updated_at = True, SOURCE_ADMIN, note, utcnow()
    session.flush()
    _bump_generation(session)
    return row


@dataclass(frozen=True)
class YearSchedule:
    year: int
    complete: bool
    source: str | None
    note: str | None
    holidays: list[CalendarDay]
    working_days: list[CalendarDay]


def year_schedule(*, session, year: int) -> YearSchedule:
    """The stored days of a year, split into days off and working days, with its status."""
    rows = session.scalars(
        sa.select(CalendarDay)
        .where(CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31)))
        .order_by(CalendarDay.day)
    ).all()
    year_row = session.get(CalendarYear, year)
    return YearSchedule(
        year=year,
        complete=bool(year_row and year_row.complete),
        source=year_row.source if year_row else None,
        note=year_row.note if year_row else None,
        holidays=[r for r in rows if not r.is_workday],
        working_days=[r for r in rows if r.is_workday],
    )


def _package_schedule(year: int) -> dict[date, tuple[bool, str | None]]:
    """The days chinese-calendar names in `year`; raises NotImplementedError for unknown years."""
    schedule = {}
    day = date(year, 1, 1)
    while day.year == year:
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
        is_workday = not on_holiday
        if name is not None or is_workday != (day.weekday() < 5):
            schedule[day] = (is_workday, WORKING_WEEKEND if is_workday else _chinese_holiday_name(name))
        day += timedelta(days=1)
    return schedule


def _chinese_holiday_name(english: str | None) -> str | None:
    try:
        return chinese_calendar.Holiday(english).chinese
    except ValueError:
        return english


def _default_name(day: date, is_workday: bool) -> str | None:
    return WORKING_WEEKEND if is_workday and day.weekday() >= 5 else None


def _schedule_problems(
    year: int, holidays: set[date], working_weekends: set[date], names: dict[date, str]
) -> list[str]:
    problems = []
    if not holidays:
        problems.append("no holidays given")
    for day in sorted(holidays | working_weekends | set(names)):
        if day.year != year:
            problems.append(f"{day.isoformat()} is not in {year}")
    for day in sorted(holidays & working_weekends):
        problems.append(f"{day.isoformat()} is both a holiday and a working weekend")
    for day in sorted(working_weekends):
        if day.weekday() < 5:
            problems.append(f"{day.isoformat()} is a weekday, not a weekend to work on")
    for day in sorted(set(names) - holidays - working_weekends):
        problems.append(f"{day.isoformat()} has a name but is neither a holiday nor a working weekend")
    return problems


def _sync_year_days(session, *, year: int, schedule: Mapping, source: str, keep_admin: bool) -> int:
    """Make the stored days of `year` equal `schedule` (day -> (is_workday, name)); returns changes."""
    existing = {
        row.day: row
        for row in session.scalars(
            sa.select(CalendarDay).where(CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31)))
        )
    }
    now = utcnow()
    changed = 0
    for day, row in existing.items():
        if day not in schedule and not (keep_admin and row.source == SOURCE_ADMIN):
            session.delete(row)
            changed += 1
    for day, (is_workday, name) in schedule.items():
        row = existing.get(day)
        if row is None:
            session.add(CalendarDay(day=day, is_workday=is_workday, name=name, source=source, updated_at=now))
            changed += 1
        elif keep_admin and row.source == SOURCE_ADMIN:
            continue
        elif (row.is_workday, row.name, row.source) != (is_workday, name, source):
            row.is_workday, row.name, row.source, row.updated_at = is_workday, name, source, now
            changed += 1
    return changed


# --- helpers for BPMN expressions and scripts ------------------------------------------


def script_helpers(calendar: WorkCalendar, now: Callable[[], datetime] = utcnow) -> dict[str, Callable]:
    """The calendar functions BPMN expressions may call. Times in and out are ISO-8601
    strings; results carry +08:00. A string without an offset is read as Shanghai time,
    a bare date as its start. `working_days_before(deadline, n)` is the reminder time
    (`deadline_minus_working_days`), so `working_days_before(working_days_from_now(5), 1)
    == working_days_from_now(4)`."""

    def working_days_from_now(n) -> str:
        return _iso(calendar.add_working_days(now(), _count(n)))

    def working_days_after(moment, n) -> str:
        return _iso(calendar.add_working_days(_parse_time(moment), _count(n)))

    def working_days_before(deadline, n) -> str:
        return _iso(calendar.deadline_minus_working_days(_parse_time(deadline), _count(n)))

    def is_workday(day) -> bool:
        return calendar.is_workday(local_date(_parse_time(day)))

    def working_days_between(start, end) -> int:
        return calendar.working_days_between(_parse_time(start), _parse_time(end))

    return {
        "working_days_from_now": working_days_from_now,
        "working_days_after": working_days_after,
        "working_days_before": working_days_before,
        "is_workday": is_workday,
        "working_days_between": working_days_between,
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).isoformat()


def _parse_time(value) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time(0))
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value.strip())
    else:
        raise TypeError(f"expected an ISO-8601 date or time, got {type(value).__name__}")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=SHANGHAI)


def _count(n) -> int:
    # Form data may hand over "5"; a bool or a fractional number is a mistake in the diagram.
    if isinstance(n, bool) or not isinstance(n, int | str):
        raise TypeError(f"expected a whole number of working days, got {n!r}")
    return int(n)
