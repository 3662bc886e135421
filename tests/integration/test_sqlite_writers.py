"""Two writers on one SQLite file: a transaction that reads before it writes, started while
another thread writes, waits for it (``write_transaction``) instead of failing with "database
is locked" once its snapshot went stale (the bot's /watch beside the monitor's tick)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from indexer.store.engine import checkpoint_wal, make_engine, write_transaction


def _engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'writers.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    return engine


def _other_writer(engine: Engine, holding: threading.Event, release: threading.Event) -> None:
    with write_transaction(engine) as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        holding.set()
        release.wait(5)


def _read_then_write(engine: Engine, begin: object, release: threading.Event) -> int:
    holding = threading.Event()
    writer = threading.Thread(target=_other_writer, args=(engine, holding, release))
    writer.start()
    holding.wait(5)
    threading.Timer(0.2, release.set).start()  # the other writer commits soon after
    try:
        with begin as conn:  # type: ignore[attr-defined]
            seen = int(conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one())
            conn.exec_driver_sql("INSERT INTO t VALUES (2)")
        return seen
    finally:
        release.set()
        writer.join()


def test_write_transaction_waits_for_the_other_writer_and_sees_its_rows(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    release = threading.Event()
    assert _read_then_write(engine, write_transaction(engine), release) == 1


def test_a_plain_transaction_would_fail_there(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    release = threading.Event()
    with pytest.raises(sa.exc.OperationalError, match="database is locked"):
        _read_then_write(engine, engine.begin(), release)


def test_a_passive_checkpoint_empties_the_log_beside_a_reader_and_a_writer(
    tmp_path: Path,
) -> None:
    engine = _engine(tmp_path)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (?)", [(i,) for i in range(5000)])
        frames, copied = checkpoint_wal(engine) or (0, 0)
        assert frames > 0
        assert copied == frames  # nothing held it back: all copied
        # A reader's snapshot holds back what was written after it; the checkpoint neither
        # waits for it nor fails, and a writer goes on meanwhile.
        with engine.connect() as reader:
            reader.exec_driver_sql("SELECT count(*) FROM t").scalar_one()
            with engine.begin() as conn:
                conn.exec_driver_sql("INSERT INTO t VALUES (7)")
            frames, copied = checkpoint_wal(engine) or (0, 0)
            assert frames > 0
            assert copied < frames
            with engine.begin() as conn:
                conn.exec_driver_sql("INSERT INTO t VALUES (8)")
        frames, copied = checkpoint_wal(engine) or (0, 0)
        assert copied == frames
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 5002
    finally:
        engine.dispose()


def test_there_is_no_log_to_checkpoint_on_postgresql(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        assert checkpoint_wal(engine) is None
    finally:
        engine.dispose()
