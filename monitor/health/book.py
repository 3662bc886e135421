"""The margin math of ``monitor.health.account`` for many accounts at once, with NumPy.

Pure: no I/O.

Accounts are flattened once into a ``Book``: one row per collateral and per position, each
carrying its account index, with every price-independent factor precomputed as float64. A
price tick then costs a handful of gathers, ``np.bincount`` sums and element-wise ops:

    >>> book = compile_accounts(accounts)
    >>> result = evaluate(book, book.price_vector({"ETH": 2500.0, "USDC": 1.0}))
    >>> result.health[0], result.liquidation_price[0]

Results agree with ``monitor.health.account`` to float rounding (tests hold them to 1e-9 relative).
A position's liquidation price moves only its own asset, so it depends on the maintenance
terms of the positions sharing that asset in its account (its *group*). A group of one, the
common case, is solved in closed form for all positions at once; the rare larger groups
(two markets on one asset in a cross account) go through ``monitor.health.account.first_root``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from indexer.models import MarginAccount
from monitor.health.account import ROOT_SLACK, AccountHealth, MarginLine, PositionRisk, first_root

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Book:
    """Accounts flattened into arrays; build with ``compile_accounts``, never by hand.

    Position rows are in account order, then in each account's position order. ``assets``
    gives the column order of the price vector ``evaluate`` expects.
    """

    accounts: tuple[MarginAccount, ...]
    assets: tuple[str, ...]
    fixed_usd: Floats  # per account
    coll_account: Ints
    coll_asset: Ints
    coll_weight: Floats  # amount·(1 - haircut), whole units
    pos_account: Ints
    pos_asset: Ints
    pos_side: Floats  # +1 long, -1 short
    pos_net_size: Floats  # size - closing_fee_rate·|size|: equity per USD of price
    pos_const_usd: Floats  # -side·entry_notional - pending_fees
    pos_rate_size: Floats  # mm_rate·|size|
    pos_entry_mm_usd: Floats  # mm_rate_entry·entry_notional
    pos_floor_usd: Floats
    pos_exposure: Floats  # equity per USD of this asset's price, across the account
    shared: tuple[tuple[int, Ints], ...]  # (position row, rows of its group) for groups > 1

    def price_vector(self, prices: Mapping[str, float]) -> Floats:
        """Prices (USD per whole unit) in ``assets`` order. Raises KeyError if one is missing."""
        return np.array([prices[a] for a in self.assets], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class BookHealth:
    """One tick: per account ``equity_usd``, ``maintenance_usd``, ``health``; per position row
    ``liquidation_price`` (USD per whole unit) and ``distance_pct`` (percent of mark, negative
    if already liquidatable), NaN where ``monitor.health.account`` says None."""

    equity_usd: Floats
    maintenance_usd: Floats
    health: Floats
    liquidation_price: Floats
    distance_pct: Floats


def _floats(values: Sequence[float]) -> Floats:
    return np.asarray(values, dtype=np.float64)


def _sum_by(index: Ints, values: Floats, n: int) -> Floats:
    """Sum of ``values`` per index in ``range(n)`` (``np.bincount`` is typed as int)."""
    return np.bincount(index, values, n).astype(np.float64, copy=False)


_PositionRow = tuple[int, int, float, float, float, float, float, float]


@dataclass(slots=True)
class _Rows:
    """Row lists gathered in one pass over the accounts, before they become arrays."""

    assets: dict[str, int]
    collateral: list[tuple[int, int, float]]
    positions: list[_PositionRow]
    exposure: dict[tuple[int, int], float]  # (account, asset) -> equity per USD of price


def _gather(accounts: Sequence[MarginAccount]) -> _Rows:
    rows = _Rows({}, [], [], {})
    for i, account in enumerate(accounts):
        for c in account.collateral:
            a = rows.assets.setdefault(c.asset, len(rows.assets))
            weight = c.amount * (1.0 - c.haircut)
            rows.collateral.append((i, a, weight))
            rows.exposure[i, a] = rows.exposure.get((i, a), 0.0) + weight
        for p in account.positions:
            a = rows.assets.setdefault(p.asset, len(rows.assets))
            net = p.size - p.closing_fee_rate * abs(p.size)
            const = -p.side * p.entry_notional_usd - p.pending_fees_usd
            entry_mm = p.mm_rate_entry * p.entry_notional_usd
            rate_size = p.mm_rate * abs(p.size)
            rows.positions.append((i, a, p.side, net, const, rate_size, entry_mm, p.mm_floor_usd))
            rows.exposure[i, a] = rows.exposure.get((i, a), 0.0) + net
    return rows


def _shared_groups(positions: list[_PositionRow]) -> tuple[tuple[int, Ints], ...]:
    """``(row, rows of its group)`` for every position whose (account, asset) has several."""
    groups: dict[tuple[int, int], list[int]] = {}
    for row, (i, a, *_) in enumerate(positions):
        groups.setdefault((i, a), []).append(row)
    members = [np.array(rows, dtype=np.intp) for rows in groups.values() if len(rows) > 1]
    return tuple((int(row), group) for group in members for row in group)


def compile_accounts(accounts: Sequence[MarginAccount]) -> Book:
    """Flatten ``accounts`` into a ``Book`` (done once; ``evaluate`` then runs per tick)."""
    rows = _gather(accounts)
    pos = list(zip(*rows.positions, strict=True)) if rows.positions else [()] * 8
    coll = list(zip(*rows.collateral, strict=True)) if rows.collateral else [()] * 3
    return Book(
        accounts=tuple(accounts),
        assets=tuple(rows.assets),
        fixed_usd=_floats([a.fixed_requirement_usd for a in accounts]),
        coll_account=np.asarray(coll[0], dtype=np.intp),
        coll_asset=np.asarray(coll[1], dtype=np.intp),
        coll_weight=_floats(coll[2]),
        pos_account=np.asarray(pos[0], dtype=np.intp),
        pos_asset=np.asarray(pos[1], dtype=np.intp),
        pos_side=_floats(pos[2]),
        pos_net_size=_floats(pos[3]),
        pos_const_usd=_floats(pos[4]),
        pos_rate_size=_floats(pos[5]),
        pos_entry_mm_usd=_floats(pos[6]),
        pos_floor_usd=_floats(pos[7]),
        pos_exposure=_floats([rows.exposure[i, a] for i, a, *_ in rows.positions]),
        shared=_shared_groups(rows.positions),
    )


def _piece_roots(
    g0: Floats,
    g1: Floats,
    term: tuple[Floats, Floats, Floats],
    bounds: tuple[Floats, Floats],
    u_max: Floats,
    probe: Floats,
) -> Floats:
    """Vectorised ``monitor.health.account.piece_root`` for one max() term; NaN where no root."""
    floor, base, slope = term
    lo, hi = bounds
    active = base + slope * probe > floor
    c0 = g0 - np.where(active, base, floor)
    c1 = g1 - np.where(active, slope, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(c1 != 0.0, -c0 / c1, np.where(c0 == 0.0, lo, np.nan))
    span = np.maximum(np.abs(lo), np.where(np.isfinite(hi), np.abs(hi), 0.0))
    slack = ROOT_SLACK * np.maximum(1.0, span)
    ok = (u >= lo - slack) & (u <= hi + slack)
    u = np.clip(u, lo, hi)
    return np.where(ok & (u < u_max), u, np.nan)


def _single_term_roots(
    g0: Floats, g1: Floats, term: tuple[Floats, Floats, Floats], u_max: Floats
) -> Floats:
    """Vectorised ``monitor.health.account.first_root`` when one max() term varies: ≤ 2 pieces."""
    floor, base, slope = term
    with np.errstate(divide="ignore", invalid="ignore"):
        kink = np.where(slope != 0.0, (floor - base) / slope, np.nan)
    has_kink = (kink > 0.0) & (kink < u_max)
    zero = np.zeros_like(g0)
    hi1 = np.where(has_kink, kink, u_max)
    probe1 = np.where(np.isfinite(hi1), hi1 / 2, 1.0)
    first = _piece_roots(g0, g1, term, (zero, hi1), u_max, probe1)
    k = np.where(has_kink, kink, 0.0)
    probe2 = np.where(np.isfinite(u_max), (k + u_max) / 2, k * 2 + 1)
    second = _piece_roots(g0, g1, term, (k, u_max), u_max, probe2)
    return np.where(np.isnan(first) & has_kink, second, first)


def _shared_roots(book: Book, u: Floats, tick: _Tick, slope_usd: Floats, u_max: Floats) -> None:
    """Overwrite ``u`` for positions whose group holds several max() terms (scalar path)."""
    for row, members in book.shared:
        acct = book.pos_account[row]
        terms = zip(
            book.pos_floor_usd[members].tolist(),
            tick.base_usd[members].tolist(),
            (book.pos_rate_size[members] * tick.move[row]).tolist(),
            strict=True,
        )
        line = MarginLine(
            float(tick.equity_usd[acct]),
            float(slope_usd[row]),
            float(tick.maintenance_usd[acct] - tick.required_usd[members].sum()),
            tuple(terms),
        )
        root = first_root(line, float(u_max[row]))
        u[row] = np.nan if root is None else root


@dataclass(frozen=True, slots=True)
class _Tick:
    """Intermediate per-tick arrays shared by the liquidation-price step."""

    equity_usd: Floats  # per account
    maintenance_usd: Floats  # per account
    base_usd: Floats  # per position: mm_rate·|size|·P + mm_rate_entry·entry_notional
    required_usd: Floats  # per position: max(floor, base)
    move: Floats  # per position: dP/du along its search direction


def _liquidation(book: Book, mark: Floats, tick: _Tick, healthy: Bools) -> tuple[Floats, Floats]:
    """Per position ``(liquidation_price, distance_pct)``, as ``health.liquidation_price``."""
    acct = book.pos_account
    direction = tick.move / mark
    slope_usd = book.pos_exposure * tick.move
    u_max = np.where(direction < 0, 1.0, np.inf)
    rest_usd = tick.equity_usd[acct] - (tick.maintenance_usd[acct] - tick.required_usd)
    term = (book.pos_floor_usd, tick.base_usd, book.pos_rate_size * tick.move)
    u = _single_term_roots(rest_usd, slope_usd, term, u_max)
    _shared_roots(book, u, tick, slope_usd, u_max)
    distance = np.where(healthy[acct], 100.0 * u, -100.0 * u)
    return mark * (1.0 + direction * u), distance


def evaluate(book: Book, prices: Floats) -> BookHealth:
    """Health of every account and liquidation price of every position at one price tick.

    ``prices`` is USD per whole unit in ``book.assets`` order (see ``Book.price_vector``).
    Every position's liquidation price holds the other prices fixed, as in
    ``monitor.health.account``.
    """
    n = len(book.accounts)
    mark = prices[book.pos_asset]
    equity = _sum_by(book.coll_account, book.coll_weight * prices[book.coll_asset], n)
    equity += _sum_by(book.pos_account, book.pos_net_size * mark + book.pos_const_usd, n)
    base = book.pos_rate_size * mark + book.pos_entry_mm_usd
    required = np.maximum(book.pos_floor_usd, base)
    maintenance = book.fixed_usd + _sum_by(book.pos_account, required, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        health = np.where(maintenance > 0.0, equity / maintenance, np.inf)
    healthy = equity - maintenance > 0.0
    # Healthy: search the adverse direction (long: down); else the way back to health 1.
    side = np.where(healthy[book.pos_account], -book.pos_side, book.pos_side)
    tick = _Tick(equity, maintenance, base, required, side * mark)
    liquidation, distance = _liquidation(book, mark, tick, healthy)
    return BookHealth(equity, maintenance, health, liquidation, distance)


def account_healths(book: Book, result: BookHealth, prices: Floats) -> list[AccountHealth]:
    """``result`` as one scalar-module ``AccountHealth`` per account of ``book`` (same order),
    for code that works account by account (the alert rules)."""
    marks = prices[book.pos_asset].tolist()
    liquidation = result.liquidation_price.tolist()
    distance = result.distance_pct.tolist()
    out, row = [], 0
    for i, account in enumerate(book.accounts):
        risks = []
        for position in account.positions:
            liq, dist = liquidation[row], distance[row]
            risks.append(
                PositionRisk(
                    position.market,
                    position.asset,
                    marks[row],
                    None if math.isnan(liq) else liq,
                    None if math.isnan(dist) else dist,
                )
            )
            row += 1
        out.append(
            AccountHealth(
                float(result.equity_usd[i]),
                float(result.maintenance_usd[i]),
                float(result.health[i]),
                tuple(risks),
            )
        )
    return out
