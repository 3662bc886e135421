"""Stress curve of a book: what a price move of ±1…±50 % liquidates, per market and for every
market moving together, with every account recomputed whole (a cross account's loss in one
market eats the balance its other positions rely on).

A "market" here is the asset whose price moves (two GMX markets of ETH move together); every
asset any position trades moves in the joint curve, collateral-only assets (stablecoins) do
not. A move of ``m`` % sets each moved price to ``P·(1 + m/100)`` (``health.account.shocked``).

At each move an account counts as liquidated when its health is ≤ 1 at the moved prices:
``liquidated_notional_usd`` is its positions' notional at the current marks (so the curve
grows with the move and points compare; valued at the moved prices a deeper fall would shrink
the same positions) and
``bad_debt_usd`` the proxy "equity below zero" (what the venue's insurance fund or LPs would
absorb if it were closed there, ignoring the liquidation penalty). Accounts with a bad price
are left out and counted in ``StressReport.unknown_accounts``.

    report = stress_report(book)               # moves -50 … +50 % in 1 % steps
    report.joint.points[0].liquidated_notional_usd
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.analysis.book import PricedAccount, notional_usd
from monitor.health.account import AccountHealth, bad_prices, shocked
from monitor.health.account import stress as stress_account
from monitor.health.line import margin_line

JOINT = "all"
"""The curve name of every market moving together."""


@dataclass(frozen=True, slots=True)
class StressPoint:
    """The book after a move of ``move_pct`` percent."""

    move_pct: float
    liquidated_accounts: int
    liquidated_notional_usd: float
    bad_debt_usd: float


@dataclass(frozen=True, slots=True)
class StressCurve:
    """One market's (or ``JOINT``'s) points, ascending by move."""

    market: str
    points: tuple[StressPoint, ...]

    def at(self, move_pct: float) -> StressPoint:
        """The point of ``move_pct``. Raises KeyError if the curve has none."""
        for point in self.points:
            if point.move_pct == move_pct:
                return point
        raise KeyError(move_pct)


@dataclass(frozen=True, slots=True)
class StressReport:
    curves: tuple[StressCurve, ...]
    joint: StressCurve
    accounts: int
    unknown_accounts: int


def default_moves_pct(max_pct: int = 50, step_pct: int = 1) -> tuple[float, ...]:
    """``-max … -step, 0, step … max`` percent."""
    up = range(step_pct, max_pct + 1, step_pct)
    return (*(-float(m) for m in reversed(up)), 0.0, *(float(m) for m in up))


@dataclass(frozen=True, slots=True)
class _Outcome:
    liquidated: bool
    notional_usd: float
    bad_debt_usd: float


def _outcome(entry: PricedAccount, shocks: dict[str, float]) -> _Outcome:
    """The account after ``shocks``: its equity and maintenance only (the one line the health
    module builds), not every liquidation price: the curve needs thousands of these."""
    prices = shocked(entry.prices, shocks) if shocks else dict(entry.prices)
    line = margin_line(entry.account, prices, {})
    # account_health's rule: health = equity / maintenance ≤ 1, and no requirement is infinite
    # health; so liquidatable means maintenance > 0 and equity - maintenance ≤ 0.
    positive = line.maintenance(0.0) > 0.0
    liquidated = bool(entry.account.positions) and positive and line.gap(0.0) <= 0.0
    notional = sum(notional_usd(p, entry.prices) for p in entry.account.positions)
    return _Outcome(liquidated, notional if liquidated else 0.0, max(0.0, -line.equity_usd))


def stress_report(
    book: Sequence[PricedAccount], moves_pct: Sequence[float] | None = None
) -> StressReport:
    """Per-market and joint stress curves of ``book`` over ``moves_pct`` (default ±1…±50 %).

    Raises ValueError if a move is -100 % or less (a price must stay positive).
    """
    moves = tuple(moves_pct) if moves_pct is not None else default_moves_pct()
    known = [e for e in book if bad_prices(e.prices, e.account.assets) is None]
    base = [_outcome(e, {}) for e in known]
    markets = sorted({p.asset for e in known for p in e.account.positions})
    curves = tuple(
        StressCurve(m, tuple(_point(known, base, frozenset([m]), move) for move in moves))
        for m in markets
    )
    moved = frozenset(markets)
    joint = StressCurve(JOINT, tuple(_point(known, base, moved, move) for move in moves))
    return StressReport(curves, joint, len(book), len(book) - len(known))


def _point(
    book: Sequence[PricedAccount], base: Sequence[_Outcome], assets: frozenset[str], move: float
) -> StressPoint:
    """The book after moving ``assets`` by ``move`` %; accounts holding none of them keep
    their current outcome (recomputing them would give the same numbers)."""
    count, notional, bad_debt = 0, 0.0, 0.0
    for entry, current in zip(book, base, strict=True):
        touched = assets & entry.account.assets
        outcome = current
        if touched and move != 0.0:
            outcome = _outcome(entry, dict.fromkeys(touched, move / 100.0))
        count += outcome.liquidated
        notional += outcome.notional_usd
        bad_debt += outcome.bad_debt_usd
    return StressPoint(move, count, notional, bad_debt)


def account_after(entry: PricedAccount, shocks_pct: dict[str, float]) -> AccountHealth:
    """One account's full health after percentage moves (for drill-down): the health
    module's own ``stress``."""
    shocks = {asset: move / 100.0 for asset, move in shocks_pct.items()}
    return stress_account(entry.account, entry.prices, shocks)
