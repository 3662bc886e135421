"""Read the monitor's latest view back: the open book priced at the latest persisted prices.

    book = read_book(engine)                   # LatestBook(entries=[PricedAccount], unpriced)
    prices = latest_prices(engine)             # {(chain_id, protocol): {asset: USD}}

This is what ``perpwatch serve`` computes its risk views from, so it can run beside
``perpwatch run`` or on another machine: nothing here reads a node.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from indexer.store.accounts import load_accounts
from monitor.analysis.book import PricedAccount
from monitor.latest.tables import LatestHealth, LatestPrice

_prices = LatestPrice.__table__  # type: ignore[attr-defined]
_health = LatestHealth.__table__  # type: ignore[attr-defined]

PriceKey = tuple[int, str]
"""(chain id, protocol): prices never mix protocols (see ``monitor.analysis.book``)."""


@dataclass(frozen=True, slots=True)
class LatestBook:
    """Open accounts with their protocol's latest prices; ``ids`` are their database ids (in
    ``entries`` order) and ``unpriced`` counts accounts missing a price."""

    entries: list[PricedAccount]
    ids: list[int]
    unpriced: int


def latest_prices(engine: Engine) -> dict[PriceKey, dict[str, float]]:
    """Every persisted latest price, by (chain id, protocol), then asset."""
    out: dict[PriceKey, dict[str, float]] = {}
    with engine.connect() as conn:
        for row in conn.execute(sa.select(_prices)):
            out.setdefault((row.chain_id, row.protocol), {})[row.asset] = row.price_usd
    return out


def read_book(
    engine: Engine, *, owner: str | None = None, ids: list[int] | None = None
) -> LatestBook:
    """The open accounts (``owner``'s or ``ids`` only, when given) at the latest prices."""
    prices = latest_prices(engine)
    entries, kept, unpriced = [], [], 0
    for account_id, account in load_accounts(engine, owner=owner, ids=ids):
        book = prices.get((account.chain_id, account.protocol), {})
        if account.assets <= book.keys():
            entries.append(PricedAccount(account, book))
            kept.append(account_id)
        else:
            unpriced += 1
    return LatestBook(entries, kept, unpriced)


def fee_growths(engine: Engine, ids: list[int]) -> dict[int, dict[str, float]]:
    """Each account's measured fee growth (market → USD per hour) from ``latest_health``."""
    out: dict[int, dict[str, float]] = {}
    with engine.connect() as conn:
        for start in range(0, len(ids), 900):  # SQLite caps bound parameters per statement
            chunk = ids[start : start + 900]
            query = sa.select(_health.c.account_id, _health.c.fee_growth)
            for account_id, growth in conn.execute(query.where(_health.c.account_id.in_(chunk))):
                out[account_id] = dict(growth or {})
    return out
