"""Which accounts a tick need not judge one by one: the quiet ones. Pure: no I/O.

Stepping the alert rules (``monitor.alerts.rules.step``) for an account whose state is ok and
whose fresh reading is below every warning and critical trigger changes nothing and alerts
nothing: ok stays ok, and ``since`` is kept. Most of a book is in that case at any moment, so a
tick screens the whole book with array comparisons and builds Python objects only for the
rest. The screen is conservative: where an array value is only a bound of what the rules would
see (the joint move of an account trading several markets), that account is never quiet.

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
    with np.errstate(invalid="ignore", divide="ignore"):
        in_sigma = distance / 100.0 / sigma_of_asset[book.pos_asset]
        move_pct, move_sigma = min_by_account(book, distance), min_by_account(book, in_sigma)
        # A joint move of several markets can be nearer than any one of them: not bounded here.
        far = (bounds.distance_pct == 0.0) | ((move_pct > bounds.distance_pct) & ~book.joint)
        far &= (bounds.sigma == 0.0) | ((move_sigma > bounds.sigma) & ~book.joint)
        healthy = result.health > bounds.health
    return settled & ~tick.unknown & ~holds_any(book, stale) & healthy & far
