"""Stress curve of a book: what a price move of ±1…±50 % liquidates, per market and for every
market moving together, with every account recomputed whole (a cross account's loss in one
market eats the balance its other positions rely on).

A "market" here is the asset whose price moves (two GMX markets of ETH move together); every
asset any position trades moves in the joint curve, collateral-only assets (stablecoins) do
not. A move of ``m`` % sets each moved price to ``P·(1 + m/100)`` (as ``health.account.shocked``).

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

from monitor.analysis.book import PricedAccount, market_of, notional_usd
from monitor.health.account import AccountHealth, bad_prices
from monitor.health.account import stress as stress_account
from monitor.health.line import MarginLine, margin_line

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


def _verdict(line: MarginLine, u: float, has_positions: bool) -> tuple[bool, float]:
    """(liquidated, bad debt USD) at the point ``u`` of an account's price line
    (``u = move / 100``). account_health's rule: health = equity / maintenance ≤ 1 with
    maintenance > 0 (no requirement is infinite health)."""
    liquidated = has_positions and line.maintenance(u) > 0.0 and line.gap(u) <= 0.0
    return liquidated, max(0.0, -(line.equity_usd + line.equity_slope * u))


def stress_report(
    book: Sequence[PricedAccount], moves_pct: Sequence[float] | None = None
) -> StressReport:
    """Per-market and joint stress curves of ``book`` over ``moves_pct`` (default ±1…±50 %).

    Raises ValueError if a move is -100 % or less (a price must stay positive).
    """
    moves = tuple(moves_pct) if moves_pct is not None else default_moves_pct()
    if any(m <= -100.0 for m in moves):
        raise ValueError(f"a move of -100 % or less leaves no positive price: {min(moves)}")
    known = [e for e in book if bad_prices(e.prices, e.account.assets) is None]
    markets = sorted({market_of(p.asset) for e in known for p in e.account.positions})
    curves = tuple(StressCurve(m, _curve(known, frozenset([m]), moves)) for m in markets)
    joint = StressCurve(JOINT, _curve(known, frozenset(markets), moves))
    return StressReport(curves, joint, len(book), len(book) - len(known))


def _curve(
    book: Sequence[PricedAccount], markets: frozenset[str], moves: Sequence[float]
) -> tuple[StressPoint, ...]:
    """Moving ``markets`` by ``m`` % puts each of their prices (every price key of the market,
    see ``market_of``) at ``P·(1 + u)``, ``u = m/100``: the
    health module's price line with direction ``P`` per moved asset. One line per account
    serves every move (equity is affine in ``u``, maintenance piecewise affine), instead of
    revaluing the account at each move."""
    count = [0] * len(moves)
    notional = [0.0] * len(moves)
    bad_debt = [0.0] * len(moves)
    for entry in book:
        account, prices = entry.account, entry.prices
        touched = {a for a in account.assets if market_of(a) in markets}
        line = margin_line(account, prices, {a: prices[a] for a in touched})
        size_usd = sum(notional_usd(p, prices) for p in account.positions)
        still = None if touched else _verdict(line, 0.0, bool(account.positions))
        for i, move in enumerate(moves):
            liquidated, debt = still or _verdict(line, move / 100.0, bool(account.positions))
            count[i] += liquidated
            notional[i] += size_usd if liquidated else 0.0
            bad_debt[i] += debt
    return tuple(
        StressPoint(m, c, n, d) for m, c, n, d in zip(moves, count, notional, bad_debt, strict=True)
    )


def account_after(entry: PricedAccount, shocks_pct: dict[str, float]) -> AccountHealth:
    """One account's full health after percentage moves (for drill-down): the health
    module's own ``stress``."""
    shocks = {asset: move / 100.0 for asset, move in shocks_pct.items()}
    return stress_account(entry.account, entry.prices, shocks)
