"""One chain for the life of the process: node client, decoder, scanners, the open book.

    runtime = ChainRuntime(group, engine, watched=["0xabc…"])
    sync = await runtime.sync()            # scan → read what changed, at the scanned block
    live = await runtime.book(sync)        # the open book in scope, compiled (``LiveBook``)
    await runtime.close()

A tick costs what changed, not what exists: the scanners keep their adaptive ranges, only
owners touched by events since the last tick are re-read, and the open book is kept in memory
and re-priced. The whole book is re-read in slices, a slice per tick (``monitor.runtime.rolling``),
which bounds the drift of what no event reports (borrowing and funding accrue every second)
without one slow tick: the owners of an account near a warning once per ``full_refresh_s``, the
rest (most of a book, too far from any threshold for drift to matter soon) ten times less
often. A slice is at most one read's worth of owners per block time and tier, so a book larger
than that is re-read over a longer cycle rather than at a higher cost. Where events report every
change an owner makes, the slice is read behind the tick (its alerts do not wait on it) and
joins the book at the next one.
Protocols without events (Hyperliquid) cannot say when a trader changed their own account, so
their watched wallets are polled: those at risk (``at_risk``: critical or worse, or unknown;
set by the monitor after each evaluation) every tick, those near a warning (``warm``) once per
the protocol's ``poll_s``, the rest as often while they are few and less often as they grow, up
to once per its ``far_poll_s`` (``PollCadence``), each spread evenly over its period; at most
``POLL_READS_PER_TICK`` reads' worth a tick, those the marks put at or below maintenance
(``urgent``) first, then the wallets read longest ago (a crash puts thousands at risk, and the
liquidatable ones are where the venue acts: a partial liquidation is seen a tick after it,
before the rest follows). An
adapter that reads a wallet it read before in two steps (``RemembersOwners``: a summary first,
the positions only if it changed) is told the urgent ones, and reads them in one.
After a start (or :meth:`forget`) the first tick re-reads everything at once: the database
may be behind the chain. Database work runs in worker threads, so one chain's commits never
stall another chain or alert delivery.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from typing import TypeVar, cast

from sqlalchemy.engine import Engine

from indexer.config.protocol import PollCadence
from indexer.crash_points import crash_point
from indexer.models import MarginAccount
from indexer.prices import PriceBook, PriceSource
from indexer.protocols.base import (
    AnnouncesConfig,
    ProtocolAdapter,
    RemembersOwners,
    events_end_accounts,
)
from indexer.reads.execute import ReadCache
from indexer.refresh import locked, owners_per_read, owners_to_refresh, refresh_owners
from indexer.registry import json_decoder
from indexer.rpc.client import RpcClient
from indexer.rpc.heads import HeadSubscription
from indexer.rpc.stats import EndpointStats
from indexer.scan.runner import chain_settings, open_rpc
from indexer.scan.scanner import Scanner
from indexer.store.accounts import (
    SaveResult,
    end_from_events,
    load_accounts,
    open_assets,
    touched_owner_states,
)
from indexer.store.cursors import ScanStore
from monitor.health.chunked import address_fraction
from monitor.runtime.chain_pass import ChainProtocols, ChainSync, in_scope
from monitor.runtime.live_book import LiveBook, Lost
from monitor.runtime.rolling import RollingRefresh, TieredRefresh

log = logging.getLogger("perpwatch.monitor")

T = TypeVar("T")
U = TypeVar("U")

FULL_REFRESH_S = 60.0
"""Default period of the whole-book re-read (fees and funding drift between events); 0 re-reads
everything on every tick."""


POLL_READS_PER_TICK = 2
"""Reads' worth of wallets an event-less protocol polls per tick at most (``_due``)."""

CONFIG_REREADS_PER_TICK = 2
"""Reads' worth of owners per block time re-read after a configuration write
(``_reread_for_config``)."""


