"""Health of stored open books at each protocol's own prices, vectorised per protocol.

    views = evaluate(engine, [sync])          # one-shot: loads the book
    views = evaluate_rows(rows, sync)         # rows already loaded

The live monitor keeps its compiled book between ticks and values it with
``monitor.health.tick.value_book`` directly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy.engine import Engine

from indexer.models import MarginAccount
from indexer.store.accounts import load_accounts
from monitor.health.book import compile_accounts
from monitor.health.tick import AccountView, value_book
from monitor.runtime.chain_pass import ChainSync, in_scope

__all__ = ["AccountView", "evaluate", "evaluate_rows"]


def evaluate(engine: Engine, syncs: Sequence[ChainSync]) -> list[AccountView]:
    """Health of every open account of the synced chains, each at its protocol's prices
    (loads the book from the database; the runtime keeps its own, see ``LiveBook``)."""
    views: list[AccountView] = []
    for sync in syncs:
        rows = load_accounts(engine, chain_id=sync.chain_id)
        views += evaluate_rows([r for r in rows if in_scope(sync.scopes, r[1])], sync)
    return views


def evaluate_rows(rows: Sequence[tuple[int, MarginAccount]], sync: ChainSync) -> list[AccountView]:
    """Health of ``rows`` at ``sync``'s prices: one NumPy pass per protocol instead of one
    Python call per account; protocol by protocol, each in the order given."""
    by_protocol: dict[str, list[tuple[int, MarginAccount]]] = {}
    for account_id, account in rows:
        by_protocol.setdefault(account.protocol, []).append((account_id, account))
    views: list[AccountView] = []
    for protocol, group in by_protocol.items():
        book = compile_accounts([a for _, a in group])
        ids = np.array([i for i, _ in group], dtype=np.int64)
        views += value_book(protocol, ids, book, sync.prices.get(protocol, {})).views()
    return views
