"""How an account of an event-less protocol ended, inferred: liquidated or closed. Pure.

Hyperliquid liquidates on HyperCore and tells the EVM nothing, so an account that is gone may
have been closed by its trader or liquidated. perpwatch takes it as liquidated when either

- its alert level was liquidatable when it went (``monitor.alerts.apply.newly_liquidated``), or
- its last state as held, valued at the marks of the read that found it gone, is at or below
  its maintenance margin (:func:`liquidated_when_gone`): the venue liquidates there, and a
  keeper usually does so within a block of the crossing, before the monitor's next tick could
  raise the level to liquidatable.

A trader who closes an account below its maintenance margin before the liquidator does is
recorded as liquidated too; the reverse mistake (a liquidation stored as a plain close, with no
"Liquidated" alert) is the one a user cannot afford.

The same holds for an account read again with less than it held (a position gone or smaller)
that keeps a position: Hyperliquid liquidates a position over 100k USDC of notional a fifth at
a time, so the account was *partially* liquidated (:func:`describe_cut` says what went), unless
what is left holds something the account did not (a liquidation only takes away).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from indexer.models import MarginAccount, Position
from monitor.alerts.policy import LIQUIDATABLE_AT
from monitor.health.account import account_health


def liquidated_when_gone(
    gone: Iterable[tuple[int, MarginAccount]], marks: Mapping[str, Mapping[str, float]]
) -> list[int]:
    """Ids of the ``gone`` accounts (id, last state) at or below health 1 at ``marks``
    (protocol → asset → USD); an account whose marks are missing or unusable is not counted
    (an unusable price makes its health NaN, which compares below nothing)."""
    out = []
    for account_id, account in gone:
        prices = marks.get(account.protocol, {})
        if any(asset not in prices for asset in account.assets):
            continue
        if account_health(account, prices).health <= LIQUIDATABLE_AT:
            out.append(account_id)
    return out


@dataclass(frozen=True, slots=True)
class PartialLiquidation:
    """A partial liquidation to tell: the account as held before it (``was``), what went
    (``closed``: :func:`describe_cut`) and when perpwatch inferred it (``inferred_at``, its
    tick's clock): a step of the account recorded at or after then has told it already."""

    was: MarginAccount
    closed: str
    inferred_at: datetime


def describe_cut(was: MarginAccount, now: MarginAccount) -> str | None:
    """What a liquidation closed of ``was`` to leave ``now``, one clause per position:
    ``"BTC long 2 → 1.6"`` (smaller), ``"ETH short closed"`` (gone). None when ``now`` is not
    what a liquidation leaves: nothing lost, or a position new, larger or on the other side
    (the trader traded; a liquidation only takes away)."""
    held = {p.market: p for p in was.positions}
    for p in now.positions:
        before = held.get(p.market)
        if before is None or before.is_long != p.is_long or abs(p.size_raw) > abs(before.size_raw):
            return None
    left = {p.market: p for p in now.positions}
    parts = []
    for p in was.positions:
        after = left.get(p.market)
        side = "long" if p.is_long else "short"
        if after is None:
            parts.append(f"{p.market} {side} closed")
        elif abs(after.size_raw) < abs(p.size_raw):
            parts.append(f"{p.market} {side} {_size(p)} → {_size(after)}")
    return "; ".join(parts) or None


def _size(position: Position) -> str:
    """``|size|`` in whole units, exactly (``1.6``, not ``1.6000000000000001``)."""
    return f"{Decimal(abs(position.size_raw)).scaleb(-position.size_decimals).normalize():f}"
