"""The monitor's unit of work: one pass over a chain, then alert delivery.

    monitor = Monitor(cfg, engine, notifiers)
    summary = await monitor.tick(group)          # index → refresh → prices → health → rules
    report = await monitor.deliver()             # outbox → Telegram / webhook / console

``perpwatch run`` schedules these (``monitor.runtime.scheduler``); ``perpwatch demo`` calls them
between scripted price moves. Either way it is the same code.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from sqlalchemy.engine import Engine

from indexer.config.loader import Config
from indexer.config.sections import ChainConfig, WalletConfig
from indexer.errors import RetryableError
from indexer.models import MarginAccount
from indexer.scan.runner import open_rpc
from indexer.store.accounts import load_accounts
from indexer.store.columns import utcnow
from monitor.alerts.apply import Decided, Observation, apply_rules, newly_liquidated
from monitor.alerts.rules import Policy, PriceFreshness
from monitor.delivery.worker import DeliveryReport, Notifier, deliver_once
from monitor.health.volatility import MarketVolatility, Sigmas
from monitor.notify.channels import channels_for
from monitor.runtime.chain_pass import ChainProtocols, ChainSync, by_chain, evaluate, sync_chain

log = logging.getLogger("perpwatch.monitor")


@dataclass(frozen=True, slots=True)
class TickSummary:
    """What one pass over a chain did."""

    chain: str
    block: int
    logs: int
    accounts: int
    unknown: int
    alerts: tuple[Decided, ...]


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
        self._policies: dict[tuple[str, str], Policy] = {}
        self._heads: dict[int, tuple[int, float]] = {}
        self._marks: dict[int, dict[str, float]] = {}
        self._heartbeats = {(p.chain, p.name): p.price_heartbeat_s for p in cfg.protocols}
        # Volatility hook (issue 16): one price window per (chain, protocol, asset).
        self._volatility = MarketVolatility(cfg.alerts.sigma_horizon_s, cfg.alerts.sigma_window_s)

    def policy_for(self, account: MarginAccount) -> Policy:
        """Thresholds for an account: per wallet, else per protocol, else global."""
        key = (account.protocol, account.owner.lower())
        policy = self._policies.get(key)
        if policy is None:
            wallet = self._wallets.get(account.owner.lower())
            policy = Policy.from_thresholds(self.cfg.alerts.for_account(account.protocol, wallet))
            self._policies[key] = policy
        return policy

    async def tick(self, group: ChainProtocols) -> TickSummary:
        """One pass over ``group``'s chain; alerts are recorded with the states that caused
        them (delivery is separate, see :meth:`deliver`)."""
        watched = [w.address for w in self.cfg.wallets]
        async with open_rpc(group.chain) as rpc:
            sync = await sync_chain(rpc, self.engine, group, watched)
        stalled = self._head_stalled(group.chain, sync.block)
        sigmas = self._observe_prices(sync)
        observations = [
            Observation(
                v.account_id,
                v.account,
                v.health,
                sync.block,
                head_stalled=stalled,
                previous_marks=self._marks.get(v.account_id),
                prices=self._freshness(group.chain, v.account, sync),
                marks_usd=sync.prices.get(v.account.protocol),
                sigmas=sigmas.get(v.account.protocol),
            )
            for v in evaluate(self.engine, [sync])
        ]
        eventless = [a.name for a in group.adapters if a.log_source() is None]
        observations += [
            Observation(account_id, account, None, sync.block, liquidated=True)
            for account_id, account in newly_liquidated(
                self.engine, group.chain.chain_id, eventless
            )
        ]
        decided = apply_rules(
            self.engine, observations, self.policy_for, self.channels, self.clock()
        )
        for obs in observations:
            if obs.health is not None and obs.health.known:  # a bad price is no mark
                self._marks[obs.account_id] = {p.asset: p.mark_price for p in obs.health.positions}
        return TickSummary(
            chain=group.chain.name,
            block=sync.block,
            logs=sync.logs,
            accounts=sum(not o.liquidated for o in observations),
            unknown=sum(
                (o.health is None or not o.health.known) and not o.liquidated for o in observations
            ),
            alerts=tuple(decided),
        )

    async def tick_or_unknown(self, group: ChainProtocols) -> TickSummary:
        """:meth:`tick`, or when the chain cannot be read at all (every RPC URL failing after
        its retries), every open account of the chain reported unknown: never silently safe.
        """
        try:
            return await self.tick(group)
        except (RetryableError, httpx.HTTPError, OSError) as exc:
            log.error("chain %s unreadable: %s", group.chain.name, exc)
            return self._all_unknown(group)

    def _all_unknown(self, group: ChainProtocols) -> TickSummary:
        accounts = load_accounts(self.engine, chain_id=group.chain.chain_id)
        block = max((a.block_number for _, a in accounts), default=0)
        observations = [
            Observation(account_id, account, None, block, head_stalled=True)
            for account_id, account in accounts
        ]
        decided = apply_rules(
            self.engine, observations, self.policy_for, self.channels, self.clock()
        )
        return TickSummary(group.chain.name, block, 0, len(accounts), len(accounts), tuple(decided))

    async def tick_all(self) -> list[TickSummary]:
        return [await self.tick(group) for group in self.groups]

    async def deliver(self) -> DeliveryReport:
        """Send every due outbox message once (retries wait for their backoff)."""
        return await deliver_once(self.engine, self.notifiers, self.clock())

    def _freshness(
        self, chain: ChainConfig, account: MarginAccount, sync: ChainSync
    ) -> tuple[PriceFreshness, ...]:
        """When each price the account was valued with was updated, where the source says."""
        updated = sync.price_updated_at.get(account.protocol, {})
        # Every configured protocol has a heartbeat (the options default it), and adapters are
        # named as their config (``indexer.registry.adapter_for``): a miss is a bug, not "fresh".
        heartbeat_s = self._heartbeats[chain.name, account.protocol]
        return tuple(
            PriceFreshness(asset, datetime.fromtimestamp(updated[asset], UTC), heartbeat_s)
            for asset in account.assets
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

    def _head_stalled(self, chain: ChainConfig, block: int) -> bool:
        """True when the head has not moved for ``stall_after_blocks`` block times."""
        now = self.monotonic()
        seen = self._heads.get(chain.chain_id)
        if seen is None or block > seen[0]:
            self._heads[chain.chain_id] = (block, now)
            return False
        return now - seen[1] > chain.stall_after_blocks * chain.block_time
