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
common case, is solved piece by piece for all positions at once (``monitor.health.pieces``:
floors and maintenance tiers); the rare larger groups (two markets on one asset in a cross
account) go through ``monitor.health.account.liquidation_price``. The smallest move that
liquidates an account (``AccountHealth.move_pct``) also counts, for an account on several
markets, all of them moving against it at once; ``joint_moves`` solves those lines for all
such accounts together (``pieces.first_group_roots``), as ``account.shock_to_liquidation``
does one at a time.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from indexer.models import MarginAccount
from monitor.health.account import (
    AccountHealth,
    PositionRisk,
    bad_prices,
    least_move_pct,
    liquidation_price,
    unknown_health,
)
from monitor.health.pieces import (
    RowTerms,
    TierArrays,
    first_group_roots,
    first_roots,
    tier_arrays,
    tiered_usd,
)

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
    pos_abs_size: Floats  # |size|: mark notional per USD of price
    pos_rate_size: Floats  # mm_rate·|size|
    pos_entry_mm_usd: Floats  # mm_rate_entry·entry_notional
    pos_floor_usd: Floats
    pos_tiers: TierArrays  # maintenance tiers, one row per position (a zero tier if none)
    pos_exposure: Floats  # equity per USD of this asset's price, across the account
    shared: tuple[tuple[int, int, int], ...]  # (row, account, position) for groups > 1
    joint: Bools  # per account: positions on several assets (a joint move can liquidate it)
    pos_share: Floats  # 1 / rows sharing this row's (account, asset): sums once per asset

    def price_vector(self, prices: Mapping[str, float]) -> Floats:
        """Prices (USD per whole unit) in ``assets`` order. Raises KeyError if one is missing."""
        return np.array([prices[a] for a in self.assets], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class BookHealth:
    """One tick: per account ``equity_usd``, ``maintenance_usd``, ``health`` and ``unknown``
    (a price of the account is NaN, infinite, zero or negative: then its values are NaN); per
    position row ``liquidation_price`` (USD per whole unit) and ``distance_pct`` (percent of
    mark, negative if already liquidatable), NaN where ``monitor.health.account`` says None."""

    equity_usd: Floats
    maintenance_usd: Floats
    health: Floats
    liquidation_price: Floats
    distance_pct: Floats
    unknown: Bools


def _floats(values: Sequence[float]) -> Floats:
    return np.asarray(values, dtype=np.float64)


def _sum_by(index: Ints, values: Floats, n: int) -> Floats:
    """Sum of ``values`` per index in ``range(n)`` (``np.bincount`` is typed as int)."""
    return np.bincount(index, values, n).astype(np.float64, copy=False)


_PositionRow = tuple[int, int, float, float, float, float, float, float, float]


@dataclass(slots=True)
class _Rows:
    """Row lists gathered in one pass over the accounts, before they become arrays."""

    assets: dict[str, int]
    collateral: list[tuple[int, int, float]]
    positions: list[_PositionRow]
    tiers: list[tuple[tuple[float, float, float], ...]]
    exposure: dict[tuple[int, int], float]  # (account, asset) -> equity per USD of price


def _gather(accounts: Sequence[MarginAccount], assets: dict[str, int]) -> _Rows:
    rows = _Rows(assets, [], [], [], {})
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
            rows.positions.append(
                (i, a, p.side, net, const, abs(p.size), rate_size, entry_mm, p.mm_floor_usd)
            )
            rows.tiers.append(p.mm_tiers_usd)
            rows.exposure[i, a] = rows.exposure.get((i, a), 0.0) + net
    return rows


def _shared_groups(positions: list[_PositionRow]) -> tuple[tuple[int, int, int], ...]:
    """``(row, account, position index)`` for every position whose (account, asset) has
    several positions: their liquidation prices go through the scalar module."""
    groups: dict[tuple[int, int], list[int]] = {}
    first_row: dict[int, int] = {}
    for row, (i, a, *_) in enumerate(positions):
        groups.setdefault((i, a), []).append(row)
        first_row.setdefault(i, row)
    shared = [(row, i) for (i, _), rows in groups.items() if len(rows) > 1 for row in rows]
    return tuple(sorted((row, i, row - first_row[i]) for row, i in shared))


def compile_accounts(
    accounts: Sequence[MarginAccount], assets: dict[str, int] | None = None
) -> Book:
    """Flatten ``accounts`` into a ``Book`` (done once; ``evaluate`` then runs per tick).

    ``assets`` (asset → column) is the column order to use and extend: books compiled with the
    same dict share their columns, so :func:`concat_books` can join them."""
    rows = _gather(accounts, {} if assets is None else assets)
    pos = list(zip(*rows.positions, strict=True)) if rows.positions else [()] * 9
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
        pos_abs_size=_floats(pos[5]),
        pos_rate_size=_floats(pos[6]),
        pos_entry_mm_usd=_floats(pos[7]),
        pos_floor_usd=_floats(pos[8]),
        pos_tiers=tier_arrays(rows.tiers),
        pos_exposure=_floats([rows.exposure[i, a] for i, a, *_ in rows.positions]),
        shared=_shared_groups(rows.positions),
        joint=np.array([len({p.asset for p in a.positions}) > 1 for a in accounts], dtype=bool),
        pos_share=_shares(rows.positions),
    )


