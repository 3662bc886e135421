"""Health of the open book at each protocol's own prices, vectorised per protocol.

    views = evaluate(engine, [sync])                      # one-shot: loads the book
    views = evaluate_rows(rows, sync, books, version)     # the runtime's in-memory book

``CompiledBooks`` keeps each protocol's compiled NumPy book while its accounts stay the same,
so a tick whose only news is prices re-prices the book without rebuilding it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from indexer.models import MarginAccount
from indexer.store.accounts import load_accounts
from monitor.health.account import AccountHealth
from monitor.health.book import Book, account_healths, compile_accounts
from monitor.health.book import evaluate as evaluate_book
from monitor.runtime.chain_pass import ChainSync, in_scope


class CompiledBooks:
    """Compiled books by protocol, rebuilt only when ``key`` (book version, priced ids)
    changes."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[Hashable, Book]] = {}

    def get(self, protocol: str, key: Hashable, accounts: Sequence[MarginAccount]) -> Book:
        hit = self._cache.get(protocol)
        if hit is not None and hit[0] == key:
            return hit[1]
        book = compile_accounts(accounts)
        self._cache[protocol] = (key, book)
        return book


@dataclass(frozen=True, slots=True)
class AccountView:
    """An open account with its health at the protocol's own prices; ``health`` is None when
    one of its assets has no price (the monitor reports that as unknown, never as safe)."""

    account_id: int
    account: MarginAccount
    health: AccountHealth | None


def evaluate(engine: Engine, syncs: Sequence[ChainSync]) -> list[AccountView]:
    """Health of every open account of the synced chains, each at its protocol's prices
    (loads the book from the database; the runtime keeps its own, see :func:`evaluate_rows`)."""
    views: list[AccountView] = []
    for sync in syncs:
        rows = load_accounts(engine, chain_id=sync.chain_id)
        views += evaluate_rows([r for r in rows if in_scope(sync.scopes, r[1])], sync)
    return views


def evaluate_rows(
    rows: Sequence[tuple[int, MarginAccount]],
    sync: ChainSync,
    books: CompiledBooks | None = None,
    version: Hashable = None,
) -> list[AccountView]:
    """Health of ``rows`` at ``sync``'s prices: one NumPy pass per protocol instead of one
    Python call per account. ``books``/``version`` reuse compiled books across ticks."""
    by_protocol: dict[str, list[tuple[int, MarginAccount]]] = {}
    for account_id, account in rows:
        by_protocol.setdefault(account.protocol, []).append((account_id, account))
    views: list[AccountView] = []
    for protocol, group in by_protocol.items():
        views += _evaluate_protocol(protocol, group, sync.prices.get(protocol, {}), books, version)
    return views


def _evaluate_protocol(
    protocol: str,
    rows: list[tuple[int, MarginAccount]],
    prices: dict[str, float],
    books: CompiledBooks | None,
    version: Hashable,
) -> list[AccountView]:
    priced = [(i, a) for i, a in rows if all(asset in prices for asset in a.assets)]
    priced_ids = {i for i, _ in priced}
    views = [AccountView(i, a, None) for i, a in rows if i not in priced_ids]
    if priced:
        accounts = [a for _, a in priced]
        key = (version, tuple(i for i, _ in priced))
        book = compile_accounts(accounts) if books is None else books.get(protocol, key, accounts)
        vector = book.price_vector(prices)
        healths = account_healths(book, evaluate_book(book, vector), vector)
        views += [AccountView(i, a, h) for (i, a), h in zip(priced, healths, strict=True)]
    return views
