"""The open book of one chain as the runtime keeps it between ticks: compiled per protocol,
changed owner by owner.

    live = LiveBook(rows)                  # [(account_id, MarginAccount)]
    live.drop_owners({"0xabc…"})           # their accounts were re-read: drop the old ones
    live.add(rows_of_those_owners)
    ids, book = live.compiled("gmx_v2")    # only changed chunks recompile (``ChunkedBook``)
"""

from __future__ import annotations

from collections.abc import Iterable

from indexer.models import MarginAccount
from monitor.health.book import Book
from monitor.health.chunked import ChunkedBook, Ids


class LiveBook:
    """Accounts by protocol, each protocol a :class:`ChunkedBook`; see the module docstring."""

    def __init__(self, rows: Iterable[tuple[int, MarginAccount]] = ()) -> None:
        self._books: dict[str, ChunkedBook] = {}
        self._by_owner: dict[str, dict[int, str]] = {}  # owner → account id → protocol
        self.add(rows)

    def __len__(self) -> int:
        return sum(len(ids) for ids in self._by_owner.values())

    def add(self, rows: Iterable[tuple[int, MarginAccount]]) -> None:
        """Add (or replace) accounts."""
        for account_id, account in rows:
            self._books.setdefault(account.protocol, ChunkedBook()).put(account_id, account)
            self._by_owner.setdefault(account.owner, {})[account_id] = account.protocol

    def drop_owners(self, owners: Iterable[str]) -> None:
        """Remove every account of ``owners`` (spelled as stored)."""
        for owner in owners:
            for account_id, protocol in self._by_owner.pop(owner, {}).items():
                self._books[protocol].remove(account_id)

    def protocols(self) -> list[str]:
        """The protocols with a book (possibly empty after removals), sorted."""
        return sorted(self._books)

    def compiled(self, protocol: str) -> tuple[Ids, Book]:
        """``protocol``'s account ids and compiled book (see ``ChunkedBook.compiled``)."""
        return self._books[protocol].compiled()

    def rows(self) -> list[tuple[int, MarginAccount]]:
        """Every ``(account id, account)``, sorted by id."""
        return sorted(row for book in self._books.values() for row in book.rows())

    def accounts(self) -> list[MarginAccount]:
        """Every account, protocol by protocol."""
        return [a for p in self.protocols() for _, a in self._books[p].rows()]
