"""The piecewise root search of ``monitor.health.line``, vectorised over positions. Pure.

Each position row has one maintenance term along its own price line ``u``:

    term(u) = max(floor, linear + linear_slope·u + tiered(notional + notional_slope·u))
    gap(u)  = rest + rest_slope·u - term(u)          (rest: equity less the other terms)

and the first root of ``gap`` in [0, u_max) is wanted. Tiers are padded to a common count K
(padding: lower bound +inf, never reached), and a position without tiers has one zero tier,
so every row is handled by the same array code: the candidate kinks (every tier line's floor
crossing, every tier bound) are sorted per row into pieces, each piece is solved in closed
form with the tier and branch that hold at its midpoint, and the first piece whose root lies
inside it wins, exactly as ``monitor.health.line.first_root`` walks them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.health.line import ROOT_SLACK, Tier

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]

Pair = tuple[Floats, Floats]
"""``(value at u = 0, slope in u)`` per row."""


@dataclass(frozen=True, slots=True)
class TierArrays:
    """Tiers of every row, shape (rows, K): ``lower_usd`` ascending from 0 then +inf padding,
    ``rate`` and ``deduction_usd`` (0 in the padding)."""

    lower_usd: Floats
    rate: Floats
    deduction_usd: Floats


def tier_arrays(tiers: Sequence[tuple[Tier, ...]]) -> TierArrays:
    """Pad each row's tiers to the longest; a row without tiers gets one zero tier."""
    width = max((len(t) for t in tiers), default=1) or 1
    lower = np.full((len(tiers), width), np.inf)
    rate = np.zeros((len(tiers), width))
    deduction = np.zeros((len(tiers), width))
    lower[:, 0] = 0.0
    for row, row_tiers in enumerate(tiers):
        for col, (low, r, d) in enumerate(row_tiers):
            lower[row, col], rate[row, col], deduction[row, col] = low, r, d
    return TierArrays(lower, rate, deduction)


def _tier_index(tiers: TierArrays, notional: npt.NDArray[np.float64]) -> Ints:
    """Column of the tier holding ``notional`` (shape (rows,) or (rows, pieces))."""
    if tiers.lower_usd.shape[1] == 1:  # no row has tiers: skip the comparisons
        return np.zeros(notional.shape, dtype=np.intp)
    lower = tiers.lower_usd if notional.ndim == 1 else tiers.lower_usd[:, None, :]
    count: Ints = (lower <= notional[..., None]).sum(axis=-1, dtype=np.intp)
    return np.maximum(count - 1, 0)


def tiered_usd(tiers: TierArrays, notional_usd: Floats) -> Floats:
    """``rate·notional - deduction`` of the tier holding each row's notional."""
    col = _tier_index(tiers, notional_usd)[:, None]
    rate = np.take_along_axis(tiers.rate, col, axis=1)[:, 0]
    deduction = np.take_along_axis(tiers.deduction_usd, col, axis=1)[:, 0]
    return rate * notional_usd - deduction


def _tier_lines(linear: Pair, notional: Pair, tiers: TierArrays) -> Pair:
    """Per row and tier column, ``(c0, c1)`` of the unfloored term under that tier."""
    c0 = linear[0][:, None] + tiers.rate * notional[0][:, None] - tiers.deduction_usd
    c1 = linear[1][:, None] + tiers.rate * notional[1][:, None]
    return c0, c1


def _kinks(floor: Floats, lines: Pair, notional: Pair, tiers: TierArrays, u_max: Floats) -> Floats:
    """Per row, its candidate kinks (each tier line's floor crossing, each tier bound) inside
    (0, u_max); the others are ``u_max`` (an empty piece at the end, never a root)."""
    c0, c1 = lines
    crossings = np.where(c1 != 0.0, (floor[:, None] - c0) / c1, np.nan)
    bounds = (tiers.lower_usd[:, 1:] - notional[0][:, None]) / notional[1][:, None]
    kinks = np.concatenate([crossings, bounds], axis=1)
    top = u_max[:, None]
    return np.where((kinks > 0.0) & (kinks < top), kinks, top)


def _edges(kinks: Floats, u_max: Floats) -> Floats:
    """Sorted piece edges per row: 0, the kinks, then u_max."""
    top = u_max[:, None]
    return np.sort(np.concatenate([np.zeros_like(top), kinks, top], axis=1), axis=1)


