"""An account's equity and maintenance along a straight line of prices, and its roots. Pure.

Along ``P(u) = P + u·d`` equity is affine in ``u``. Each position's maintenance is
``max(floor, base + slope·u + tiered(n(u)))`` with mark notional ``n(u) = |size|·P(u)`` and
``tiered`` continuous and piecewise linear (a rate and a deduction per notional tier), so
``equity - maintenance`` is piecewise affine. Its pieces end where a notional crosses a tier
bound or a tier's line crosses the floor; on each piece the root has a closed form, and a root
counts only if it lies in its own piece (never a tier stretched past its bound).

    >>> line = margin_line(account, {"ETH": 2500.0, "USDC": 1.0}, {"ETH": -2500.0})
    >>> first_root(line, 1.0)      # fraction of the ETH price that may fall before health 1
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass

from indexer.models import MarginAccount

ROOT_SLACK = 1e-12
"""Relative tolerance for a piece's root landing just outside the piece by rounding."""

Tier = tuple[float, float, float]
"""``(lower_bound_usd, mm_rate, deduction_usd)``: from that notional up, rate·n - deduction."""


@dataclass(frozen=True, slots=True)
class MarginTerm:
    """One position's maintenance along the line:
    ``max(floor_usd, base_usd + slope_usd·u + tiered(notional_usd + notional_slope_usd·u))``.

    Without ``tiers`` the tiered part is 0. Tiers ascend from lower bound 0.
    """

    floor_usd: float
    base_usd: float
    slope_usd: float
    notional_usd: float = 0.0
    notional_slope_usd: float = 0.0
    tiers: tuple[Tier, ...] = ()

    def _lines(self) -> list[tuple[float, float]]:
        """``(value at u=0, slope)`` of the unfloored requirement under each tier."""
        if not self.tiers:
            return [(self.base_usd, self.slope_usd)]
        return [
            (self.base_usd + rate * self.notional_usd - deduction,
             self.slope_usd + rate * self.notional_slope_usd)
            for _, rate, deduction in self.tiers
        ]  # fmt: skip

    def coefficients(self, u: float) -> tuple[float, float]:
        """``(c0, c1)`` of the affine piece that holds at ``u``: the term is ``c0 + c1·u``."""
        c0, c1 = self.base_usd, self.slope_usd
        if self.tiers:
            bounds = [lower for lower, _, _ in self.tiers]
            notional = self.notional_usd + self.notional_slope_usd * u
            _, rate, deduction = self.tiers[max(0, bisect.bisect_right(bounds, notional) - 1)]
            c0 += rate * self.notional_usd - deduction
            c1 += rate * self.notional_slope_usd
        return (c0, c1) if c0 + c1 * u > self.floor_usd else (self.floor_usd, 0.0)

    def value(self, u: float) -> float:
        """The requirement in USD at ``u``."""
        c0, c1 = self.coefficients(u)
        return c0 + c1 * u

    def kinks(self) -> list[float]:
        """Every ``u`` where the piece may change: tier bounds and floor crossings.

        A superset is harmless (a piece split in two), so every tier's floor crossing is
        listed whether or not it falls inside that tier.
        """
        out = [(self.floor_usd - c0) / c1 for c0, c1 in self._lines() if c1 != 0.0]
        if self.notional_slope_usd != 0.0:
            out += [(lo - self.notional_usd) / self.notional_slope_usd for lo, _, _ in self.tiers]
        return out


@dataclass(frozen=True, slots=True)
class MarginLine:
    """Equity and maintenance along a price line, as functions of the line parameter ``u``.

    ``equity(u) = equity_usd + equity_slope·u`` and
    ``maintenance(u) = fixed_usd + Σ term(u)``; ``u = 0`` is the current prices.
    """

    equity_usd: float
    equity_slope: float
    fixed_usd: float
    terms: tuple[MarginTerm, ...]

    def gap(self, u: float) -> float:
        """``equity(u) - maintenance(u)`` in USD; ≤ 0 means liquidatable."""
        parts = [self.equity_usd, self.equity_slope * u, -self.fixed_usd]
        parts += [-term.value(u) for term in self.terms]
        return math.fsum(parts)

    def maintenance(self, u: float) -> float:
        """``maintenance(u)`` in USD."""
        return math.fsum([self.fixed_usd, *(term.value(u) for term in self.terms)])


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
        notional = (abs(p.size) * price, abs(p.size) * move)
        terms.append(MarginTerm(p.mm_floor_usd, base, rate_size * move, *notional, p.mm_tiers_usd))
    return MarginLine(
        math.fsum(equity), math.fsum(slope), account.fixed_requirement_usd, tuple(terms)
    )


def piece_root(line: MarginLine, lo: float, hi: float, u_max: float, probe: float) -> float | None:
    """The zero of ``gap`` on the piece [lo, hi] (no kink inside), or None.

    ``probe`` is a point inside the piece that tells which tier and which branch of each max()
    hold there. A root equal to ``u_max`` is rejected (it would be a price of 0). A piece on
    which the gap is identically 0 yields ``lo``. A root within ``ROOT_SLACK`` (relative)
    outside the piece is clamped into it: a root sitting on a kink may otherwise round out of
    both neighbours.
    """
    g0, g1 = line.equity_usd - line.fixed_usd, line.equity_slope
    for term in line.terms:
        c0, c1 = term.coefficients(probe)
        g0, g1 = g0 - c0, g1 - c1
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

    Walks the pieces between the kinks (tier bounds, floor crossings) in increasing ``u``; on
    each the gap is affine, so its zero is exact up to float rounding.
    """
    kinks = {k for term in line.terms for k in term.kinks()}
    edges = [0.0, *sorted(k for k in kinks if 0.0 < k < u_max), u_max]
    for lo, hi in itertools.pairwise(edges):
        probe = (lo + hi) / 2 if math.isfinite(hi) else lo * 2 + 1
        root = piece_root(line, lo, hi, u_max, probe)
        if root is not None:
            return root
    return None
