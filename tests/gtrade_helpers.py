"""Seeded random gTrade trades in the diamond's raw units, for the margin tests and the vendor
comparison against @gainsnetwork/sdk (tests/vendor/gtrade_liq.js).

A ``RawTrade`` holds every on-chain integer the liquidation price depends on; ``terms`` turns it
into ``margin.TradeTerms`` the way an adapter would (closing fee and spread from their helpers),
and ``sdk_input`` into the JSON the node script reads.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass

from indexer.models import MarginAccount
from indexer.protocols.gtrade import margin


@dataclass(frozen=True, slots=True)
class CollateralKind:
    """A gTrade collateral: symbol, decimals and a USD price (1e8) used in the tests."""

    symbol: str
    decimals: int
    price_usd_e8: int


COLLATERALS = (
    CollateralKind("DAI", 18, 99_987_000),
    CollateralKind("USDC", 6, 100_000_000),
    CollateralKind("WETH", 18, 312_345_678_901),
    CollateralKind("GNS", 18, 237_000_000),
    CollateralKind("APE", 18, 61_230_000),
)

PARAM_CLASSES = ("dynamic", "one_zero", "flat_leverage", "legacy")
"""How a trade's liquidation params are drawn: all five set; one of the five 0; startLeverage ==
endLeverage; all 0 (a trade opened before v9.2)."""


@dataclass(frozen=True, slots=True)
class RawTrade:
    """One trade's on-chain integers (names as in PROTOCOLS.md §4)."""

    long: bool
    open_price_e10: int
    collateral_raw: int
    collateral: CollateralKind
    leverage_e3: int
    params: margin.LiqParams
    fee_p: int  # totalPositionSizeFeeP, percent * 1e10
    min_usd_e3: int  # fee group minPositionSizeUsd, USD * 1e3
    holding_raw: int
    realized_pnl_raw: int
    realized_fees_raw: int
    pair_spread_p: int
    fixed_spread_p: int
    version: int  # TradeInfo.contractsVersion
    param_class: str
    counter_multiplier_e3: int = 1_000  # a counter trade's fee-rate multiplier (1e3 = 1x)

    @property
    def closing_fee_raw(self) -> int:
        return margin.closing_fee_collateral_raw(
            self.fee_p,
            self.collateral_raw,
            self.leverage_e3,
            self.min_usd_e3 * 10**15,
            self.collateral.price_usd_e8,
            self.collateral.decimals,
            counter_trade_fee_rate_multiplier_e3=self.counter_multiplier_e3,
        )

    @property
    def spread_p(self) -> int:
        return margin.liq_spread_p(
            self.pair_spread_p, self.fixed_spread_p, self.params.max_liq_spread_p, self.version
        )

    def terms(self, params: margin.LiqParams | None = None) -> margin.TradeTerms:
        """The trade as ``TradeTerms`` (optionally with other liquidation params)."""
        return margin.TradeTerms(
            long=self.long,
            open_price_e10=self.open_price_e10,
            collateral_raw=self.collateral_raw,
            collateral_decimals=self.collateral.decimals,
            leverage_e3=self.leverage_e3,
            liq_params=self.params if params is None else params,
            closing_fee_collateral_raw=self.closing_fee_raw,
            holding_fee_collateral_raw=self.holding_raw,
            realized_pnl_collateral_raw=self.realized_pnl_raw,
            realized_trading_fees_collateral_raw=self.realized_fees_raw,
            liq_spread_p=self.spread_p,
        )

    def sdk_input(self) -> dict[str, object]:
        """The node script's input for this trade (integers as decimal strings)."""
        p = self.params
        return {
            "long": self.long,
            "open_price_e10": str(self.open_price_e10),
            "collateral_raw": str(self.collateral_raw),
            "decimals": str(self.collateral.decimals),
            "leverage_e3": str(self.leverage_e3),
            "params": [
                str(v)
                for v in (
                    p.max_liq_spread_p,
                    p.start_liq_threshold_p,
                    p.end_liq_threshold_p,
                    p.start_leverage,
                    p.end_leverage,
                )
            ],
            "fee_p": str(self.fee_p),
            "min_usd_e3": str(self.min_usd_e3),
            "collateral_price_e8": str(self.collateral.price_usd_e8),
            "holding_raw": str(self.holding_raw),
            "realized_pnl_raw": str(self.realized_pnl_raw),
            "realized_fees_raw": str(self.realized_fees_raw),
            "pair_spread_p": str(self.pair_spread_p),
            "fixed_spread_p": str(self.fixed_spread_p),
            "version": str(self.version),
            "closing_fee_raw": str(self.closing_fee_raw),
            "counter_multiplier_e3": str(self.counter_multiplier_e3),
        }


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def _params(rng: random.Random, param_class: str) -> margin.LiqParams:
    if param_class == "legacy":
        return margin.NO_LIQ_PARAMS
    end_thr = rng.randint(40, 89) * 10**10 + rng.randint(0, 10**10 - 1)
    start_thr = rng.randint(end_thr, 90 * 10**10)
    start_lev = rng.randint(2_000, 50_000)
    end_lev = start_lev if param_class == "flat_leverage" else rng.randint(start_lev + 1, 150_000)
    values = [rng.randint(10**7, 10**9), start_thr, end_thr, start_lev, end_lev]
    if param_class == "one_zero":
        values[rng.randrange(5)] = 0
    return margin.LiqParams(*values)


