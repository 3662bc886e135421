"""Database engines, sessions and schema migrations (Alembic, configured in code).

    engine = make_engine()            # $DATABASE_URL, else ./perpwatch.db
    ensure_schema(engine)             # migrates an empty database, refuses an out-of-date one
    with session(engine) as s: ...    # commits on success, rolls back on error

Passwords never appear in messages: URLs are shown through :func:`redact`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlmodel import Session

from indexer.errors import ConfigError, DatabaseBusy, SchemaError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
DEFAULT_URL = "sqlite:///perpwatch.db"
SQLITE_BUSY_TIMEOUT_MS = 5_000
# Any constant works; it only has to be the same in every perpwatch process.
_MIGRATION_LOCK_ID = 0x7065727077617463
_UPGRADE_HINT = "run `perpwatch db upgrade`"


def redact(url: str | URL) -> str:
    """``url`` with any password replaced by ``***``; safe to print or log."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable database URL>"


def normalize_url(url: str) -> URL:
    """Parse a database URL and pick perpwatch's driver for it.

    ``postgresql://`` and ``postgres://`` become ``postgresql+psycopg://`` (psycopg 3).

    Raises:
        ConfigError: the URL does not parse, or names a backend other than SQLite/PostgreSQL.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        # Not echoed, and not chained: an unparsable URL may still contain a password.
        raise ConfigError(
            "DATABASE_URL is not a database URL (sqlite:///… or postgresql://…)"
        ) from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return parsed
    raise ConfigError(
        f"unsupported database {redact(parsed)}: use sqlite:///path or postgresql://user@host/db"
    )


def make_engine(url: str | None = None, *, connect_timeout_s: int | None = None) -> Engine:
    """An engine for ``url``, else ``$DATABASE_URL``, else ``sqlite:///perpwatch.db`` in the
    working directory. SQLite gets WAL, enforced foreign keys, a busy timeout and real
    transactions (``BEGIN`` on every transaction, so DDL and DML commit together).
    ``connect_timeout_s`` bounds a PostgreSQL connection attempt (default: the driver's, none).

    Raises:
        ConfigError: see :func:`normalize_url`. Nothing connects until first use.
    """
    parsed = normalize_url(url or os.environ.get("DATABASE_URL") or DEFAULT_URL)
    if parsed.get_backend_name() != "sqlite":
        connect_args = {} if connect_timeout_s is None else {"connect_timeout": connect_timeout_s}
        return sa.create_engine(
            parsed, pool_pre_ping=True, json_serializer=json_text, connect_args=connect_args
        )
    engine = sa.create_engine(parsed, json_serializer=json_text)
    sa.event.listen(engine, "connect", _sqlite_on_connect)
    sa.event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def json_text(value: Any) -> str:
    """A JSON column's text, as the engine serialises it (and a driver-level statement binds
    it, :mod:`indexer.store.bulk`)."""
    # orjson: JSON columns sit on the ingestion hot path (decoded event arguments). Sorted keys:
    # stored JSON must not depend on which code path built the dict.
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # The sqlite3 module opens transactions lazily (and not for DDL); take control of BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # In WAL mode NORMAL still commits atomically and survives a killed process; it only
    # skips an fsync per commit, so an OS crash may lose the last commits (never corrupt).
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Checkpoint the WAL every ~40 MB instead of every 4 MB: ingestion writes megabytes per
    # commit, and fewer, larger checkpoints cost a third of the time (measured on a backfill).
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def checkpoint_wal(engine: Engine) -> tuple[int, int] | None:
    """On SQLite, copy the write-ahead log back into the database file as far as no reader
    needs it, waiting for no one (``PASSIVE``); returns (frames in the log, frames copied).
    None on other databases.

    A commit that crosses ``wal_autocheckpoint`` runs the checkpoint itself: tens of megabytes
    written and synced inside one monitor tick. Run from a background job every few seconds, the
    log never grows that far and no tick pays for it.
    """
    if engine.dialect.name != "sqlite":
        return None
    raw = engine.raw_connection()  # autocommit (see _sqlite_on_connect): no transaction open
    try:
        _busy, frames, copied = raw.driver_connection.execute(  # type: ignore[union-attr]
            "PRAGMA wal_checkpoint(PASSIVE)"
        ).fetchone()
    finally:
        raw.close()
    return int(frames), int(copied)


def _sqlite_on_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get("sqlite_immediate", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """``engine.begin()`` for a transaction that writes, from a thread that runs beside other
    writers (the tick's stored reads, delivery, the bot, the API).

    On SQLite, one transaction of the file writes at a time. This one takes the write lock up
    front (``BEGIN IMMEDIATE``), so one that reads before it writes waits for the other writer
    instead of failing with "database is locked" when the snapshot it read from went stale.
    And the writers of this process take turns per database, in the order they asked
    (:class:`Turns`), handed over at once: SQLite's own busy wait retries in sleeps of up to
    100 ms, and beside a writer that commits transaction after transaction (a full read stored
    chunk by chunk) it can miss every gap until its timeout. Elsewhere it is a plain
    ``begin()``."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    turns = _sqlite_writer_turns(engine)
    turns.take(timeout_s=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        with engine.execution_options(sqlite_immediate=True).begin() as conn:
            yield conn
    except sa.exc.OperationalError as exc:
        if "database is locked" not in str(exc.orig):
            raise
        # Another process's writer (a ``serve`` or ``bot`` beside ``run``), past the busy wait.
        raise DatabaseBusy(
            f"database is locked: another process held it for {SQLITE_BUSY_TIMEOUT_MS / 1000:g} s"
        ) from None
    finally:
        turns.give_back()


class Turns:
    """A lock granted in the order it was asked for. ``threading.Lock`` promises no order: a
    thread that gives it back and asks again at once may get it before one that was waiting."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._issued = 0  # tickets handed out
        self._serving = 0  # the ticket whose turn it is
        self._abandoned: set[int] = set()  # tickets whose holders stopped waiting

    def take(self, *, timeout_s: float) -> None:
        """Wait for this caller's turn; ``DatabaseBusy`` after ``timeout_s`` seconds."""
        with self._changed:
            ticket, self._issued = self._issued, self._issued + 1
            if not self._changed.wait_for(lambda: self._serving == ticket, timeout_s):
                self._abandoned.add(ticket)
                raise DatabaseBusy(
                    f"database is locked: another writer of this process held it for "
                    f"{timeout_s:g} s"
                )

    def give_back(self) -> None:
        """End this turn: the next caller still waiting gets it."""
        with self._changed:
            self._serving += 1
            while self._serving in self._abandoned:
                self._abandoned.discard(self._serving)
                self._serving += 1
            self._changed.notify_all()


_WRITER_TURNS: dict[str, Turns] = {}
_WRITER_TURNS_GUARD = threading.Lock()


def _sqlite_writer_turns(engine: Engine) -> Turns:
    """The turns this process's writers of ``engine``'s SQLite file take (engines of one file
    share them)."""
    key = str(engine.url)
    with _WRITER_TURNS_GUARD:
        return _WRITER_TURNS.setdefault(key, Turns())


def is_postgres(bind: Engine | Connection) -> bool:
    """Whether ``bind`` is on PostgreSQL (else SQLite, the only other backend)."""
    return bind.dialect.name == "postgresql"


def upsert_insert(bind: Engine | Connection) -> Any:
    """The ``insert`` construct with ``on_conflict_do_…`` for ``bind``'s dialect (PostgreSQL's
    or SQLite's; they spell upserts the same way)."""
    return postgresql.insert if is_postgres(bind) else sqlite.insert


@contextmanager
def session(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block ends and rolls back if it raises.

    Objects stay readable after the commit (``expire_on_commit=False``).
    """
    with Session(engine, expire_on_commit=False) as db:
        try:
            yield db
            db.commit()
        except BaseException:
            db.rollback()
            raise


def _alembic_config(script_location: Path | None) -> Config:
    config = Config()
    location = str(script_location or MIGRATIONS_DIR)
    config.set_main_option("script_location", location.replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    return config


def head_revision(script_location: Path | None = None) -> str:
    """The newest migration revision this perpwatch ships (or ``script_location`` holds)."""
    head = ScriptDirectory.from_config(_alembic_config(script_location)).get_current_head()
    if head is None:
        raise SchemaError(f"no migrations found in {script_location or MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for an empty or never-migrated database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(
    engine_or_url: Engine | str, *, script_location: Path | None = None
) -> tuple[str | None, str]:
    """Migrate the database to the newest revision; returns (revision before, revision after).

    All migrations run in one transaction. On PostgreSQL an advisory lock makes concurrent
    upgrades wait for each other; on SQLite foreign keys are off while tables are rebuilt (so a
    rebuild cannot cascade-delete rows) and checked before the commit.

    Raises:
        SchemaError: the database is at a revision this perpwatch does not know.
    """
    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    config = _alembic_config(script_location)
    try:
        with engine.connect() as connection:
            return _upgrade_on(connection, config)
    except CommandError as exc:
        raise SchemaError(f"cannot upgrade {redact(engine.url)}: {exc}") from exc
    finally:
        if isinstance(engine_or_url, str):
            engine.dispose()


def _upgrade_on(connection: Connection, config: Config) -> tuple[str | None, str]:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # A PRAGMA that changes foreign keys is ignored inside a transaction: set it first.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
    try:
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
                )
            before = MigrationContext.configure(connection).get_current_revision()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            after = MigrationContext.configure(connection).get_current_revision()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise SchemaError(f"migration left {len(broken)} rows with broken references")
    finally:
        if sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
    if after is None:
        raise SchemaError("migrations ran but recorded no revision")
    return before, after


def ensure_schema(engine: Engine, *, script_location: Path | None = None) -> None:
    """Make sure the database schema is the one this perpwatch needs.

    An empty database is migrated; a database at the newest revision is left alone.

    Raises:
        SchemaError: the database is at an older revision (the message says to run
            ``perpwatch db upgrade``), at a revision this perpwatch does not know (made by a
            newer perpwatch), or has tables but no revision record.
    """
    head = head_revision(script_location)
    current = current_revision(engine)
    where = redact(engine.url)
    if current == head:
        return
    if current is None:
        tables = set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
        if tables:
            raise SchemaError(
                f"database {where} has tables ({', '.join(sorted(tables))}) but no perpwatch "
                "schema revision: point DATABASE_URL at an empty database"
            )
        upgrade(engine, script_location=script_location)
        return
    script = ScriptDirectory.from_config(_alembic_config(script_location))
    if current not in {rev.revision for rev in script.walk_revisions()}:
        raise SchemaError(
            f"database schema is at {current}, which this perpwatch does not know (it needs "
            f"{head}): upgrade perpwatch or use another database ({where})"
        )
    raise SchemaError(
        f"database schema is at {current}, perpwatch needs {head}: {_UPGRADE_HINT} ({where})"
    )
