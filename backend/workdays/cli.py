"""flask calendar seed|show|set-day|import-year: keep the official working-day calendar.

Each command is one unit of work and commits once at its end.
"""

import json
from datetime import date

import click
from flask.cli import AppGroup

from backend.db import utcnow
from backend.extensions import db
from backend.workdays.service import (
    PACKAGE_YEARS,
    SHANGHAI,
    InvalidSchedule,
    import_year,
    load_calendar,
    seed_from_chinese_calendar,
    set_day,
    year_schedule,
)

calendar_cli = AppGroup("calendar", help="工作日历 (Official working-day calendar: holidays and 调休).")

WEEKDAYS = "一二三四五六日"


@calendar_cli.command("seed")
@click.option("--first-year", type=int, default=PACKAGE_YEARS[0], show_default=True)
@click.option("--last-year", type=int, default=PACKAGE_YEARS[1], show_default=True)
def seed_command(first_year, last_year):
    """Fill the calendar from the chinese-calendar package; admin entries are kept."""
    changed = seed_from_chinese_calendar(session=db.session, first_year=first_year, last_year=last_year)
    this_year = utcnow().astimezone(SHANGHAI).year
    missing = load_calendar(session=db.session).missing_years(this_year, this_year + 1)
    db.session.commit()
    click.echo(f"seeded {first_year}-{last_year}: {changed} rows created or changed")
    for year in missing:
        click.echo(
            f"warning: {year} 年放假安排未录入 (no official schedule): use `flask calendar import-year`"
        )


@calendar_cli.command("show")
@click.argument("year", type=int)
def show_command(year):
    """Print a year's holidays and adjusted working weekends, and whether it is complete."""
    schedule = year_schedule(session=db.session, year=year)
    db.session.commit()
    if schedule.complete:
        click.echo(f"{year}: complete (source: {schedule.source})")
    else:
        click.echo(f"{year}: NOT complete — 放假安排未录入, counting weekends only")
    if schedule.note:
        click.echo(f"note: {schedule.note}")
    click.echo(f"holidays 放假 ({len(schedule.holidays)}):")
    for row in schedule.holidays:
        click.echo(_day_line(row))
    click.echo(f"working weekends 调休上班 ({len(schedule.working_days)}):")
    for row in schedule.working_days:
        click.echo(_day_line(row))


@calendar_cli.command("set-day")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--workday/--holiday", "is_workday", default=None, help="Working day or day off.")
@click.option("--name", default=None, help="e.g. 国庆节, 调休上班.")
def set_day_command(day, is_workday, name):
    """Enter one day by hand (never overwritten by a later seed)."""
    if is_workday is None:
        raise click.UsageError("say --workday or --holiday")
    row = set_day(session=db.session, day=day.date(), is_workday=is_workday, name=name)
    db.session.commit()
    click.echo(_day_line(row))


@calendar_cli.command("import-year")
@click.argument("file", type=click.File("r", encoding="utf-8"))
def import_year_command(file):
    """Enter a newly published year from JSON:
    {"year": 2027, "holidays": {"2027-01-01": "元旦", ...}, "working_weekends": ["2027-02-06", ...]}"""
    try:
        document = json.load(file)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{file.name}: not JSON: {exc}") from exc
    year, holidays, working_weekends, names, note = _read_schedule(document)
    try:
        row = import_year(
            session=db.session,
            year=year,
            holidays=holidays,
            working_weekends=working_weekends,
            names=names,
            note=note,
        )
    except InvalidSchedule as exc:
        db.session.rollback()
        raise click.ClickException(
            f"{year} 年放假安排有 {len(exc.problems)} 个问题, 未导入:\n  " + "\n  ".join(exc.problems)
        ) from exc
    db.session.commit()
    click.echo(
        f"imported {row.year}: {len(holidays)} holidays, {len(working_weekends)} working weekends; year complete"
    )


def _read_schedule(document) -> tuple[int, list[date], list[date], dict[date, str], str | None]:
    if not isinstance(document, dict):
        raise click.ClickException("expected a JSON object with year, holidays, working_weekends")
    year = document.get("year")
    if not isinstance(year, int) or isinstance(year, bool):
        raise click.ClickException('"year" must be a number, e.g. 2027')
    names: dict[date, str] = {}
    holidays = _read_days(document.get("holidays"), "holidays", names)
    working_weekends = _read_days(document.get("working_weekends", []), "working_weekends", names)
    note = document.get("note")
    return year, holidays, working_weekends, names, str(note) if note else None


def _read_days(value, key: str, names: dict[date, str]) -> list[date]:
    """A list of ISO dates, or an object of ISO date -> name (names are collected)."""
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = [(item, None) for item in value]
    else:
        raise click.ClickException(f'"{key}" must be a list of dates or an object of date -> name')
    days = []
    for text, name in items:
        try:
            day = date.fromisoformat(str(text))
        except ValueError as exc:
            raise click.ClickException(f'"{key}": {text!r} is not a date (YYYY-MM-DD)') from exc
        days.append(day)
        if name:
            names[day] = str(name)
    return days


def _day_line(row) -> str:
    kind = "上班" if row.is_workday else "放假"
    return f"  {row.day.isoformat()} 周{WEEKDAYS[row.day.weekday()]} {kind} {row.name or ''}  [{row.source}]"
