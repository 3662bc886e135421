"""Hyperliquid (HyperCore perps via HyperEVM's read precompiles): cross and isolated margin."""

from __future__ import annotations

from collections.abc import Mapping

from indexer.config.protocol import Deployment
from indexer.config.sections import ChainConfig
from indexer.protocols.hyperliquid.adapter import HyperliquidAdapter
from indexer.protocols.hyperliquid.margin import MarginTier
from indexer.protocols.hyperliquid.options import HyperliquidOptions
from indexer.protocols.plugin import ProtocolPlugin

DEPLOYMENTS = {
    # No EVM events to scan: positions are polled through the read precompiles at fixed
    # addresses, so any start block works; 0 keeps "first block" meaningful for cursors.
    999: Deployment(
        addresses={},
        start_block=0,
        source="PROTOCOLS.md §3.1 (L1Read.sol precompiles 0x…0800-0x…0813 on HyperEVM 999)",
    ),
}


def make_adapter(chain: ChainConfig, options: HyperliquidOptions) -> HyperliquidAdapter:
    tiers = {
        asset: [MarginTier(t.lower_bound_usd, t.max_leverage) for t in table]
        for asset, table in options.margin_tiers.items()
    }
    return HyperliquidAdapter(chain.chain_id, options.markets, options.dexes, margin_tiers=tiers)


def example(chains: Mapping[int, str]) -> str:
    """The ``[[protocols]]`` table of the example HyperEVM chain."""
    if 999 not in chains:
        return ""
    return f"""
# Hyperliquid positions are read through HyperEVM's read precompiles: no addresses needed.
[[protocols]]
name = "hyperliquid"
chain = "{chains[999]}"
dexes = [0]          # perp dex indices; 0 = the main dex
markets = [0, 1]     # asset ids (index in meta.universe): 0 = BTC, 1 = ETH; list every
                     # market a watched wallet trades
# Margin tables of large positions (the precompiles do not return them), per asset id:
# [[protocols.margin_tiers.1]]
# lower_bound_usd = 0
# max_leverage = 25
"""


PLUGIN = ProtocolPlugin(
    name=HyperliquidAdapter.name,
    options=HyperliquidOptions,
    make_adapter=make_adapter,
    deployments=DEPLOYMENTS,
    example=example,
)