def _leverage(rng: random.Random, params: margin.LiqParams) -> int:
    """Below, at, inside, at the end of and above the dynamic range (or anywhere)."""
    start, end = params.start_leverage or 10_000, params.end_leverage or 100_000
    pick = rng.randrange(6)
    if pick == 0:
        return rng.randint(1_100, max(1_100, start - 1))
    if pick == 1:
        return start
    if pick == 2:
        return rng.randint(min(start, end), max(start, end))
    if pick == 3:
        return end
    if pick == 4:
        return rng.randint(end + 1, max(end + 1, 250_000))
    return rng.randint(1_100, 250_000)


def random_trade(rng: random.Random) -> RawTrade:
    """One trade: every collateral, long/short, every param class, fees and spreads on or off."""
    kind = rng.choice(COLLATERALS)
    param_class = rng.choices(PARAM_CLASSES, weights=(60, 25, 8, 7))[0]
    params = _params(rng, param_class)
    usd = _log_uniform(rng, 5.0, 2_000_000.0)
    collateral_raw = max(1, int(usd * 1e8 / kind.price_usd_e8 * 10**kind.decimals))
    scale = collateral_raw
    return RawTrade(
        long=rng.random() < 0.5,
        open_price_e10=max(1, int(_log_uniform(rng, 1e-4, 2e5) * 1e10)),
        collateral_raw=collateral_raw,
        collateral=kind,
        leverage_e3=_leverage(rng, params),
        params=params,
        fee_p=rng.choice((0, rng.randint(10**8, 2 * 10**9))),
        min_usd_e3=rng.choice((0, rng.randint(1_000, 2_000_000))),
        holding_raw=rng.choice((0, rng.randint(-scale // 20, scale // 20))),
        # A large realised profit (partial closes) can push a long's liquidation price to 0.
        realized_pnl_raw=rng.choice(
            (0, rng.randint(-scale // 5, scale // 5), rng.randint(scale, 3 * scale))
        ),
        realized_fees_raw=rng.choice((0, rng.randint(0, scale // 100))),
        pair_spread_p=rng.choice((0, rng.randint(1, 2 * 10**9))),
        fixed_spread_p=rng.choice((0, 0, rng.randint(1, 5 * 10**8))),
        version=rng.choice((0, 1, 2, 2)),
        param_class=param_class,
        counter_multiplier_e3=rng.choice((1_000, 1_000, 1_000, rng.randint(100, 3_000))),
    )


def random_trades(seed: int, count: int) -> list[RawTrade]:
    rng = random.Random(seed)
    return [random_trade(rng) for _ in range(count)]


def substituted_params(params: margin.LiqParams) -> margin.LiqParams:
    """The SDK's ``convertLiquidationParams``: a zero start or end threshold becomes 90 %."""
    legacy = margin.LEGACY_LIQ_THRESHOLD_P
    return dataclasses.replace(
        params,
        start_liq_threshold_p=params.start_liq_threshold_p or legacy,
        end_liq_threshold_p=params.end_liq_threshold_p or legacy,
    )


def account(trade: RawTrade, index: int, asset: str | None = None) -> MarginAccount:
    """The trade as perpwatch's account, pair asset ``PAIR<index>`` unless given, its collateral
    pinned at the collateral's test price."""
    return margin.trade_account(
        trade.terms(),
        account_id=f"0x{index:040x}:{index}",
        owner=f"0x{index:040x}",
        market=f"PAIR{index}/USD",
        asset=asset or f"PAIR{index}",
        collateral_asset=margin.pinned_asset(
            trade.collateral.symbol, trade.collateral.price_usd_e8
        ),
        collateral_price_feed=f"test:{trade.collateral.symbol}",
        collateral_price_usd_e8=trade.collateral.price_usd_e8,
        chain_id=42161,
        block_number=1,
    )


def collateral_prices() -> dict[str, float]:
    """Each test collateral's pinned key at its ``margin.pinned_price`` (what an adapter
    quotes), beside the live symbols at other prices, which the accounts must not use."""
    pinned = {margin.pinned_asset(k.symbol, k.price_usd_e8) for k in COLLATERALS}
    prices: dict[str, float] = {k: p for k in pinned if (p := margin.pinned_price(k)) is not None}
    return prices | {k.symbol: 1.37 * k.price_usd_e8 / 1e8 for k in COLLATERALS}
