"""Two writers on one SQLite file: a transaction that reads before it writes, started while
another thread writes, waits for it (``write_transaction``) instead of failing with "database
is locked" once its snapshot went stale (the bot's /watch beside the monitor's tick; the
rules, the inferred liquidations and a failed send beside the reads a tick stores behind
it)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from indexer.config.sections import Thresholds
from indexer.errors import DatabaseBusy
from indexer.models import AccountStatus
from indexer.store import engine as engine_module
from indexer.store.accounts import save_read
from indexer.store.engine import checkpoint_wal, make_engine, upgrade, write_transaction
from monitor.alerts.apply import apply_rules, newly_liquidated
from monitor.alerts.levels import Level
from monitor.alerts.policy import Policy
from monitor.delivery.outbox import claim, fail
from monitor.tables import OutboxStatus
from tests.outbox_helpers import add_account, add_alerts
from tests.subscription_helpers import OWNERS, observe, owner_account

T = TypeVar("T")
NOON = datetime(2025, 1, 1, 12, tzinfo=UTC)


def _engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'writers.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    return engine


def _other_writer(engine: Engine, holding: threading.Event, release: threading.Event) -> None:
    with write_transaction(engine) as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS other (x INTEGER)")
        conn.exec_driver_sql("INSERT INTO other VALUES (1)")
        holding.set()
        release.wait(5)


def beside_another_writer(engine: Engine, fn: Callable[[], T]) -> T:
    """``fn()`` started while another thread holds SQLite's write lock and commits 0.2 s
    later: a transaction of ``fn`` that read before that commit and writes after it fails,
    unless it took the write lock up front."""
    holding, release = threading.Event(), threading.Event()
    writer = threading.Thread(target=_other_writer, args=(engine, holding, release))
    writer.start()
    holding.wait(5)
    threading.Timer(0.2, release.set).start()  # the other writer commits soon after
    try:
        return fn()
    finally:
        release.set()
        writer.join()


def _read_then_write(engine: Engine, begin: object) -> int:
    def read_then_write() -> int:
        with begin as conn:  # type: ignore[attr-defined]
            seen = int(conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one())
            conn.exec_driver_sql("INSERT INTO t VALUES (2)")
        return seen

    return beside_another_writer(engine, read_then_write)


def test_write_transaction_waits_for_the_other_writer_and_sees_its_rows(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE other (x INTEGER)")
    assert _read_then_write(engine, write_transaction(engine)) == 0
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM other").scalar_one() == 1


def test_a_plain_transaction_would_fail_there(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    with pytest.raises(sa.exc.OperationalError, match="database is locked"):
        _read_then_write(engine, engine.begin())


@pytest.fixture
def migrated(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'perpwatch.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def test_the_rules_record_beside_another_writer(migrated: Engine) -> None:
    """``apply_rules`` reads the states it has not cached, then writes: it runs beside the
    reads a tick stores behind it."""
    account_id, account = owner_account(migrated, OWNERS[0])
    policy = Policy(Thresholds())
    decided = beside_another_writer(
        migrated,
        lambda: apply_rules(
            migrated, [observe(account_id, account, 1.1)], lambda a: policy, ["console"], NOON
        ),
    )
    assert [d.decision.level for d in decided] == [Level.CRITICAL]


def test_an_inferred_liquidation_is_recorded_beside_another_writer(migrated: Engine) -> None:
    """``newly_liquidated`` finds a Hyperliquid account closed while liquidatable, and marks
    it liquidated, while a read behind the tick stores."""
    account_id, account = owner_account(migrated, OWNERS[0], protocol="hyperliquid")
    policy = Policy(Thresholds())
    apply_rules(migrated, [observe(account_id, account, 0.9)], lambda a: policy, ["console"],
                NOON)  # fmt: skip
    save_read(migrated, 42161, "hyperliquid", [OWNERS[0]], [], read_block=5)  # gone: closed
    found = beside_another_writer(
        migrated, lambda: newly_liquidated(migrated, 42161, ["hyperliquid"])
    )
    assert [(i, a.status) for i, a in found] == [(account_id, AccountStatus.LIQUIDATED)]


def test_a_failed_send_is_recorded_beside_another_writer(migrated: Engine) -> None:
    add_alerts(migrated, add_account(migrated), 1, ["console"])
    (delivery,) = claim(migrated, "console", 1, NOON)
    status = beside_another_writer(
        migrated, lambda: fail(migrated, delivery.id, "HTTP 502", None, now=NOON, jitter=0.0)
    )
    assert status is OutboxStatus.PENDING


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


def test_a_writer_beside_one_that_commits_again_and_again_gets_its_turn(tmp_path: Path) -> None:
    """A full read is stored chunk after chunk, each transaction right after the last. SQLite's
    own busy wait, retrying in sleeps of up to 100 ms, missed the gaps between them until it
    gave up ("database is locked" after 5 s); the writers of one process take turns instead."""
    engine = _engine(tmp_path)
    stop, started = threading.Event(), threading.Event()

    def chunk_after_chunk() -> None:
        for n in range(200):
            if stop.is_set():
                return
            with write_transaction(engine) as conn:
                conn.exec_driver_sql("INSERT INTO t VALUES (?)", (n,))
                started.set()
                time.sleep(0.02)  # a chunk's save

    saver = threading.Thread(target=chunk_after_chunk)
    saver.start()
    try:
        started.wait(5)
        with write_transaction(engine) as conn:
            saved = int(conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one())
            conn.exec_driver_sql("INSERT INTO t VALUES (-1)")
    finally:
        stop.set()
        saver.join()
    assert saved <= 3  # in within a chunk or two, not after the whole run of them


def test_a_writer_of_another_process_past_the_wait_is_database_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process's writer (its own connection, not this process's turns) holding the lock
    longer than the busy wait: ``DatabaseBusy`` with SQLite's reason, not a bare driver error;
    and the next writer gets in once it let go."""
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 200)
    engine = _engine(tmp_path)
    other = sqlite3.connect(tmp_path / "writers.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with (
            pytest.raises(DatabaseBusy, match="database is locked: another process"),
            write_transaction(engine) as conn,
        ):
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        other.execute("COMMIT")
        with write_transaction(engine) as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (2)")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT x FROM t").scalars().all() == [2]
    finally:
        other.close()
        engine.dispose()
