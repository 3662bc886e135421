"""Multi-row ``INSERT … VALUES (…), (…) ON CONFLICT …`` statements on the ingestion hot path.

    events = BulkInsert("raw_events", {"chain_id": "bigint", "block_number": "bigint", …},
                        "ON CONFLICT (chain_id, block_number, log_index) DO NOTHING")
    events.execute(conn, [(1, 2, …), (1, 3, …)])     # one statement per chunk of rows

The DBAPI gets plain tuples: SQLAlchemy's per-row parameter processing costs as much as the
database's own work here. One statement per chunk, not ``executemany``: the sqlite3 module
releases the GIL around every statement step, and winning it back from the decoding thread
once per row made commits several times slower than the database work itself.

On PostgreSQL the rows go as one array per column (``INSERT … SELECT * FROM unnest(%s::bigint[],
…)``): the statement text stays short, so psycopg converts it once and caches it, where a
``VALUES`` list of thousands of placeholders was parsed again on every execution (a quarter of a
flat-event backfill's time).
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Any

from sqlalchemy.engine import Connection

from indexer.store.engine import is_postgres


def _sqlite_parameter_limit() -> int:
    """The linked SQLite's most bound parameters per statement (32,766 since 3.32; 999 before)."""
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        return conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


# Parameters per SQLite statement: as many as SQLite takes. The commit runs in a thread beside
# the event loop that decodes, and each statement gives up the GIL while SQLite works, then waits
# up to a switch interval (5 ms) to get it back: fewer, larger statements wait less. Measured
# on a 100,000-log flat backfill (shared machine, three alternations): 2,800 parameters a
# statement gave 25,760 / 20,647 / 14,074 logs/s, 32,000 gave 29,483 / 22,467 / 20,257.
PARAMS_PER_STATEMENT = min(_sqlite_parameter_limit(), 32_000)
# PostgreSQL takes one array per column: any number of rows is one statement.
PG_ROWS_PER_STATEMENT = 10_000


def insert_sql(table: str, columns: Sequence[str], rows: int, conflict: str) -> str:
    """The text of one SQLite ``INSERT`` of ``rows`` rows (``?`` placeholders)."""
    if rows < 1:
        raise ValueError("an INSERT needs at least one row")
    one = "(" + ", ".join(["?"] * len(columns)) + ")"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([one] * rows)} {conflict}"


def unnest_sql(table: str, columns: Mapping[str, str], conflict: str) -> str:
    """The text of one PostgreSQL ``INSERT`` of any number of rows, one array parameter per
    column; ``columns`` maps each column to its PostgreSQL type (``bigint``, ``text``…)."""
    arrays = ", ".join(f"%b::{pg_type}[]" for pg_type in columns.values())
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) {conflict}"


def chunks(count: int, per: int) -> list[tuple[int, int]]:
    """``[start, stop)`` slices covering ``count`` items, ``per`` at most each."""
    if per < 1:
        raise ValueError("a chunk holds at least one item")
    return [(start, min(start + per, count)) for start in range(0, count, per)]


class BulkInsert:
    """One table's multi-row insert with a fixed conflict clause, in the form of the
    connection's dialect (SQLite or PostgreSQL).

    ``columns`` maps each column, in parameter order, to its PostgreSQL type.
    """

    def __init__(
        self, table: str, columns: Mapping[str, str], conflict: str, *,
        returning: Sequence[str] = (),
    ) -> None:  # fmt: skip
        """``returning``: columns of the inserted rows that :meth:`execute` returns."""
        self.table, self.columns = table, dict(columns)
        self.conflict = conflict + (f" RETURNING {', '.join(returning)}" if returning else "")
        self.returning = bool(returning)
        self.sqlite_rows_per_statement = max(1, PARAMS_PER_STATEMENT // len(columns))
        self._unnest = unnest_sql(table, self.columns, self.conflict)

    @classmethod
    def upsert(
        cls, table: str, columns: Mapping[str, str], key: Sequence[str], *,
        keep: Sequence[str] = (),
    ) -> BulkInsert:  # fmt: skip
        """An insert whose row, where one with the same ``key`` exists, replaces every other
        column of it but ``keep``."""
        kept = {*key, *keep}
        replaced = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in kept)
        return cls(table, columns, f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {replaced}")

    @functools.cache  # noqa: B019 - a handful of statement texts per process
    def sql(self, rows: int) -> str:
        return insert_sql(self.table, tuple(self.columns), rows, self.conflict)

    def execute(self, conn: Connection, params: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Insert ``params`` (one tuple per row, in ``columns`` order); the ``returning``
        columns of each row inserted (none for a row the conflict clause skipped)."""
        execute = conn.exec_driver_sql
        postgres = is_postgres(conn)
        per = PG_ROWS_PER_STATEMENT if postgres else self.sqlite_rows_per_statement
        out: list[tuple[Any, ...]] = []
        for start, stop in chunks(len(params), per):
            part = params[start:stop]
            if postgres:
                result = execute(
                    self._unnest, tuple(list(column) for column in zip(*part, strict=True))
                )
            else:
                result = execute(self.sql(stop - start), tuple(chain.from_iterable(part)))
            if self.returning:
                out += [tuple(row) for row in result]
        return out
