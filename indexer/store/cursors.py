"""The scanner's database side: cursors, kept block hashes, and one-transaction range commits.

    store = ScanStore(engine)
    store.commit_range(source, batch, window=256)   # events + hashes + touches + cursor, atomic
    store.rollback_above(chain_id, fork_block)     # after a reorg: forget what was above

Bulk Core statements, not ORM objects: ingestion is a hot path. Inserts of events ignore rows
already present (same chain, block hash and log index), so replaying a range is harmless.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from indexer.scan.data import RangeBatch
from indexer.scan.rows import EventRow, LogSource, Touch, TouchKind
from indexer.store.columns import utcnow
from indexer.store.engine import upsert_insert
from indexer.store.tables import Account, AccountEnding, BlockHash, Cursor, RawEvent, TouchedAccount

_events = RawEvent.__table__  # type: ignore[attr-defined]
_hashes = BlockHash.__table__  # type: ignore[attr-defined]
_cursors = Cursor.__table__  # type: ignore[attr-defined]
_touched = TouchedAccount.__table__  # type: ignore[attr-defined]
_endings = AccountEnding.__table__  # type: ignore[attr-defined]
_accounts = Account.__table__  # type: ignore[attr-defined]

_SQLITE_ROWS_PER_INSERT = 200  # x 14 columns: well under SQLite's 32,766 bound parameters
_EVENT_COLUMNS = (
    "chain_id", "block_number", "block_hash", "log_index", "tx_hash", "address",
    "topic0", "topic1", "topic2", "topic3", "data", "source", "event_name", "args",
)  # fmt: skip

# A liquidation outranks a close, which outranks a plain touch, within one range.
_KIND_RANK = {TouchKind.TOUCHED: 0, TouchKind.CLOSED: 1, TouchKind.LIQUIDATED: 2}


class ScanStore:
    """Scanner persistence on one engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        postgres = self._postgres = engine.dialect.name == "postgresql"
        self._insert: Any = upsert_insert(engine)
        marks = ", ".join(
            ("%s::jsonb" if c == "args" else "%s") if postgres else "?" for c in _EVENT_COLUMNS
        )
        self._insert_events_sql = (
            f"INSERT INTO raw_events ({', '.join(_EVENT_COLUMNS)}) VALUES ({marks}) "
            "ON CONFLICT (chain_id, block_hash, log_index) DO NOTHING"
        )

    def next_block(self, source: LogSource) -> int:
        """The first block of ``source`` not yet indexed (its start block if never scanned)."""
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(_cursors.c.next_block).where(_cursors.c.name == source.name)
            ).scalar_one_or_none()
        return source.start_block if value is None else int(value)

    def block_hashes(self, chain_id: int) -> dict[int, str]:
        """The kept window of processed block hashes of ``chain_id``, by number."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(_hashes.c.number, _hashes.c.hash).where(_hashes.c.chain_id == chain_id)
            )
            return {int(number): block_hash for number, block_hash in rows}

    def commit_range(self, source: LogSource, batch: RangeBatch, window: int) -> None:
        """Write a range's events, headers, touched accounts and the new cursor atomically.

        Block hashes older than ``window`` blocks below the range end are pruned.
        """
        with self.engine.begin() as conn:
            if batch.rows:
                self._put_events(conn, batch.rows)
            if batch.headers:
                self._put_headers(conn, source.chain_id, batch)
            if batch.touches:
                self._put_touches(conn, source.chain_id, batch.touches)
                self._put_endings(conn, source.chain_id, batch.touches)
            conn.execute(
                _hashes.delete().where(
                    _hashes.c.chain_id == source.chain_id,
                    _hashes.c.number <= batch.to_block - window,
                )
            )
            self._put_cursor(conn, source, batch.to_block + 1)

    def rollback_above(self, chain_id: int, fork_block: int) -> int:
        """Delete everything derived from blocks above ``fork_block`` on ``chain_id`` and move
        every cursor of the chain back to ``fork_block + 1``. Returns the events deleted."""
        with self.engine.begin() as conn:
            deleted = conn.execute(
                _events.delete().where(
                    _events.c.chain_id == chain_id, _events.c.block_number > fork_block
                )
            ).rowcount
            conn.execute(
                _hashes.delete().where(
                    _hashes.c.chain_id == chain_id, _hashes.c.number > fork_block
                )
            )
            conn.execute(
                _endings.delete().where(
                    _endings.c.chain_id == chain_id, _endings.c.block_number > fork_block
                )
            )
            # Touched rows above the fork point at events that are gone: re-read those accounts
            # anyway (a plain touch); how an account ended is decided from account_endings.
            conn.execute(
                _touched.update()
                .where(_touched.c.chain_id == chain_id, _touched.c.block_number > fork_block)
                .values(kind=TouchKind.TOUCHED, block_number=fork_block)
            )
            self._requeue_reads_above(conn, chain_id, fork_block)
            conn.execute(
                _cursors.update()
                .where(_cursors.c.chain_id == chain_id, _cursors.c.next_block > fork_block + 1)
                .values(next_block=fork_block + 1, updated_at=utcnow())
            )
        return int(deleted or 0)

    def _put_events(self, conn: Connection, rows: list[EventRow]) -> None:
        # The DBAPI's executemany with tuples: SQLAlchemy's per-row parameter processing
        # costs as much as SQLite's own work here, and this is the ingestion hot path.
        dumps = orjson.dumps
        # Sorted keys: the same event stores the same text whichever decoder path produced it.
        sort = orjson.OPT_SORT_KEYS
        params = [
            (
                r["chain_id"], r["block_number"], r["block_hash"], r["log_index"], r["tx_hash"],
                r["address"], r["topic0"], r["topic1"], r["topic2"], r["topic3"], r["data"],
                r["source"], r["event_name"],
                None if r["args"] is None else dumps(r["args"], option=sort).decode(),
            )
            for r in rows
        ]  # fmt: skip
        if self._postgres:
            conn.exec_driver_sql(self._insert_events_sql, params)
            return
        # SQLite: many rows per statement. The sqlite3 module releases the GIL around every
        # statement step, and winning it back from the decoding thread each time (one row per
        # step with executemany) made commits 3x slower than the database work itself.
        per = _SQLITE_ROWS_PER_INSERT
        full, rest = divmod(len(params), per)
        if full:
            flat = [v for row in params[: full * per] for v in row]
            sql = self._sqlite_insert(per)
            step = per * len(_EVENT_COLUMNS)
            for i in range(full):
                conn.exec_driver_sql(sql, tuple(flat[i * step : (i + 1) * step]))
        if rest:
            tail = tuple(v for row in params[full * per :] for v in row)
            conn.exec_driver_sql(self._sqlite_insert(rest), tail)

    @functools.cache  # noqa: B019 - a handful of statement texts per process
    def _sqlite_insert(self, rows: int) -> str:
        values = ", ".join(["(" + ", ".join("?" * len(_EVENT_COLUMNS)) + ")"] * rows)
        return (
            f"INSERT INTO raw_events ({', '.join(_EVENT_COLUMNS)}) VALUES {values} "
            "ON CONFLICT (chain_id, block_hash, log_index) DO NOTHING"
        )

    def _put_headers(self, conn: Connection, chain_id: int, batch: RangeBatch) -> None:
        rows = [
            {"chain_id": chain_id, "number": h.number, "hash": h.hash, "parent_hash": h.parent_hash}
            for h in batch.headers
        ]
        stmt = self._insert(_hashes)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[_hashes.c.chain_id, _hashes.c.number],
                set_={"hash": stmt.excluded.hash, "parent_hash": stmt.excluded.parent_hash},
            ),
            rows,
        )

    def _put_touches(self, conn: Connection, chain_id: int, touches: list[Touch]) -> None:
        latest: dict[tuple[str, str], Touch] = {}
        for touch in touches:
            key = (touch.protocol, touch.ref)
            seen = latest.get(key)
            if seen is None or (touch.block_number, _KIND_RANK[touch.kind]) >= (
                seen.block_number,
                _KIND_RANK[seen.kind],
            ):
                latest[key] = touch
        rows = [
            {
                "chain_id": chain_id,
                "protocol": t.protocol,
                "ref": t.ref,
                "owner": t.owner.lower(),
                "block_number": t.block_number,
                "kind": t.kind.value,
            }
            for t in latest.values()
        ]
        stmt = self._insert(_touched)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[_touched.c.chain_id, _touched.c.protocol, _touched.c.ref],
                set_={
                    "owner": stmt.excluded.owner,
                    "block_number": stmt.excluded.block_number,
                    "kind": stmt.excluded.kind,
                },
                # Re-indexing an old range must not replace a newer touch (a liquidation at
                # block 100 by a plain touch at block 50); a rollback lowers block_number first.
                where=_touched.c.block_number <= stmt.excluded.block_number,
            ),
            rows,
        )

    def _put_endings(self, conn: Connection, chain_id: int, touches: list[Touch]) -> None:
        ends: dict[tuple[str, str, int], TouchKind] = {}
        for t in touches:
            if t.kind is not TouchKind.TOUCHED:
                key = (t.protocol, t.ref, t.block_number)
                # A liquidation and a close in one block: the liquidation is what happened.
                if key not in ends or t.kind is TouchKind.LIQUIDATED:
                    ends[key] = t.kind
        if not ends:
            return
        rows = [
            {"chain_id": chain_id, "protocol": p, "ref": r, "block_number": b, "kind": k.value}
            for (p, r, b), k in ends.items()
        ]
        stmt = self._insert(_endings)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[
                    _endings.c.chain_id, _endings.c.protocol, _endings.c.ref,
                    _endings.c.block_number,
                ],
                set_={"kind": stmt.excluded.kind},
                where=stmt.excluded.kind == TouchKind.LIQUIDATED.value,
            ),
            rows,
        )  # fmt: skip

    def _requeue_reads_above(self, conn: Connection, chain_id: int, fork_block: int) -> None:
        """Queue a re-read of every account whose stored state was read above the fork point:
        that read saw a chain that no longer stands."""
        stale = conn.execute(
            sa.select(_accounts.c.protocol, _accounts.c.ref, _accounts.c.owner).where(
                _accounts.c.chain_id == chain_id, _accounts.c.block_number > fork_block
            )
        ).all()
        if not stale:
            return
        rows = [
            {"chain_id": chain_id, "protocol": p, "ref": r, "owner": o,
             "block_number": fork_block, "kind": TouchKind.TOUCHED.value}
            for p, r, o in stale
        ]  # fmt: skip
        stmt = self._insert(_touched)
        conn.execute(
            stmt.on_conflict_do_nothing(
                index_elements=[_touched.c.chain_id, _touched.c.protocol, _touched.c.ref]
            ),
            rows,
        )

    def _put_cursor(self, conn: Connection, source: LogSource, next_block: int) -> None:
        stmt = self._insert(_cursors)
        # Re-indexing an old range (backfill --from-block) must not move the cursor back: the
        # blocks above it stay indexed. Only rollback_above moves a cursor back, after a reorg.
        later = sa.func.greatest if self._postgres else sa.func.max
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[_cursors.c.name],
                set_={
                    "next_block": later(_cursors.c.next_block, stmt.excluded.next_block),
                    "updated_at": stmt.excluded.updated_at,
                },
            ),
            {
                "name": source.name,
                "chain_id": source.chain_id,
                "next_block": next_block,
                "updated_at": utcnow(),
            },
        )
