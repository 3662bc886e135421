"""Where a protocol's prices come from: its own on-chain reads, or GMX's tickers endpoint.

    source = price_source_for(protocol_config, adapter)
    book = await source.read(rpc, ["ETH", "USDC"], block)    # PriceBook(prices, updated_at)

Each source answers with the prices it has; a missing asset means "unpriced", which the
monitor reports as unknown rather than guessing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from indexer.config.sections import ProtocolConfig
from indexer.protocols.base import ProtocolAdapter, QuotedPrices
from indexer.protocols.gmx_v2.adapter import GmxV2Adapter
from indexer.protocols.gmx_v2.tickers import fetch_ticker_prices
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
    """The adapter's own price reads at ``block`` (Chainlink feeds, Hyperliquid marks…)."""

    adapter: ProtocolAdapter

    async def read(self, rpc: RpcClient, assets: Sequence[str], block: int) -> PriceBook:
        if not assets:
            return PriceBook({})
        if isinstance(self.adapter, QuotedPrices):
            quotes = await run_read(rpc, self.adapter.read_price_quotes(assets), block)
            return PriceBook(
                {a: q.price for a, q in quotes.items()},
                {a: q.updated_at for a, q in quotes.items()},
            )
        return PriceBook(await run_read(rpc, self.adapter.read_prices(assets), block))


@dataclass(frozen=True, slots=True)
class GmxTickerPrices:
    """GMX's off-chain tickers (mid of min and max), e.g. ``…/prices/tickers``."""

    url: str
    adapter: GmxV2Adapter
    timeout_s: float = 10.0

    async def read(self, rpc: RpcClient, assets: Sequence[str], block: int) -> PriceBook:
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            tickers = await fetch_ticker_prices(client, self.url, self.adapter.tokens,
                                                now=time.time())  # fmt: skip
        wanted = set(assets)
        return PriceBook(
            {a: t.mid_usd for a, t in tickers.items() if a in wanted},
            {a: int(t.updated_at) for a, t in tickers.items() if a in wanted},
        )


def price_source_for(protocol: ProtocolConfig, adapter: ProtocolAdapter) -> PriceSource:
    """The configured price source of one protocol (``price_source``, default on chain)."""
    if protocol.price_source == "tickers" and isinstance(adapter, GmxV2Adapter):
        assert protocol.tickers_url is not None  # the config requires it with "tickers"
        return GmxTickerPrices(str(protocol.tickers_url), adapter)
    return OnChainPrices(adapter)
