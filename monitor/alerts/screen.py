"""Which accounts a tick need not judge one by one: the quiet ones. Pure: no I/O.

Stepping the alert rules (``monitor.alerts.rules.step``) for an account whose state is ok and
whose fresh reading is below every warning and critical trigger changes nothing and alerts
nothing: ok stays ok, and ``since`` is kept. Most of a book is in that case at any moment, so a
tick screens the whole book with array comparisons and builds Python objects only for the
rest. The screen is conservative: where an array value is only a bound of what the rules would
see (the joint move of an account trading several markets, :func:`joint_move_floor`), the
bound must clear the trigger.

    bounds = QuietBounds.of([policy_for(a) for a in book.accounts])
    quiet = quiet_accounts(tick, bounds, settled, sigmas, stale_assets)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from monitor.alerts.policy import LIQUIDATABLE_AT, Policy
from monitor.health.book import Bools, Floats, holds_any, min_by_account
from monitor.health.tick import ProtocolTick


@dataclass(frozen=True, slots=True)
class QuietBounds:
    """Per account, the values a reading must stay above to fire nothing: health, and the
    move to liquidation in percent and in σ (0: that trigger is off for the account)."""

    health: Floats
    distance_pct: Floats
    sigma: Floats

    @classmethod
    def of(cls, policies: Sequence[Policy]) -> QuietBounds:
        """Bounds from each account's policy: the mildest of its levels' triggers (warning's,
        unless a warning trigger is off and critical's is on)."""
        health, distance, sigma = [], [], []
        for policy in policies:
            t = policy.thresholds
            health.append(max(t.warning, t.critical, LIQUIDATABLE_AT))
            distance.append(max(t.warning_distance_pct, t.critical_distance_pct))
            sigma.append(max(t.warning_sigma, t.critical_sigma))
        return cls(*(np.asarray(v, dtype=np.float64) for v in (health, distance, sigma)))


def quiet_accounts(
    tick: ProtocolTick,
    bounds: QuietBounds,
    settled: Bools,
    sigmas: Mapping[str, float],
    stale_assets: Collection[str],
) -> Bools:
    """Per account of ``tick``: quiet (see the module docstring). ``settled``: its stored alert
    level is ok; ``sigmas``: σ per asset (the σ trigger's unit); ``stale_assets``: assets whose
    price is older than its heartbeat (an account holding one reads as unknown)."""
    book, result = tick.book, tick.result
    stale = np.array([a in stale_assets for a in book.assets], dtype=bool)
    distance = result.distance_pct
    sigma_of_asset = np.array([sigmas.get(a) or np.nan for a in book.assets], dtype=np.float64)
    ones = np.ones(len(book.assets))
    with np.errstate(invalid="ignore", divide="ignore"):
        in_sigma = distance / 100.0 / sigma_of_asset[book.pos_asset]
        move_pct = np.minimum(
            min_by_account(book, distance),
            np.where(book.joint, 100.0 * joint_move_floor(tick, ones), np.inf),
        )
        # σ_move is None (silent) unless σ is known for every market of the account.
        no_sigma = holds_any(book, np.isnan(sigma_of_asset), collateral=False)
        joint_sigma = np.where(book.joint, joint_move_floor(tick, sigma_of_asset), np.inf)
        move_sigma = np.where(
            no_sigma, np.inf, np.minimum(min_by_account(book, in_sigma), joint_sigma)
        )
        far = (bounds.distance_pct == 0.0) | (move_pct > bounds.distance_pct)
        far &= (bounds.sigma == 0.0) | (move_sigma > bounds.sigma)
        healthy = result.health > bounds.health
    quiet: Bools = settled & ~tick.unknown & ~holds_any(book, stale) & healthy & far
    return quiet


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
