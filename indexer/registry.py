"""From configuration to work: which log sources to scan on which chain.

    for chain_jobs in scan_jobs(load_config(None)):
        ...  # chain_jobs.chain (ChainConfig), chain_jobs.jobs (ScanJob per protocol with events)

Only adapters build sources; nothing here knows a protocol's events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from indexer.config.loader import Config
from indexer.config.sections import ChainConfig, ProtocolConfig
from indexer.errors import UserError
from indexer.protocols.base import ProtocolAdapter
from indexer.protocols.gmx_v2.adapter import GmxMarket, GmxToken, GmxV2Adapter
from indexer.protocols.hyperliquid.adapter import HyperliquidAdapter
from indexer.scan.runner import ScanJob

AdapterFactory = Callable[[ChainConfig, ProtocolConfig], ProtocolAdapter]


def _gmx_v2(chain: ChainConfig, protocol: ProtocolConfig) -> ProtocolAdapter:
    tokens = {
        address.lower(): GmxToken(t.asset, t.decimals, t.feed.lower() if t.feed else None)
        for address, t in protocol.tokens.items()
    }
    markets = [
        GmxMarket(
            m.market_token.lower(),
            m.index_token.lower(),
            m.long_token.lower(),
            m.short_token.lower(),
        )
        for m in protocol.gmx_markets
    ]
    return GmxV2Adapter(
        chain.chain_id,
        {key: value.lower() for key, value in protocol.addresses.items()},
        protocol.start_block,
        markets=markets,
        tokens=tokens,
        source_name=f"{chain.name}:{protocol.name}",
    )


def _hyperliquid(chain: ChainConfig, protocol: ProtocolConfig) -> ProtocolAdapter:
    return HyperliquidAdapter(chain.chain_id, protocol.markets, protocol.dexes)


ADAPTERS: dict[str, AdapterFactory] = {
    "gmx_v2": _gmx_v2,
    "hyperliquid": _hyperliquid,
}
"""Protocols perpwatch can index, by their config name."""


@dataclass(frozen=True, slots=True)
class ChainJobs:
    """A chain and the log sources to scan on it."""

    chain: ChainConfig
    jobs: tuple[ScanJob, ...]


def adapter_for(cfg: Config, protocol: ProtocolConfig) -> ProtocolAdapter:
    """The adapter of one configured protocol.

    Raises:
        UserError: the protocol is known to the config but has no adapter yet.
    """
    factory = ADAPTERS.get(protocol.name)
    if factory is None:
        raise UserError(
            f"protocol {protocol.name!r} on {protocol.chain} has no adapter yet "
            f"(supported: {', '.join(sorted(ADAPTERS))}); remove it from the config"
        )
    return factory(cfg.chain(protocol.chain), protocol)


def scan_jobs(cfg: Config) -> list[ChainJobs]:
    """One entry per chain that has at least one protocol with events to scan."""
    by_chain: dict[str, list[ScanJob]] = {}
    for protocol in cfg.protocols:
        adapter = adapter_for(cfg, protocol)
        source = adapter.log_source()
        if source is not None:
            by_chain.setdefault(protocol.chain, []).append(ScanJob(source, adapter.touched))
    return [ChainJobs(cfg.chain(name), tuple(jobs)) for name, jobs in by_chain.items()]
