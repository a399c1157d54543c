"""Tables of the official working-day calendar.

Only the days the official schedule names are stored: the holiday periods (their weekend
days included, so a year reads like the State Council's notice) and the adjusted working
weekends (调休上班). Every other day follows the weekday rule. A `calendar_year` row marked
complete says that year's schedule has been entered; a year without one is counted by
weekends only, and the calendar warns about it.
"""

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import UTCDateTime, utcnow
from backend.extensions import db

SOURCE_PACKAGE = "chinese-calendar"
SOURCE_ADMIN = "admin"


class CalendarDay(db.Model):
    """A day that differs from, or is named beyond, the weekday rule."""

    __tablename__ = "calendar_day"

    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(sa.Boolean)
    # 国庆节, 春节 ... for holidays; 调休上班 for adjusted working weekends.
    name: Mapped[str | None] = mapped_column(sa.String(100))
    # chinese-calendar (seeded, may be re-synced) | admin (entered by hand, never overwritten by a seed)
    source: Mapped[str] = mapped_column(sa.String(20), default=SOURCE_ADMIN)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CalendarYear(db.Model):
    """Whether a year's official schedule has been entered."""

    __tablename__ = "calendar_year"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    complete: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    source: Mapped[str] = mapped_column(sa.String(20), default=SOURCE_ADMIN)
    note: Mapped[str | None] = mapped_column(sa.String(500))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