def _pieces(edges: Floats) -> tuple[Floats, Floats, Floats]:
    """``(lo, hi, probe)`` of every piece between consecutive edges; the probe tells which
    tier and which branch of the floor hold on the piece (``line.first_root``'s)."""
    lo, hi = edges[:, :-1], edges[:, 1:]
    return lo, hi, np.where(np.isfinite(hi), (lo + hi) / 2, lo * 2 + 1)


def _terms_at(floor: Floats, lines: Pair, notional: Pair, tiers: TierArrays, probe: Floats) -> Pair:
    """Per row and piece, ``(c0, c1)`` of the term's affine piece holding at ``probe``."""
    col = _tier_index(tiers, notional[0][:, None] + notional[1][:, None] * probe)
    c0 = np.take_along_axis(lines[0], col, axis=1)
    c1 = np.take_along_axis(lines[1], col, axis=1)
    active = c0 + c1 * probe > floor[:, None]
    return np.where(active, c0, floor[:, None]), np.where(active, c1, 0.0)


def _first_inside(gap: Pair, lo: Floats, hi: Floats, u_max: Floats) -> Floats:
    """Per row, the root of the first piece whose affine ``gap`` (per piece) is 0 inside it
    (within ``ROOT_SLACK``, then clamped in) and below ``u_max``, or NaN; a piece where the
    gap is identically 0 yields its start (``line.piece_root``)."""
    g0, g1 = gap
    u = np.where(g1 != 0.0, -g0 / g1, np.where(g0 == 0.0, lo, np.nan))
    span = np.maximum(np.abs(lo), np.where(np.isfinite(hi), np.abs(hi), 0.0))
    slack = ROOT_SLACK * np.maximum(1.0, span)
    inside = (u >= lo - slack) & (u <= hi + slack) & (lo < u_max[:, None])
    u = np.clip(u, lo, hi)
    valid = inside & (u < u_max[:, None])
    first = np.argmax(valid, axis=1)[:, None]
    found = np.take_along_axis(u, first, axis=1)[:, 0]
    return np.where(valid.any(axis=1), found, np.nan)


def first_roots(
    rest: Pair,
    term: tuple[Floats, Floats, Floats],
    notional: Pair,
    tiers: TierArrays,
    u_max: Floats,
) -> Floats:
    """Per row, the smallest ``u`` in [0, u_max) where ``gap`` is 0, or NaN.

    ``term`` is ``(floor, linear, linear_slope)``; ``notional`` is ``(notional,
    notional_slope)``; all USD per row.
    """
    floor, linear, linear_slope = term
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lines = _tier_lines((linear, linear_slope), notional, tiers)
        lo, hi, probe = _pieces(_edges(_kinks(floor, lines, notional, tiers, u_max), u_max))
        c0, c1 = _terms_at(floor, lines, notional, tiers, probe)
        return _first_inside((rest[0][:, None] - c0, rest[1][:, None] - c1), lo, hi, u_max)


def first_group_roots(
    group: Ints,
    rest: Pair,
    term: tuple[Floats, Floats, Floats],
    notional: Pair,
    tiers: TierArrays,
    u_max: Floats,
) -> Floats:
    """Per group, the smallest ``u`` in [0, u_max) where ``rest(u) - Σ term(u)`` over the
    group's rows is 0, or NaN: :func:`first_roots` with several terms to a line, as a cross
    account's markets all moving at once (``line.first_root`` of ``margin_line``).

    ``group`` (per row, ascending) numbers the groups 0..G-1; ``rest`` and ``u_max`` are per
    group, ``term``, ``notional`` and ``tiers`` per row as in :func:`first_roots`. A group's
    pieces end at the kinks of all its rows.
    """
    floor, linear, linear_slope = term
    groups = len(u_max)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lines = _tier_lines((linear, linear_slope), notional, tiers)
        kinks = _kinks(floor, lines, notional, tiers, u_max[group])
        # Each group's kinks side by side: its rows' in turn, padded with its u_max.
        sizes = np.bincount(group, minlength=groups)
        rank = np.arange(len(group)) - (np.cumsum(sizes) - sizes)[group]
        width = kinks.shape[1]
        by_group = np.repeat(u_max[:, None], int(sizes.max(initial=0)) * width, axis=1)
        by_group[group[:, None], rank[:, None] * width + np.arange(width)] = kinks
        lo, hi, probe = _pieces(_edges(by_group, u_max))
        c0, c1 = _terms_at(floor, lines, notional, tiers, probe[group])
        sum0, sum1 = np.zeros_like(lo), np.zeros_like(lo)
        np.add.at(sum0, group, c0)
        np.add.at(sum1, group, c1)
        return _first_inside((rest[0][:, None] - sum0, rest[1][:, None] - sum1), lo, hi, u_max)
