"""Who a tick re-reads: with a wallet scope only watched wallets touched by events; on an
event-less venue (Hyperliquid) at-risk wallets every tick, those near a warning once per
``poll_s`` and the rest once per ``far_poll_s``, spread over the period, so a tick's reads grow
with what changed or is at risk, not with the number of wallets watched."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from devnet.demo import demo_config
from devnet.deploy import Devnet
from devnet.gmx import devnet_address
from devnet.scenario import World, build_world
from indexer.config.loader import Config
from indexer.config.protocol import PollCadence
from indexer.models import MarginAccount
from indexer.protocols.base import Read
from indexer.protocols.hyperliquid.adapter import HyperliquidAdapter
from monitor.runtime.chain import ChainRuntime
from monitor.runtime.chain_pass import by_chain

pytestmark = pytest.mark.chain

E30, USDC = 10**30, 10**6
POLL_S = 10.0


def _only(world: World, protocol: str, **options: Any) -> Config:
    raw: dict[str, Any] = demo_config(world, "sqlite://").model_dump(mode="json", exclude_none=True)
    raw["protocols"] = [{**p, **options} for p in raw["protocols"] if p["name"] == protocol]
    return Config.model_validate(raw)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_a_wallet_scope_reads_only_watched_wallets_that_events_touched(
    devnet: Devnet, engine: Engine
) -> None:
    world = build_world(devnet, gmx_traders=6, hl_traders=1, seed=11)
    watched = sorted({p.account.lower() for p in world.gmx_positions})[:3]
    raw = _only(world, "gmx_v2", watch="wallets").model_dump(mode="json", exclude_none=True)
    raw["wallets"] = [{"address": w} for w in watched]
    (group,) = by_chain(Config.model_validate(raw))
    stranger = devnet_address("polling:stranger").lower()

    async def main() -> list[int]:
        runtime = ChainRuntime(group, engine, full_refresh_s=3600.0)
        try:
            reads = [(await runtime.sync()).refreshed]  # full: the watched wallets
            world.move_prices(0.99)
            reads.append((await runtime.sync()).refreshed)  # prices only: nobody
            world.gmx.increase(stranger, "ETH/USD", "USDC", True, 1_000 * USDC, 4_000 * E30)
            reads.append((await runtime.sync()).refreshed)  # outside the scope: indexed only
            world.gmx.increase(watched[0], "ETH/USD", "USDC", False, 1_000 * USDC, 2_000 * E30)
            reads.append((await runtime.sync()).refreshed)  # a watched wallet traded
            return reads
        finally:
            await runtime.close()

    full, quiet, stranger_traded, watched_traded = asyncio.run(main())
    assert full >= len(watched)
    assert (quiet, stranger_traded) == (0, 0)
    assert watched_traded >= 1


@pytest.mark.parametrize(("far_per_s", "far_polls"), [(0.1, 1), (20.0, 2)])
def test_event_less_wallets_are_polled_by_their_distance_and_at_risk_ones_every_tick(
    devnet: Devnet,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    far_per_s: float,
    far_polls: int,
) -> None:
    """Over two near periods (one far one): the at-risk wallet every tick, a wallet near a
    warning once per near period, the rest once per far period when they are many (here:
    four wallets at a tenth of a wallet a second), else at the near pace; each spread out."""
    monkeypatch.setattr("indexer.config.protocol.FAR_WALLETS_PER_S", far_per_s)
    world = build_world(devnet, gmx_traders=1, hl_traders=8, seed=5)
    wallets = [w.lower() for w in world.hl_traders]
    config = _only(world, "hyperliquid", poll_s=POLL_S, far_poll_s=2 * POLL_S)
    (group,) = by_chain(config)
    clock = Clock()
    risky, near, far = wallets[0], wallets[1:4], wallets[4:]

    async def main() -> tuple[list[str], list[int]]:
        runtime = ChainRuntime(group, engine, full_refresh_s=3600.0, monotonic=clock)
        polled: list[str] = []
        seen = runtime._mark_polled

        def spy(protocol: str, owners: Any, poll: PollCadence | None, *, spread: bool) -> None:
            polled.extend(owners)
            seen(protocol, owners, poll, spread=spread)

        runtime._mark_polled = spy  # type: ignore[method-assign]
        try:
            runtime.warm = {"hyperliquid": frozenset(near)}
            await runtime.sync()  # the full refresh reads every wallet once
            first = len(polled)
            polled.clear()
            runtime.at_risk = frozenset({risky})
            per_tick = []
            for _ in range(int(2 * POLL_S)):  # one far period in 1 s ticks
                clock.now += 1.0
                before = len(polled)
                await runtime.sync()
                per_tick.append(len(polled) - before)
            return polled, [first, *per_tick]
        finally:
            await runtime.close()

    polled, counts = asyncio.run(main())
    first, per_tick = counts[0], counts[1:]
    assert first == len(wallets)
    assert polled.count(risky) == len(per_tick)
    assert [polled.count(w) for w in near] == [2] * len(near), polled
    assert [polled.count(w) for w in far] == [far_polls] * len(far), polled
    # ... spread out: no tick reads every wallet again.
    assert max(per_tick) < len(wallets)


def _budgeted_polls(
    devnet: Devnet,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    urgent: int,
    in_full: list[set[str]] | None = None,
) -> tuple[list[str], list[str], list[list[str]]]:
    """Eight Hyperliquid wallets all at risk (the first ``urgent`` of them at or below
    maintenance), a budget of three per tick: the wallets, the full refresh's reads and six
    ticks' polls. ``in_full`` collects per tick the wallets whose read asked every market's
    position in its first step."""
    in_full = [] if in_full is None else in_full
    world = build_world(devnet, gmx_traders=1, hl_traders=8, seed=6)
    wallets = sorted(w.lower() for w in world.hl_traders)
    (group,) = by_chain(_only(world, "hyperliquid", poll_s=POLL_S))
    (adapter,) = group.adapters
    assert isinstance(adapter, HyperliquidAdapter)
    monkeypatch.setattr(adapter, "owners_per_read", 1, raising=False)
    monkeypatch.setattr("monitor.runtime.chain.POLL_READS_PER_TICK", 3)
    read_accounts = adapter.read_accounts

    def spy(owners: Sequence[str]) -> Read[list[MarginAccount]]:
        read = read_accounts(owners)
        asked = Counter(
            "0x" + c.call_data[12:32].hex() for c in read.calls if c.target.endswith("0800")
        )
        in_full[-1].update(o for o, n in asked.items() if n == len(adapter.markets))
        return read

    monkeypatch.setattr(adapter, "read_accounts", spy)
    clock = Clock()

    async def main() -> list[list[str]]:
        runtime = ChainRuntime(group, engine, full_refresh_s=3600.0, monotonic=clock)
        ticks: list[list[str]] = []
        seen = runtime._mark_polled

        def spy(protocol: str, owners: Any, poll: PollCadence | None, *, spread: bool) -> None:
            ticks[-1].extend(owners)
            seen(protocol, owners, poll, spread=spread)

        runtime._mark_polled = spy  # type: ignore[method-assign]
        try:
            ticks.append([])
            in_full.append(set())
            await runtime.sync()  # the full refresh reads every wallet once
            runtime.at_risk = frozenset(wallets)
            runtime.urgent = frozenset(wallets[:urgent])
            for _ in range(6):
                clock.now += 1.0
                ticks.append([])
                in_full.append(set())
                await runtime.sync()
            return ticks
        finally:
            await runtime.close()

    full, *polls = asyncio.run(main())
    return wallets, full, polls


def test_at_risk_wallets_past_the_budget_take_turns(
    devnet: Devnet, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash puts thousands of wallets at risk at once: a tick polls at most a budget of
    them (here 3 of 8), those read longest ago first, so each is read every few ticks."""
    wallets, full, polls = _budgeted_polls(devnet, engine, monkeypatch, urgent=0)
    assert sorted(full) == wallets
    assert [len(p) for p in polls] == [3] * 6
    for start in range(len(polls) - 2):  # any three ticks in a row read every wallet
        assert set(polls[start] + polls[start + 1] + polls[start + 2]) == set(wallets)


def test_liquidatable_wallets_are_polled_every_tick_within_the_budget(
    devnet: Devnet, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the marks put an account at or below maintenance the venue is about to act (a
    partial liquidation, then the rest): those wallets go first, the others take turns with
    what is left of the budget."""
    in_full: list[set[str]] = []
    wallets, _, polls = _budgeted_polls(devnet, engine, monkeypatch, urgent=2, in_full=in_full)
    assert all(set(wallets[:2]) <= set(p) for p in polls)
    assert [len(p) for p in polls] == [3] * 6
    rest = [o for p in polls for o in p if o not in wallets[:2]]
    assert set(rest) == set(wallets[2:])  # six turns for six wallets: each once
    # Read before, a wallet is first asked its summary and isolated position only; the two
    # the venue is about to liquidate are asked every market at once, on every tick.
    full_refresh, *ticks = in_full
    assert full_refresh == set(wallets)
    assert ticks == [set(wallets[:2])] * 6