def _shares(positions: list[_PositionRow]) -> Floats:
    count: dict[tuple[int, int], int] = {}
    for i, a, *_ in positions:
        count[i, a] = count.get((i, a), 0) + 1
    return _floats([1.0 / count[i, a] for i, a, *_ in positions])


def _padded(tiers: Sequence[TierArrays]) -> TierArrays:
    """Tier rows of several books stacked, each padded to the widest (as ``tier_arrays``)."""
    width = max((t.lower_usd.shape[1] for t in tiers), default=1)

    def stack(name: str, pad: float) -> Floats:
        # Filled in place: ``np.pad`` per part cost more than the rest of a recompile once a
        # crash had changed most of a book's 256 chunks.
        parts = [getattr(t, name) for t in tiers]
        out = np.full((sum(p.shape[0] for p in parts), width), pad)
        row = 0
        for part in parts:
            rows, cols = part.shape
            out[row : row + rows, :cols] = part
            row += rows
        return out

    return TierArrays(stack("lower_usd", np.inf), stack("rate", 0.0), stack("deduction_usd", 0.0))


def select_accounts(book: Book, keep: Bools) -> Book:
    """``book`` with only the accounts where ``keep`` is true, as if compiled from them alone
    (with the same asset columns): dropping accounts needs no recompile, since every row
    depends on its own account only."""
    keep = np.asarray(keep, dtype=bool)
    new_index = np.cumsum(keep) - 1  # old account → new account (where kept)
    coll = keep[book.coll_account]
    pos = keep[book.pos_account]
    new_row = np.cumsum(pos) - 1
    return Book(
        accounts=tuple(a for a, k in zip(book.accounts, keep.tolist(), strict=True) if k),
        assets=book.assets,
        fixed_usd=book.fixed_usd[keep],
        coll_account=new_index[book.coll_account[coll]].astype(np.intp, copy=False),
        coll_asset=book.coll_asset[coll],
        coll_weight=book.coll_weight[coll],
        pos_account=new_index[book.pos_account[pos]].astype(np.intp, copy=False),
        pos_asset=book.pos_asset[pos],
        pos_side=book.pos_side[pos],
        pos_net_size=book.pos_net_size[pos],
        pos_const_usd=book.pos_const_usd[pos],
        pos_abs_size=book.pos_abs_size[pos],
        pos_rate_size=book.pos_rate_size[pos],
        pos_entry_mm_usd=book.pos_entry_mm_usd[pos],
        pos_floor_usd=book.pos_floor_usd[pos],
        pos_tiers=book.pos_tiers.take(pos),
        pos_exposure=book.pos_exposure[pos],
        shared=tuple(
            (int(new_row[row]), int(new_index[i]), p) for row, i, p in book.shared if keep[i]
        ),
        joint=book.joint[keep],
        pos_share=book.pos_share[pos],
    )


def concat_books(books: Sequence[Book], assets: Sequence[str]) -> Book:
    """One ``Book`` of ``books`` in order, as if compiled together. Every book must have been
    compiled with the same ``assets`` dict (its final order is ``assets``)."""
    n_accounts = np.cumsum([0] + [len(b.accounts) for b in books])
    n_rows = np.cumsum([0] + [len(b.pos_account) for b in books])

    def floats(name: str) -> Floats:
        return np.concatenate([getattr(b, name) for b in books] or [np.zeros(0)])

    def ints(name: str) -> Ints:
        return np.concatenate([getattr(b, name) for b in books] or [np.zeros(0, np.intp)])

    def offset(name: str) -> Ints:
        parts = [getattr(b, name) + n_accounts[k] for k, b in enumerate(books)]
        return np.concatenate(parts or [np.zeros(0, np.intp)]).astype(np.intp, copy=False)

    return Book(
        accounts=tuple(itertools.chain.from_iterable(b.accounts for b in books)),
        assets=tuple(assets),
        fixed_usd=floats("fixed_usd"),
        coll_account=offset("coll_account"),
        coll_asset=ints("coll_asset"),
        coll_weight=floats("coll_weight"),
        pos_account=offset("pos_account"),
        pos_asset=ints("pos_asset"),
        pos_side=floats("pos_side"),
        pos_net_size=floats("pos_net_size"),
        pos_const_usd=floats("pos_const_usd"),
        pos_abs_size=floats("pos_abs_size"),
        pos_rate_size=floats("pos_rate_size"),
        pos_entry_mm_usd=floats("pos_entry_mm_usd"),
        pos_floor_usd=floats("pos_floor_usd"),
        pos_tiers=_padded([b.pos_tiers for b in books]),
        pos_exposure=floats("pos_exposure"),
        shared=tuple(
            (row + int(n_rows[k]), i + int(n_accounts[k]), p)
            for k, b in enumerate(books)
            for row, i, p in b.shared
        ),
        joint=np.concatenate([b.joint for b in books] or [np.zeros(0, bool)]),
        pos_share=floats("pos_share"),
    )


