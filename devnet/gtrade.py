"""Drive the gTrade v10 simulator on a devnet: deploy it, move prices, trade, liquidate.

    gt = deploy_gtrade(devnet)                         # diamond, a feed per pair, 4 collaterals
    index = gt.open(trader, "BTC", "USDC", 1_000 * 10**6, 50_000, long=True)
    gt.set_price("BTC", "98000", wick="97500")         # a round at the wick, then the close
    gt.is_liquidatable(trader, index, gt.lookback_start("BTC"))
    gt.liquidate(trader, index, from_round)            # reverts unless gTrade's rule allows it

Units as gTrade keeps them: prices 1e10 on chain (the feeds answer with 8 decimals, as
Chainlink's USD feeds do), leverage 1e3, collateral in the token's smallest unit, ``…P`` values
percent·1e10, collateral USD prices 1e8. Collateral tokens are devnet labels with no code (no
token moves in the simulator). Every term of the liquidation rule gets a distinct, non-trivial
value by default (closing fee, min position size, borrowing and funding, spread capped by
``maxLiqSpreadP``, dynamic thresholds, and a pair whose params have a zero), so a term perpwatch
got wrong shows up as a disagreement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from devnet.deploy import Devnet, call, call3, transact
from devnet.gmx_types import devnet_address
from indexer.protocols.gtrade.adapter import GTradeAdapter
from indexer.protocols.gtrade.lookback import GTradePair
from indexer.reads.multicall import Call3

FEED_DECIMALS = 8
PRICE_DECIMALS = 10


@dataclass(frozen=True, slots=True)
class SimPair:
    """A listed pair: index, perpwatch asset name, initial price (USD) and gTrade parameters
    (``spread_p``, ``fee_p`` = totalPositionSizeFeeP, percent·1e10; ``min_size_usd`` whole USD;
    ``liq`` = (maxLiqSpreadP, startLiqThresholdP, endLiqThresholdP, startLeverage,
    endLeverage); holding rates percent·1e10 of the position size per block)."""

    index: int
    asset: str
    price_usd: Decimal
    spread_p: int
    fee_p: int
    min_size_usd: int
    liq: tuple[int, int, int, int, int]
    borrowing_per_block_p: int = 0
    funding_per_block_p: int = 0


@dataclass(frozen=True, slots=True)
class SimCollateral:
    """A collateral: its 1-based index is its position in ``DEFAULT_COLLATERALS`` plus one.
    perpwatch names it by ``symbol`` (WETH, apart from the ETH pair)."""

    symbol: str
    decimals: int
    price_usd: Decimal
    follows: str | None = None
    """A pair asset whose price moves this collateral's (WETH follows ETH)."""

    @property
    def address(self) -> str:
        return devnet_address(f"gtrade:{self.symbol}")


DEFAULT_PAIRS: tuple[SimPair, ...] = (
    # The docs' sample params: 90 % up to 25x, 65 % from 60x, spread capped at 0.05 %.
    SimPair(0, "BTC", Decimal(60000), 4 * 10**8, 6 * 10**8, 1500,
            (5 * 10**8, 90 * 10**10, 65 * 10**10, 25_000, 60_000), 4 * 10**6, 3 * 10**6),
    # maxLiqSpreadP = 0: the legacy 90 % threshold and no closing spread.
    SimPair(1, "ETH", Decimal(2500), 6 * 10**8, 8 * 10**8, 2500,
            (0, 85 * 10**10, 70 * 10**10, 10_000, 50_000), 6 * 10**6, -5 * 10**6),
    # A wide spread the cap clips (half of 0.3 % > 0.1 %), thresholds from 5x to 30x.
    SimPair(2, "SOL", Decimal(150), 3 * 10**9, 5 * 10**8, 1000,
            (10**9, 92 * 10**10, 75 * 10**10, 5_000, 30_000), 2 * 10**6, 8 * 10**6),
)  # fmt: skip

