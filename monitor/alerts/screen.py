"""Which accounts a tick need not judge one by one: the steady ones. Pure: no I/O.

Stepping the alert rules (``monitor.alerts.rules.step``) changes nothing and alerts nothing for
an account whose stored level is a ladder level L (ok, warning, critical, liquidatable) and
whose fresh reading fires no trigger of a level above L while L still holds (one of L's
triggers has not cleared; ok always holds): ``held_level`` returns L, ``since`` is kept, and L
was alerted when it was entered. At any moment most of a book is in that case (most of it at
ok, far from every trigger), so a tick screens the whole book with array comparisons and
builds Python objects only for the rest.

The screen is conservative. The move to liquidation the rules see is the least of each
position's own distance and, for an account trading several markets, of their joint move;
"fires nothing above L" compares a lower bound of it (the joint part from
:func:`joint_move_floor`), "L holds" an upper bound (the least single-position distance).

    bounds = LevelBounds.of([policy_for(a) for a in book.accounts])
    moves = Moves.of(tick, sigmas)
    steady = steady_accounts(tick, bounds, ranks, moves, stale_assets)
    cold = far_from_warning(tick, bounds, moves, margin=1.25)  # safe to re-read rarely
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from monitor.alerts.levels import Level
from monitor.alerts.policy import LADDER, LIQUIDATABLE_AT, Policy
from monitor.alerts.rules import AlertState
from monitor.health.book import Bools, Floats, Ints, holds_any, min_by_account
from monitor.health.tick import ProtocolTick

NOT_ON_LADDER = -1
"""The rank given to an account whose stored level is unknown, liquidated or not known here:
never steady."""


def ladder_rank(level: Level | None) -> int:
    """``level``'s place on ``LADDER`` (ok 0 … liquidatable 3), else ``NOT_ON_LADDER``."""
    return _LADDER_RANK.get(level, NOT_ON_LADDER)


def ladder_ranks(states: Mapping[int, AlertState], ids: Sequence[int]) -> Ints:
    """:func:`ladder_rank` of the level of each of ``ids``'s stored state (``NOT_ON_LADDER``
    if none is known)."""
    rank, state = _LADDER_RANK.get, states.get
    return np.fromiter(
        (rank(s.level if (s := state(i)) is not None else None, NOT_ON_LADDER) for i in ids),
        np.intp,
        len(ids),
    )


_LADDER_RANK: dict[Level | None, int] = {level: rank for rank, level in enumerate(LADDER)}


@dataclass(frozen=True, slots=True)
class LevelBounds:
    """Per account (rows) and ladder level above ok (columns: warning, critical,
    liquidatable), the trigger thresholds: health, move in percent and in σ (0: off); and
    per account the factor a value must exceed a threshold by to clear (1 + clear margin)."""

    health: Floats
    distance_pct: Floats
    sigma: Floats
    clear: Floats

    @classmethod
    def of(cls, policies: Sequence[Policy]) -> LevelBounds:
        """Bounds from each account's policy."""
        # One flat list converted once: three lists of row tuples, each converted apart, took
        # most of the 40 ms a 20,000-account book cost (rebuilt whenever the book changes).
        flat: list[float] = []
        extend = flat.extend
        for policy in policies:
            t = policy.thresholds
            extend((t.warning, t.critical, LIQUIDATABLE_AT,
                    t.warning_distance_pct, t.critical_distance_pct, 0.0,
                    t.warning_sigma, t.critical_sigma, 0.0, 1.0 + t.clear_margin))  # fmt: skip
        rows = np.array(flat, dtype=np.float64).reshape(len(policies), 10)
        return cls(rows[:, 0:3], rows[:, 3:6], rows[:, 6:9], rows[:, 9])


@dataclass(frozen=True, slots=True)
class Moves:
    """Per account, bounds of the move to liquidation the rules would see: in percent and in
    σ, a lower bound (the joint move's floor included) and an upper one (the least
    single-position distance). +inf where there is no such trigger value."""

    pct_min: Floats
    pct_max: Floats
    sigma_min: Floats
    sigma_max: Floats

    @classmethod
    def of(cls, tick: ProtocolTick, sigmas: Mapping[str, float]) -> Moves:
        """The bounds for ``tick``; ``sigmas``: σ per asset (the σ trigger's unit)."""
        book, distance = tick.book, tick.result.distance_pct
        sigma_of_asset = np.array([sigmas.get(a) or np.nan for a in book.assets], dtype=np.float64)
        ones = np.ones(len(book.assets))
        with np.errstate(invalid="ignore", divide="ignore"):
            in_sigma = distance / 100.0 / sigma_of_asset[book.pos_asset]
            # Upper bounds: the least single-position value (the joint move can only be nearer).
            pct_max = min_by_account(book, distance)
            # σ_move is None (no trigger) unless σ is known for every market of the account.
            no_sigma = holds_any(book, np.isnan(sigma_of_asset), collateral=False)
            sigma_max = np.where(no_sigma, np.inf, min_by_account(book, in_sigma))
            # Lower bounds: the joint move's floor too.
            pct_min = np.minimum(
                pct_max, np.where(book.joint, 100.0 * joint_move_floor(tick, ones), np.inf)
            )
            joint_sigma = np.where(book.joint, joint_move_floor(tick, sigma_of_asset), np.inf)
            sigma_min = np.minimum(sigma_max, joint_sigma)
        return cls(pct_min, pct_max, sigma_min, sigma_max)


