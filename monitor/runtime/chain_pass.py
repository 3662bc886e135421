"""One pass of the production pipeline on one chain: index → refresh → prices → health.

    for group in by_chain(cfg):                   # a chain and its protocols' adapters
        async with open_rpc(group.chain) as rpc:
            synced = await sync_chain(rpc, engine, group, watched)
        views = evaluate(engine, [synced])

``perpwatch run`` (the scheduler), ``perpwatch account`` and ``perpwatch demo`` all go through
these functions, so the demo exercises exactly what production runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from indexer.config.loader import Config
from indexer.config.sections import ChainConfig
from indexer.models import MarginAccount
from indexer.prices import OnChainPrices, PriceSource
from indexer.protocols.base import ProtocolAdapter
from indexer.refresh import owners_to_refresh, refresh_owners
from indexer.registry import adapter_for, json_decoder, price_source_for
from indexer.rpc.client import RpcClient
from indexer.scan.runner import ScanJob, chain_settings, index_chain
from indexer.store.accounts import load_accounts, open_assets
from indexer.store.cursors import ScanStore
from monitor.health.account import AccountHealth
from monitor.health.book import account_healths, compile_accounts
from monitor.health.book import evaluate as evaluate_book


@dataclass(frozen=True, slots=True)
class ChainProtocols:
    """A chain, the adapters of the protocols configured on it, and (in the same order) the
    source each one takes its prices from."""

    chain: ChainConfig
    adapters: tuple[ProtocolAdapter, ...]
    price_sources: tuple[PriceSource, ...] = ()

    def __post_init__(self) -> None:
        if not self.price_sources:  # default: each adapter's own on-chain prices
            object.__setattr__(self, "price_sources", tuple(map(OnChainPrices, self.adapters)))


def by_chain(cfg: Config) -> list[ChainProtocols]:
    """The configured protocols grouped by chain, each with its adapter and price source."""
    grouped: dict[str, list[tuple[ProtocolAdapter, PriceSource]]] = {}
    for protocol in cfg.protocols:
        adapter = adapter_for(cfg, protocol)
        entry = (adapter, price_source_for(protocol, adapter))
        grouped.setdefault(protocol.chain, []).append(entry)
    return [
        ChainProtocols(cfg.chain(name), tuple(a for a, _ in pairs), tuple(p for _, p in pairs))
        for name, pairs in grouped.items()
    ]


@dataclass
class ChainSync:
    """What one pass over a chain produced: the block read at, and each protocol's prices."""

    chain_id: int
    block: int
    prices: dict[str, dict[str, float]] = field(default_factory=dict)
    """Protocol name → asset → USD per whole unit, as that protocol itself prices it."""
    price_updated_at: dict[str, dict[str, int]] = field(default_factory=dict)
    """Protocol name → asset → Unix time its source last updated it (where the source says)."""
    logs: int = 0
    refreshed: int = 0
    closed: int = 0
    liquidated: int = 0


async def sync_chain(
    rpc: RpcClient,
    engine: Engine,
    group: ChainProtocols,
    watched: Sequence[str] = (),
) -> ChainSync:
    """Index new logs to the safe head, refresh touched/open/watched owners and read prices,
    all reads pinned to one block."""
    jobs = [
        ScanJob(source, adapter.touched)
        for adapter in group.adapters
        if (source := adapter.log_source()) is not None
    ]
    results = await index_chain(
        rpc, chain_settings(group.chain), ScanStore(engine), jobs, json_decoder()
    )
    block = await rpc.block_number() - group.chain.finality_blocks
    sync = ChainSync(group.chain.chain_id, block, logs=sum(r.logs for r in results))
    for adapter, prices in zip(group.adapters, group.price_sources, strict=True):
        owners = owners_to_refresh(engine, adapter, watched)
        saved = await refresh_owners(rpc, engine, adapter, owners, block=block)
        sync.refreshed += saved.written
        sync.closed += saved.closed
        sync.liquidated += saved.liquidated
        book = await prices.read(rpc, open_assets(engine, adapter.chain_id, adapter.name), block)
        sync.prices[adapter.name] = book.prices
        sync.price_updated_at[adapter.name] = book.updated_at
    return sync


@dataclass(frozen=True, slots=True)
class AccountView:
    """An open account with its health at the protocol's own prices; ``health`` is None when
    one of its assets has no price (the monitor reports that as unknown, never as safe)."""

    account_id: int
    account: MarginAccount
    health: AccountHealth | None


def evaluate(engine: Engine, syncs: Sequence[ChainSync]) -> list[AccountView]:
    """Health of every open account of the synced chains, each at its protocol's prices.

    Vectorised (``monitor.health.book``) per (chain, protocol): one NumPy pass over all
    positions instead of one Python call per account.
    """
    views: list[AccountView] = []
    for sync in syncs:
        by_protocol: dict[str, list[tuple[int, MarginAccount]]] = {}
        for account_id, account in load_accounts(engine, chain_id=sync.chain_id):
            by_protocol.setdefault(account.protocol, []).append((account_id, account))
        for protocol, rows in by_protocol.items():
            views += _evaluate_protocol(rows, sync.prices.get(protocol, {}))
    return views


def _evaluate_protocol(
    rows: list[tuple[int, MarginAccount]], prices: dict[str, float]
) -> list[AccountView]:
    priced = [(i, a) for i, a in rows if all(asset in prices for asset in a.assets)]
    priced_ids = {i for i, _ in priced}
    views = [AccountView(i, a, None) for i, a in rows if i not in priced_ids]
    if priced:
        book = compile_accounts([a for _, a in priced])
        vector = book.price_vector(prices)
        healths = account_healths(book, evaluate_book(book, vector), vector)
        views += [AccountView(i, a, h) for (i, a), h in zip(priced, healths, strict=True)]
    return views