def holds_any(book: Book, asset_mask: Bools, *, collateral: bool = True) -> Bools:
    """Per account: whether it trades (or, with ``collateral``, holds) an asset where
    ``asset_mask`` (by column) is set."""
    n = len(book.accounts)
    hits = _sum_by(book.pos_account, asset_mask[book.pos_asset].astype(np.float64), n)
    if collateral:
        hits += _sum_by(book.coll_account, asset_mask[book.coll_asset].astype(np.float64), n)
    return hits > 0.0


def min_by_account(book: Book, per_row: Floats) -> Floats:
    """Per account the least of ``per_row`` (one value per position row) over its positions,
    NaN ignored; +inf for an account without a value."""
    out = np.full(len(book.accounts), np.inf)
    np.fmin.at(out, book.pos_account, per_row)
    return out


@dataclass(frozen=True, slots=True)
class _Tick:
    """Intermediate per-tick arrays shared by the liquidation-price step."""

    equity_usd: Floats  # per account
    maintenance_usd: Floats  # per account
    linear_usd: Floats  # per position: mm_rate·|size|·P + mm_rate_entry·entry_notional
    notional_usd: Floats  # per position: |size|·P
    required_usd: Floats  # per position: max(floor, linear + tiered(notional))
    move: Floats  # per position: dP/du along its search direction


def _liquidation(book: Book, mark: Floats, tick: _Tick, healthy: Bools) -> tuple[Floats, Floats]:
    """Per position ``(liquidation_price, distance_pct)``, as ``health.liquidation_price``,
    for the positions alone on their asset in their account (the others are overwritten)."""
    acct = book.pos_account
    direction = tick.move / mark
    u_max = np.where(direction < 0, 1.0, np.inf)
    rest_usd = tick.equity_usd[acct] - (tick.maintenance_usd[acct] - tick.required_usd)
    terms = RowTerms(
        book.pos_floor_usd, tick.linear_usd, book.pos_rate_size * tick.move,
        tick.notional_usd, book.pos_abs_size * tick.move, book.pos_tiers,
    )  # fmt: skip
    u = first_roots((rest_usd, book.pos_exposure * tick.move), terms, u_max)
    distance = np.where(healthy[acct], 100.0 * u, -100.0 * u)
    return mark * (1.0 + direction * u), distance


def _shared(book: Book, prices: Floats, liquidation: Floats, distance: Floats) -> None:
    """Overwrite the rows whose group holds several positions, from the scalar module."""
    if not book.shared:
        return
    by_asset = dict(zip(book.assets, prices.tolist(), strict=True))
    for row, i, k in book.shared:
        account = book.accounts[i]
        liq, dist = liquidation_price(account, by_asset, account.positions[k])
        liquidation[row] = np.nan if liq is None else liq
        distance[row] = np.nan if dist is None else dist


