"""One pass of the production pipeline on one chain: index → refresh → prices → health.

    for group in by_chain(cfg):                   # a chain and its protocols' adapters
        async with open_rpc(group.chain) as rpc:
            synced = await sync_chain(rpc, engine, group, watched)
        views = evaluate(engine, [synced])

``perpwatch run`` (the scheduler), ``perpwatch account`` and ``perpwatch demo`` all go through
these functions, so the demo exercises exactly what production runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from indexer.config.loader import Config
from indexer.config.protocol import PollCadence
from indexer.config.sections import ChainConfig
from indexer.models import MarginAccount
from indexer.prices import OnChainPrices, PriceSource
from indexer.protocols.base import ProtocolAdapter
from indexer.registry import adapter_for, price_source_for
from indexer.store.accounts import SaveResult


@dataclass(frozen=True, slots=True)
class ChainProtocols:
    """A chain, the adapters of the protocols configured on it, and (in the same order) the
    source each one takes its prices from, the owners the monitor covers (None: all) and how
    often a watched wallet of an event-less protocol is polled when not at risk (None: it has
    events)."""

    chain: ChainConfig
    adapters: tuple[ProtocolAdapter, ...]
    price_sources: tuple[PriceSource, ...] = ()
    scopes: tuple[frozenset[str] | None, ...] = ()
    polls: tuple[PollCadence | None, ...] = ()
    eventless: frozenset[str] = field(init=False)
    """The protocols that emit no events (Hyperliquid): their wallets are polled and their
    liquidations inferred (known once: a tick asks per account)."""

    def __post_init__(self) -> None:
        if not self.price_sources:  # default: each adapter's own on-chain prices
            object.__setattr__(self, "price_sources", tuple(map(OnChainPrices, self.adapters)))
        if not self.scopes:  # default: every account of every protocol
            object.__setattr__(self, "scopes", (None,) * len(self.adapters))
        if not self.polls:  # default: event-less wallets re-read every tick
            object.__setattr__(self, "polls", (None,) * len(self.adapters))
        eventless = frozenset(a.name for a in self.adapters if a.log_source() is None)
        object.__setattr__(self, "eventless", eventless)

    @property
    def scope_by_protocol(self) -> dict[str, frozenset[str] | None]:
        """Protocol name → the owners the monitor covers (None: every account)."""
        return {a.name: s for a, s in zip(self.adapters, self.scopes, strict=True)}


_Entry = tuple[ProtocolAdapter, PriceSource, frozenset[str] | None, PollCadence | None]


def by_chain(cfg: Config) -> list[ChainProtocols]:
    """The configured protocols grouped by chain, each with its adapter and price source."""
    grouped: dict[str, list[_Entry]] = {}
    for protocol in cfg.protocols:
        adapter = adapter_for(cfg, protocol)
        entry = (
            adapter,
            price_source_for(protocol, adapter),
            cfg.watched_owners(protocol),
            protocol.poll_cadence(),
        )
        grouped.setdefault(protocol.chain, []).append(entry)
    return [
        ChainProtocols(cfg.chain(name), *(tuple(column) for column in zip(*rows, strict=True)))
        for name, rows in grouped.items()
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
    scopes: dict[str, frozenset[str] | None] = field(default_factory=dict)
    """Protocol name → the owners the monitor covers (None: every account)."""
    logs: int = 0
    behind_s: float = 0.0
    """Wall seconds the sync waited for the reads behind the last tick (``_caught_up``)."""
    scan_s: float = 0.0
    """Wall seconds the scan took (the rest of the sync is reads)."""
    slowest_request_s: float = 0.0
    """The longest single request to the node in this sync (``take_slowest_request_s``)."""
    refreshed: int = 0
    closed: int = 0
    liquidated: int = 0

    def count(self, saved: SaveResult) -> None:
        """Add a read's save to this pass's totals."""
        self.refreshed += saved.written
        self.closed += saved.closed
        self.liquidated += saved.liquidated


def in_scope(scopes: Mapping[str, frozenset[str] | None], account: MarginAccount) -> bool:
    """Whether the monitor covers ``account``, given each protocol's owners (None: all)."""
    scope = scopes.get(account.protocol)
    return scope is None or account.owner.lower() in scope
