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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from indexer.models import MarginAccount
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
