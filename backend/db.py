"""Database plumbing shared by every domain: UTC timestamps, JSON, SQLite transaction mode.

One request, job or CLI command is one unit of work, committed at its edge. Services
never commit; they flush when they need ids.
"""

import contextvars
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator

# On SQLite a deferred transaction that reads and later writes can fail on lock upgrade
# when another writer got in between. Units of work that may write therefore start with
# BEGIN IMMEDIATE (writers queue on busy_timeout instead); read-only requests stay deferred
# so they never wait for writers (WAL).
_sqlite_begin = contextvars.ContextVar("sqlite_begin", default="BEGIN IMMEDIATE")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Aware datetimes in Python, naive UTC in the database (same on SQLite and PostgreSQL)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store aware UTC datetimes only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def begin_unit_of_work(*, read_only: bool) -> None:
    """Set how the next SQLite transaction of this context begins. Called at the start of
    every request, because server threads (and their context) are reused between requests."""
    _sqlite_begin.set("BEGIN" if read_only else "BEGIN IMMEDIATE")


def write_after_reading(session) -> None:
    """A GET that must write (marking notifications read, storing a changed form file) ends its
    read transaction first, so the write starts its own with BEGIN IMMEDIATE and queues behind
    other writers instead of failing on the lock upgrade ("database is locked" on SQLite).
    Objects already loaded are expired and reload on access. In a unit that writes anyway it
    does nothing: committing there would cut that unit in two."""
    if _sqlite_begin.get() != "BEGIN":
        return
    session.commit()
    begin_unit_of_work(read_only=False)


def configure_engine(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_connection, _record):
        # Take transaction control away from pysqlite so BEGIN is ours to choose.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin_tx(connection):
        connection.exec_driver_sql(_sqlite_begin.get())
