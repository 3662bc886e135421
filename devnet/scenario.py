"""The demo world: the simulators on one devnet, traders with isolated and cross positions.

    with start_devnet() as devnet:
        world = build_world(devnet, gmx_traders=12, hl_traders=6, seed=7)
        world.move_prices(0.97)              # every asset 3 % down
        world.liquidate_what_is_allowed()    # the keeper: only what the simulators' rules allow

Prices, sizes and leverages are seeded so a run is repeatable. Every trader address is a
devnet label (no key behind it): the simulators take the account as an argument.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from web3 import Web3
from web3.contract.contract import ContractFunction

from devnet.deploy import Devnet, TransactionReverted, call3, call_many, dry_run, transact
from devnet.gmx import GmxDeployment, deploy_gmx, devnet_address
from devnet.gtrade import GTradeBook, GTradeTrade, deploy_gtrade
from devnet.hyperliquid import HlDeployment, install_hyperliquid
from devnet.txbatch import TxBatch
from indexer.reads.multicall import Call3

E30 = 10**30

Send = Callable[[ContractFunction], Any]
"""Sends (``transact``) or queues (``TxBatch.add``) one simulator call."""
SendAll = Callable[[Devnet, Sequence[ContractFunction]], Sequence[int | None]]
"""Sends simulator calls; per call, the block that mined it, or None if it reverted.
``send_each`` sends one at a time, ``devnet.txbatch.send_pipelined`` all at once on an
interval-mined chain."""


def send_each(_devnet: Devnet, calls: Sequence[ContractFunction]) -> list[int | None]:
    """``transact`` each call in turn (on automine, a block each)."""
    mined: list[int | None] = []
    for fn in calls:
        try:
            mined.append(int(transact(fn)["blockNumber"]))
        except TransactionReverted:
            mined.append(None)
    return mined


@dataclass(frozen=True, slots=True)
class GmxPosition:
    account: str
    market: str
    collateral: str
    is_long: bool


@dataclass(frozen=True, slots=True)
class HlPosition:
    account: str
    coin: str
    isolated: bool


KEEPER_CHECKS_PER_CALL = 100
"""Liquidation checks per Multicall3 ``eth_call`` (300 in one ran out of gas at 30M)."""


@dataclass
class World:
    """Both deployments, every open position, and the keeper's tally."""

    devnet: Devnet
    gmx: GmxDeployment
    hl: HlDeployment
    gmx_positions: list[GmxPosition] = field(default_factory=list)
    hl_positions: list[HlPosition] = field(default_factory=list)
    prices_usd: dict[str, Decimal] = field(default_factory=dict)
    liquidated: list[tuple[str, int]] = field(default_factory=list)
    """(account ref, block) of every liquidation the keeper executed that ended the account
    (or, for a cross account, all its positions)."""
    partially_liquidated: list[tuple[str, int]] = field(default_factory=list)
    """(account ref, block) of every liquidation that left the account a position."""
    gtrade: GTradeBook | None = None
    _keeper_calls: dict[GmxPosition | HlPosition, Call3] = field(default_factory=dict)

    @property
    def hl_traders(self) -> list[str]:
        return sorted({p.account for p in self.hl_positions})

    def move_prices(self, factor: float | Decimal, send: SendAll = send_each) -> None:
        """Multiply every asset's price (GMX feeds, Hyperliquid marks, gTrade feeds) by
        ``factor``; ``send`` sends the transactions (default: one at a time, ``transact``)."""
        calls: list[ContractFunction] = []
        for asset, usd in list(self.prices_usd.items()):
            if asset == "USDC":
                continue
            perp = self.hl.perps.get(asset)
            # Hyperliquid prices carry 6 - szDecimals decimals; GMX feeds take any of those.
            quantum = Decimal(10) ** -(6 - perp.sz_decimals) if perp else Decimal("0.01")
            new = (usd * Decimal(str(factor))).quantize(quantum)
            self.prices_usd[asset] = new
            if asset in ("BTC", "ETH"):
                calls.append(self.gmx.set_price_call(asset, new))
            if asset in self.hl.perps:
                calls.append(self.hl.set_mark_call(asset, new))
            if self.gtrade is not None:
                calls += self.gtrade.move_calls(asset, new, usd)
        if None in send(self.devnet, calls):
            raise TransactionReverted("a price move reverted")

    def liquidate_what_is_allowed(self, send: SendAll = send_each) -> int:
        """The keeper: liquidate every position the simulators' own rules allow now.

        Every candidate is first tried in a Multicall3 dry run (the simulators revert unless
        their rule allows it, so success is the verdict); only those are sent, by ``send``
        (default: one at a time, ``transact``). One liquidation per cross account (it closes
        all its cross positions). Returns how many went through.
        """
        gmx_calls = [self._keeper_call(g) for g in self.gmx_positions]
        hl_calls = [self._keeper_call(p) for p in self.hl_positions]
        calls = gmx_calls + hl_calls
        gt_calls = self.gtrade.keeper_calls() if self.gtrade is not None else []
        if not calls and not gt_calls:
            return 0
        verdicts = dry_run(self.devnet, calls + gt_calls, KEEPER_CHECKS_PER_CALL)
        due: list[tuple[ContractFunction, Callable[[int], None]]] = [
            (self.gmx.liquidate_call(g.account, g.market, g.collateral, g.is_long),
             functools.partial(self._gmx_liquidated, g))
            for g, ok in zip(self.gmx_positions, verdicts[: len(gmx_calls)], strict=True) if ok
        ]  # fmt: skip
        cross_taken: set[str] = set()
        hl_done: list[tuple[HlPosition, int]] = []
        for p, ok in zip(self.hl_positions, verdicts[len(gmx_calls) : len(calls)], strict=True):
            if not ok or (not p.isolated and p.account in cross_taken):
                continue
            if not p.isolated:
                cross_taken.add(p.account)
            due.append((self.hl.liquidate_call(p.account, p.coin),
                        functools.partial(_record, hl_done, p)))  # fmt: skip
        if self.gtrade is not None:
            for trade, fn in self.gtrade.liquidations(verdicts[len(calls) :]):
                due.append((fn, functools.partial(self._gtrade_liquidated, trade)))
        mined = send(self.devnet, [fn for fn, _ in due])
        for (_, record), block in zip(due, mined, strict=True):
            if block is not None:
                record(block)
        self._hl_liquidated(hl_done)
        return sum(block is not None for block in mined)

    def _gmx_liquidated(self, position: GmxPosition, block: int) -> None:
        key = self.gmx.position_key(
            position.account, position.market, position.collateral, position.is_long
        )
        self.gmx_positions.remove(position)
        self.liquidated.append(("0x" + key.hex(), block))

    def _hl_liquidated(self, done: Sequence[tuple[HlPosition, int]]) -> None:
        """Record the Hyperliquid liquidations mined (position, block). A cross liquidation
        liquidates every cross position of the account; one over 100k USD of notional only
        loses a fifth (HlCore's partial rule), so what is left is read back, all at once.
        An account left with a position was partially liquidated (``partially_liquidated``),
        else liquidated."""
        if not done:
            return
        touched = {
            p: [p] if p.isolated
            else [q for q in self.hl_positions if q.account == p.account and not q.isolated]
            for p, _ in done
        }  # fmt: skip
        flat = [q for qs in touched.values() for q in qs]
        position = self.hl.core.functions.position
        reads = [
            call3(position(Web3.to_checksum_address(q.account), self.hl.perp(q.coin).index))
            for q in flat
        ]
        sizes = [int.from_bytes(data[:32], "big", signed=True)
                 for _, data in call_many(self.devnet, reads, KEEPER_CHECKS_PER_CALL)]  # fmt: skip
        left = {q for q, szi in zip(flat, sizes, strict=True) if szi != 0}
        for p, block in done:
            for q in touched[p]:
                if q not in left:
                    self.hl_positions.remove(q)
            # perpwatch's refs: owner:cross:<dex> and owner:isolated:<asset id>
            index = self.hl.perp(p.coin).index
            ref = f"{p.account}:isolated:{index}" if p.isolated else f"{p.account}:cross:0"
            tally = self.partially_liquidated if left & set(touched[p]) else self.liquidated
            tally.append((ref, block))

    def _gtrade_liquidated(self, trade: GTradeTrade, block: int) -> None:
        assert self.gtrade is not None
        self.gtrade.trades.remove(trade)
        self.liquidated.append((trade.ref, block))

    def _keeper_call(self, position: GmxPosition | HlPosition) -> Call3:
        """The liquidation of ``position`` as a Multicall3 sub-call, encoded once (the keeper
        dry-runs every open position on every pass)."""
        found = self._keeper_calls.get(position)
        if found is None:
            if isinstance(position, GmxPosition):
                fn = self.gmx.liquidate_call(
                    position.account, position.market, position.collateral, position.is_long
                )
            else:
                fn = self.hl.liquidate_call(position.account, position.coin)
            found = call3(fn)
            self._keeper_calls[position] = found
        return found


