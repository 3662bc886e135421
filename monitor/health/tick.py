"""One protocol's compiled book valued at one tick's prices. Pure: no I/O.

    tick = value_book("gmx_v2", ids, book, prices)   # a handful of NumPy passes
    views = tick.views(indices)                      # only the accounts a caller needs

Valuing a whole book is cheap; turning an account's values into Python objects
(``AccountView``) costs far more, so a tick asks for the few accounts it must judge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from indexer.models import MarginAccount
from monitor.health.account import AccountHealth
from monitor.health.book import Book, BookHealth, Bools, Floats, account_healths, holds_any
from monitor.health.book import evaluate as evaluate_book
from monitor.health.chunked import Ids


@dataclass(frozen=True, slots=True)
class AccountView:
    """An open account with its health at the protocol's own prices; ``health`` is None when
    one of its assets has no price (the monitor reports that as unknown, never as safe)."""

    account_id: int
    account: MarginAccount
    health: AccountHealth | None


@dataclass(frozen=True, slots=True)
class ProtocolTick:
    """One protocol's book valued at one tick's prices: per account ``ids[i]``, values in
    ``result``; ``unpriced[i]`` when an asset of the account has no price at all."""

    protocol: str
    ids: Ids
    book: Book
    prices: Floats  # the book's price vector (NaN where there is no price)
    result: BookHealth
    unpriced: Bools

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def unknown(self) -> Bools:
        """Accounts with no health to judge: a missing or bad price."""
        return self.unpriced | self.result.unknown

    def views(self, indices: Sequence[int] | None = None) -> list[AccountView]:
        """The accounts at ``indices`` (book order; default all) as ``AccountView``s."""
        wanted = range(len(self.ids)) if indices is None else indices
        priced = [i for i in wanted if not self.unpriced[i]]
        healths = dict(
            zip(priced, account_healths(self.book, self.result, self.prices, priced), strict=True)
        )
        ids, accounts = self.ids.tolist(), self.book.accounts
        return [AccountView(ids[i], accounts[i], healths.get(i)) for i in wanted]


def value_book(protocol: str, ids: Ids, book: Book, prices: Mapping[str, float]) -> ProtocolTick:
    """``book`` (accounts ``ids``) valued at ``prices`` (asset → USD)."""
    vector = np.array([prices.get(a, np.nan) for a in book.assets], dtype=np.float64)
    missing = np.array([a not in prices for a in book.assets], dtype=bool)
    return ProtocolTick(
        protocol, ids, book, vector, evaluate_book(book, vector), holds_any(book, missing)
    )
