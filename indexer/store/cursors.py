"""The scanner's database side: cursors, kept block hashes, and one-transaction range commits.

    store = ScanStore(engine)
    store.commit_range(source, batch, window=256)   # events + hashes + touches + cursor, atomic
    store.rollback_above(chain_id, fork_block)     # after a reorg: forget what was above

Multi-row statements of plain tuples (:mod:`indexer.store.bulk`), not ORM objects: ingestion is
a hot path. Inserts of events ignore rows already present (same chain, block number and log
index; ``blocks`` keeps each block's hash once), so replaying a range is harmless.
``commit_ranges`` writes several ranges in one transaction (the scanner does so during a
backfill, far from the head).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from indexer.models import AccountStatus
from indexer.scan.data import RangeBatch
from indexer.scan.reorg import Header
from indexer.scan.rows import EventRow, LogSource, Touch, TouchKind
from indexer.scan.touches import ending_params, touch_params
from indexer.store.accounts import ending_of_account
from indexer.store.bulk import BulkInsert
from indexer.store.columns import utcnow
from indexer.store.engine import is_postgres, upsert_insert, write_transaction
from indexer.store.tables import (
    Account,
    AccountEnding,
    BlockHash,
    Cursor,
    EventBlock,
    RawEvent,
    TouchedAccount,
)

_events = RawEvent.__table__  # type: ignore[attr-defined]
_hashes = BlockHash.__table__  # type: ignore[attr-defined]
_cursors = Cursor.__table__  # type: ignore[attr-defined]
_touched = TouchedAccount.__table__  # type: ignore[attr-defined]
_endings = AccountEnding.__table__  # type: ignore[attr-defined]
_accounts = Account.__table__  # type: ignore[attr-defined]
_blocks = EventBlock.__table__  # type: ignore[attr-defined]

# Column -> PostgreSQL type, in parameter order.
_EVENT_COLUMNS = {
    "chain_id": "bigint", "block_number": "bigint", "log_index": "integer", "tx_hash": "text",
    "address": "text", "topic0": "text", "topic1": "text", "topic2": "text", "topic3": "text",
    "data": "bytea", "source": "text", "event_name": "text", "args": "jsonb",
}  # fmt: skip


class ScanStore:
    """Scanner persistence on one engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.rollbacks = 0
        """Rollbacks made through this store (see ``indexer.scan.data.ScanStore``)."""
        self._postgres = is_postgres(engine)
        self._insert: Any = upsert_insert(engine)
        self._events = BulkInsert(
            "raw_events",
            _EVENT_COLUMNS,
            "ON CONFLICT (chain_id, block_number, log_index) DO NOTHING",
        )
        # A block's hash, once per block with events (a rollback deletes it with them).
        self._blocks = BulkInsert(
            "blocks",
            {"chain_id": "bigint", "number": "bigint", "hash": "text"},
            "ON CONFLICT (chain_id, number) DO NOTHING",
        )
        self._headers = BulkInsert(
            "block_hashes",
            {"chain_id": "bigint", "number": "bigint", "hash": "text", "parent_hash": "text"},
            "ON CONFLICT (chain_id, number) DO UPDATE SET "
            "hash = excluded.hash, parent_hash = excluded.parent_hash",
        )
        self._touches = BulkInsert(
            "touched_accounts",
            {
                "chain_id": "bigint",
                "protocol": "text",
                "ref": "text",
                "owner": "text",
                "block_number": "bigint",
                "kind": "text",
            },
            "ON CONFLICT (chain_id, protocol, ref) DO UPDATE SET owner = excluded.owner, "
            "block_number = excluded.block_number, kind = excluded.kind "
            # Re-indexing an old range must not replace a newer touch (a liquidation at block
            # 100 by a plain touch at block 50); a rollback lowers block_number first.
            "WHERE touched_accounts.block_number <= excluded.block_number",
        )
        self._endings = BulkInsert(
            "account_endings",
            {
                "chain_id": "bigint",
                "protocol": "text",
                "ref": "text",
                "block_number": "bigint",
                "kind": "text",
            },
            "ON CONFLICT (chain_id, protocol, ref, block_number) DO UPDATE SET "
            f"kind = excluded.kind WHERE excluded.kind = '{TouchKind.LIQUIDATED.value}'",
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
        self.commit_ranges(source, [batch], window)

    def commit_ranges(self, source: LogSource, batches: Sequence[RangeBatch], window: int) -> None:
        """Write consecutive ranges (in block order) in one transaction: their events, headers,
        touched accounts, and the cursor after the last one. A kill leaves all or none."""
        if not batches:
            return
        chain_id, last = source.chain_id, batches[-1].to_block
        rows = [r for b in batches for r in b.rows] if len(batches) > 1 else batches[0].rows
        headers = [h for b in batches for h in b.headers]
        touches = [t for b in batches for t in b.touches]
        with write_transaction(self.engine) as conn:
            if rows:
                self._put_events(conn, rows)
            if headers:
                self._put_headers(conn, chain_id, headers)
            if touches:
                self._put_touches(conn, chain_id, touches)
                self._put_endings(conn, chain_id, touches)
            conn.execute(
                _hashes.delete().where(
                    _hashes.c.chain_id == chain_id, _hashes.c.number <= last - window
                )
            )
            self._put_cursor(conn, source, last + 1)

    def rollback_above(self, chain_id: int, fork_block: int) -> int:
        """Delete everything derived from blocks above ``fork_block`` on ``chain_id`` and move
        every cursor of the chain back to ``fork_block + 1``. Returns the events deleted."""
        with write_transaction(self.engine) as conn:
            deleted = conn.execute(
                _events.delete().where(
                    _events.c.chain_id == chain_id, _events.c.block_number > fork_block
                )
            ).rowcount
            conn.execute(
                _blocks.delete().where(
                    _blocks.c.chain_id == chain_id, _blocks.c.number > fork_block
                )
            )
            conn.execute(
                _hashes.delete().where(
                    _hashes.c.chain_id == chain_id, _hashes.c.number > fork_block
                )
            )
            self._doubt_liquidations_above(conn, chain_id, fork_block)
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
        self.rollbacks += 1
        return int(deleted or 0)

    def _put_events(self, conn: Connection, rows: list[EventRow]) -> None:
        dumps = orjson.dumps
        # Sorted keys: the same event stores the same text whichever decoder path produced it.
        sort = orjson.OPT_SORT_KEYS
        params = [
            (
                r["chain_id"], r["block_number"], r["log_index"], r["tx_hash"], r["address"],
                r["topic0"], r["topic1"], r["topic2"], r["topic3"], r["data"], r["source"],
                r["event_name"],
                None if r["args"] is None else dumps(r["args"], option=sort).decode(),
            )
            for r in rows
        ]  # fmt: skip
        self._events.execute(conn, params)
        blocks = {(r["chain_id"], r["block_number"]): r["block_hash"] for r in rows}
        self._blocks.execute(conn, [(c, n, h) for (c, n), h in blocks.items()])

    def _put_headers(self, conn: Connection, chain_id: int, headers: list[Header]) -> None:
        self._headers.execute(conn, [(chain_id, h.number, h.hash, h.parent_hash) for h in headers])

    def _put_touches(self, conn: Connection, chain_id: int, touches: list[Touch]) -> None:
        self._touches.execute(conn, touch_params(chain_id, touches))

    def _put_endings(self, conn: Connection, chain_id: int, touches: list[Touch]) -> None:
        params = ending_params(chain_id, touches)
        if params:
            self._endings.execute(conn, params)

    def _doubt_liquidations_above(self, conn: Connection, chain_id: int, fork_block: int) -> None:
        """Turn back into closes the liquidations that rest on a liquidation event above the
        fork point: the event is about to go, and the new chain may close the account instead.
        A close stored above the fork is re-decided by the next read of its owner
        (:meth:`_requeue_reads_above`), which finds the new chain's liquidation if there is
        one. Event-less venues (Hyperliquid) have no ending events: their liquidations were
        inferred from what the monitor saw and stay."""
        doomed = sa.exists().where(
            ending_of_account(),
            _endings.c.kind == TouchKind.LIQUIDATED.value,
            _endings.c.block_number > fork_block,
        )
        conn.execute(
            _accounts.update()
            .where(
                _accounts.c.chain_id == chain_id,
                _accounts.c.block_number > fork_block,
                _accounts.c.status == AccountStatus.LIQUIDATED.value,
                doomed,
            )
            .values(status=AccountStatus.CLOSED.value)
        )

    def _requeue_reads_above(self, conn: Connection, chain_id: int, fork_block: int) -> None:
        """Queue a re-read of every account whose stored state was read above the fork point:
        that read saw a chain that no longer stands. How such an account ended is decided by
        the ending events above its stored block (``indexer.store.accounts``), so that block
        falls: an open one's to 0 (its last open read is gone; the new chain may end it below
        that read, or never have reopened it since an earlier ending), a closed one's to the
        fork point (a liquidation of the new chain above it makes the close a liquidation;
        the endings below it are history both chains share, seen when it was closed).
        The cost of 0: an account reopened on the shared history loses its bound too, so if
        a node answers its next read ahead of the indexed events, an earlier life's
        liquidation decides its close. Telling the two apart needs the block that reopened
        it, which perpwatch does not store."""
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
        for status, block in ((AccountStatus.OPEN, 0), (AccountStatus.CLOSED, fork_block)):
            conn.execute(
                _accounts.update()
                .where(
                    _accounts.c.chain_id == chain_id,
                    _accounts.c.block_number > fork_block,
                    _accounts.c.status == status.value,
                )
                .values(block_number=block)
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
