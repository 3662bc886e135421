"""gTrade's liquidation rule and one trade as a normal-form margin account. Pure: no I/O.

Inputs are the diamond's raw integers (PROTOCOLS.md §4): prices ``*_e10`` (USD · 1e10),
leverage ``*_e3``, percentages ``*_p`` (percent · 1e10, so 90 % = 9e11), collateral amounts in
the collateral token's smallest unit (``*_raw``, ``collateral_decimals`` digits), USD prices of
collateral ``*_usd_e8``.

The rule (``@gainsnetwork/sdk`` 1.8.7 ``trade/liquidation`` ``getLiquidationPrice``, in the
collateral token; C collateral, lev leverage, F fees, thr threshold, s liquidation spread)::

    F    = closingFee + holdingFees - (realizedPnl - realizedTradingFees)
    dist = open · (C · thr - F) / (C · lev)  -  open · s
    liq  = max(open - dist, 0)   (long)      max(open + dist, 0)   (short)

A long is liquidated at a pair price ``P <= liq`` (short ``P >= liq``), which is the same as

    C + pnl(P) - F  <=  C · (1 - thr) + s · C · lev,      pnl(P) = side · C · lev · (P/open - 1)

Normal form (``trade_account``): one isolated account per (trader, index) whose every USD amount
is a collateral amount times the one conversion price ``Pc`` (``collateral_price_usd_e8``)::

    collateral                 C                       (in its token, valued at Pc)
    size                       side · C · lev · Pc / open   (pair base units)
    entry_notional_usd         |size| · open  =  C · lev · Pc
    pending_fees_usd           F · Pc
    fixed_requirement_usd      C · (1 - thr) · Pc
    mm_rate_entry              s                       (on the entry notional: s · C · lev · Pc)

so equity - maintenance = Pc · (gTrade's margin in collateral units above) and health crosses 1
exactly at ``liquidation_price_e10``, whatever Pc is: gTrade's rule is in collateral units and
the common factor Pc does not move the root. It does so only while the collateral is valued at
the same Pc that converted the other terms: the monitor must value ``collateral_asset`` at
``collateral_price_usd_e8``. Valued at another price Pc', the root moves by
``-side · open · (Pc'/Pc - 1) / lev`` (``crossing_shift_e10``): 3 % of the price for a 10x
trade whose WETH collateral moved 30 % since the account was built. gTrade itself never looks
at the collateral's USD price, so the collateral should not be valued at a live price: name it
``pinned_asset(symbol, Pc)`` (``"WETH@312345678901"``) and quote that key at ``pinned_price``,
the price it was converted at. The crossing is then exact at every tick, whatever the token
does, and the key can never coincide with the pair's (moving the pair would move the collateral
too). USD amounts stay those of the conversion block.

Where the diamond rounds and the SDK does not: the threshold interpolation is an integer
(floored like Solidity) and so is the closing fee; ``liquidation_price_e10`` is the exact
rational of the formula above, rounded once to a float. Thresholds follow the SDK: 90 % when
any of the five liquidation params is 0 (the diamond's v10 ``getLiqPnlThresholdP`` checks
``maxLiqSpreadP == 0`` only; its setter rejects a zero in any of them, so both agree on every
reachable state); at ``leverage <= startLeverage`` the start threshold, at ``>= endLeverage`` the
end one, as the diamond (the SDK's strict comparisons give the same values, except start == end
leverage with different thresholds, where the SDK returns NaN).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from indexer.models import E30, MAX_DECIMALS, Collateral, MarginAccount, MarginMode, Position

P_10 = 10**10
"""Scale of gTrade prices (``*_e10``) and of percentages (``*_p``: percent · 1e10)."""

PERCENT_100_P = 100 * P_10
"""100 % in ``*_p`` units."""

LEGACY_LIQ_THRESHOLD_P = 90 * P_10
"""The threshold of a trade without (complete) liquidation params: 90 %."""

LEVERAGE_SCALE = 1000
"""Leverage is stored times 1e3."""

USD_E8 = 10**8
"""Scale of ``collateralPriceUsd``."""

MIN_POSITION_USD_SCALE = 10**18
"""Scale of ``pairMinPositionSizeUsd`` (the fee group's ``minPositionSizeUsd`` is USD · 1e3)."""

CONTRACTS_VERSION_V9_2 = 1
"""``TradeInfo.contractsVersion`` from which the liquidation spread applies (0 before v9.2)."""

SIZE_DECIMALS = 20
"""Decimals of the normal-form size: ``|size_raw| · open_price_e10`` is then the entry notional
in USD · 1e30 exactly, so the entry price is the open price to the last digit."""


def _pow10(exponent: int) -> int:
    """``10**exponent`` typed as an int (a non-literal int power is ``Any`` to mypy)."""
    value: int = 10**exponent
    return value


def _require_int(owner: str, name: str, value: object, low: int | None = None) -> None:
    if type(value) is not int:
        raise ValueError(f"{owner}.{name} must be an int, got {type(value).__name__}")
    if low is not None and value < low:
        raise ValueError(f"{owner}.{name} must be >= {low}, got {value}")


@dataclass(frozen=True, slots=True)
class LiqParams:
    """``GroupLiquidationParams`` exactly as on chain (snapshotted per trade).

    Raises:
        ValueError: a field that is not an int >= 0.
    """

    max_liq_spread_p: int  # percent * 1e10
    start_liq_threshold_p: int  # percent * 1e10 (90 % = 9e11)
    end_liq_threshold_p: int  # percent * 1e10
    start_leverage: int  # * 1e3
    end_leverage: int  # * 1e3

    def __post_init__(self) -> None:
        for name in LiqParams.__slots__:
            _require_int("LiqParams", name, getattr(self, name), 0)

    @property
    def complete(self) -> bool:
        """Whether all five are set; otherwise the legacy 90 % threshold applies."""
        return all(getattr(self, name) != 0 for name in LiqParams.__slots__)


NO_LIQ_PARAMS = LiqParams(0, 0, 0, 0, 0)
"""A trade opened before v9.2: no params, 90 % threshold, no liquidation spread."""


@dataclass(frozen=True, slots=True)
class TradeTerms:
    """One open trade (``tradeType`` 0) in the diamond's raw units.

    ``closing_fee_collateral_raw`` comes from ``closing_fee_collateral_raw()``;
    ``holding_fee_collateral_raw`` is ``TradeHoldingFees.totalFeeCollateral`` at the current pair
    price (signed: funding may be owed to the trade); ``realized_*`` are ``TradeFeesData``'s
    ``realizedPnlCollateral`` (signed) and ``realizedTradingFeesCollateral``; ``liq_spread_p`` is
    ``liq_spread_p()``: 0 for trades opened before v9.2.

    Raises:
        ValueError: a non-int field, a non-positive open price, collateral or leverage,
            decimals outside [0, 77], a negative closing fee, realised trading fee or spread.
    """

    long: bool
    open_price_e10: int
    collateral_raw: int
    collateral_decimals: int
    leverage_e3: int
    liq_params: LiqParams
    closing_fee_collateral_raw: int
    holding_fee_collateral_raw: int
    realized_pnl_collateral_raw: int
    realized_trading_fees_collateral_raw: int
    liq_spread_p: int

    def __post_init__(self) -> None:
        if type(self.long) is not bool:
            raise ValueError("TradeTerms.long must be a bool")
        if not isinstance(self.liq_params, LiqParams):
            raise ValueError("TradeTerms.liq_params must be a LiqParams")
        for name in ("open_price_e10", "collateral_raw", "leverage_e3"):
            _require_int("TradeTerms", name, getattr(self, name), 1)
        _require_int("TradeTerms", "collateral_decimals", self.collateral_decimals, 0)
        if self.collateral_decimals > MAX_DECIMALS:
            raise ValueError(f"TradeTerms.collateral_decimals must be <= {MAX_DECIMALS}")
        for name in ("closing_fee_collateral_raw", "realized_trading_fees_collateral_raw"):
            _require_int("TradeTerms", name, getattr(self, name), 0)
        _require_int("TradeTerms", "liq_spread_p", self.liq_spread_p, 0)
        for name in ("holding_fee_collateral_raw", "realized_pnl_collateral_raw"):
            _require_int("TradeTerms", name, getattr(self, name))

    @property
    def side(self) -> int:
        """+1 long, -1 short."""
        return 1 if self.long else -1


def liq_threshold_p(params: LiqParams, leverage_e3: int) -> int:
    """The trade's liquidation threshold: the share of collateral lost (percent · 1e10, an int).

    90 % when any param is 0; the start threshold at ``leverage <= startLeverage``, the end one
    at ``>= endLeverage``, linear in between with the quotient floored as the diamond does.

        >>> liq_threshold_p(LiqParams(5 * 10**8, 9 * 10**11, 65 * 10**10, 25_000, 60_000), 50_000)
        721428571429
    """
    if not params.complete:
        return LEGACY_LIQ_THRESHOLD_P
    if leverage_e3 <= params.start_leverage:
        return params.start_liq_threshold_p
    if leverage_e3 >= params.end_leverage:
        return params.end_liq_threshold_p
    drop = (leverage_e3 - params.start_leverage) * (
        params.start_liq_threshold_p - params.end_liq_threshold_p
    )
    return params.start_liq_threshold_p - drop // (params.end_leverage - params.start_leverage)


def liq_spread_p(
    pair_spread_p: int, fixed_spread_p: int, max_liq_spread_p: int, contracts_version: int
) -> int:
    """The closing spread in the liquidation price (percent · 1e10), as the SDK's
    ``getSpreadP(pairSpreadP, isLiquidation=true, …)`` gated by ``getLiquidationPrice``:

    0 before v9.2 (``contracts_version`` < 1) or when neither ``maxLiqSpreadP`` nor the trader's
    ``fixedSpreadP`` is positive; otherwise ``pairSpreadP / 2 + fixedSpreadP``, capped at
    ``maxLiqSpreadP`` when that is positive. ``pairSpreadP / 2`` is floored (an odd raw spread
    loses 5e-11 %).
    """
    if contracts_version < CONTRACTS_VERSION_V9_2:
        return 0
    if max_liq_spread_p <= 0 and fixed_spread_p <= 0:
        return 0
    spread = pair_spread_p // 2 + fixed_spread_p
    if max_liq_spread_p > 0:
        spread = min(spread, max_liq_spread_p)
    return max(spread, 0)


def closing_fee_collateral_raw(
    total_position_size_fee_p: int,
    collateral_raw: int,
    leverage_e3: int,
    min_position_size_usd_e18: int,
    collateral_price_usd_e8: int,
    collateral_decimals: int,
    *,
    counter_trade_fee_rate_multiplier_e3: int = LEVERAGE_SCALE,
) -> int:
    """The closing fee the liquidation price includes, in the collateral's smallest unit.

    ``totalPositionSizeFeeP · max(positionSize · multiplier, minPositionSizeUsd /
    collateralPriceUsd)`` without fee tiers, in the diamond's integer steps (v10
    ``TradingCommonUtils.getTotalTradeFeesCollateral`` / ``getPositionSizeCollateralBasis``):
    position size ``collateral_raw · leverage_e3 / 1e3`` floored; the counter-trade fee-rate
    multiplier (1e3 = 1x) scales the position size, not the minimum. Units:
    ``total_position_size_fee_p`` percent · 1e10 (``pairTotalPositionSizeFeeP``);
    ``min_position_size_usd_e18`` USD · 1e18 (``pairMinPositionSizeUsd``; the fee group's
    ``minPositionSizeUsd`` is USD · 1e3, times 1e15), converted to collateral as
    ``getCollateralFromUsdNormalizedValue`` does; ``collateral_price_usd_e8`` the diamond's
    ``getCollateralPriceUsd``. Quotients are floored as in Solidity.

        >>> closing_fee_collateral_raw(6 * 10**8, 10**9, 50_000, 0, 10**8, 6)   # 0.06 % of $50k
        30000000

    Raises:
        ValueError: a non-positive collateral price while a minimum size is set.
    """
    size = collateral_raw * leverage_e3 // LEVERAGE_SCALE
    minimum = 0
    if min_position_size_usd_e18 > 0:
        if collateral_price_usd_e8 <= 0:
            raise ValueError(f"collateral price must be > 0, got {collateral_price_usd_e8}")
        minimum = (
            min_position_size_usd_e18
            * USD_E8
            * _pow10(collateral_decimals)
            // (collateral_price_usd_e8 * MIN_POSITION_USD_SCALE)
        )
    basis_e3 = max(size * counter_trade_fee_rate_multiplier_e3, minimum * LEVERAGE_SCALE)
    return basis_e3 * total_position_size_fee_p // (PERCENT_100_P * LEVERAGE_SCALE)


def total_fees_collateral_raw(t: TradeTerms) -> int:
    """F: closing fee + holding fees - (realised pnl - realised trading fees), collateral raw."""
    realized = t.realized_pnl_collateral_raw - t.realized_trading_fees_collateral_raw
    return t.closing_fee_collateral_raw + t.holding_fee_collateral_raw - realized


def liquidation_distance_e10(t: TradeTerms) -> Fraction:
    """``dist`` exactly (USD · 1e10 per pair unit): how far the price may move against the trade
    from the open price; negative when the trade is liquidatable at its open price."""
    thr = Fraction(liq_threshold_p(t.liq_params, t.leverage_e3), PERCENT_100_P)
    fees = total_fees_collateral_raw(t)
    margin = Fraction(t.collateral_raw) * thr - fees
    lev = Fraction(t.leverage_e3, LEVERAGE_SCALE)
    spread = Fraction(t.liq_spread_p, PERCENT_100_P)
    return t.open_price_e10 * (margin / (t.collateral_raw * lev) - spread)


def liquidation_price_exact_e10(t: TradeTerms) -> Fraction:
    """The liquidation price as an exact rational (USD · 1e10), floored at 0."""
    liq = t.open_price_e10 - t.side * liquidation_distance_e10(t)
    return max(liq, Fraction(0))


def liquidation_price_e10(t: TradeTerms) -> float:
    """The pair price (USD · 1e10) at which gTrade liquidates the trade: the exact rational
    rounded once to the nearest float; 0.0 when no positive price liquidates a long (or every
    price liquidates a short). The diamond's integer result differs by less than one unit."""
    return float(liquidation_price_exact_e10(t))


def is_liquidatable(t: TradeTerms, price_e10: int) -> bool:
    """Whether gTrade liquidates the trade at pair price ``price_e10`` (long ``P <= liq``,
    short ``P >= liq``), decided exactly."""
    liq = liquidation_price_exact_e10(t)
    return price_e10 <= liq if t.long else price_e10 >= liq


def margin_ratio(t: TradeTerms, price_e10: int | Fraction) -> Fraction:
    """``(C + pnl - F) / (C · (1 - thr) + s · C · lev)`` at ``price_e10``, exactly, in the
    collateral token: the health ``trade_account`` gives at any conversion price. <= 1 exactly
    when ``is_liquidatable`` (while the denominator is positive), and exactly 1 at
    ``liquidation_price_exact_e10`` unless that is clamped at 0."""
    c = Fraction(t.collateral_raw)
    lev = Fraction(t.leverage_e3, LEVERAGE_SCALE)
    thr = Fraction(liq_threshold_p(t.liq_params, t.leverage_e3), PERCENT_100_P)
    spread = Fraction(t.liq_spread_p, PERCENT_100_P)
    pnl = t.side * c * lev * (Fraction(price_e10, t.open_price_e10) - 1)
    requirement = c * (1 - thr) + spread * c * lev
    return (c + pnl - total_fees_collateral_raw(t)) / requirement


def _usd_e30(amount_raw: Fraction | int, decimals: int, price_usd_e8: int) -> int:
    """A collateral amount as USD · 1e30 at ``price_usd_e8``, floored."""
    return math.floor(Fraction(amount_raw) * price_usd_e8 * E30 / (USD_E8 * _pow10(decimals)))


def size_raw(t: TradeTerms, collateral_price_usd_e8: int) -> int:
    """Normal-form signed size in 10^-20 pair units: ``C · lev · Pc / open``, floored."""
    value = (
        Fraction(t.collateral_raw * t.leverage_e3 * collateral_price_usd_e8, t.open_price_e10)
        * _pow10(SIZE_DECIMALS)
        * P_10
        / (LEVERAGE_SCALE * USD_E8 * _pow10(t.collateral_decimals))
    )
    return t.side * math.floor(value)


def crossing_shift_e10(t: TradeTerms, conversion_price_usd_e8: int, valued_at_usd_e8: int) -> float:
    """How far the normal form's health-1 price moves (USD · 1e10, signed) when the collateral
    is valued at ``valued_at`` instead of the ``conversion`` price the account was built with:
    ``-side · open · (valued_at / conversion - 1) / lev`` (0 when they are equal)."""
    ratio = Fraction(valued_at_usd_e8, conversion_price_usd_e8) - 1
    lev = Fraction(t.leverage_e3, LEVERAGE_SCALE)
    return float(-t.side * t.open_price_e10 * ratio / lev)


PIN = "@"
"""Separates a collateral symbol from the price it is pinned at in ``pinned_asset``."""


def pinned_asset(symbol: str, price_usd_e8: int) -> str:
    """The asset key of a collateral valued at a fixed conversion price: ``"WETH@312345678901"``.

    Raises:
        ValueError: an empty symbol or one containing ``@``, or a price that is not an int > 0.
    """
    if not symbol or PIN in symbol:
        raise ValueError(f"collateral symbol must be non-empty without {PIN!r}, got {symbol!r}")
    if type(price_usd_e8) is not int or price_usd_e8 <= 0:
        raise ValueError(f"collateral price must be an int > 0, got {price_usd_e8!r}")
    return f"{symbol}{PIN}{price_usd_e8}"


def pinned_price(asset: str) -> float | None:
    """USD per whole unit of a ``pinned_asset`` key, or None for any other key.

    >>> pinned_price("WETH@312345678901"), pinned_price("WETH")
    (3123.45678901, None)
    """
    symbol, sep, digits = asset.rpartition(PIN)
    if not sep or not symbol or not (digits.isascii() and digits.isdigit()) or int(digits) == 0:
        return None
    return int(digits) / USD_E8


def trade_account(
    t: TradeTerms,
    *,
    account_id: str,
    owner: str,
    market: str,
    asset: str,
    collateral_asset: str,
    collateral_price_feed: str,
    collateral_price_usd_e8: int,
    chain_id: int,
    block_number: int,
    protocol: str = "gtrade",
) -> MarginAccount:
    """One isolated ``MarginAccount`` (ref ``account_id``) for the trade, every collateral amount
    converted to USD at ``collateral_price_usd_e8``: health crosses 1 exactly at
    ``liquidation_price_e10(t)`` when the monitor values ``collateral_asset`` at that same price
    (see the module docstring: pass ``pinned_asset(symbol, collateral_price_usd_e8)`` and quote
    it at ``pinned_price``). ``asset`` is the pair's base (priced in USD per whole unit).

    Raises:
        ValueError: a non-positive conversion price, or a field the normal form rejects (e.g.
            a size that floors to 0: a trade far below 1e-20 pair units).
    """
    if type(collateral_price_usd_e8) is not int or collateral_price_usd_e8 <= 0:
        raise ValueError(f"collateral price must be an int > 0, got {collateral_price_usd_e8!r}")
    dec, pc = t.collateral_decimals, collateral_price_usd_e8
    size = size_raw(t, pc)
    thr_p = liq_threshold_p(t.liq_params, t.leverage_e3)
    position = Position(
        market=market,
        asset=asset,
        size_raw=size,
        size_decimals=SIZE_DECIMALS,
        entry_notional_usd_e30=abs(size) * t.open_price_e10,
        pending_fees_usd_e30=_usd_e30(total_fees_collateral_raw(t), dec, pc),
        closing_fee_rate_e30=0,
        mm_rate_e30=0,
        mm_rate_entry_e30=t.liq_spread_p * (E30 // PERCENT_100_P),
        mm_floor_usd_e30=0,
        venue_notes=(
            ("liq_threshold_p", thr_p),
            ("liq_spread_p", t.liq_spread_p),
            ("closing_fee_collateral_raw", t.closing_fee_collateral_raw),
            ("holding_fee_collateral_raw", t.holding_fee_collateral_raw),
            ("realized_pnl_collateral_raw", t.realized_pnl_collateral_raw),
            ("realized_trading_fees_collateral_raw", t.realized_trading_fees_collateral_raw),
            ("collateral_price_usd_e8", pc),
        ),
    )
    requirement = Fraction(t.collateral_raw * (PERCENT_100_P - thr_p), PERCENT_100_P)
    return MarginAccount(
        chain_id=chain_id,
        protocol=protocol,
        owner=owner,
        ref=account_id,
        mode=MarginMode.ISOLATED,
        collateral=(Collateral(collateral_asset, t.collateral_raw, dec, collateral_price_feed),),
        positions=(position,),
        block_number=block_number,
        fixed_requirement_usd_e30=_usd_e30(requirement, dec, pc),
    )
