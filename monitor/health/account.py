"""Health factor, liquidation prices and stress tests of a margin account. Pure: no I/O.

Prices are ``Mapping[str, float]``: USD per whole unit of an asset, keyed like
``Collateral.asset`` / ``Position.asset``, and must be positive. All results are float64 USD.

    equity      = Σ collateral·P·(1 - haircut) + Σ (size·P - side·entry_notional)
                  - Σ (pending_fees + closing_fee_rate·|size|·P)
    maintenance = fixed_requirement
                  + Σ max(mm_floor, mm_rate·|size|·P + mm_rate_entry·entry_notional)
    health      = equity / maintenance        (≤ 1 ⇒ liquidatable; maintenance ≤ 0 ⇒ inf)

Along any straight line of prices ``P(u) = P + u·d`` equity is affine in ``u`` and maintenance
is convex piecewise affine (one kink per max()), so ``equity - maintenance`` is concave
piecewise affine and its roots have a closed form on each piece: no iteration anywhere.

    >>> report = account_health(account, {"ETH": 2500.0, "USDC": 1.0})
    >>> report.health, report.positions[0].liquidation_price
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass

from indexer.models import MarginAccount, Position

ROOT_SLACK = 1e-12
"""Relative tolerance for a piece's root landing just outside the piece by rounding."""


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
    """An account at the current prices: equity and maintenance in USD, health = their ratio."""

    equity_usd: float
    maintenance_usd: float
    health: float
    positions: tuple[PositionRisk, ...]


@dataclass(frozen=True, slots=True)
class MarginLine:
    """Equity and maintenance along a price line, as functions of the line parameter ``u``.

    ``equity(u) = equity_usd + equity_slope·u`` and
    ``maintenance(u) = fixed_usd + Σ max(floor, base + slope·u)`` over ``terms`` given as
    ``(floor_usd, base_usd, slope_usd)``; ``u = 0`` is the current prices.
    """

    equity_usd: float
    equity_slope: float
    fixed_usd: float
    terms: tuple[tuple[float, float, float], ...]

    def gap(self, u: float) -> float:
        """``equity(u) - maintenance(u)`` in USD; ≤ 0 means liquidatable."""
        parts = [self.equity_usd, self.equity_slope * u, -self.fixed_usd]
        parts += [-max(floor, base + slope * u) for floor, base, slope in self.terms]
        return math.fsum(parts)


def margin_line(
    account: MarginAccount, prices: Mapping[str, float], moves: Mapping[str, float]
) -> MarginLine:
    """Decompose ``account`` along ``P_a(u) = prices[a] + u·moves[a]`` (USD per unit u).

    Assets missing from ``moves`` stay fixed. Raises KeyError if a needed price is missing.
    """
    equity = []
    slope = []
    for c in account.collateral:
        weight = c.amount * (1.0 - c.haircut)
        equity.append(weight * prices[c.asset])
        slope.append(weight * moves.get(c.asset, 0.0))
    terms = []
    for p in account.positions:
        price, move = prices[p.asset], moves.get(p.asset, 0.0)
        net_size = p.size - p.closing_fee_rate * abs(p.size)
        equity += [net_size * price, -p.side * p.entry_notional_usd, -p.pending_fees_usd]
        slope.append(net_size * move)
        rate_size = p.mm_rate * abs(p.size)
        base = rate_size * price + p.mm_rate_entry * p.entry_notional_usd
        terms.append((p.mm_floor_usd, base, rate_size * move))
    return MarginLine(
        math.fsum(equity), math.fsum(slope), account.fixed_requirement_usd, tuple(terms)
    )


def piece_root(line: MarginLine, lo: float, hi: float, u_max: float, probe: float) -> float | None:
    """The zero of ``gap`` on the piece [lo, hi] (no kink inside), or None.

    ``probe`` is a point inside the piece that tells which branch each max() takes there.
    A root equal to ``u_max`` is rejected (it would be a price of 0). A piece on which the gap
    is identically 0 yields ``lo``. A root within ``ROOT_SLACK`` (relative) outside the piece is
    clamped into it: a root sitting on a kink may otherwise round out of both neighbours.
    """
    g0, g1 = line.equity_usd - line.fixed_usd, line.equity_slope
    for floor, base, slope in line.terms:
        if base + slope * probe > floor:
            g0, g1 = g0 - base, g1 - slope
        else:
            g0 -= floor
    if g1 == 0.0:
        return lo if g0 == 0.0 else None
    u = -g0 / g1
    slack = ROOT_SLACK * max(1.0, abs(lo), abs(hi) if math.isfinite(hi) else 0.0)
    if not lo - slack <= u <= hi + slack:
        return None
    u = min(max(u, lo), hi)
    return u if u < u_max else None


def first_root(line: MarginLine, u_max: float = math.inf) -> float | None:
    """Smallest ``u`` in [0, u_max) where equity equals maintenance, or None.

    Walks the pieces between the kinks of the max() terms in increasing ``u``; on each the
    gap is affine, so its zero is exact up to float rounding.
    """
    kinks = {(f - b) / s for f, b, s in line.terms if s != 0.0}
    edges = [0.0, *sorted(k for k in kinks if 0.0 < k < u_max), u_max]
    for lo, hi in itertools.pairwise(edges):
        probe = (lo + hi) / 2 if math.isfinite(hi) else lo * 2 + 1
        root = piece_root(line, lo, hi, u_max, probe)
        if root is not None:
            return root
    return None


def _health(equity_usd: float, maintenance_usd: float) -> float:
    return equity_usd / maintenance_usd if maintenance_usd > 0 else math.inf


def liquidation_price(
    account: MarginAccount, prices: Mapping[str, float], position: Position
) -> tuple[float | None, float | None]:
    """``(liquidation_price, distance_pct)`` of ``position``, every other price fixed.

    Moves the position's asset in its adverse direction (long: down, short: up) from the mark
    to the nearest price where health is 1. If the account is already at health ≤ 1 it moves
    the other way instead and reports a negative distance. ``(None, None)`` if no positive
    price qualifies. Prices: USD per whole unit; distance: percent of the mark.
    """
    mark = prices[position.asset]
    healthy = margin_line(account, prices, {}).gap(0.0) > 0.0
    direction = -position.side if healthy else position.side
    line = margin_line(account, prices, {position.asset: direction * mark})
    u = first_root(line, 1.0 if direction < 0 else math.inf)
    if u is None:
        return None, None
    return mark * (1.0 + direction * u), (100.0 * u if healthy else -100.0 * u)


def account_health(account: MarginAccount, prices: Mapping[str, float]) -> AccountHealth:
    """Equity, maintenance and health of ``account`` and the risk of each of its positions.

    Raises KeyError if ``prices`` lacks an asset of the account.
    """
    line = margin_line(account, prices, {})
    maintenance = math.fsum([line.fixed_usd, *(max(f, b) for f, b, _ in line.terms)])
    risks = []
    for p in account.positions:
        liq, distance = liquidation_price(account, prices, p)
        risks.append(PositionRisk(p.market, p.asset, prices[p.asset], liq, distance))
    return AccountHealth(
        line.equity_usd, maintenance, _health(line.equity_usd, maintenance), tuple(risks)
    )


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
    liquidatable; None if no move along that line liquidates it while prices stay positive.
    """
    line = margin_line(account, prices, {a: w * prices[a] for a, w in weights.items()})
    if line.gap(0.0) <= 0.0:
        return 0.0
    falling = [-1.0 / w for w in weights.values() if w < 0.0]
    return first_root(line, min(falling, default=math.inf))
