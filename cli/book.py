"""The open book for the risk commands (``stress``, ``ladder``, ``whatif``): accounts from the
database the monitor writes, prices read live from each protocol's own source.

    book = asyncio.run(read_book(cfg, owner=None))   # Book(entries=[PricedAccount], unpriced=k)

Positions change only through the monitor's refresh, so the book is as recent as the last
``perpwatch run`` tick (each account keeps its ``block_number``); prices are read now, at each
chain's head, the way the monitor reads them (``monitor.runtime.chain_pass.by_chain``).
Accounts of protocols missing from the config are left out; accounts whose protocol does not
price one of their assets are counted in ``Book.unpriced``, never valued as safe.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from indexer.config.loader import Config
from indexer.models import MarginAccount
from indexer.prices import PriceSource
from indexer.rpc.client import RpcClient
from indexer.scan.runner import open_rpc
from indexer.store.accounts import load_accounts
from indexer.store.engine import ensure_schema
from indexer.store.preflight import open_database
from monitor.analysis.book import PricedAccount
from monitor.runtime.chain_pass import ChainProtocols, by_chain


@dataclass(frozen=True, slots=True)
class Book:
    entries: list[PricedAccount]
    unpriced: int


def stored_accounts(cfg: Config, owner: str | None = None) -> list[MarginAccount]:
    """Open accounts in the database (``owner``'s only when given).

    Raises DatabaseUnavailable (exit 3) or UserError as ``open_database``/``ensure_schema``.
    """
    engine = open_database(cfg.database_url)
    try:
        ensure_schema(engine)
        return [account for _, account in load_accounts(engine, owner=owner)]
    finally:
        engine.dispose()


async def read_book(cfg: Config, owner: str | None = None) -> Book:
    """The stored open accounts of the configured protocols with live prices, chains
    concurrently. Raises as :func:`stored_accounts` and the RPC client (exit 3)."""
    accounts = await asyncio.to_thread(stored_accounts, cfg, owner)
    groups = by_chain(cfg)
    per_chain = await asyncio.gather(*(_price_chain(g, accounts) for g in groups))
    entries = [entry for chain in per_chain for entry in chain[0]]
    unpriced = sum(chain[1] for chain in per_chain)
    return Book(entries, unpriced)


async def _price_chain(
    group: ChainProtocols, accounts: list[MarginAccount]
) -> tuple[list[PricedAccount], int]:
    mine = [
        [a for a in accounts if (a.chain_id, a.protocol) == (adapter.chain_id, adapter.name)]
        for adapter in group.adapters
    ]
    if not any(mine):  # nothing to price: do not even ask the node
        return [], 0
    async with open_rpc(group.chain) as rpc:
        block = await rpc.block_number()  # one block: every protocol's prices form one snapshot
        prices = await asyncio.gather(
            *(
                _prices(rpc, source, held, block)
                for source, held in zip(group.price_sources, mine, strict=True)
            )
        )
    entries, unpriced = [], 0
    for held, book in zip(mine, prices, strict=True):
        for account in held:
            if account.assets <= book.keys():
                entries.append(PricedAccount(account, book))
            else:
                unpriced += 1
    return entries, unpriced


async def _prices(
    rpc: RpcClient, source: PriceSource, accounts: list[MarginAccount], block: int
) -> dict[str, float]:
    assets = sorted({asset for account in accounts for asset in account.assets})
    if not assets:
        return {}
    return (await source.read(rpc, assets, block)).prices
