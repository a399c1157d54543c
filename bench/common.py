"""What the database benches share: the scratch database's address, the statements a call ran
(and their time), percentiles, and query plans for --explain."""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from backend.extensions import db


def add_database_args(parser, *, postgres_example: str) -> None:
    parser.add_argument("--keep", help="SQLite file to build or reuse (kept); default a temporary one")
    parser.add_argument("--database-url", help=f"e.g. {postgres_example} (instead of SQLite)")
    parser.add_argument("--only", default="", help="comma-separated words; run the cases whose label has one")
    parser.add_argument("--explain", action="store_true", help="print query plans instead of timing")


def database_url(args, filename: str) -> str:
    if args.database_url:
        return args.database_url
    path = Path(args.keep) if args.keep else Path(tempfile.mkdtemp()) / filename
    return f"sqlite:///{path}"


class Statements:
    """SQL statements run (and their time) while active."""

    def __init__(self, engine):
        self.engine, self.items, self.sql_seconds, self._started = engine, [], 0.0, 0.0

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self._started = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        self.sql_seconds += time.perf_counter() - self._started
        self.items.append((statement, parameters))

    def __enter__(self):
        self.items, self.sql_seconds = [], 0.0
        sa.event.listen(self.engine, "before_cursor_execute", self._before)
        sa.event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._before)
        sa.event.remove(self.engine, "after_cursor_execute", self._after)


def percentile(times: list[float], p: float) -> float:
    ordered = sorted(times)
    return ordered[max(0, math.ceil(len(ordered) * p) - 1)]


def explain(label: str, items, *, width: int = 400) -> None:
    print(f"\n== {label}")
    dialect = db.engine.dialect.name
    for statement, parameters in items:
        if statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "BEGIN")):
            continue
        print(statement.strip().replace("\n", " ")[:width])
        prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
        with db.engine.connect() as conn:
            for row in conn.exec_driver_sql(prefix + statement, parameters):
                print("   ", row[-1] if dialect == "sqlite" else row[0])
