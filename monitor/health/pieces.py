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
Rows = npt.NDArray[np.intp] | npt.NDArray[np.bool_]
"""Row indices, or a mask over the rows."""

Pair = tuple[Floats, Floats]
"""``(value at u = 0, slope in u)`` per row."""


@dataclass(frozen=True, slots=True)
class TierArrays:
    """Tiers of every row, shape (rows, K): ``lower_usd`` ascending from 0 then +inf padding,
    ``rate`` and ``deduction_usd`` (0 in the padding)."""

    lower_usd: Floats
    rate: Floats
    deduction_usd: Floats

    def take(self, rows: Rows) -> TierArrays:
        """The tiers of ``rows`` (indices or a mask), in that order."""
        return TierArrays(self.lower_usd[rows], self.rate[rows], self.deduction_usd[rows])


@dataclass(frozen=True, slots=True)
class RowTerms:
    """Per row, its maintenance term along its line (USD at ``u = 0``, then per unit ``u``):
    ``max(floor, linear + linear_slope·u + tiered(notional + notional_slope·u))``."""

    floor: Floats
    linear: Floats
    linear_slope: Floats
    notional: Floats
    notional_slope: Floats
    tiers: TierArrays

    def take(self, rows: Rows) -> RowTerms:
        """The terms of ``rows`` (indices or a mask), in that order."""
        return RowTerms(
            self.floor[rows], self.linear[rows], self.linear_slope[rows],
            self.notional[rows], self.notional_slope[rows], self.tiers.take(rows),
        )  # fmt: skip


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


def _tier_lines(terms: RowTerms) -> Pair:
    """Per row and tier column, ``(c0, c1)`` of the unfloored term under that tier."""
    tiers = terms.tiers
    c0 = terms.linear[:, None] + tiers.rate * terms.notional[:, None] - tiers.deduction_usd
    c1 = terms.linear_slope[:, None] + tiers.rate * terms.notional_slope[:, None]
    return c0, c1


def _kinks(terms: RowTerms, lines: Pair, u_max: Floats) -> Floats:
    """Per row, its candidate kinks (each tier line's floor crossing, each tier bound) inside
    (0, u_max); the others are ``u_max`` (an empty piece at the end, never a root)."""
    c0, c1 = lines
    crossings = np.where(c1 != 0.0, (terms.floor[:, None] - c0) / c1, np.nan)
    lower = terms.tiers.lower_usd[:, 1:]
    bounds = (lower - terms.notional[:, None]) / terms.notional_slope[:, None]
    kinks = np.concatenate([crossings, bounds], axis=1)
    top = u_max[:, None]
    return np.where((kinks > 0.0) & (kinks < top), kinks, top)


def _side_by_side(kinks: Floats, group: Ints, u_max: Floats) -> Floats:
    """Per group, the kinks of its rows in turn, padded with its ``u_max``."""
    sizes = np.bincount(group, minlength=len(u_max))
    rank = np.arange(len(group)) - (np.cumsum(sizes) - sizes)[group]
    width = kinks.shape[1]
    by_group = np.repeat(u_max[:, None], int(sizes.max(initial=0)) * width, axis=1)
    by_group[group[:, None], rank[:, None] * width + np.arange(width)] = kinks
    return by_group


def _lines_and_pieces(
    terms: RowTerms, u_max: Floats, group: Ints | None
) -> tuple[Pair, Floats, Floats, Floats]:
    """The rows' tier lines, and per line (a row, or a ``group`` of rows) its pieces
    ``(lo, hi, probe)`` between 0, the kinks and ``u_max`` (per line); the probe tells which
    tier and which branch of the floor hold on the piece (``line.first_root``'s)."""
    lines = _tier_lines(terms)
    if group is None:
        kinks = _kinks(terms, lines, u_max)
    else:
        kinks = _side_by_side(_kinks(terms, lines, u_max[group]), group, u_max)
    top = u_max[:, None]
    edges = np.sort(np.concatenate([np.zeros_like(top), kinks, top], axis=1), axis=1)
    lo, hi = edges[:, :-1], edges[:, 1:]
    return lines, lo, hi, np.where(np.isfinite(hi), (lo + hi) / 2, lo * 2 + 1)