DEFAULT_COLLATERALS: tuple[SimCollateral, ...] = (
    SimCollateral("DAI", 18, Decimal(1)),
    SimCollateral("WETH", 18, Decimal(2500), follows="ETH"),
    SimCollateral("USDC", 6, Decimal(1)),
    SimCollateral("GNS", 18, Decimal(3)),
)
"""Arbitrum's collaterals in its order: DAI 1, ETH 2, USDC 3, GNS 4."""


def _exact(value: Decimal | str | int, decimals: int, what: str) -> int:
    scaled = Decimal(value).scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{what} {value} has more than {decimals} decimals")
    return int(scaled)


@dataclass
class GTradeDeployment:
    """The deployed simulator; methods send transactions from dev account 0."""

    devnet: Devnet
    diamond: Contract
    feeds: dict[str, Contract] = field(default_factory=dict)
    pairs: dict[str, SimPair] = field(default_factory=dict)
    collaterals: dict[str, SimCollateral] = field(default_factory=dict)
    prices_usd: dict[str, Decimal] = field(default_factory=dict)

    # -- lookups -------------------------------------------------------------------------------

    def collateral_index(self, symbol: str) -> int:
        """The 1-based index of the collateral ``symbol``; KeyError if unknown."""
        return list(self.collaterals).index(symbol) + 1

    def options(self) -> dict[str, Any]:
        """perpwatch's ``[[protocols]]`` table for this deployment (without name and chain)."""
        return {
            "addresses": {"diamond": self.diamond.address},
            "pairs": {
                str(p.index): {"asset": p.asset, "feed": self.feeds[p.asset].address}
                for p in self.pairs.values()
            },
            "collaterals": {
                str(i): {"asset": c.symbol} for i, c in enumerate(self.collaterals.values(), 1)
            },
        }

    def adapter(self, chain_id: int | None = None, *, lookback: bool = True) -> GTradeAdapter:
        """perpwatch's gTrade adapter configured for this deployment (every pair and collateral)."""
        chain = chain_id if chain_id is not None else self.devnet.anvil.chain_id
        return GTradeAdapter(
            chain,
            self.diamond.address,
            pairs={p.index: GTradePair(p.asset, self.feeds[p.asset].address)
                   for p in self.pairs.values()},
            collaterals={i: c.symbol for i, c in enumerate(self.collaterals.values(), 1)},
            lookback=lookback,
        )  # fmt: skip

    # -- prices ----------------------------------------------------------------------------------

    def set_price(
        self, asset: str, usd: Decimal | str | int, *, wick: Decimal | str | None = None
    ) -> None:
        """Move a pair's feed to ``usd``; with ``wick``, a round at the wick comes first (an
        intrabar extreme that gTrade's lookback sees even though the close does not)."""
        for fn in self.set_price_calls(asset, usd, wick=wick):
            transact(fn)

    def set_price_calls(
        self, asset: str, usd: Decimal | str | int, *, wick: Decimal | str | None = None
    ) -> list[ContractFunction]:
        """:meth:`set_price` as calls not yet sent (the round at the wick first, then the price
        of every collateral that follows the pair); the price is taken as set."""
        feed = self.feeds[asset]
        self.prices_usd[asset] = Decimal(usd)
        calls = [
            feed.functions.setAnswer(_exact(price, FEED_DECIMALS, f"{asset} price"))
            for price in ([wick] if wick is not None else []) + [usd]
        ]
        for index, c in enumerate(self.collaterals.values(), start=1):
            if c.follows == asset:
                usd_e8 = _exact(Decimal(usd), 8, "collateral price")
                calls.append(self.diamond.functions.setCollateralPriceUsd(index, usd_e8))
        return calls

    def latest_round(self, asset: str) -> int:
        return int(call(self.feeds[asset].functions.latestRound()))

    # -- trades ------------------------------------------------------------------------------------

    def open(
        self,
        trader: str,
        pair: str,
        collateral: str,
        amount_raw: int,
        leverage_e3: int,
        *,
        long: bool,
        trade_type: int = 0,
    ) -> int:
        """Open a trade (or store a limit/stop order with ``trade_type`` 1/2); its index."""
        index = self.next_index(trader)
        fn = self.open_call(trader, pair, collateral, amount_raw, leverage_e3, long=long,
                            trade_type=trade_type)  # fmt: skip
        transact(fn)
        return index

    def next_index(self, trader: str) -> int:
        """The index ``trader``'s next trade gets (mined trades only)."""
        who = Web3.to_checksum_address(trader)
        return int(call(self.diamond.functions.getCounters(who, 0))[0])

    def open_call(
        self,
        trader: str,
        pair: str,
        collateral: str,
        amount_raw: int,
        leverage_e3: int,
        *,
        long: bool,
        trade_type: int = 0,
    ) -> ContractFunction:
        """:meth:`open` as a call not yet sent (for ``devnet.txbatch``)."""
        return self.diamond.functions.openTrade(
            Web3.to_checksum_address(trader), self.pairs[pair].index,
            self.collateral_index(collateral), amount_raw, leverage_e3, long, trade_type,
        )  # fmt: skip

    def close(self, trader: str, index: int) -> None:
        transact(self.diamond.functions.closeTrade(Web3.to_checksum_address(trader), index))

    def update_collateral(self, trader: str, index: int, amount_raw: int) -> None:
        who = Web3.to_checksum_address(trader)
        transact(self.diamond.functions.updateCollateral(who, index, amount_raw))

    def update_leverage(self, trader: str, index: int, leverage_e3: int) -> None:
        who = Web3.to_checksum_address(trader)
        transact(self.diamond.functions.updateLeverage(who, index, leverage_e3))

    def set_realized(
        self, trader: str, index: int, *, trading_fees: int, pnl: int, old_borrowing: int = 0
    ) -> None:
        """Book realised trading fees and pnl and a legacy borrowing fee (collateral units)."""
        who = Web3.to_checksum_address(trader)
        transact(self.diamond.functions.setRealized(who, index, trading_fees, pnl, old_borrowing))

    # -- liquidation ---------------------------------------------------------------------------

    def liquidation_price_e10(self, trader: str, index: int) -> int:
        """The simulator's own liquidation price (1e10), holding fees at the latest price."""
        return int(
            call(self.diamond.functions.liquidationPrice(Web3.to_checksum_address(trader), index))
        )

    def is_liquidatable(self, trader: str, index: int, from_round: int = 0) -> bool:
        """gTrade's rule on the lookback since ``from_round`` (0: the latest round only)."""
        who = Web3.to_checksum_address(trader)
        return bool(call(self.diamond.functions.isLiquidatable(who, index, from_round)))

    def liquidate(self, trader: str, index: int, from_round: int = 0) -> None:
        """Liquidate; raises ``TransactionReverted`` unless the lookback allows it."""
        transact(self.liquidate_fn(trader, index, from_round))

    def liquidate_fn(self, trader: str, index: int, from_round: int) -> ContractFunction:
        """:meth:`liquidate` as a call not yet sent."""
        return self.diamond.functions.liquidate(Web3.to_checksum_address(trader), index, from_round)

    def liquidate_call(self, trader: str, index: int, from_round: int) -> Call3:
        """A liquidation as a sub-call of the keeper's Multicall3 dry run."""
        return call3(self.liquidate_fn(trader, index, from_round))