class ChainRuntime:
    """The long-lived state of one chain; see the module docstring."""

    def __init__(
        self,
        group: ChainProtocols,
        engine: Engine,
        *,
        watched: Sequence[str] = (),
        full_refresh_s: float = FULL_REFRESH_S,
        rpc: RpcClient | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.group, self.engine = group, engine
        self.watched = tuple(w.lower() for w in watched)
        self.full_refresh_s, self.monotonic = full_refresh_s, monotonic
        self.decoder = json_decoder()
        self.store = ScanStore(engine)
        self._rpc, self._owns_rpc = rpc, rpc is None
        ws_url = group.chain.ws_url
        self.heads = (
            HeadSubscription(ws_url, chain_id=group.chain.chain_id, monotonic=monotonic)
            if ws_url
            else None
        )
        """The node's pushed heads, if the chain has a ``ws_url`` (:meth:`pushed_head`)."""
        self._unconnected_s = 0.0  # the slowest request of a client that failed to connect
        self._scanners: list[Scanner] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._read_whole = True  # the first sync reads everything: the database may lag
        self.synced_head = -1
        """The node's head as the last :meth:`sync` scanned to (-1 before the first)."""
        self._book: LiveBook | None = None
        # Per protocol: the owners re-read since the last book(), and the accounts that read
        # found. Per protocol, because a read of one protocol says nothing of an owner's
        # accounts on another (a watched wallet is polled on every event-less protocol).
        self._changed: dict[str, set[str]] = {}
        self._read: dict[str, list[tuple[int, MarginAccount]]] = {}
        self._polled: dict[tuple[str, str], float] = {}
        self._rolling: dict[str, TieredRefresh] = {}
        self._reconfigured: dict[str, RollingRefresh] = {}  # per protocol (_reread_for_config)
        # The whole-book slices read behind the ticks (:meth:`_read_behind`), applied at the
        # start of the next sync.
        self._behind: list[asyncio.Future[tuple[str, list[str], SaveResult]]] = []
        # What the last sync left to read behind it, not yet started (:meth:`read_behind`):
        # per protocol, the owners and the block to read them at.
        self._later: list[tuple[ProtocolAdapter, list[str], int]] = []
        # Per protocol: owners whose accounts events ended, not yet read since (insertion
        # order: oldest first), and the accounts ended since the last book(), as (id, owner).
        self._unconfirmed: dict[str, dict[str, None]] = {}
        self._ended: dict[str, list[tuple[int, str]]] = {}
        # Per protocol: the assets to price (every asset an account in the book holds).
        self._assets: dict[str, set[str]] = {}
        # The answers to the calls every read of a block makes (market state, feeds), shared
        # by the tick's reads and those behind it; cleared as each sync starts, when the
        # chain may have moved under the block number (a reorg keeps the height).
        self.read_cache = ReadCache()
        self.save_lock = threading.Lock()
        """Held around every write this runtime makes from a worker thread (scan commits,
        stored reads, endings): the protocols of a tick read side by side and store one at a
        time, on any database (on SQLite every writer of the process also takes its turn in
        ``write_transaction``)."""
        self.lost: list[Lost] = []
        """The accounts that lost positions in the last :meth:`book` (gone from the chain, or
        read again with less than they held; ``live_book.Lost``)."""
        self.at_risk: frozenset[str] = frozenset()
        """Owners (lower case) the monitor last found unknown or at warning or worse."""
        self.urgent: frozenset[str] = frozenset()
        """Owners (lower case) of an account the last tick's marks put at or below
        maintenance: polled before the rest of ``at_risk``."""
        self.warm: dict[str, frozenset[str]] = {}
        """Per protocol, owners (lower case) of an account the monitor last found not far from
        a warning (``far_from_warning``): the whole-book re-read takes them ten times as often
        as the rest (``TieredRefresh``), and an event-less protocol polls them once per its
        near period, the rest once per its far one (``PollCadence``)."""

    @property
    def live(self) -> LiveBook | None:
        """The in-memory book as of the last :meth:`book` (None before it, or after
        :meth:`forget`)."""
        return self._book

    async def client(self) -> RpcClient:
        """The chain's node client, connected (chain id checked) on first use.

        A client belongs to the event loop it was made on: called from another loop (each
        ``asyncio.run`` of a script or test), the runtime connects afresh."""
        loop = asyncio.get_running_loop()
        if self._rpc is not None and self._owns_rpc and self._loop is not loop:
            self._rpc, self._scanners = None, []  # its loop is gone; so are its connections
        self._loop = loop
        if self._rpc is None:
            rpc = open_rpc(self.group.chain, live=True)
            try:
                await rpc.__aenter__()
            except BaseException:  # its attempts kept the tick waiting all the same
                self._unconnected_s = max(self._unconnected_s, rpc.take_slowest_request_s())
                raise
            self._rpc, self._scanners = rpc, []
        if not self._scanners:
            settings = chain_settings(self.group.chain)
            self._scanners = [
                Scanner(self._rpc, self.store, source, self.decoder, settings,
                        touched=adapter.touched, write_lock=self.save_lock)
                for adapter in self.group.adapters
                if (source := adapter.log_source()) is not None
            ]  # fmt: skip
        return self._rpc

    async def close(self) -> None:
        """Close the node client and the head subscription (a later :meth:`sync` opens a new
        client, a later :meth:`pushed_head` subscribes again)."""
        behind, self._behind, self._later = self._behind, [], []
        for task in behind:
            task.cancel()
        await asyncio.gather(*behind, return_exceptions=True)
        if self.heads is not None:
            await self.heads.close()
        rpc, self._rpc, self._scanners = self._rpc, None, []
        if rpc is not None and self._owns_rpc:
            await rpc.aclose()

    def take_slowest_request_s(self) -> float:
        """The longest request to the node since this was last taken, a client's that failed
        to connect included (see ``RpcClient.take_slowest_request_s``)."""
        slowest, self._unconnected_s = self._unconnected_s, 0.0
        if self._rpc is not None:
            slowest = max(slowest, self._rpc.take_slowest_request_s())
        return slowest

    def rpc_stats(self) -> list[EndpointStats]:
        """The node client's per-URL counters (none before it connected)."""
        return self._rpc.stats() if self._rpc is not None else []

    def forget(self) -> None:
        """Drop what this process remembers of the chain's book and its venues' configuration:
        the next sync re-reads them whole (another worker may have changed them meanwhile).
        Slices still being read behind the last tick are cancelled: this worker may no longer
        hold the chain. One already read is dropped too: what it read may predate another
        worker's reads."""
        for task in self._behind:
            if not task.done():
                task.cancel()
            elif not task.cancelled():
                task.exception()  # retrieved: a failed one is not reported as never retrieved
        self._behind, self._later = [], []
        self._read_whole, self._book = True, None
        self._polled.clear()
        self._rolling.clear()
        self._reconfigured.clear()
        self._assets.clear()
        self._unconfirmed.clear()
        self._ended.clear()
        for adapter in self.group.adapters:
            if isinstance(adapter, AnnouncesConfig):
                adapter.forget_config()

    async def head(self) -> int:
        """The node's head block number (one ``eth_blockNumber``)."""
        return await (await self.client()).block_number()

    def pushed_head(self) -> int | None:
        """The head as the node last pushed it, while the subscription can stand in for a
        poll (``HeadSubscription.fresh``); else None (no ``ws_url``, or the subscription is
        down or silent: poll :meth:`head`). Subscribes on first use on this event loop."""
        if self.heads is None:
            return None
        self.heads.start()
        fresh = self.heads.fresh(self.monotonic(), self.group.chain.block_time)
        return self.heads.head if fresh else None

    async def sync(self, head: int | None = None) -> ChainSync:
        """Scan to the safe head, re-read what changed at exactly the scanned block, read prices.

        Reading at the scanned block (never a later one) matters: a liquidation between the
        scan and a later read would make a position vanish with no liquidation event indexed.
        An event-less protocol has nothing to scan: it reads at the block the scan is to reach
        (the safe head), beside the scan. Should a reorg found mid-scan stop the scan short,
        its accounts are a block or two newer than the rest of the tick's.
        ``head``: the node's head as the caller just read it (:meth:`head`); by default the sync
        asks. Every scanner scans to this one head, and only the first checks that the stored
        tip is still canonical (the stored blocks are the chain's, shared by its scanners).
        """
        rpc = await self.client()
        waited = time.perf_counter()
        self.read_behind()  # what the last sync left behind it, if its caller did not start it
        behind = await self._caught_up()
        self.read_cache.clear()
        self.take_slowest_request_s()  # this sync's requests only
        started = time.perf_counter()
        if head is None:
            head = await rpc.block_number()
        self.synced_head = head
        target = head - self.group.chain.finality_blocks
        sync = ChainSync(self.group.chain.chain_id, target, behind_s=started - waited)
        for saved in behind:
            sync.count(saved)
        sync.scopes = self.group.scope_by_protocol
        full = self.full_refresh_s <= 0 or self._read_whole
        # The protocols' reads are independent: while one waits on the node, the others read
        # (at a busy node the sum of their round trips made the tick miss the block time).
        # An event-less protocol's reads need no scan, so they go out at once, at the block
        # the scan is to reach: beside a liquidation block's scan (hundreds of milliseconds
        # of logs to fetch, decode and store) rather than after it.
        later: list[tuple[ProtocolAdapter, list[str], int]] = []
        entries = list(
            zip(
                self.group.adapters,
                self.group.price_sources,
                self.group.scopes,
                self.group.polls,
                strict=True,
            )
        )
        eventless = [e for e in entries if e[0].name in self.group.eventless]
        evented = [e for e in entries if e[0].name not in self.group.eventless]

        async def scan_then_read() -> None:
            await self._scan(head, sync, started)
            await settled(
                self._sync_protocol(rpc, sync, sync.block, full, *entry, later) for entry in evented
            )

        await settled(
            [
                scan_then_read(),
                *(self._sync_protocol(rpc, sync, target, full, *e, later) for e in eventless),
            ]
        )
        self._later = later
        names = [adapter.name for adapter in self.group.adapters]  # in config order, as read
        sync.prices = {name: sync.prices[name] for name in names}
        sync.price_updated_at = {name: sync.price_updated_at[name] for name in names}
        if full:
            self._read_whole, self._book = False, None
            self._rolling.clear()  # the next cycle starts from this complete read
        sync.slowest_request_s = self.take_slowest_request_s()
        return sync

    async def _scan(self, head: int, sync: ChainSync, started: float) -> None:
        """Index the chain's logs to ``head``: ``sync``'s block becomes the block every scanner
        reached (it stays the target when the chain has none), and its logs and scan time are
        counted (from ``started``)."""
        # Side by side: a liquidation block's GMX and gTrade events are fetched, decoded and
        # stored in the time of the slower one. A rollback by one moves every cursor of the
        # chain, and a scanner that started from a cursor since moved starts again from it
        # (``Scanner._commit``).
        tip_checked = asyncio.Event()  # one chain: one tip check, before any scanner stores
        results = await settled(
            scanner.backfill(head=head, check_tip=i == 0, tip_checked=tip_checked)
            for i, scanner in enumerate(self._scanners)
        )
        if results:
            sync.block = min(r.next_block for r in results) - 1
        sync.logs = sum(r.logs for r in results)
        sync.scan_s = time.perf_counter() - started
        if sync.logs:
            crash_point("tick-scanned")  # a test hook; see indexer.crash_points

    async def _sync_protocol(
        self,
        rpc: RpcClient,
        sync: ChainSync,
        block: int,
        full: bool,
        adapter: ProtocolAdapter,
        prices: PriceSource,
        scope: frozenset[str] | None,
        poll: PollCadence | None,
        behind: list[tuple[ProtocolAdapter, list[str], int]],
    ) -> None:
        """One protocol's part of :meth:`sync`: re-read its owners due and read its prices,
        at ``block``; the owners to read behind the tick are added to ``behind``."""
        owners, ending, later = await asyncio.to_thread(
            self._owners, adapter, scope, full, poll, block
        )
        if later:
            behind.append((adapter, later, block))
        known = self._assets.get(adapter.name)
        if known is None or full:
            known = set(
                await asyncio.to_thread(open_assets, self.engine, adapter.chain_id, adapter.name)
            )
        refresh = self._refresh(rpc, adapter, owners, block)
        # The accounts that events ended are stored while the node reads the rest (a crash's
        # thousand endings took a transaction the reads waited for, and the later the reads go
        # out, the likelier they meet the node building its next block).
        ends = self._end_from_events(adapter, ending, sync, block)
        if known:
            # The prices of the assets already held are read while the owners are: both are
            # pinned to the scanned block, and neither waits for the other's round trip.
            price_read = prices.read(rpc, sorted(known), block)
            (saved, book), _ = await settled_pair(settled_pair(refresh, price_read), ends)
        else:  # nothing held yet: one read after the owners', of what they hold
            saved, _ = await settled_pair(refresh, ends)
            book = None
        self._mark_polled(adapter.name, owners, poll, spread=full)
        sync.count(saved)
        self._note_read(adapter.name, owners, saved)
        new = saved.assets - known
        if book is None:
            book = await prices.read(rpc, sorted(new), block)
        elif new:  # a market nobody held until this read
            more = await prices.read(rpc, sorted(new), block)
            book = PriceBook(book.prices | more.prices, book.updated_at | more.updated_at)
        # Every asset an account in the book holds stays priced (a few markets no longer
        # held are too, until the next full read).
        self._assets[adapter.name] = known | new
        sync.prices[adapter.name] = book.prices
        sync.price_updated_at[adapter.name] = book.updated_at

    async def _end_from_events(
        self, adapter: ProtocolAdapter, owners: Sequence[str], sync: ChainSync, block: int
    ) -> None:
        """End the open accounts of ``owners`` from their events (``end_from_events``) at
        ``block``."""
        if not owners:
            return
        end = functools.partial(
            end_from_events, self.engine, adapter.chain_id, adapter.name, owners, block
        )
        ended = await asyncio.to_thread(locked, self.save_lock, end)
        sync.closed += ended.closed
        sync.liquidated += ended.liquidated
        self._ended.setdefault(adapter.name, []).extend(ended.ended)

    def _note_read(self, protocol: str, owners: Sequence[str], saved: SaveResult) -> None:
        """Queue a read of ``owners`` for the next :meth:`book`: it supersedes an earlier read
        of the same owners still queued (a slice read behind the last tick, at its block).
        What their events said of them is now confirmed (or corrected): they leave the
        unconfirmed."""
        unconfirmed = self._unconfirmed.get(protocol)
        if unconfirmed:
            for owner in owners:
                unconfirmed.pop(owner, None)
        fresh = set(owners)
        queued = [(i, a) for i, a in self._read.get(protocol, []) if a.owner not in fresh]
        self._read[protocol] = queued + list(saved.stored)
        self._changed.setdefault(protocol, set()).update(owners)

    def read_behind(self) -> None:
        """Start the reads the last :meth:`sync` left behind it (whole-book slices, confirming
        reads: ``_owners``); the next sync waits for them and queues what they read.

        The monitor starts them once its tick is recorded. Started during the tick, beside its
        own reads, they shared the node with those, and their decoding and storing shared this
        process with the tick's judging and rules: after a crash (a read's worth of confirming
        reads per protocol and tick) the tick took their time as well as its own. A caller that
        does not start them has the next sync start them, and wait."""
        later, self._later = self._later, []
        if self._rpc is None:
            return  # closed since: the slices come again next cycle, the confirmations next tick
        self._behind += [
            asyncio.ensure_future(self._read_behind(self._rpc, adapter, owners, block))
            for adapter, owners, block in later
        ]

    async def _read_behind(
        self, rpc: RpcClient, adapter: ProtocolAdapter, owners: list[str], block: int
    ) -> tuple[str, list[str], SaveResult]:
        """Read and store ``owners`` (a whole-book slice, confirming reads) at ``block``,
        behind the tick that took them."""
        return adapter.name, owners, await self._refresh(rpc, adapter, owners, block)

    def _refresh(
        self, rpc: RpcClient, adapter: ProtocolAdapter, owners: Sequence[str], block: int
    ) -> Awaitable[SaveResult]:
        """Read and store ``owners`` at ``block`` (``refresh_owners``): saves one at a time
        under the runtime's lock, the block's shared calls answered once (``read_cache``)."""
        return refresh_owners(
            rpc, self.engine, adapter, owners,
            block=block, save_lock=self.save_lock, cache=self.read_cache,
        )  # fmt: skip

    async def _caught_up(self) -> list[SaveResult]:
        """Wait for the reads behind the last tick (whole-book slices and confirming reads;
        usually done by now: a tick's own reads ended a block ago) and queue what they read
        for the next :meth:`book`. Before this sync reads: a later read of an owner must land
        after an earlier one. A read that failed is dropped with a warning: a slice's owners
        come again next cycle, and the owners it was to confirm stay queued for the next
        tick."""
        behind, self._behind = self._behind, []
        results: list[SaveResult] = []
        for outcome in await asyncio.gather(*behind, return_exceptions=True):
            if isinstance(outcome, asyncio.CancelledError):  # by forget()
                continue
            if isinstance(outcome, Exception):
                log.warning("read behind the tick failed (retried later): %s", outcome)
                continue
            if isinstance(outcome, BaseException):
                raise outcome
            protocol, owners, saved = outcome
            self._note_read(protocol, owners, saved)
            self._assets.setdefault(protocol, set()).update(saved.assets)
            results.append(saved)
        return results

    def _owners(
        self,
        adapter: ProtocolAdapter,
        scope: frozenset[str] | None,
        full: bool,
        poll: PollCadence | None,
        block: int,
    ) -> tuple[list[str], list[str], list[str]]:
        """Who to re-read, whose accounts to end from their events without a read, and who to
        read behind the tick (:meth:`_read_behind`).

        On a full refresh every touched, open and watched owner is read. Else the touched owners,
        this tick's slice of the whole book (:class:`TieredRefresh`) and the watched wallets of an
        event-less protocol that are due (see :meth:`_due`); but where the protocol's endings are
        final (``events_end_accounts``), an owner whose every touch ended an account is ended from
        the events now and read later, a read's worth per tick (:meth:`_confirmations`): a crash's
        thousand liquidations cost no read in the tick that sees them. With a wallet scope, only
        those wallets are read (the rest of the book is indexed, not read). Where events report
        every change an owner makes (GMX, gTrade), the slice only bounds drift, and the confirming
        reads only catch what the events could not say (an account reopened in the block that ended
        it), so both are read behind the tick, as is the whole book, a share per tick, when the scan
        saw the venue's configuration written (``AnnouncesConfig``, :meth:`_reread_for_config`): the
        tick's alerts do not wait on them, and what they read joins the book at the next tick.
        (After a crash the confirming reads are a whole read's worth every tick for a while, and a
        read still out when the node starts building the next block waits for that build.)
        """

        def everyone() -> list[str]:
            if scope is not None:
                return sorted(scope)
            return owners_to_refresh(self.engine, adapter, self.watched)

        ending: list[str] = []
        later: list[str] = []
        reconfigured = isinstance(adapter, AnnouncesConfig) and adapter.take_config_change()
        if full:
            owners = set(everyone())
            self._unconfirmed.pop(adapter.name, None)  # everyone touched is read now
            self._reconfigured.pop(adapter.name, None)  # and every account's terms
        else:
            touched = touched_owner_states(
                self.engine, adapter.chain_id, adapter.name, among=scope, block=block
            )
            owners = {o for o, ended in touched.items() if not ended}
            confirming: list[str] = []
            if events_end_accounts(adapter):
                confirming, ending = self._confirmations(adapter, touched)
            else:
                owners.update(touched)
            rolling = self._rolling.get(adapter.name)
            if rolling is None:
                # At most one read's worth of owners per block time and tier: the slice
                # costs a request or two per tick however large the book (the cycle
                # stretches instead).
                per_s = owners_per_read(adapter) / self.group.chain.block_time
                rolling = self._rolling[adapter.name] = TieredRefresh(self.full_refresh_s, per_s)
            warm = self.warm.get(adapter.name, frozenset())
            slice_ = rolling.take(self.monotonic(), everyone, warm)
            if adapter.name not in self.group.eventless:
                behind = set(slice_) | set(confirming)
                behind.update(self._reread_for_config(adapter, reconfigured, everyone, warm))
                later = sorted(behind - owners)
            else:
                owners.update(slice_, confirming)
                candidates = scope if scope is not None else self.watched
                budget = POLL_READS_PER_TICK * owners_per_read(adapter)
                owners.update(self._due(adapter.name, candidates, poll, budget))
                if isinstance(adapter, RemembersOwners):
                    adapter.expect_changes(owners & self.urgent)
        if scope is not None:
            owners &= scope
            later = [o for o in later if o in scope]
        return sorted(owners), ending, later

    def _reread_for_config(
        self,
        adapter: ProtocolAdapter,
        reconfigured: bool,
        everyone: Callable[[], Sequence[str]],
        warm: Collection[str],
    ) -> list[str]:
        """This tick's share of the whole book re-read after a configuration write
        (``AnnouncesConfig``): new factors apply to every open account, and no event of theirs
        says so. ``CONFIG_REREADS_PER_TICK`` reads' worth per block time, the owners near a
        warning first; a later write starts again from a new snapshot. Read in one go, a
        20,000-account book stalled the next tick for seconds (it waits for reads behind)."""
        if reconfigured:
            owners = sorted(everyone(), key=lambda owner: owner not in warm)  # stable: warm first
            block_time = self.group.chain.block_time
            per_s = CONFIG_REREADS_PER_TICK * owners_per_read(adapter) / block_time
            # Started a block time ago: this tick takes the first share.
            self._reconfigured[adapter.name] = RollingRefresh(
                0.0, per_s, tuple(owners), started=self.monotonic() - block_time
            )
        cycle = self._reconfigured.get(adapter.name)
        if cycle is None:
            return []
        # One cycle over the snapshot, dropped once done: it never loads another.
        due = cycle.take(self.monotonic(), load=tuple)
        if cycle.done >= len(cycle.owners):
            del self._reconfigured[adapter.name]
        return due

    def _confirmations(
        self, adapter: ProtocolAdapter, touched: dict[str, bool]
    ) -> tuple[list[str], list[str]]:
        """Up to a read's worth of the unconfirmed (oldest first), to be read now; and the
        owners whose touches all ended accounts and are new since the last tick, to end now:
        they join the unconfirmed, to be read in a later tick."""
        unconfirmed = self._unconfirmed.setdefault(adapter.name, {})
        confirming = list(itertools.islice(unconfirmed, owners_per_read(adapter)))
        new = sorted(o for o, ended in touched.items() if ended and o not in unconfirmed)
        unconfirmed.update(dict.fromkeys(new))
        return confirming, new

    def _due(
        self, protocol: str, owners: Iterable[str], poll: PollCadence | None, budget: int
    ) -> list[str]:
        """The ``owners`` of an event-less protocol to poll now: at risk, never read, or last
        read a period ago (``poll``'s near one for the ``warm``, its far one for the rest;
        every one of them when ``poll`` is None); at most ``budget`` of them, the ``urgent``
        first, then those read longest ago. In a crash thousands of wallets turn critical at
        once, and polling them all in one tick made it as slow as that many reads; past the
        budget they take turns, each read again within a few ticks."""
        if poll is None:
            return list(owners)
        now, polled, urgent = self.monotonic(), self._polled, self.urgent
        at_risk, warm = self.at_risk, self.warm.get(protocol, frozenset())
        owners = list(owners)
        near_s, far_s = self._periods(protocol, poll, owners)
        due = []
        for o in owners:
            t = polled.get((protocol, o), -math.inf)
            if o in at_risk or now - t >= (near_s if o in warm else far_s):
                due.append((o not in urgent, t, o))
        if len(due) > budget:
            due = heapq.nsmallest(budget, due)
        return [o for _, _, o in due]

    def _mark_polled(
        self, protocol: str, owners: Iterable[str], poll: PollCadence | None, *, spread: bool
    ) -> None:
        """Remember when ``owners`` were read. After a full refresh each owner is stamped as
        if read at a fixed phase of its period earlier, so polls spread evenly over the period
        instead of all falling due on one tick. The phase is the owner's place in the address
        space, so the wallets due together are neighbours in the compiled book's chunks."""
        if poll is None:
            return
        now, warm = self.monotonic(), self.warm.get(protocol, frozenset())
        owners = list(owners)
        near_s, far_s = self._periods(protocol, poll, owners) if spread else (0.0, 0.0)
        for owner in owners:
            phase = address_fraction(owner) * (near_s if owner in warm else far_s)
            self._polled[protocol, owner] = now - phase

    def _periods(
        self, protocol: str, poll: PollCadence, owners: Sequence[str]
    ) -> tuple[float, float]:
        """The near and far poll periods of ``protocol`` when ``owners`` are its wallets: the
        far one as ``poll`` stretches it for the number of them not near a warning."""
        warm = self.warm.get(protocol, frozenset())
        return poll.near_s, poll.far_period_s(sum(1 for o in owners if o not in warm))

    async def book(self, sync: ChainSync) -> LiveBook:
        """The open accounts in scope, kept in memory and compiled per protocol: loaded whole
        after a full refresh, else updated with the owners re-read since the last call (their
        accounts as read: an owner whose read found none has none left; the accounts that lost
        positions are in :attr:`lost` until the next call)."""
        changed, self._changed = self._changed, {}
        read, self._read = self._read, {}
        ended, self._ended = self._ended, {}
        self.lost = []
        if self._book is None:
            rows = await asyncio.to_thread(
                load_accounts, self.engine, chain_id=self.group.chain.chain_id
            )
            self._book = LiveBook((i, a) for i, a in rows if in_scope(sync.scopes, a))
        elif changed:
            # The accounts as just read and stored (``SaveResult.stored``), not reloaded.
            for protocol, owners in changed.items():
                found = [(i, a) for i, a in read.get(protocol, []) if in_scope(sync.scopes, a)]
                self.lost += self._book.replace_owners(protocol, owners, found)
        if self._book is not None:  # (loaded whole, it has none of them)
            for protocol, gone in ended.items():
                self.lost += [Lost(i, a) for i, a in self._book.remove(protocol, gone)]
        return self._book


async def settled_pair(first: Awaitable[T], second: Awaitable[U]) -> tuple[T, U]:
    """:func:`settled` for two awaitables of different types."""
    a, b = await settled([cast(Awaitable[object], first), second])
    return cast(T, a), cast(U, b)


async def settled(awaitables: Iterable[Awaitable[T]]) -> list[T]:
    """Run ``awaitables`` concurrently and let each one finish, then raise the first failure
    (in the given order) or return the results. A failure cancels none of the others: a
    protocol's read that was stored is also remembered (its owners marked changed), so the
    in-memory book never misses what the database holds."""
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return cast(list[T], results)


async def sync_chain(
    rpc: RpcClient, engine: Engine, group: ChainProtocols, watched: Sequence[str] = ()
) -> ChainSync:
    """One-shot :meth:`ChainRuntime.sync` with a full refresh (``perpwatch account``, tests):
    index new logs to the safe head, re-read every touched, open and watched owner, and read
    prices, all at the scanned block."""
    return await ChainRuntime(group, engine, watched=watched, rpc=rpc).sync()
