"""Liquidation ladder of one market: how much notional is liquidated as the price walks away
from the mark, from the real positions and each venue's exact rule (not open interest times an
assumed leverage mix).

Each position is placed by its own adverse distance to liquidation
(``monitor.health.account.account_health``: longs by a fall, shorts by a rise, every other
price held). A cross-margin position's distance depends on the rest of its account, which is
held as it is now: such notional is also counted in ``cross_notional_usd`` ("depends on the
account"), because the other markets moving can bring it closer.

    ladder = liquidation_ladder(book, "ETH", step_pct=1.0, max_pct=50.0)
    ladder.long.bins[4].cumulative_notional_usd   # longs liquidated by a fall of 5 %

Bin ``k`` (1-based) holds distances in ``(step·(k-1), step·k]`` percent; ``now`` holds
positions already liquidatable (distance ≤ 0); ``beyond`` those farther than ``max_pct`` or
that no positive price liquidates; ``unknown`` those whose account has a bad price.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from indexer.models import MarginMode
from monitor.analysis.book import PricedAccount, collateral_usd, matches_market, notional_usd
from monitor.health.account import account_health


@dataclass(slots=True)
class Amounts:
    """Mark notional, attributed collateral (USD) and position count of a group of positions.

    An isolated position carries its account's collateral; a cross position a share of its
    account's collateral pro rata to its mark notional (the balance backs all of them).
    """

    notional_usd: float = 0.0
    collateral_usd: float = 0.0
    cross_notional_usd: float = 0.0
    positions: int = 0

    def add(self, notional: float, collateral: float, cross: bool) -> None:
        self.notional_usd += notional
        self.collateral_usd += collateral
        self.cross_notional_usd += notional if cross else 0.0
        self.positions += 1


@dataclass(frozen=True, slots=True)
class LadderBin:
    """Positions liquidated by an adverse move up to ``move_pct`` (its outer edge), which
    takes the price to ``price_usd``; ``cumulative_*`` include ``now`` and every inner bin."""

    move_pct: float
    price_usd: float
    amounts: Amounts
    cumulative_notional_usd: float
    cumulative_collateral_usd: float


@dataclass(frozen=True, slots=True)
class LadderSide:
    """One side (longs liquidate on a fall, shorts on a rise)."""

    now: Amounts
    bins: tuple[LadderBin, ...]
    beyond: Amounts
    unknown: Amounts

    @property
    def total_notional_usd(self) -> float:
        """All open notional of the side: now + bins + beyond + unknown."""
        parts = [self.now, *(b.amounts for b in self.bins), self.beyond, self.unknown]
        return sum(a.notional_usd for a in parts)


@dataclass(frozen=True, slots=True)
class Ladder:
    """The ladder of ``market``; ``mark_price_usd`` is the first matching position's mark
    (bins are relative to each position's own mark: protocols may price an asset apart)."""

    market: str
    mark_price_usd: float | None
    step_pct: float
    max_pct: float
    long: LadderSide
    short: LadderSide


@dataclass(slots=True)
class _Side:
    now: Amounts = field(default_factory=Amounts)
    bins: list[Amounts] = field(default_factory=list)
    beyond: Amounts = field(default_factory=Amounts)
    unknown: Amounts = field(default_factory=Amounts)


def liquidation_ladder(
    book: Iterable[PricedAccount], market: str, *, step_pct: float = 1.0, max_pct: float = 50.0
) -> Ladder:
    """The ladder of ``market`` (a market id or asset, see ``matches_market``) over ``book``.

    Raises ValueError unless ``0 < step_pct <= max_pct``.
    """
    if not 0.0 < step_pct <= max_pct:
        raise ValueError(f"need 0 < step_pct <= max_pct, got {step_pct}, {max_pct}")
    n_bins = math.ceil(max_pct / step_pct - 1e-9)  # 50 / 1 is 50 bins, not 51 from rounding
    sides = {1: _Side(bins=[Amounts() for _ in range(n_bins)])}
    sides[-1] = _Side(bins=[Amounts() for _ in range(n_bins)])
    mark: float | None = None
    for entry in book:
        for position_mark in _place(entry, market, step_pct, n_bins, sides):
            mark = position_mark if mark is None else mark
    return Ladder(
        market,
        mark,
        step_pct,
        max_pct,
        _freeze(sides[1], mark, -step_pct),
        _freeze(sides[-1], mark, step_pct),
    )


def _place(
    entry: PricedAccount, market: str, step_pct: float, n_bins: int, sides: dict[int, _Side]
) -> list[float]:
    """Add ``entry``'s positions in ``market`` to ``sides``; their marks."""
    account, prices = entry.account, entry.prices
    mine = [i for i, p in enumerate(account.positions) if matches_market(p, market)]
    if not mine:
        return []
    health = account_health(account, prices)
    cross = account.mode is MarginMode.CROSS
    total_notional = sum(notional_usd(p, prices) for p in account.positions)
    collateral = collateral_usd(account, prices) if health.known else math.nan
    marks = []
    for i in mine:
        position, risk = account.positions[i], health.positions[i]
        notional = notional_usd(position, prices)
        share = notional / total_notional if total_notional > 0 else 0.0
        side = sides[position.side]
        distance = risk.distance_pct
        if not health.known:
            bucket = side.unknown
        elif distance is None or distance > step_pct * n_bins:
            bucket = side.beyond
        elif distance <= 0.0:
            bucket = side.now
        else:
            bucket = side.bins[min(n_bins, math.ceil(distance / step_pct)) - 1]
        bucket.add(notional, 0.0 if math.isnan(collateral) else collateral * share, cross)
        marks.append(risk.mark_price)
    return marks


def _freeze(side: _Side, mark: float | None, signed_step_pct: float) -> LadderSide:
    """Bins with their price edges and running totals from the mark outward."""
    notional, collateral = side.now.notional_usd, side.now.collateral_usd
    bins = []
    for k, amounts in enumerate(side.bins, start=1):
        notional += amounts.notional_usd
        collateral += amounts.collateral_usd
        move = signed_step_pct * k
        price = math.nan if mark is None else mark * (1.0 + move / 100.0)
        bins.append(LadderBin(move, price, amounts, notional, collateral))
    return LadderSide(side.now, tuple(bins), side.beyond, side.unknown)
