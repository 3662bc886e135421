"""Health factor, liquidation prices and stress tests of a margin account. Pure: no I/O.

Prices are ``Mapping[str, float]``: USD per whole unit of an asset, keyed like
``Collateral.asset`` / ``Position.asset``. All results are float64 USD.

    equity      = Σ collateral·P·(1 - haircut) + Σ (size·P - side·entry_notional)
                  - Σ (pending_fees + closing_fee_rate·|size|·P)
    maintenance = fixed_requirement + Σ max(mm_floor, mm_rate·|size|·P
                  + mm_rate_entry·entry_notional + tiered(|size|·P))
    health      = equity / maintenance        (≤ 1 ⇒ liquidatable; maintenance ≤ 0 ⇒ inf)

Along any straight line of prices ``P(u) = P + u·d`` equity is affine in ``u`` and maintenance
is piecewise affine (kinks at floors and tier bounds), so ``equity - maintenance`` has a
closed-form root on each piece (``monitor.health.line``): no iteration anywhere.

A price that is NaN, infinite, zero or negative values nothing: the account's health is
*unknown* (``AccountHealth.reason`` says why; equity, maintenance and health are NaN and no
liquidation price is given), never a number that reads as safe or liquidatable.

    >>> report = account_health(account, {"ETH": 2500.0, "USDC": 1.0})
    >>> report.health, report.positions[0].liquidation_price
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from indexer.models import MarginAccount, Position
from monitor.health.line import first_root, margin_line


@dataclass(frozen=True, slots=True)
class PositionRisk:
    """One position at the current prices.

    ``mark_price`` and ``liquidation_price`` are USD per whole unit of ``asset``; the latter
    holds every other price fixed and is None when no positive price liquidates (or, for an
    account already at health ≤ 1, none restores it). ``distance_pct`` is the adverse move
    to liquidation in percent of the mark price; negative when the account is already
    liquidatable (then the price must move that far *favourably* to reach health 1).
    """

    market: str
    asset: str
    mark_price: float
    liquidation_price: float | None
    distance_pct: float | None


@dataclass(frozen=True, slots=True)
class AccountHealth:
    """An account at the current prices: equity and maintenance in USD, health = their ratio.

    ``reason`` is None when the account was valued; otherwise it says why it could not be (a
    bad price), and equity, maintenance and health are NaN: the account's status is unknown.
    ``move_pct`` is the smallest adverse move that liquidates the account, in percent (see
    ``move_to_liquidation_pct``); None without positions or when unknown.
    """

    equity_usd: float
    maintenance_usd: float
    health: float
    positions: tuple[PositionRisk, ...]
    reason: str | None = None
    move_pct: float | None = None

    @property
    def known(self) -> bool:
        """Whether the account was valued (no bad price)."""
        return self.reason is None


def bad_prices(prices: Mapping[str, float], assets: Iterable[str]) -> str | None:
    """Why ``prices`` cannot value ``assets`` (each must be finite and > 0), or None.

    Raises KeyError if an asset has no price at all (the caller decides what missing means).
    """
    bad = [f"{a} {prices[a]!r}" for a in sorted(assets) if not _usable(prices[a])]
    return f"bad price (must be finite and > 0): {', '.join(bad)}" if bad else None


def _usable(price: float) -> bool:
    return math.isfinite(price) and price > 0.0


def unknown_health(
    account: MarginAccount, prices: Mapping[str, float], reason: str
) -> AccountHealth:
    """The unknown-status report of ``account``: NaN values, no liquidation prices."""
    risks = tuple(
        PositionRisk(p.market, p.asset, prices[p.asset], None, None) for p in account.positions
    )
    nan = math.nan
    return AccountHealth(nan, nan, nan, risks, reason)


def _health(equity_usd: float, maintenance_usd: float) -> float:
    return equity_usd / maintenance_usd if maintenance_usd > 0 else math.inf


def liquidation_price(
    account: MarginAccount, prices: Mapping[str, float], position: Position
) -> tuple[float | None, float | None]:
    """``(liquidation_price, distance_pct)`` of ``position``, every other price fixed.

    Moves the position's asset in its adverse direction (long: down, short: up) from the mark
    to the nearest price where health is 1. If the account is already at health ≤ 1 it moves
    the other way instead and reports a negative distance. ``(None, None)`` if no positive
    price qualifies, or if a price of the account is not a positive finite number.
    Prices: USD per whole unit; distance: percent of the mark.
    """
    if bad_prices(prices, account.assets) is not None:
        return None, None
    return _liquidation_price(account, prices, position)


def _liquidation_price(
    account: MarginAccount, prices: Mapping[str, float], position: Position
) -> tuple[float | None, float | None]:
    mark = prices[position.asset]
    healthy = margin_line(account, prices, {}).gap(0.0) > 0.0
    direction = -position.side if healthy else position.side
    line = margin_line(account, prices, {position.asset: direction * mark})
    u = first_root(line, 1.0 if direction < 0 else math.inf)
    if u is None:
        return None, None
    return mark * (1.0 + direction * u), (100.0 * u if healthy else -100.0 * u)


def account_health(account: MarginAccount, prices: Mapping[str, float]) -> AccountHealth:
    """Equity, maintenance and health of ``account`` and the risk of each of its positions;
    unknown (``reason`` set) if a price is NaN, infinite, zero or negative.

    Raises KeyError if ``prices`` lacks an asset of the account.
    """
    reason = bad_prices(prices, account.assets)
    if reason is not None:
        return unknown_health(account, prices, reason)
    line = margin_line(account, prices, {})
    maintenance = line.maintenance(0.0)
    risks = []
    for p in account.positions:
        liq, distance = _liquidation_price(account, prices, p)
        risks.append(PositionRisk(p.market, p.asset, prices[p.asset], liq, distance))
    health = _health(line.equity_usd, maintenance)
    move = move_to_liquidation_pct(account, prices, risks)
    return AccountHealth(line.equity_usd, maintenance, health, tuple(risks), move_pct=move)


def shocked(prices: Mapping[str, float], shocks: Mapping[str, float]) -> dict[str, float]:
    """``prices`` with ``P_a·(1 + shocks[a])`` for each shocked asset (-0.2 = a 20 % fall).

    Raises ValueError if a shocked price would not be positive.
    """
    out = dict(prices)
    for asset, shock in shocks.items():
        out[asset] = prices[asset] * (1.0 + shock)
        if not out[asset] > 0.0:
            raise ValueError(f"shock {shock} leaves {asset} at a non-positive price")
    return out


def stress(
    account: MarginAccount, prices: Mapping[str, float], shocks: Mapping[str, float]
) -> AccountHealth:
    """``account_health`` after relative shocks, e.g. ``{"ETH": -0.3, "BTC": -0.2}``.

    Raises ValueError if a shock leaves a price non-positive, KeyError if a price is missing.
    """
    return account_health(account, shocked(prices, shocks))


def shock_to_liquidation(
    account: MarginAccount, prices: Mapping[str, float], weights: Mapping[str, float]
) -> float | None:
    """Smallest ``u ≥ 0`` such that prices ``P_a·(1 + u·weights[a])`` bring health to 1.

    Several prices move together: ``weights = {a: -1.0 for a in account.assets}`` asks how far
    (as a fraction, 0.25 = 25 %) everything may fall at once. 0.0 if the account is already
    liquidatable; None if no move along that line liquidates it while prices stay positive,
    or if a price is not a positive finite number.
    """
    if bad_prices(prices, account.assets) is not None:
        return None
    line = margin_line(account, prices, {a: w * prices[a] for a, w in weights.items()})
    if line.gap(0.0) <= 0.0:
        return 0.0
    falling = [-1.0 / w for w in weights.values() if w < 0.0]
    return first_root(line, min(falling, default=math.inf))


def adverse_weights(
    account: MarginAccount, scale: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Per market (position asset) of ``account``, the direction that hurts it, times
    ``scale[asset]`` (default 1): -1 where it is net long (equity per USD of price, collateral
    of that asset included, is positive), +1 where net short or flat (a flat hedge still
    loses to a rise: maintenance grows with the price). For ``shock_to_liquidation``.
    """
    exposure: dict[str, float] = {p.asset: 0.0 for p in account.positions}
    for p in account.positions:
        exposure[p.asset] += p.size - p.closing_fee_rate * abs(p.size)
    for c in account.collateral:
        if c.asset in exposure:
            exposure[c.asset] += c.amount * (1.0 - c.haircut)
    factor = scale if scale is not None else dict.fromkeys(exposure, 1.0)
    return {a: (-1.0 if e > 0.0 else 1.0) * factor[a] for a, e in exposure.items()}


def move_to_liquidation_pct(
    account: MarginAccount, prices: Mapping[str, float], risks: Iterable[PositionRisk]
) -> float | None:
    """The smallest adverse move, in percent, that liquidates ``account``: the least of its
    positions' own distances (``risks``, each with the other prices fixed) and, when its
    positions span several markets, the move of all of them against it together (a cross
    account's worst case: each loss eats the same balance). Negative when already
    liquidatable (the way back, as ``PositionRisk.distance_pct``); None without positions.

    Raises KeyError if ``prices`` lacks an asset of the account.
    """
    joint = None
    if len({p.asset for p in account.positions}) > 1:
        joint = shock_to_liquidation(account, prices, adverse_weights(account))
    return least_move_pct(risks, joint)


def least_move_pct(risks: Iterable[PositionRisk], joint: float | None) -> float | None:
    """The least of the positions' distances and ``100 · joint`` (the joint adverse move as a
    fraction, None where there is none), in percent; None if there is neither."""
    distances = [r.distance_pct for r in risks if r.distance_pct is not None]
    if joint is not None:
        distances.append(100.0 * joint)
    return min(distances, default=None)