def _record(done: list[tuple[HlPosition, int]], position: HlPosition, block: int) -> None:
    done.append((position, block))


def build_world(
    devnet: Devnet,
    *,
    gmx_traders: int,
    hl_traders: int,
    seed: int = 7,
    gtrade_traders: int = 0,
    hl_whales: int = 0,
    batched: bool = False,
) -> World:
    """Deploy the simulators and open seeded positions (leverage 2x to 25x; gTrade, with
    ``gtrade_traders``, 2x to 100x; ``hl_whales`` Hyperliquid traders with one long of over
    100k USD, which the venue liquidates a fifth at a time). ``batched`` opens them a few
    hundred transactions per block (``devnet.txbatch``) instead of a block each: the same
    transactions in the same order, so the same state, minutes faster at thousands of
    accounts."""
    rng = random.Random(seed)
    gmx = deploy_gmx(devnet)
    hl = install_hyperliquid(devnet.anvil, devnet.artifacts)
    world = World(devnet, gmx, hl)
    world.prices_usd = {"ETH": Decimal(2500), "BTC": Decimal(60000), "USDC": Decimal(1)}
    world.prices_usd["SOL"] = Decimal(150)
    for coin in ("BTC", "ETH", "SOL"):
        hl.set_mark(coin, world.prices_usd[coin])
    if gtrade_traders:
        world.gtrade = GTradeBook(deploy_gtrade(devnet))
        for asset in world.gtrade.gt.pairs:  # the pairs start at the world's prices
            world.gtrade.gt.set_price(asset, world.prices_usd[asset])
    with TxBatch(devnet) if batched else nullcontext() as batch:
        send: Send = batch.add if batch is not None else transact
        for i in range(gmx_traders):
            _open_gmx(world, devnet_address(f"gmx-trader:{i}").lower(), rng, send)
        for i in range(hl_traders):
            _open_hl(world, devnet_address(f"hl-trader:{i}").lower(), rng, send)
        if world.gtrade is not None:
            for i in range(gtrade_traders):
                trader = devnet_address(f"gtrade-trader:{i}").lower()
                world.gtrade.open_random(trader, rng, send)
        for i in range(hl_whales):  # last: the other traders open as without them
            _open_hl_whale(world, devnet_address(f"hl-whale:{i}").lower(), i, rng, send)
    if world.gtrade is not None:
        world.gtrade.start_lookbacks()
    return world