def deploy_gtrade(
    devnet: Devnet,
    pairs: Sequence[SimPair] = DEFAULT_PAIRS,
    collaterals: Sequence[SimCollateral] = DEFAULT_COLLATERALS,
) -> GTradeDeployment:
    """Deploy the diamond, a USD feed per pair (8 decimals) and list ``collaterals`` (index
    1, 2, …) and ``pairs`` with their parameters and holding-fee rates."""
    diamond = devnet.deploy("GTradeDiamond")
    gt = GTradeDeployment(devnet, diamond)
    for c in collaterals:
        price_e8 = _exact(c.price_usd, 8, "collateral price")
        transact(diamond.functions.addCollateral(c.address, 10**c.decimals, price_e8))
        gt.collaterals[c.symbol] = c
    for p in pairs:
        answer = _exact(p.price_usd, FEED_DECIMALS, f"{p.asset} price")
        feed = devnet.deploy("ChainlinkAggregatorSim", FEED_DECIMALS, f"{p.asset} / USD", answer)
        transact(
            diamond.functions.listPair(
                p.index, feed.address, FEED_DECIMALS, p.spread_p, p.fee_p,
                p.min_size_usd * 10**18, p.liq,
            )
        )  # fmt: skip
        transact(
            diamond.functions.setHoldingRates(
                p.index, p.borrowing_per_block_p, p.funding_per_block_p
            )
        )
        gt.feeds[p.asset], gt.pairs[p.asset] = feed, p
        gt.prices_usd[p.asset] = p.price_usd
    return gt


