"""Open the database the way a command needs it, or say in one line why it cannot be used.

    engine = open_database(cfg.database_url)   # DatabaseUnavailable (exit 3) names the cause
    print(describe_location(engine))           # where it reads and writes

Checked before anything is written: a PostgreSQL server that refuses, a role that does not
exist, a SQLite path whose directory is missing or not writable, a file that is not SQLite, and
a SQLite file that fails ``PRAGMA quick_check`` (a corrupted page). The SQLite check runs on a
plain connection that issues no write, before the engine's own connections switch the file to
WAL mode (which would write to it).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from indexer.errors import DatabaseUnavailable
from indexer.store.engine import make_engine, redact

__all__ = ["database_error_line", "describe_location", "open_database", "sqlite_path"]

PG_CONNECT_TIMEOUT_S = 5


def open_database(url: str | None = None) -> Engine:
    """An engine for ``url`` (as :func:`make_engine`) that is known to work.

    Raises:
        ConfigError: the URL is not a SQLite or PostgreSQL URL.
        DatabaseUnavailable: the database cannot be reached, opened, written or trusted.
    """
    engine = make_engine(url, connect_timeout_s=PG_CONNECT_TIMEOUT_S)
    path = sqlite_path(engine)
    try:
        if path is not None:
            _check_sqlite(path)
        else:
            with engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
    except DatabaseUnavailable:
        engine.dispose()
        raise
    except DBAPIError as exc:
        engine.dispose()
        raise DatabaseUnavailable(database_error_line(engine, exc)) from None
    return engine


def sqlite_path(engine: Engine) -> Path | None:
    """The SQLite file of ``engine`` as an absolute path; None for other backends and
    in-memory databases."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).resolve()


def describe_location(engine: Engine) -> str:
    """Where ``engine`` writes, for a person: the absolute SQLite path, else the redacted URL."""
    path = sqlite_path(engine)
    return f"SQLite file {path}" if path is not None else redact(engine.url)


def database_error_line(engine: Engine, exc: DBAPIError) -> str:
    """One line for a driver error: the database (redacted), the driver's first line, a hint."""
    detail = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    detail = detail.removeprefix("connection failed: ")
    password = engine.url.password
    if password:
        detail = detail.replace(str(password), "***")
    return (
        f"database {redact(engine.url)}: {detail}; check that the server runs and that "
        "DATABASE_URL names a role and database that exist"
    )


def _check_sqlite(path: Path) -> None:
    where = f"SQLite database {path}"
    if not path.exists():
        parent = path.parent
        if not parent.is_dir():
            raise DatabaseUnavailable(
                f"{where}: directory {parent} does not exist; create it or point DATABASE_URL "
                "elsewhere"
            )
        if not os.access(parent, os.W_OK | os.X_OK):
            raise DatabaseUnavailable(
                f"{where}: directory {parent} is not writable; point DATABASE_URL elsewhere"
            )
        return  # a new file: SQLite creates it on first use
    if not path.is_file():
        raise DatabaseUnavailable(f"{where}: not a regular file")
    if not os.access(path, os.R_OK | os.W_OK):
        raise DatabaseUnavailable(f"{where}: no permission to read and write it")
    _quick_check(path, where)


def _quick_check(path: Path, where: str) -> None:
    try:
        connection = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error as exc:
        raise DatabaseUnavailable(f"{where}: cannot open it: {exc}") from None
    try:
        rows = connection.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as exc:
        raise DatabaseUnavailable(
            f"{where}: {exc} (not a SQLite database, or damaged beyond reading); restore it "
            "from a backup or point DATABASE_URL at a new file"
        ) from None
    finally:
        connection.close()
    problems = [str(row[0]) for row in rows if row[0] != "ok"]
    if problems:
        raise DatabaseUnavailable(
            f"{where} is corrupt (PRAGMA quick_check: {problems[0][:120]}"
            f"{f' and {len(problems) - 1} more' if len(problems) > 1 else ''}); nothing was "
            "written: restore it from a backup or point DATABASE_URL at a new file"
        )
