"""Where a protocol's prices come from: by default its own on-chain reads; a plugin may offer
others (GMX v2's tickers endpoint), chosen through ``indexer.registry.price_source_for``.

    source = OnChainPrices(adapter)
    book = await source.read(rpc, ["ETH", "USDC"], block)    # PriceBook(prices, updated_at)

Each source answers with the prices it has; a missing asset means "unpriced", which the
monitor reports as unknown rather than guessing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from indexer.protocols.base import ProtocolAdapter, QuotedPrices, RememberingPrices
from indexer.reads.execute import run_read
from indexer.rpc.client import RpcClient


@dataclass(frozen=True, slots=True)
class PriceBook:
    """USD per whole unit by asset, and (where the source says) when each was updated."""

    prices: dict[str, float]
    updated_at: dict[str, int] = field(default_factory=dict)


class PriceSource(Protocol):
    async def read(self, rpc: RpcClient, assets: Sequence[str], block: int) -> PriceBook: ...


@dataclass(frozen=True, slots=True)
class OnChainPrices:
    """The adapter's own price reads at ``block`` (Chainlink feeds, Hyperliquid marks…).

    An adapter with ``RememberingPrices`` gets back, on each read, the ``memory`` its previous
    read returned (one source per monitored protocol keeps it for the process's lifetime).
    """

    adapter: ProtocolAdapter
    memory: dict[str, int] = field(default_factory=dict, compare=False)

    async def read(self, rpc: RpcClient, assets: Sequence[str], block: int) -> PriceBook:
        if not assets:
            return PriceBook({})
        if isinstance(self.adapter, RememberingPrices):
            seen = await run_read(rpc, self.adapter.read_prices_since(assets, self.memory), block)
            self.memory.update(seen.memory)
            return PriceBook(seen.prices, seen.updated_at)
        if isinstance(self.adapter, QuotedPrices):
            quotes = await run_read(rpc, self.adapter.read_price_quotes(assets), block)
            return PriceBook(
                {a: q.price for a, q in quotes.items()},
                {a: q.updated_at for a, q in quotes.items()},
            )
        return PriceBook(await run_read(rpc, self.adapter.read_prices(assets), block))
