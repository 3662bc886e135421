"""A compiled book (``monitor.health.book``) kept up to date account by account.

Pure: no I/O.

Compiling a book is Python work per account; a live book changes by a few accounts per block
while holding tens of thousands. So accounts are kept in chunks, each compiled on its own, and a
change recompiles only the chunks it touches; the whole book is their concatenation (a few NumPy
copies). All chunks share one asset column order, which only grows.

A chunk is a range of owner addresses (:func:`address_fraction`), not of account ids: the
runtime re-reads owners in address order (the rolling whole-book refresh takes sorted owners,
event-less wallets are polled at a phase given by their address), so one tick's re-reads fall
into a few neighbouring chunks instead of dirtying most of them. An account read again with the
same terms (only its block differs) dirties nothing and keeps its earlier read.

    >>> chunked = ChunkedBook()
    >>> chunked.put(7, account)
    >>> ids, book = chunked.compiled()     # ids[i] is the account id of book.accounts[i]
    >>> chunked.remove(7, account.owner)
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from indexer.models import MarginAccount
from monitor.health.book import Book, compile_accounts, concat_books, select_accounts

Ids = npt.NDArray[np.int64]

CHUNKS = 256
"""Address ranges per book: 80 accounts a chunk at 20,000 accounts, and a tick that changed
anything joins at most this many (a few milliseconds)."""


def address_fraction(owner: str) -> float:
    """Where ``owner`` (a 0x address) falls in the address space, in [0, 1); 0 if it is not
    hexadecimal. Sorting by address sorts by this."""
    try:
        return int(owner[2:10], 16) / 2**32
    except ValueError:
        return 0.0


class ChunkedBook:
    """Accounts by id, compiled per chunk of addresses; see the module docstring."""

    def __init__(self, chunks: int = CHUNKS) -> None:
        self.chunks = chunks
        self._assets: dict[str, int] = {}
        self._accounts: dict[int, dict[int, MarginAccount]] = {}  # chunk → id → account
        self._compiled: dict[int, tuple[Ids, Book]] = {}
        self._dirty: set[int] = set()  # chunks to recompile
        self._removed: set[int] = set()  # chunks that only lost accounts since compiled
        self._whole: tuple[Ids, Book] | None = None

    def __len__(self) -> int:
        return sum(len(chunk) for chunk in self._accounts.values())

    def _key(self, owner: str) -> int:
        return int(address_fraction(owner) * self.chunks)

    def put(self, account_id: int, account: MarginAccount) -> MarginAccount | None:
        """Add or replace one account (a new read of the same terms changes nothing); returns
        the account held under ``account_id`` before, if any."""
        key = self._key(account.owner)
        chunk = self._accounts.setdefault(key, {})
        old = chunk.get(account_id)
        if old is not None and old.same_terms(account):
            return old
        chunk[account_id] = account
        self._dirty.add(key)
        return old

    def remove(self, account_id: int, owner: str) -> MarginAccount | None:
        """Drop one account of ``owner`` and return it (None if it is not here)."""
        key = self._key(owner)
        chunk = self._accounts.get(key)
        account = None if chunk is None else chunk.pop(account_id, None)
        if account is not None:
            self._removed.add(key)
        return account

    def rows(self) -> Iterable[tuple[int, MarginAccount]]:
        """Every ``(account id, account)``, in book order (chunk, then id)."""
        for key in sorted(self._accounts):
            chunk = self._accounts[key]
            for account_id in sorted(chunk):
                yield account_id, chunk[account_id]

    def compiled(self) -> tuple[Ids, Book]:
        """The account ids and the compiled book (same order), recompiling changed chunks only."""
        if self._whole is not None and not self._dirty and not self._removed:
            return self._whole
        for key in self._dirty | self._removed:
            chunk = self._accounts.get(key)
            if not chunk:
                self._accounts.pop(key, None)
                self._compiled.pop(key, None)
                continue
            held = self._compiled.get(key)
            if key not in self._dirty and held is not None:
                # Only removals: the rows that stay are as compiled (a crash ends a thousand
                # accounts across most chunks; recompiling them all took a whole book's time).
                ids, book = held
                keep = np.fromiter((i in chunk for i in ids.tolist()), bool, len(ids))
                self._compiled[key] = (ids[keep], select_accounts(book, keep))
                continue
            order = sorted(chunk)
            book = compile_accounts([chunk[i] for i in order], self._assets)
            self._compiled[key] = (np.asarray(order, dtype=np.int64), book)
        self._dirty.clear()
        self._removed.clear()
        parts = [self._compiled[key] for key in sorted(self._compiled)]
        ids = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
        whole = ids, concat_books([p[1] for p in parts], tuple(self._assets))
        self._whole = whole
        return whole
