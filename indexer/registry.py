"""The protocol registry, and what it derives from configuration: adapters, scan jobs,
decoders and price sources.

    for chain_jobs in scan_jobs(load_config(None)):
        ...  # chain_jobs.chain (ChainConfig), chain_jobs.jobs (ScanJob per protocol with events)

Adding a protocol is one package under ``indexer/protocols/`` and one line in ``PLUGINS``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from indexer.config.protocol import ProtocolConfig
from indexer.config.sections import ChainConfig
from indexer.decode.json_args import JsonLogDecoder
from indexer.decode.logs import Flatten, LogDecoder
from indexer.errors import UserError
from indexer.prices import OnChainPrices, PriceSource
from indexer.protocols import gmx_v2, gtrade, hyperliquid
from indexer.protocols.base import ProtocolAdapter
from indexer.protocols.plugin import ProtocolPlugin, unique_events
from indexer.scan.runner import ScanJob

if TYPE_CHECKING:
    from indexer.config.loader import Config

PLUGINS: dict[str, ProtocolPlugin] = {
    gmx_v2.PLUGIN.name: gmx_v2.PLUGIN,
    hyperliquid.PLUGIN.name: hyperliquid.PLUGIN,
    gtrade.PLUGIN.name: gtrade.PLUGIN,
}
"""Every protocol perpwatch can index, by config name (tests may add one for their run)."""


def known_protocols() -> str:
    """The registered protocol names as one comma-separated, sorted string (for messages)."""
    return ", ".join(sorted(PLUGINS))


def plugin(name: str) -> ProtocolPlugin:
    """The plugin called ``name``.

    Raises:
        UserError: no protocol of that name is registered.
    """
    found = PLUGINS.get(name)
    if found is None:
        raise UserError(f"unknown protocol {name!r} (known: {known_protocols()})")
    return found


@dataclass(frozen=True, slots=True)
class ChainJobs:
    """A chain and the log sources to scan on it."""

    chain: ChainConfig
    jobs: tuple[ScanJob, ...]


def adapter_for(cfg: Config, protocol: ProtocolConfig) -> ProtocolAdapter:
    """The adapter of one configured protocol (its options were validated by its plugin)."""
    adapter = plugin(protocol.name).make_adapter(cfg.chain(protocol.chain), protocol)
    # Accounts carry the adapter's name and alerts look settings up by the config's name.
    assert adapter.name == protocol.name, f"{adapter.name} adapter for {protocol.name}"
    return adapter


def price_source_for(protocol: ProtocolConfig, adapter: ProtocolAdapter) -> PriceSource:
    """The configured price source of one protocol (default: the adapter's on-chain reads)."""
    chosen = plugin(protocol.name).configured_price_source(protocol, adapter)
    return chosen if chosen is not None else OnChainPrices(adapter)


def scan_jobs(cfg: Config) -> list[ChainJobs]:
    """One entry per chain that has at least one protocol with events to scan."""
    by_chain: dict[str, list[ScanJob]] = {}
    for protocol in cfg.protocols:
        adapter = adapter_for(cfg, protocol)
        source = adapter.log_source()
        if source is not None:
            by_chain.setdefault(protocol.chain, []).append(ScanJob(source, adapter.touched))
    return [ChainJobs(cfg.chain(name), tuple(jobs)) for name, jobs in by_chain.items()]


def log_decoder(plugins: Iterable[ProtocolPlugin] | None = None) -> LogDecoder:
    """A full decoder of every event of ``plugins`` (default: all registered)."""
    chosen = list(PLUGINS.values() if plugins is None else plugins)
    flatteners: dict[str, Flatten] = {k: f for p in chosen for k, f in p.flatteners.items()}
    return LogDecoder(unique_events(chosen), flatteners)


def json_decoder(plugins: Iterable[ProtocolPlugin] | None = None) -> JsonLogDecoder:
    """The decoder scans store ``raw_events.args`` with, prepared once (fast paths learn as
    logs arrive, so share one per scanner rather than one per range)."""
    chosen = list(PLUGINS.values() if plugins is None else plugins)
    inner = log_decoder(chosen)
    fast = [p.fast_path(inner) for p in chosen if p.fast_path is not None]
    return JsonLogDecoder(inner, fast_paths=fast, flat_events=unique_events(chosen))