@dataclass(frozen=True, slots=True)
class GTradeTrade:
    """One open trade of the scenario."""

    trader: str
    index: int
    pair: str

    @property
    def ref(self) -> str:
        """perpwatch's account ref of the trade."""
        return f"{self.trader}:{self.index}"


WICK_SHARE = Decimal("0.5")
"""A price move's wick reaches this share of the move beyond the close (the lookback sees it)."""


@dataclass
class GTradeBook:
    """The scenario's gTrade trades and the keeper's lookback start per pair: each keeper pass
    looks at the feed rounds published since the previous pass, as gTrade's lookback does."""

    gt: GTradeDeployment
    trades: list[GTradeTrade] = field(default_factory=list)
    lookback_from: dict[str, int] = field(default_factory=dict)

    def open_random(
        self, trader: str, rng: Any, send: Callable[[ContractFunction], Any] = transact
    ) -> None:
        """One or two seeded trades: pair, collateral, side and leverage (2x to 100x, across
        the dynamic-threshold range) at random, collateral worth 200 to 2,000 USD. ``send``
        (a ``TxBatch``'s ``add``) may hold the transactions back: the indexes are counted
        from the trader's mined trades, so none of this trader's may be pending."""
        first = self.gt.next_index(trader)
        for offset in range(rng.choice([1, 1, 2])):
            pair = rng.choice(list(self.gt.pairs))
            symbol = rng.choice(list(self.gt.collaterals))
            c = self.gt.collaterals[symbol]
            price = self.gt.prices_usd.get(c.follows, c.price_usd) if c.follows else c.price_usd
            usd = Decimal(rng.choice([200, 500, 1000, 2000]))
            amount = int(usd / price * 10**c.decimals)
            leverage = rng.choice([2, 5, 10, 20, 30, 50, 75, 100]) * 1000
            long = rng.random() < 0.6
            send(self.gt.open_call(trader, pair, symbol, amount, leverage, long=long))
            self.trades.append(GTradeTrade(trader, first + offset, pair))

    def move_calls(self, asset: str, close: Decimal, previous: Decimal) -> list[ContractFunction]:
        """The feed rounds that move a pair to ``close`` through a wick beyond it in the move's
        direction (none for an asset gTrade does not list)."""
        if asset not in self.gt.pairs:
            return []
        wick = (close + (close - previous) * WICK_SHARE).quantize(Decimal("0.0001"))
        return self.gt.set_price_calls(asset, close, wick=wick if wick != close else None)

    def start_lookbacks(self) -> None:
        """The next keeper pass looks at rounds from the next one on."""
        self.lookback_from = {a: self.gt.latest_round(a) + 1 for a in self.gt.pairs}

    def keeper_calls(self) -> list[Call3]:
        """A liquidation of every open trade as a dry-run sub-call, in ``trades`` order."""
        if not self.lookback_from:
            self.start_lookbacks()
        return [
            self.gt.liquidate_call(t.trader, t.index, self.lookback_from[t.pair])
            for t in self.trades
        ]

    def liquidations(self, verdicts: Sequence[bool]) -> list[tuple[GTradeTrade, ContractFunction]]:
        """The liquidation of each trade whose dry run succeeded (``verdicts`` in ``trades``
        order), not yet sent; the next pass looks at the rounds published after this one."""
        due = [
            (trade, self.gt.liquidate_fn(trade.trader, trade.index, self.lookback_from[trade.pair]))
            for trade, ok in zip(self.trades, verdicts, strict=True)
            if ok
        ]
        self.start_lookbacks()
        return due