def _terms_at(terms: RowTerms, lines: Pair, probe: Floats) -> Pair:
    """Per row and piece, ``(c0, c1)`` of the term's affine piece holding at ``probe``."""
    notional = terms.notional[:, None] + terms.notional_slope[:, None] * probe
    col = _tier_index(terms.tiers, notional)
    c0 = np.take_along_axis(lines[0], col, axis=1)
    c1 = np.take_along_axis(lines[1], col, axis=1)
    floor = terms.floor[:, None]
    active = c0 + c1 * probe > floor
    return np.where(active, c0, floor), np.where(active, c1, 0.0)


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


def first_roots(rest: Pair, terms: RowTerms, u_max: Floats) -> Floats:
    """Per row, the smallest ``u`` in [0, u_max) where ``gap`` is 0, or NaN (``rest`` per row)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lines, lo, hi, probe = _lines_and_pieces(terms, u_max, None)
        c0, c1 = _terms_at(terms, lines, probe)
        return _first_inside((rest[0][:, None] - c0, rest[1][:, None] - c1), lo, hi, u_max)


PIECES_PER_CALL = 4_000_000
"""Per-row piece values one solve of :func:`first_group_roots` may hold (rows times pieces):
each array of that many floats is 32 MB."""


def first_group_roots(group: Ints, rest: Pair, terms: RowTerms, u_max: Floats) -> Floats:
    """Per group, the smallest ``u`` in [0, u_max) where ``rest(u) - Σ term(u)`` over the
    group's rows is 0, or NaN: :func:`first_roots` with several terms to a line, as a cross
    account's markets all moving at once (``line.first_root`` of ``margin_line``).

    ``group`` (per row, ascending) numbers the groups 0..G-1, each with a row at least;
    ``rest`` and ``u_max`` are per group. A group's pieces end at the kinks of all its rows,
    so every group in one solve is padded to the largest: groups are solved by size (powers
    of two) and in slices of at most ``PIECES_PER_CALL`` row-pieces, so that one account on
    fifty markets neither pads thousands on two nor makes the arrays grow with its square
    times the book.
    """
    sizes = np.bincount(group, minlength=len(u_max))
    size_class = np.ceil(np.log2(np.maximum(sizes, 1))).astype(np.intp)
    width = 2 * terms.tiers.lower_usd.shape[1] - 1  # kinks per row (see ``_kinks``)
    out = np.full(len(u_max), np.nan)
    for cls in np.unique(size_class).tolist():
        members = np.flatnonzero(size_class == cls)
        largest = int(sizes[members].max())
        per_call = max(1, PIECES_PER_CALL // (largest * (largest * width + 1)))
        for start in range(0, len(members), per_call):
            ids = members[start : start + per_call]
            rows = np.flatnonzero(np.isin(group, ids))
            out[ids] = _group_roots(
                np.searchsorted(ids, group[rows]),
                (rest[0][ids], rest[1][ids]),
                terms.take(rows),
                u_max[ids],
            )
    return out


def _group_roots(group: Ints, rest: Pair, terms: RowTerms, u_max: Floats) -> Floats:
    """:func:`first_group_roots` for groups solved together, each padded to the largest."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lines, lo, hi, probe = _lines_and_pieces(terms, u_max, group)
        c0, c1 = _terms_at(terms, lines, probe[group])
        sum0, sum1 = np.zeros_like(lo), np.zeros_like(lo)
        np.add.at(sum0, group, c0)
        np.add.at(sum1, group, c1)
        return _first_inside((rest[0][:, None] - sum0, rest[1][:, None] - sum1), lo, hi, u_max)