def evaluate(book: Book, prices: Floats) -> BookHealth:
    """Health of every account and liquidation price of every position at one price tick.

    ``prices`` is USD per whole unit in ``book.assets`` order (see ``Book.price_vector``).
    Every position's liquidation price holds the other prices fixed, as in
    ``monitor.health.account``. An account with a price that is not finite and > 0 is
    ``unknown``: NaN values, never a health that reads as safe.
    """
    bad_asset = ~(np.isfinite(prices) & (prices > 0.0))
    unknown = holds_any(book, bad_asset)
    # Value every account at a harmless stand-in price, then blank the unknown ones: NaN would
    # otherwise leak through comparisons as "healthy" (NaN > x is False either way round).
    prices = np.where(bad_asset, 1.0, prices)
    n = len(book.accounts)
    mark = prices[book.pos_asset]
    equity = _sum_by(book.coll_account, book.coll_weight * prices[book.coll_asset], n)
    equity += _sum_by(book.pos_account, book.pos_net_size * mark + book.pos_const_usd, n)
    notional = book.pos_abs_size * mark
    linear = book.pos_rate_size * mark + book.pos_entry_mm_usd
    required = np.maximum(book.pos_floor_usd, linear + tiered_usd(book.pos_tiers, notional))
    maintenance = book.fixed_usd + _sum_by(book.pos_account, required, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        health = np.where(maintenance > 0.0, equity / maintenance, np.inf)
    healthy = equity - maintenance > 0.0
    # Healthy: search the adverse direction (long: down); else the way back to health 1.
    side = np.where(healthy[book.pos_account], -book.pos_side, book.pos_side)
    tick = _Tick(equity, maintenance, linear, notional, required, side * mark)
    liquidation, distance = _liquidation(book, mark, tick, healthy)
    _shared(book, prices, liquidation, distance)
    blank = unknown[book.pos_account]
    for per_account in (equity, maintenance, health):
        per_account[unknown] = np.nan
    liquidation[blank], distance[blank] = np.nan, np.nan
    return BookHealth(equity, maintenance, health, liquidation, distance, unknown)


def joint_moves(
    book: Book, result: BookHealth, prices: Floats, among: Sequence[int] | None = None
) -> Floats:
    """Per account, the least fraction by which all its markets moving against it at once
    liquidate it, as ``account.shock_to_liquidation`` along ``adverse_weights`` (0 if it is
    liquidatable already); NaN for an account on one market, an unknown one, one outside
    ``among`` (account indices), or one that no such move liquidates while prices stay
    positive. All the accounts in one root search (``pieces.first_group_roots``)."""
    n = len(book.accounts)
    out = np.full(n, np.nan)
    want = book.joint & ~result.unknown
    if among is not None:
        listed = np.zeros(n, dtype=bool)
        listed[np.asarray(among, dtype=np.intp)] = True
        want &= listed
    rows = np.flatnonzero(want[book.pos_account])
    if not len(rows):
        return out
    accounts, group = np.unique(book.pos_account[rows], return_inverse=True)
    mark = prices[book.pos_asset[rows]]
    # The direction that hurts: down where the account gains with the price, else up.
    weight = np.where(book.pos_exposure[rows] > 0.0, -1.0, 1.0)
    move, size, rate_size = weight * mark, book.pos_abs_size[rows], book.pos_rate_size[rows]
    linear = rate_size * mark + book.pos_entry_mm_usd[rows]
    m = len(accounts)
    slope = _sum_by(group, book.pos_share[rows] * book.pos_exposure[rows] * move, m)
    falls = _sum_by(group, (weight < 0.0).astype(np.float64), m) > 0.0
    terms = RowTerms(
        book.pos_floor_usd[rows], linear, rate_size * move,
        size * mark, size * move, book.pos_tiers.take(rows),
    )  # fmt: skip
    u = first_group_roots(
        group,
        (result.equity_usd[accounts] - book.fixed_usd[accounts], slope),
        terms,
        np.where(falls, 1.0, np.inf),  # a price falling to zero ends the line
    )
    liquidatable = result.equity_usd[accounts] - result.maintenance_usd[accounts] <= 0.0
    out[accounts] = np.where(liquidatable, 0.0, u)
    return out


def account_healths(
    book: Book, result: BookHealth, prices: Floats, indices: Sequence[int] | None = None
) -> list[AccountHealth]:
    """``result`` as one scalar-module ``AccountHealth`` per account of ``book`` (same order),
    or per account of ``indices`` only, for code that works account by account (the alert
    rules). Building these is the costly part of a tick: ask only for the accounts needed."""
    wanted = range(len(book.accounts)) if indices is None else indices
    starts = np.searchsorted(book.pos_account, np.asarray(wanted, dtype=np.intp)).tolist()
    marks = prices[book.pos_asset].tolist()
    liquidation = result.liquidation_price.tolist()
    distance = result.distance_pct.tolist()
    by_asset = dict(zip(book.assets, prices.tolist(), strict=True))
    joint = joint_moves(book, result, prices, indices).tolist()
    out = []
    for i, row in zip(wanted, starts, strict=True):
        account = book.accounts[i]
        if result.unknown[i]:
            reason = bad_prices(by_asset, account.assets) or "bad price"
            out.append(unknown_health(account, by_asset, reason))
            continue
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
                move_pct=least_move_pct(risks, None if math.isnan(joint[i]) else joint[i]),
            )
        )
    return out
