"""The open book of one chain as the runtime keeps it between ticks: compiled per protocol,
changed owner by owner.

    live = LiveBook(rows)                  # [(account_id, MarginAccount)]
    live.replace_owners("gmx_v2", ["0xabc…"], rows)  # as just re-read (none: all closed)
    ids, book = live.compiled("gmx_v2")    # only changed chunks recompile (``ChunkedBook``)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from indexer.models import MarginAccount
from monitor.health.book import Book
from monitor.health.chunked import ChunkedBook, Ids


class Lost(NamedTuple):
    """An account that lost positions: ``was`` as last held, ``now`` as read again (None:
    gone from the chain)."""

    account_id: int
    was: MarginAccount
    now: MarginAccount | None = None


class LiveBook:
    """Accounts by protocol, each protocol a :class:`ChunkedBook`; see the module docstring."""

    def __init__(self, rows: Iterable[tuple[int, MarginAccount]] = ()) -> None:
        self._books: dict[str, ChunkedBook] = {}
        self._by_owner: dict[str, dict[int, str]] = {}  # owner → account id → protocol
        self.add(rows)

    def __len__(self) -> int:
        return sum(len(ids) for ids in self._by_owner.values())

    def add(self, rows: Iterable[tuple[int, MarginAccount]]) -> list[Lost]:
        """Add (or replace) accounts; returns those replaced that lost some of a position (a
        market they held is gone, on the other side or smaller in the new state)."""
        shrunk = []
        for account_id, account in rows:
            book = self._books.setdefault(account.protocol, ChunkedBook())
            old = book.put(account_id, account)
            self._by_owner.setdefault(account.owner, {})[account_id] = account.protocol
            if old is not None and _lost_some(old, account):
                shrunk.append(Lost(account_id, old, account))
        return shrunk

    def replace_owners(
        self, protocol: str, owners: Iterable[str], rows: Iterable[tuple[int, MarginAccount]]
    ) -> list[Lost]:
        """Make ``rows`` the accounts of ``owners`` (spelled as stored) on ``protocol``: their
        other accounts there are dropped (those on other protocols stay), and an account read
        again with the same terms stays as it was. Returns, as they were last held, the
        accounts that lost positions: those dropped (gone from the chain: closed or
        liquidated) and those read again with less than they held (a cross account whose
        positions a liquidation closed keeps its balance; a partial liquidation leaves a
        smaller position)."""
        rows = list(rows)
        kept = {account_id for account_id, _ in rows}
        lost: list[Lost] = []
        for owner in owners:
            held = self._by_owner.get(owner, {})
            gone = self.remove(protocol, [(i, owner) for i in held if i not in kept])
            lost += [Lost(i, account) for i, account in gone]
        return lost + self.add(rows)

    def remove(
        self, protocol: str, rows: Iterable[tuple[int, str]]
    ) -> list[tuple[int, MarginAccount]]:
        """Drop the ``(account id, owner)`` accounts of ``protocol`` (ended: closed or
        liquidated); returns those that were here, as they were last held."""
        lost = []
        for account_id, owner in rows:
            held = self._by_owner.get(owner, {})
            if held.get(account_id) != protocol:
                continue
            account = self._books[protocol].remove(account_id, owner)
            if account is not None:
                lost.append((account_id, account))
            del held[account_id]
            if not held:
                del self._by_owner[owner]
        return lost

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


def _lost_some(old: MarginAccount, new: MarginAccount) -> bool:
    """Whether ``new`` holds less than ``old``: a market gone, flipped or smaller."""
    held = {p.market: p.size_raw for p in new.positions}
    return any(
        p.market not in held
        or (held[p.market] > 0) != (p.size_raw > 0)
        or abs(held[p.market]) < abs(p.size_raw)
        for p in old.positions
    )
