"""Isolated versus cross margin for one wallet: the same positions as one cross account and as
isolated ones, side by side, per venue (chain and protocol: each keeps its own rule and prices).

Three variants of the wallet's positions on a venue:

- ``cross``: one account holding every position and all the collateral of its accounts;
- ``isolated_own``: one account per position with the collateral it has (an isolated
  position keeps its own; the positions of a cross account share its collateral evenly, since
  they own no part of it);
- ``isolated_even``: one account per position, the venue's total collateral split evenly.

Per position and variant: its liquidation price and adverse distance (every other price held;
``monitor.health.account.account_health``) and ``survives_pct``, the largest adverse move of
its own market its account survives (``shock_to_liquidation``). Per variant: which position
goes first (smallest distance) and, per account, the move of all its markets against it
together that liquidates it. Collateral of accounts without positions only counts in
``cross`` and ``isolated_even``.

    report = wallet_whatif(book_of_one_wallet)
    report[0].variants[0].first                 # index of the position that goes first
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from indexer.models import Collateral, MarginAccount, MarginMode, Position
from monitor.analysis.book import PricedAccount, notional_usd
from monitor.health.account import account_health, adverse_weights, shock_to_liquidation

VARIANTS = ("cross", "isolated_own", "isolated_even")


@dataclass(frozen=True, slots=True)
class PositionOutcome:
    """One position in one variant; prices USD per unit, moves in percent (None: no positive
    price liquidates it)."""

    liquidation_price_usd: float | None
    distance_pct: float | None
    survives_pct: float | None


@dataclass(frozen=True, slots=True)
class Variant:
    """``outcomes[i]`` belongs to ``VenueWhatIf.positions[i]``; ``first`` is the index of the
    position liquidated by the smallest move (None if none is); ``accounts`` the hypothetical
    accounts with ``joint_survives_pct[j]`` for ``accounts[j]``."""

    name: str
    accounts: tuple[MarginAccount, ...]
    outcomes: tuple[PositionOutcome, ...]
    first: int | None
    joint_survives_pct: tuple[float | None, ...]


@dataclass(frozen=True, slots=True)
class VenueWhatIf:
    chain_id: int
    protocol: str
    positions: tuple[Position, ...]
    notional_usd: tuple[float, ...]
    prices: Mapping[str, float]
    variants: tuple[Variant, ...]


def wallet_whatif(book: Sequence[PricedAccount]) -> list[VenueWhatIf]:
    """The what-if of every venue in ``book`` (one wallet's accounts), venues sorted."""
    venues: dict[tuple[int, str], list[PricedAccount]] = {}
    for entry in book:
        venues.setdefault((entry.account.chain_id, entry.account.protocol), []).append(entry)
    return [_venue(entries) for _, entries in sorted(venues.items())]


def _venue(entries: Sequence[PricedAccount]) -> VenueWhatIf:
    prices: dict[str, float] = {}
    for entry in entries:
        prices.update(entry.prices)  # one protocol: one price per asset
    sources = [e.account for e in entries]
    positions = tuple(p for a in sources for p in a.positions)
    layouts = {
        "cross": [cross_account(sources)],
        "isolated_own": isolated_own(sources),
        "isolated_even": isolated_even(sources),
    }
    variants = tuple(_variant(name, layouts[name], prices) for name in VARIANTS)
    notional = tuple(notional_usd(p, prices) for p in positions)
    first = sources[0]
    return VenueWhatIf(first.chain_id, first.protocol, positions, notional, prices, variants)


def _variant(name: str, accounts: list[MarginAccount], prices: Mapping[str, float]) -> Variant:
    """Outcomes in position order: each layout lists positions in the sources' order."""
    outcomes: list[PositionOutcome] = []
    joint: list[float | None] = []
    for account in accounts:
        health = account_health(account, prices)
        for position, risk in zip(account.positions, health.positions, strict=True):
            own = shock_to_liquidation(account, prices, {position.asset: -float(position.side)})
            survives = None if own is None else 100.0 * own
            outcomes.append(PositionOutcome(risk.liquidation_price, risk.distance_pct, survives))
        together = shock_to_liquidation(account, prices, adverse_weights(account))
        joint.append(None if together is None or not account.positions else 100.0 * together)
    return Variant(name, tuple(accounts), tuple(outcomes), _first(outcomes), tuple(joint))


def _first(outcomes: Sequence[PositionOutcome]) -> int | None:
    distances = [math.inf if o.distance_pct is None else o.distance_pct for o in outcomes]
    best = min(range(len(distances)), key=distances.__getitem__, default=None)
    return None if best is None or math.isinf(distances[best]) else best


# -- the hypothetical accounts -------------------------------------------------------------------


def cross_account(sources: Sequence[MarginAccount]) -> MarginAccount:
    """Every position and all collateral of ``sources`` (one venue) in one cross account."""
    first = sources[0]
    return replace(
        first,
        ref="whatif:cross",
        mode=MarginMode.CROSS,
        collateral=tuple(c for a in sources for c in a.collateral),
        positions=tuple(p for a in sources for p in a.positions),
        block_number=max(a.block_number for a in sources),
        fixed_requirement_usd_e30=sum(a.fixed_requirement_usd_e30 for a in sources),
    )


def isolated_own(sources: Sequence[MarginAccount]) -> list[MarginAccount]:
    """One isolated account per position, each with its account's collateral (shared evenly
    by the positions of a cross account)."""
    out = []
    for account in sources:
        n = len(account.positions)
        for i, position in enumerate(account.positions):
            collateral = tuple(_share(c, i, n) for c in account.collateral)
            fixed = _split(account.fixed_requirement_usd_e30, i, n)
            out.append(_isolated(account, f"{account.ref}:{i}", position, collateral, fixed))
    return out


def isolated_even(sources: Sequence[MarginAccount]) -> list[MarginAccount]:
    """One isolated account per position, the venue's collateral split evenly among them."""
    positions = [(a, p) for a in sources for p in a.positions]
    pool = [c for a in sources for c in a.collateral]
    fixed = sum(a.fixed_requirement_usd_e30 for a in sources)
    n = len(positions)
    return [
        _isolated(
            account,
            f"whatif:even:{i}",
            position,
            tuple(_share(c, i, n) for c in pool),
            _split(fixed, i, n),
        )
        for i, (account, position) in enumerate(positions)
    ]


def _isolated(
    source: MarginAccount,
    ref: str,
    position: Position,
    collateral: tuple[Collateral, ...],
    fixed_e30: int,
) -> MarginAccount:
    return replace(
        source,
        ref=ref,
        mode=MarginMode.ISOLATED,
        collateral=collateral,
        positions=(position,),
        fixed_requirement_usd_e30=fixed_e30,
    )


def _split(amount: int, i: int, n: int) -> int:
    """Share ``i`` of ``n`` of an exact integer; the remainder goes to share 0 so the shares
    add up exactly."""
    quotient, remainder = divmod(amount, n)
    return quotient + (remainder if i == 0 else 0)


def _share(collateral: Collateral, i: int, n: int) -> Collateral:
    return replace(collateral, amount_raw=_split(collateral.amount_raw, i, n))
