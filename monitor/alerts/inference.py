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
a time, so the account was *partially* liquidated (:func:`describe_cut` says what went).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


def describe_cut(was: MarginAccount, now: MarginAccount) -> str:
    """What ``was`` lost to become ``now``, one clause per position: ``"BTC long 2 → 1.6"``
    (same side, smaller), ``"ETH short closed"`` (gone, or now on the other side); "" if
    nothing was lost."""
    held = {p.market: p for p in now.positions}
    parts = []
    for before in was.positions:
        after = held.get(before.market)
        side = "long" if before.is_long else "short"
        if after is None or after.is_long != before.is_long:
            parts.append(f"{before.market} {side} closed")
        elif abs(after.size_raw) < abs(before.size_raw):
            parts.append(f"{before.market} {side} {_size(before)} → {_size(after)}")
    return "; ".join(parts)


def _size(position: Position) -> str:
    """``|size|`` in whole units, exactly (``1.6``, not ``1.6000000000000001``)."""
    return f"{Decimal(abs(position.size_raw)).scaleb(-position.size_decimals).normalize():f}"
