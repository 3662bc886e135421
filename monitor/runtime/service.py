"""The monitor's unit of work: one pass over a chain, then alert delivery.

    monitor = Monitor(cfg, engine, notifiers)
    summary = await monitor.tick(group)          # index → refresh → prices → health → rules
    report = await monitor.deliver()             # outbox → Telegram / webhook / console

``perpwatch run`` schedules these (``monitor.runtime.scheduler``); ``perpwatch demo`` calls them
between scripted price moves. Either way it is the same code.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import httpx
import numpy as np
from sqlalchemy.engine import Engine

from indexer.config.loader import Config
from indexer.config.sections import ChainConfig, Thresholds, WalletConfig
from indexer.errors import ChainIdMismatch, RetryableError
from indexer.models import MarginAccount
from indexer.scan.data import ScanSettings
from indexer.store.accounts import load_accounts
from indexer.store.columns import utcnow
from indexer.store.engine import checkpoint_wal
from monitor.alerts.apply import (
    Observation,
    apply_rules,
    at_risk,
    newly_liquidated,
    rule_inputs,
)
from monitor.alerts.chain import (
    ChainPolicy,
    ChainRead,
    ChainState,
    readable,
    step_chain,
    unreadable,
)
from monitor.alerts.chain_store import ChainDecided, ChainSubject, record_chain_read
from monitor.alerts.inference import PartialLiquidation, describe_cut, liquidated_when_gone
from monitor.alerts.lens_states import close_gone_lenses
from monitor.alerts.levels import Level
from monitor.alerts.policy import LIQUIDATABLE_AT, policy_of
from monitor.alerts.rules import AlertState, Policy, PriceFreshness, Report
from monitor.alerts.screen import (
    LevelBounds,
    Moves,
    far_from_warning,
    ladder_rank,
    ladder_ranks,
    steady_accounts,
)
from monitor.delivery.outbox import pending_count
from monitor.delivery.worker import DeliveryReport, Notifier, deliver_once
from monitor.health.book import Book, Bools
from monitor.health.tick import AccountView, ProtocolTick, value_book
from monitor.health.volatility import MarketVolatility, Sigmas
from monitor.latest.store import LatestWriter, Written
from monitor.notify.channels import channels_for, paced_telegram
from monitor.runtime.chain import ChainRuntime
from monitor.runtime.chain_pass import ChainProtocols, ChainSync, by_chain, in_scope
from monitor.runtime.head_pacing import HeadPacer
from monitor.runtime.heartbeat import TickSummary, format_status, record_tick
from monitor.runtime.lease import acquire_lease, lease_ttl_s, release_leases, worker_name
from monitor.runtime.live_book import Lost
from monitor.runtime.phases import Phases
from monitor.runtime.rolling import COLD_MARGIN
from monitor.subscriptions.routing import Lens, RouteTable
from monitor.subscriptions.service import load_routes, seed_from_config
from monitor.watchlist import watched_wallets

log = logging.getLogger("perpwatch.monitor")

NODE_UNREADABLE = (RetryableError, ChainIdMismatch, httpx.HTTPError, OSError)
"""What a node that cannot be read raises once the client's retries are spent (a wrong chain
id, a node down or silent; ``NodeUnreachable`` is a ``RetryableError``): the chain is
unreadable, not the monitor broken. Not the database's failures (``DatabaseUnavailable``,
``DatabaseBusy``): they are no chain outage."""
QUIET_TICK_BLOCKS = 2
"""A chain this worker holds whose head does not move is still ticked once per this many block
times (a stalled head is news, and ticks renew the lease, which lasts at least five)."""
LATEST_EVERY_TICK_UP_TO = 500
"""A book of at most this many accounts has its whole latest view rewritten every tick."""
LATEST_CYCLE_TICKS = 60
"""A larger book's steady accounts are rewritten in slices, all of them every this many ticks
(a minute at one tick per second); the accounts the rules judge are rewritten every tick."""


def _log_latest_failure(chain: str, task: asyncio.Future[object]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("chain %s: latest view not persisted (next tick retries): %s", chain, exc)


@dataclass(frozen=True, slots=True)
class Routed:
    """What the routing table says of one account: its lenses with their policies (the
    primary first) and the most sensitive policy among them (``RouteTable.thresholds``)."""

    lenses: tuple[tuple[Lens, Policy], ...]
    keen: Policy


class Monitor:
    """Runs passes over the configured chains and delivers the resulting alerts."""

    def __init__(
        self,
        cfg: Config,
        engine: Engine,
        notifiers: Mapping[str, Notifier],
        *,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cfg, self.engine, self.notifiers = cfg, engine, notifiers
        self.groups = by_chain(cfg)
        self.channels = channels_for(cfg.channels)
        self.clock, self.monotonic = clock, monotonic
        self._wallets: dict[str, WalletConfig] = {w.address.lower(): w for w in cfg.wallets}
        self._routed: dict[tuple[str, str, str], Routed] = {}
        self._bases: dict[tuple[str, str | None], Thresholds] = {}
        self._heads: dict[int, tuple[int, float]] = {}
        # (chain id, protocol) → asset → USD at the last tick: an alert's "moved since".
        self._previous_prices: dict[tuple[int, str], dict[str, float]] = {}
        self._heartbeats = {(p.chain, p.name): p.price_heartbeat_s for p in cfg.protocols}
        watched = [w.address for w in cfg.wallets]
        self._watched = tuple(a.lower() for a in watched)
        self.runtimes = {
            g.chain.name: ChainRuntime(g, engine, watched=watched) for g in self.groups
        }
        self._seen: dict[int, Hashable] = {}
        # The stored alert state of every account this worker stepped since it took its chain
        # (``apply_rules`` fills it): an account whose level is known can be screened steady,
        # and the rules need not load its state again.
        self._known_states: dict[int, AlertState] = {}
        self._bounds: dict[tuple[str, str], tuple[Book, RouteTable, LevelBounds, Bools]] = {}
        self._latest_cursor: dict[str, int] = {}
        self.worker = worker_name()
        self._holding: set[str] = set()
        self._tick_started: dict[str, float] = {}  # chain → monotonic time its last tick began
        self._pacers = {g.chain.name: HeadPacer(g.chain.block_time) for g in self.groups}
        self._unserved: set[str] = set()  # outbox channels with no notifier, said once each
        self._pace_warned: set[str] = set()  # chains whose block_time was found wrong (logged)
        self._chain_problems: dict[str, str] = {}
        # Per chain: accounts of event-less venues inferred liquidated (``_infer_liquidations``)
        # and not yet recorded, as last held.
        self._breached: dict[str, dict[int, MarginAccount]] = {}
        # Per chain: accounts inferred partially liquidated (still open) and not yet recorded.
        self._partials: dict[str, dict[int, PartialLiquidation]] = {}
        # Per chain: the lowest block a liquidation not yet alerted can be stored at, once a
        # tick's rules committed (``newly_liquidated``'s ``since_block``); unset, it looks at
        # every account that ever ended (after a start or a takeover: what happened meanwhile).
        self._ended_since: dict[str, int] = {}
        # Chain alerts (``monitor.alerts.chain``): the stored state of each chain this worker
        # holds, so that a tick on a healthy chain costs no database round trip.
        self.chain_policy = ChainPolicy(
            cfg.alerts.chain_outage_after_s, cfg.alerts.chain_recovery_after_s
        )
        self._chain_states: dict[str, ChainState] = {}
        self.last_ticks: dict[str, TickSummary] = {}
        self.tick_listeners: list[Callable[[str, TickSummary, float], None]] = []
        """Called after each scheduled tick with the chain, its summary and its seconds."""
        # Volatility hook (issue 16): one price window per (chain, protocol, asset).
        self._volatility = MarketVolatility(cfg.alerts.sigma_horizon_s, cfg.alerts.sigma_window_s)
        # Subscriptions (monitor.subscriptions): who hears about which account, reloaded per
        # tick so that a chat's /watch or /threshold applies at the next block.
        self._fixed = tuple(c for c in self.channels if c == "console")
        self.routes = RouteTable(self._fixed)
        self._seeded = False
        self.paced = paced_telegram(cfg, engine, notifiers)
        self.latest_prices: dict[tuple[int, str], dict[str, float]] = {}
        """(chain id, protocol) → asset → USD at the last tick (the bot's /status)."""
        # Latest prices and healths for readers in other processes (``perpwatch serve``).
        self.latest = {g.chain.name: LatestWriter(engine) for g in self.groups}
        self._latest_tasks: dict[str, asyncio.Future[Written]] = {}
        # Per chain, the views of ticks that ended while the last write still ran, by account,
        # each with the block it was computed at.
        self._latest_waiting: dict[str, dict[int, tuple[AccountView, int]]] = {}

    async def _widen_scope(self, group: ChainProtocols) -> None:
        """Seed the config's subscribers once, then reload the routing table and the API's
        watch list (``monitor.watchlist``): the wallets either names are watched wallets and
        join every wallets-only scope. When they change, the chain's book is re-read whole at
        this tick (a wallet new to the scope is in no in-memory book yet)."""
        if not self._seeded:
            await asyncio.to_thread(seed_from_config, self.engine, self.cfg)
            self._seeded = True
        routes = await asyncio.to_thread(load_routes, self.engine, self._fixed)
        if routes != self.routes:
            self.routes, self._routed = routes, {}
            await asyncio.to_thread(close_gone_lenses, self.engine, self._lens_keys)
        listed = await asyncio.to_thread(watched_wallets, self.engine)
        extra = frozenset(routes.watches) | {w.address for w in listed}
        runtime = self.runtimes[group.chain.name]
        scopes = tuple(None if s is None else s | extra for s in group.scopes)
        if scopes != runtime.group.scopes:
            runtime.group = replace(group, scopes=scopes)
            runtime.watched = tuple(sorted({*self._watched, *extra}))
            runtime.forget()

    def route(self, account: MarginAccount, level: Level, lens: str) -> list[str]:
        """The channels of one alert decided in ``account``'s ``lens`` (by key; see
        ``monitor.subscriptions.routing``): none when no watcher has that lens any more."""
        found = next((it for it, _ in self._routing(account).lenses if it.key == lens), None)
        return [] if found is None else self.routes.channels(level, self.clock().hour, found)

    def policy_for(self, account: MarginAccount) -> Policy:
        """Thresholds for an account's primary lens: per wallet, else per protocol, else
        global."""
        return self._routing(account).lenses[0][1]

    def keen_policy_for(self, account: MarginAccount) -> Policy:
        """The most sensitive thresholds among the account's lenses (``RouteTable.thresholds``):
        what its screen, re-reads and polls follow."""
        return self._routing(account).keen

    def lenses_for(self, account: MarginAccount) -> list[tuple[str, Policy]]:
        """The key and policy of each of ``account``'s secondary lenses (most have none)."""
        return [(lens.key, policy) for lens, policy in self._routing(account).lenses[1:]]

    def _lens_keys(self, account: MarginAccount) -> set[str]:
        return {lens.key for lens, _ in self._routing(account).lenses}

    def _routing(self, account: MarginAccount) -> Routed:
        """``account``'s lenses and most sensitive policy, built once per account and routing
        table (a crash routes thousands of alerts)."""
        # Keyed by the owner as given (lower-cased only to build): the rules ask three times
        # per account, ten thousand accounts in a crash.
        key = (account.protocol, account.owner, account.ref)
        found = self._routed.get(key)
        if found is None:
            base = self._base(account.protocol, account.owner.lower())
            lenses = self.routes.lenses(account, base)
            found = self._routed[key] = Routed(
                tuple((it, policy_of(it.thresholds)) for it in lenses),
                policy_of(self.routes.thresholds(account, base)),
            )
        return found

    def _base(self, protocol: str, owner: str) -> Thresholds:
        """The config's thresholds for ``owner``'s accounts on ``protocol``, built once per
        protocol (and per configured wallet): a crash routes thousands of alerts, and merging
        the overrides for each was about half of routing's time."""
        wallet = self._wallets.get(owner)
        key = (protocol, owner if wallet is not None else None)
        base = self._bases.get(key)
        if base is None:
            base = self._bases[key] = self.cfg.alerts.for_account(protocol, wallet)
        return base

    async def tick(self, group: ChainProtocols, head: int | None = None) -> TickSummary:
        """One pass over ``group``'s chain; alerts are recorded with the states that caused
        them (delivery is separate, see :meth:`deliver`). The whole book is valued; only the
        accounts that are not steady (:meth:`_judged`) and whose rule inputs changed since
        their last step (:meth:`_changed`) are stepped. ``head``: the node's head as just read
        (:meth:`tick_when_moved`); by default the tick asks."""
        runtime = self.runtimes[group.chain.name]
        if not await self._hold(group):
            self.last_ticks[group.chain.name] = TickSummary(
                group.chain.name, -1, 0, 0, 0, (), leased=False
            )
            return self.last_ticks[group.chain.name]
        await self._widen_scope(group)
        phases = Phases()
        sync = await runtime.sync(head)
        phases.mark("read", split=[("behind", sync.behind_s), ("scan", sync.scan_s)])
        live = await runtime.book(sync)
        self._infer_liquidations(group, runtime.lost, sync.prices)
        ticks = [value_book(p, *live.compiled(p), sync.prices.get(p, {})) for p in live.protocols()]
        runtime.urgent = frozenset(
            t.book.accounts[i].owner.lower()
            for t in ticks
            if t.protocol in group.eventless
            for i in np.flatnonzero(t.result.health <= LIQUIDATABLE_AT).tolist()
        )
        phases.mark("value")
        for protocol, prices in sync.prices.items():
            self.latest_prices[(sync.chain_id, protocol)] = prices
        now = self.clock()
        sigmas = self._observe_prices(sync)
        partials = self._partials.setdefault(group.chain.name, {})
        views, held_at_risk, runtime.warm = self._judged(
            group.chain, sync, ticks, sigmas, now, partials
        )
        latest = views + self._latest_slice(group.chain.name, ticks, views)
        phases.mark("judge")
        stalled = self._head_stalled(group.chain, sync.block)
        if stalled is not None:
            # The node serves an old state: no account can be judged, the chain alerts once.
            self._persist_latest(group.chain.name, sync, latest)
            read = unreadable(stalled, sync.block)
            return await self._unreadable(
                group, read, live.accounts(), sync.block, slowest_request_s=sync.slowest_request_s
            )
        chain_alerts = await self._step_chain(group, readable(sync.block), live.accounts)
        phases.mark("rules")
        # Per (protocol, assets), not per account: the same few answers for the whole book.
        freshness = functools.cache(
            lambda protocol, assets: self._freshness(group.chain, protocol, assets, sync)
        )
        observations = [
            Observation(
                v.account_id,
                v.account,
                v.health,
                sync.block,
                previous_marks=self._previous_prices.get((sync.chain_id, v.account.protocol)),
                prices=freshness(v.account.protocol, v.account.assets),
                marks_usd=sync.prices.get(v.account.protocol),
                sigmas=sigmas.get(v.account.protocol),
                partial=partials.get(v.account_id),
            )
            for v in views
        ]
        # Only protocols without events poll their wallets (``ChainRuntime._due``), so only
        # their accounts are worth judging here (a whole GMX book is not). A steady account
        # at critical or worse was not judged, but is at risk all the same.
        eventless = group.eventless
        runtime.at_risk = frozenset(
            o.account.owner.lower()
            for o in observations
            if o.account.protocol in eventless and at_risk(o, self.keen_policy_for(o.account))
        ) | {owner for protocol, owner in held_at_risk if protocol in eventless}
        breached = self._breached.setdefault(group.chain.name, {})
        ended = await asyncio.to_thread(
            newly_liquidated, self.engine, group.chain.chain_id, eventless, set(breached),
            since_block=self._ended_since.get(group.chain.name),
        )  # fmt: skip
        # A cross account whose positions a liquidation closed keeps its balance: it is still
        # open (so not among ``ended``), and liquidated all the same, as it was last held.
        ended_ids = {account_id for account_id, _ in ended}
        ended += [(i, a) for i, a in breached.items() if i not in ended_ids]
        ended = [(i, a) for i, a in ended if in_scope(sync.scopes, a)]
        # Its fresh reading this tick (a balance, no position) would first close the episode
        # as recovered; the liquidation is the news, and the next tick reads it afresh.
        liquidated_ids = {account_id for account_id, _ in ended}
        observations = [o for o in observations if o.account_id not in liquidated_ids]
        observations += [
            Observation(account_id, account, None, sync.block, liquidated=True)
            for account_id, account in ended
        ]
        stepped, reports = self._changed(observations, now)
        phases.mark("judge")
        try:
            decided = await asyncio.to_thread(
                apply_rules,
                self.engine,
                stepped,
                self.policy_for,
                self.route,
                now,
                self._known_states,
                reports,
                self.lenses_for,
            )
        except BaseException:
            for obs in stepped:  # not recorded: step them again next tick
                self._seen.pop(obs.account_id, None)
            raise
        breached.clear()  # recorded (or out of scope): inferred once
        partials.clear()
        # Every end stored so far is at or below this block and now alerted; later ones are
        # stored at a later tick's block, or a reorg's re-read, never deeper than the window.
        self._ended_since[group.chain.name] = sync.block - ScanSettings().reorg_window
        phases.mark("rules")
        for protocol, prices in sync.prices.items():
            marks = self._previous_prices.setdefault((sync.chain_id, protocol), {})
            marks.update((a, p) for a, p in prices.items() if math.isfinite(p) and p > 0.0)
        summary = TickSummary(
            chain=group.chain.name,
            block=sync.block,
            logs=sync.logs,
            accounts=sum(len(t) for t in ticks),
            unknown=sum(int(t.unknown.sum()) for t in ticks),
            alerts=tuple(decided),
            stepped=len(stepped),
            chain_alerts=tuple(chain_alerts),
            phase_s=phases.seconds,
            slowest_request_s=sync.slowest_request_s,
        )
        await asyncio.to_thread(
            record_tick, self.engine, group.chain.chain_id, summary, self.clock(), self.worker
        )
        phases.mark("record")  # the summary holds the dict: it sees the phases after it too
        self.last_ticks[group.chain.name] = summary
        # Now that the alerts are in: the latest view (for ``serve``'s readers) and the reads
        # behind the tick (slices, confirmations), each beside the time between ticks.
        self._persist_latest(group.chain.name, sync, latest)
        phases.mark("latest")
        runtime.read_behind()
        return summary

    def _infer_liquidations(
        self, group: ChainProtocols, lost: list[Lost], marks: Mapping[str, Mapping[str, float]]
    ) -> None:
        """Event-less venues tell no liquidation: of the accounts that lost positions in this
        tick's read, remember those its marks put at or below maintenance
        (``monitor.alerts.inference``) until a tick records them: liquidated, or partially
        liquidated when the account keeps a position. The loss is seen once, in the read that
        found it; a tick that fails after it must not forget it."""
        eventless = group.eventless
        candidates = {x.account_id: x for x in lost if x.was.protocol in eventless}
        if not candidates:
            return
        gone = [(i, x.was) for i, x in candidates.items()]
        breached = self._breached.setdefault(group.chain.name, {})
        partials = self._partials.setdefault(group.chain.name, {})
        for account_id in liquidated_when_gone(gone, marks):
            was, now = candidates[account_id].was, candidates[account_id].now
            if now is None or not now.positions:
                breached[account_id] = was
                continue
            # A cut not yet told (its tick failed) is told with this one, from what was held.
            told = partials.get(account_id)
            was = told.was if told is not None else was
            closed = describe_cut(was, now)
            if closed is not None:
                partials[account_id] = PartialLiquidation(was, closed, self.clock())

    async def _hold(self, group: ChainProtocols) -> bool:
        """Take or renew this worker's lease on the chain. Taking a chain over (or back)
        starts from the database, not from this process's memory of its last tick there."""
        ttl_s = lease_ttl_s(group.chain.block_time)
        held = await asyncio.to_thread(
            acquire_lease, self.engine, group.chain.chain_id, self.worker, self.clock(), ttl_s
        )
        name = group.chain.name
        if held and name not in self._holding:
            self.runtimes[name].forget()
            self.latest[name].forget()
            self._latest_waiting.pop(name, None)  # views from before another worker's
            self._chain_states.pop(name, None)
            self._ended_since.pop(name, None)
            self._partials.pop(name, None)  # told by whoever held it, or lost with its read
            self._seen.clear()
            self._known_states.clear()
            self._holding.add(name)
        elif not held and name in self._holding:
            self.runtimes[name].forget()  # nothing of its must land after another worker's
            self._latest_waiting.pop(name, None)
            self._holding.discard(name)
        return held

    def _persist_latest(self, chain: str, sync: ChainSync, views: list[AccountView]) -> None:
        """Start writing the chain's latest view in a worker thread, once the tick's alerts
        are recorded, without waiting for it: while the previous write of the chain still
        runs, the views wait, and the next write takes them with its own (the newer view of
        an account wins; :meth:`flush_latest` waits for the writes). On SQLite it takes its
        turn with the other writers of the file (``write_transaction``). Written inside the
        tick, before the rules, a crash's 20,000 changed healths held its alerts back by
        80-170 ms."""
        waiting = self._latest_waiting.setdefault(chain, {})
        waiting.update((v.account_id, (v, sync.block)) for v in views)
        running = self._latest_tasks.get(chain)
        if running is not None and not running.done():
            return
        healths = [(v.account_id, v.account, v.health) for v, _ in waiting.values()]
        earlier = {i: block for i, (_, block) in waiting.items() if block != sync.block}
        waiting.clear()
        write = functools.partial(
            self.latest[chain].write, sync.chain_id, sync.block, sync.prices,
            sync.price_updated_at, healths, self.clock(), earlier,
        )  # fmt: skip
        task = asyncio.ensure_future(asyncio.to_thread(write))
        task.add_done_callback(functools.partial(_log_latest_failure, chain))
        self._latest_tasks[chain] = task

    async def flush_latest(self) -> None:
        """Wait until every started write of the latest view is done."""
        pending = [t for t in self._latest_tasks.values() if not t.done()]
        await asyncio.gather(*pending, return_exceptions=True)

    def _judged(
        self,
        chain: ChainConfig,
        sync: ChainSync,
        ticks: list[ProtocolTick],
        sigmas: Mapping[str, Sigmas],
        now: datetime,
        forced: Collection[int] = (),
    ) -> tuple[list[AccountView], set[tuple[str, str]], dict[str, frozenset[str]]]:
        """The accounts whose alert rules must run this tick: all but the steady ones
        (``monitor.alerts.screen``: their stored level stands and nothing above it fires) or
        those ``forced`` (ids: a partial liquidation to tell), as
        views; (protocol, owner) of the steady accounts at critical or worse (at risk without
        being judged: an event-less protocol polls them every tick); and per protocol the
        owners of an account not far from a warning (``far_from_warning``), whose drift the
        runtime's whole-book re-read bounds more tightly than everyone else's."""
        views: list[AccountView] = []
        held_at_risk: set[tuple[str, str]] = set()
        warm: dict[str, frozenset[str]] = {}
        for tick in ticks:
            if not len(tick):
                continue
            ids = tick.ids.tolist()
            ranks = ladder_ranks(self._known_states, ids)
            found = sigmas.get(tick.protocol)
            moves = Moves.of(tick, found.by_asset if found is not None else {})
            bounds, lensed = self._level_bounds(chain.name, tick)
            stale = self._stale_assets(chain, tick.protocol, sync, now)
            steady = steady_accounts(tick, bounds, ranks, moves, stale) & ~lensed
            if forced:
                steady &= ~np.isin(tick.ids, list(forced))
            views += tick.views(np.flatnonzero(~steady).tolist())
            risky = np.flatnonzero(steady & (ranks >= ladder_rank(Level.CRITICAL))).tolist()
            held_at_risk.update((tick.protocol, tick.book.accounts[i].owner.lower()) for i in risky)
            near = np.flatnonzero(~far_from_warning(tick, bounds, moves, COLD_MARGIN)).tolist()
            warm[tick.protocol] = frozenset(tick.book.accounts[i].owner.lower() for i in near)
        return views, held_at_risk, warm

    def _level_bounds(self, chain: str, tick: ProtocolTick) -> tuple[LevelBounds, Bools]:
        """Each account's screen bounds (by its most sensitive thresholds: they say how near a
        warning it is too), and whether it has secondary lenses (those are never screened
        steady: the screen ranks the primary's level alone, and with one lens the two
        policies are one); rebuilt when the book or the routing table changes."""
        cached = self._bounds.get((chain, tick.protocol))
        if cached is not None and cached[0] is tick.book and cached[1] is self.routes:
            return cached[2], cached[3]
        accounts = tick.book.accounts
        bounds = LevelBounds.of([self.keen_policy_for(a) for a in accounts])
        tailored = self.routes.tailored
        lensed = np.zeros(len(accounts), dtype=bool)
        if tailored is None or tailored:  # (most books: no watcher has thresholds of its own)
            lensed[:] = [
                (tailored is None or a.owner.lower() in tailored)
                and len(self._routing(a).lenses) > 1
                for a in accounts
            ]
        self._bounds[chain, tick.protocol] = (tick.book, self.routes, bounds, lensed)
        return bounds, lensed

    def _stale_assets(
        self, chain: ChainConfig, protocol: str, sync: ChainSync, now: datetime
    ) -> set[str]:
        """``protocol``'s assets whose price is older than its heartbeat at ``now`` (as
        ``Report.staleness`` judges an account holding one)."""
        return {
            f.asset
            for f in self._freshness(chain, protocol, sync.price_updated_at.get(protocol, {}), sync)
            if (now - f.updated_at).total_seconds() > f.heartbeat_s
        }

    def _latest_slice(
        self, chain: str, ticks: list[ProtocolTick], judged: list[AccountView]
    ) -> list[AccountView]:
        """Steady accounts whose latest view is rewritten this tick: all of a small book, else a
        slice turning over the book every ``LATEST_CYCLE_TICKS`` ticks (judged accounts are
        written every tick)."""
        done = {v.account_id for v in judged}
        cursor, out = self._latest_cursor.get(chain, 0), []
        take = 0
        for tick in ticks:
            n = len(tick)
            take = n if n <= LATEST_EVERY_TICK_UP_TO else math.ceil(n / LATEST_CYCLE_TICKS)
            picks = range(n) if n <= take else [(cursor + j) % n for j in range(take)]
            ids = tick.ids.tolist()
            out += tick.views([i for i in picks if ids[i] not in done])
        self._latest_cursor[chain] = cursor + take
        return out

    def _changed(
        self, observations: list[Observation], now: datetime
    ) -> tuple[list[Observation], list[Report]]:
        """The observations whose rule inputs differ from that account's last step, and their
        reports (for ``apply_rules``, which would build them again). The rules are a pure
        function of those inputs and the account's lenses (``now`` enters only through price
        freshness, which is part of the key), so stepping an unchanged account again decides
        nothing."""
        changed, reports = [], []
        for obs in observations:
            inputs = rule_inputs(obs, now)
            # A chat's new thresholds: a new lens.
            key = (inputs, self._routing(obs.account).lenses)
            told = obs.liquidated or obs.partial is not None  # an event: stepped every time
            if told or self._seen.get(obs.account_id) != key:
                self._seen[obs.account_id] = key
                changed.append(obs)
                reports.append(inputs[0])
        return changed, reports

    async def checkpoint(self) -> None:
        """On SQLite, checkpoint the write-ahead log off the tick path (``checkpoint_wal``);
        ``perpwatch run`` does so every ``CHECKPOINT_INTERVAL_S``."""
        await asyncio.to_thread(checkpoint_wal, self.engine)

    async def status_line(self) -> str:
        """One line for operators: each chain's last tick, and alerts waiting for delivery."""
        pending = await asyncio.to_thread(pending_count, self.engine)
        return format_status([g.chain.name for g in self.groups], self.last_ticks, pending)

    async def tick_when_moved(self, group: ChainProtocols) -> TickSummary | None:
        """:meth:`tick_or_unknown` as soon as the chain's head has moved past the last tick's,
        else None; ``perpwatch run`` calls this every ``poll_step_s`` (a twentieth of a block
        time, at least 25 ms).

        Where the chain has a ``ws_url``, the node pushes its heads (``ChainRuntime.pushed_head``)
        and none is asked. Otherwise, or while the subscription is down or silent, the head is
        asked only when the chain's :class:`HeadPacer` says a block is due, so a tick starts
        within a step of its block at a few ``eth_blockNumber`` per block.
        The tick reuses the head the poll read instead of reading it again (once for all the
        chain's scanners). Without a move the chain is still ticked once per
        ``QUIET_TICK_BLOCKS`` block times (a stalled head is news, and ticks renew the lease);
        not at once, so that a block a little late is ticked when it comes, not after a tick
        of the old head. A chain this worker does not hold, or whose node is unreadable, is
        not polled but ticked once per block time (a lease attempt, a retry of the node).
        """
        name = group.chain.name
        now, last = self.monotonic(), self._tick_started.get(name)
        healthy = name in self._holding and name not in self._chain_problems
        quiet_s = group.chain.block_time * (QUIET_TICK_BLOCKS if healthy else 1)
        if last is None or now - last >= quiet_s:
            return await self.tick_or_unknown(group)
        if not healthy:
            return None
        runtime = self.runtimes[name]
        head = runtime.pushed_head()
        if head is None:  # no subscription, or not one to trust now: poll when a block is due
            if not self._pacers[name].due(now):
                return None
            try:
                head = await runtime.head()
            except NODE_UNREADABLE as exc:
                # Its retries are spent: the chain is unreadable now. A tick would ask again,
                # with the endpoint's cooldowns grown by these failures, and took 45 s to
                # say so at 1 s blocks.
                return await self.tick_or_unknown(group, failed=exc)
        self._saw_head(group.chain, head, now)
        if head == runtime.synced_head:
            return None
        return await self.tick_or_unknown(group, head)

    def _saw_head(self, chain: ChainConfig, head: int, at: float) -> None:
        """Tell the chain's pacer its head; once per process, say so when the chain's blocks
        come far from its ``block_time``: the polls are paced by it, so a chain faster than
        configured is ticked blocks late, and a slower one polled many times per block."""
        pacer = self._pacers[chain.name]
        new = head != pacer.head
        pacer.saw(head, at)
        if not new or chain.name in self._pace_warned:
            return  # the measure changes with a new head only; once said, it is not taken again
        observed_s = pacer.block_time_mismatch()
        if observed_s is not None:
            self._pace_warned.add(chain.name)
            log.warning(
                "chain %s: a block every %.3g s, but block_time is %g s; set chains.block_time "
                "to the chain's (the head is polled when a block is due by it)",
                chain.name, observed_s, chain.block_time,
            )  # fmt: skip

    async def tick_or_unknown(
        self, group: ChainProtocols, head: int | None = None, *, failed: Exception | None = None
    ) -> TickSummary:
        """:meth:`_tick_or_unknown`, timed for the ``tick_listeners`` (``monitor.metrics``)."""
        started = time.perf_counter()
        name = group.chain.name
        self._tick_started[name] = began = self.monotonic()
        summary = await self._tick_or_unknown(group, head, failed)
        if (synced := self.runtimes[name].synced_head) >= 0:
            self._saw_head(group.chain, synced, began)  # a tick that read the head itself
        for listener in self.tick_listeners:
            listener(group.chain.name, summary, time.perf_counter() - started)
        return summary

    async def _tick_or_unknown(
        self, group: ChainProtocols, head: int | None, failed: Exception | None = None
    ) -> TickSummary:
        """:meth:`tick`, or when the chain cannot be read at all (every RPC URL failing after
        its retries, or ``failed``: how the caller's own read of it just failed), the chain
        unreadable: one chain alert (``monitor.alerts.chain``), its accounts counted unknown,
        none alerted one by one; never silently safe.
        """
        name, started = group.chain.name, self.clock()
        if failed is None:
            try:
                summary = await self.tick(group, head)
            except NODE_UNREADABLE as exc:
                failed = exc
            else:
                if self._chain_problems.pop(name, None) is not None:
                    log.warning("chain %s readable again", name)
                return summary
        # A wrong chain id or a node that is down: one log line when it starts, not a
        # traceback per tick (a new cause while it lasts, at info: the next tick fails on a
        # reconnect, not on the request that failed first); the tick retries at its interval.
        problem = f"chain {name} unreadable: {failed}"
        was = self._chain_problems.get(name)
        if was is None:
            log.error("%s", problem)
        elif was != problem:
            log.info("chain %s still unreadable: %s", name, failed)
        self._chain_problems[name] = problem
        runtime = self.runtimes[name]
        waited_s = runtime.take_slowest_request_s()  # a node timing out is the news here
        await runtime.close()  # reconnect (and re-check) next tick
        accounts = await asyncio.to_thread(self._in_scope_accounts, group)
        block = self._heads.get(group.chain.chain_id, (0, 0.0))[0]
        block = block or max((a.block_number for a in accounts), default=0)
        read = unreadable(str(failed), block)
        return await self._unreadable(
            group, read, accounts, block, at=started, slowest_request_s=waited_s
        )

    async def close(self) -> None:
        """Close every chain's node client and hand its chains to other workers at once."""
        await self.flush_latest()
        for runtime in self.runtimes.values():
            await runtime.close()
        await asyncio.to_thread(release_leases, self.engine, self.worker)

    def _in_scope_accounts(self, group: ChainProtocols) -> list[MarginAccount]:
        """The chain's stored open accounts in the monitor's scope (no node needed)."""
        scopes = group.scope_by_protocol
        found = load_accounts(self.engine, chain_id=group.chain.chain_id)
        return [a for _, a in found if in_scope(scopes, a)]

    async def _unreadable(
        self,
        group: ChainProtocols,
        read: ChainRead,
        accounts: list[MarginAccount],
        block: int,
        *,
        at: datetime | None = None,
        slowest_request_s: float = 0.0,
    ) -> TickSummary:
        """A tick that could not judge the chain's accounts: the chain alert only. ``at``: when
        the tick began (a failed read is dated from its first attempt, not its last retry)."""
        chain_alerts = await self._step_chain(group, read, lambda: accounts, at=at)
        summary = TickSummary(
            group.chain.name, block, 0, len(accounts), len(accounts), (),
            chain_alerts=tuple(chain_alerts), unreadable=read.reason,
            slowest_request_s=slowest_request_s,
        )  # fmt: skip
        self.last_ticks[group.chain.name] = summary
        return summary

    async def _step_chain(
        self,
        group: ChainProtocols,
        read: ChainRead,
        accounts: Callable[[], list[MarginAccount]],
        *,
        at: datetime | None = None,
    ) -> list[ChainDecided]:
        """Step the chain's alert state by this tick's ``read`` (at ``at``, default now); the
        database only when the state changes (or is not known yet here). ``accounts`` lists
        the chain's accounts in scope, asked for only then."""
        name, now = group.chain.name, at or self.clock()
        known = self._chain_states.get(name)
        if known is not None:
            new, decisions = step_chain(known, read, self.chain_policy, now)
            if new == known and not decisions:
                return []
        in_scope_now = accounts()
        subject = ChainSubject(
            group.chain.chain_id, name, len(in_scope_now), self.routes.chain_channels(in_scope_now)
        )
        state, decided = await asyncio.to_thread(
            record_chain_read, self.engine, subject, read, self.chain_policy, now
        )
        self._chain_states[name] = state
        return decided

    async def tick_all(self) -> list[TickSummary]:
        """Tick every chain once, then wait for their latest views (demo and tests)."""
        summaries = [await self.tick(group) for group in self.groups]
        await self.flush_latest()
        return summaries

    async def deliver(self) -> DeliveryReport:
        """Send every due outbox message once (retries wait for their backoff); Telegram, when
        paced, as much as its limits allow now (``monitor.delivery.paced``)."""
        skip = ("telegram",) if self.paced is not None else ()
        report = await deliver_once(
            self.engine, self.notifiers, self.clock(), skip=skip, unserved=self._unserved
        )
        if self.paced is not None:
            paced, _ = await self.paced.deliver(self.clock())
            report.add(paced)
        return report

    def _freshness(
        self, chain: ChainConfig, protocol: str, assets: Iterable[str], sync: ChainSync
    ) -> tuple[PriceFreshness, ...]:
        """When each price an account of ``protocol`` holding ``assets`` was valued with was
        updated, where the source says."""
        updated = sync.price_updated_at.get(protocol, {})
        # Every configured protocol has a heartbeat (the options default it), and adapters are
        # named as their config (``indexer.registry.adapter_for``): a miss is a bug, not "fresh".
        heartbeat_s = self._heartbeats[chain.name, protocol]
        return tuple(
            PriceFreshness(asset, datetime.fromtimestamp(updated[asset], UTC), heartbeat_s)
            for asset in sorted(assets)
            if asset in updated
        )

    def _observe_prices(self, sync: ChainSync) -> dict[str, Sigmas]:
        """Volatility hook: record this tick's prices (at the monitor's clock) and return each
        protocol's σ per asset, for the σ alert triggers (``monitor.health.volatility``)."""
        now_s = self.clock().timestamp()
        return {
            protocol: self._volatility.observe((sync.chain_id, protocol), prices, now_s)
            for protocol, prices in sync.prices.items()
        }

    def _head_stalled(self, chain: ChainConfig, block: int) -> str | None:
        """Why the head counts as stalled (it has not moved for ``stall_after_blocks`` block
        times), None while it moves."""
        now = self.monotonic()
        seen = self._heads.get(chain.chain_id)
        if seen is None or block > seen[0]:
            self._heads[chain.chain_id] = (block, now)
            return None
        if now - seen[1] <= chain.stall_after_blocks * chain.block_time:
            return None
        # Worded without the time waited so far: the same stall keeps the same cause.
        times = chain.stall_after_blocks
        return f"node head stalled at block {block} (no new block for {times} block times)"