def _open_gmx(world: World, account: str, rng: random.Random, send: Send) -> None:
    market = rng.choice(["ETH/USD", "BTC/USD"])
    is_long = rng.random() < 0.6
    index = "ETH" if market == "ETH/USD" else "BTC"
    collateral = index if is_long and rng.random() < 0.3 else "USDC"
    leverage = rng.choice([2, 3, 5, 8, 10, 15, 20, 25])
    collateral_usd = rng.choice([500, 1000, 2500, 5000])
    token = world.gmx.token(collateral)
    price = world.prices_usd[collateral]
    amount_raw = int(Decimal(collateral_usd) / price * 10**token.decimals)
    size_usd_e30 = collateral_usd * leverage * E30
    send(world.gmx.increase_call(account, market, collateral, is_long, amount_raw, size_usd_e30))
    world.gmx_positions.append(GmxPosition(account, market, collateral, is_long))


def _open_hl(world: World, account: str, rng: random.Random, send: Send) -> None:
    hl = world.hl
    send(hl.deposit_call(account, str(rng.choice([5000, 10000, 20000]))))
    for coin, step in (("BTC", "0.01"), ("ETH", "0.1")):
        units = rng.randint(1, 20)
        size = Decimal(step) * units * (1 if rng.random() < 0.6 else -1)
        send(hl.trade_call(account, coin, str(size), rng.choice([5, 10, 20]), False))
        world.hl_positions.append(HlPosition(account, coin, isolated=False))
    send(hl.deposit_call(account, "2000"))
    size = Decimal("1") * rng.randint(2, 20) * (1 if rng.random() < 0.5 else -1)
    send(hl.trade_call(account, "SOL", str(size), rng.choice([3, 5, 10]), True))
    world.hl_positions.append(HlPosition(account, "SOL", isolated=True))


def _open_hl_whale(world: World, account: str, i: int, rng: random.Random, send: Send) -> None:
    """One long of 120k-240k USD: BTC on cross margin (20-40x, twice the initial margin
    deposited) or ETH on isolated margin (10x or 20x), alternately."""
    hl, isolated = world.hl, i % 2 == 1
    coin, size = ("ETH", rng.choice([50, 60, 80])) if isolated else ("BTC", rng.choice([2, 3, 4]))
    leverage = rng.choice([10, 20]) if isolated else rng.choice([20, 25, 40])
    initial_usd = int(world.prices_usd[coin] * size) // leverage
    # Cross: twice the initial margin. Isolated: the margin it moves out of cross, plus some.
    send(hl.deposit_call(account, str(initial_usd + (5000 if isolated else initial_usd))))
    send(hl.trade_call(account, coin, str(size), leverage, isolated))
    world.hl_positions.append(HlPosition(account, coin, isolated=isolated))