def _silent(tick: ProtocolTick, bounds: LevelBounds, moves: Moves, margin: float = 1.0) -> Bools:
    """Per account and level above ok: no trigger fires even at ``margin`` times its threshold."""
    health = tick.result.health[:, None]
    with np.errstate(invalid="ignore"):
        silent: Bools = (
            (health > bounds.health * margin)
            & (
                (bounds.distance_pct == 0.0)
                | (moves.pct_min[:, None] > bounds.distance_pct * margin)
            )
            & ((bounds.sigma == 0.0) | (moves.sigma_min[:, None] > bounds.sigma * margin))
        )
    return silent


def steady_accounts(
    tick: ProtocolTick,
    bounds: LevelBounds,
    ranks: Ints,
    moves: Moves,
    stale_assets: Collection[str],
) -> Bools:
    """Per account of ``tick``: steady (see the module docstring). ``ranks``: its stored alert
    level's ``ladder_rank``; ``moves``: ``Moves.of(tick, σ per asset)``; ``stale_assets``:
    assets whose price is older than its heartbeat (an account holding one reads as unknown)."""
    book = tick.book
    stale = np.array([a in stale_assets for a in book.assets], dtype=bool)
    silent = _silent(tick, bounds, moves)
    clear = bounds.clear[:, None]
    with np.errstate(invalid="ignore"):
        health = tick.result.health[:, None]
        holds = (
            (health <= bounds.health * clear)
            | (
                (bounds.distance_pct > 0.0)
                & (moves.pct_max[:, None] <= bounds.distance_pct * clear)
            )
            | ((bounds.sigma > 0.0) & (moves.sigma_max[:, None] <= bounds.sigma * clear))
        )
    column = np.arange(1, 4)
    # Nothing above the stored level fires, and the stored level (if above ok) still holds.
    above_silent = np.all(silent | (column[None, :] <= ranks[:, None]), axis=1)
    index = np.clip(ranks - 1, 0, 2)[:, None]
    level_holds = (ranks == 0) | np.take_along_axis(holds, index, axis=1)[:, 0]
    fresh = ~tick.unknown & ~holds_any(book, stale)
    steady: Bools = (ranks >= 0) & fresh & above_silent & level_holds
    return steady


def far_from_warning(tick: ProtocolTick, bounds: LevelBounds, moves: Moves, margin: float) -> Bools:
    """Per account of ``tick``: known, and no trigger would fire even at ``margin`` times its
    threshold (``margin`` > 1). Fees and funding accrue slowly, so such an account cannot drift
    to a warning between two reads far apart; prices are applied every tick regardless."""
    far: Bools = ~tick.unknown & np.all(_silent(tick, bounds, moves, margin), axis=1)
    return far


def joint_move_floor(tick: ProtocolTick, scale: Floats) -> Floats:
    """Per account, a lower bound of ``shock_to_liquidation`` along its adverse weights with
    ``scale`` per asset (1: a fraction of the price; σ: in σ): every market moving by ``u·scale``
    against the account at once.

    Why it bounds: along that line equity falls exactly linearly, by ``|exposure|·P·scale`` per
    unit of ``u`` for each market (collateral of the asset included), and maintenance rises at
    most by ``(mm_rate + steepest tier rate)·|size|·P·scale`` per position (floors only flatten
    it), so ``equity - maintenance`` cannot reach 0 before ``(equity - maintenance) / rate``.
    +inf where nothing falls, or where a price or scale is missing: callers rule those out
    (an unpriced account is unknown; without every σ the σ trigger is silent)."""
    book, result = tick.book, tick.result
    mark = tick.prices[book.pos_asset]
    steepest = book.pos_tiers.rate.max(axis=1) if len(book.pos_account) else np.zeros(0)
    maintenance_rate = book.pos_rate_size + steepest * book.pos_abs_size
    per_row = (np.abs(book.pos_exposure) * book.pos_share + maintenance_rate) * mark
    rate = np.bincount(book.pos_account, per_row * scale[book.pos_asset], len(book.accounts))
    gap = result.equity_usd - result.maintenance_usd
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(rate > 0.0, gap / rate, np.inf)
