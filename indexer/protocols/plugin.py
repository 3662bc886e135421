"""A protocol plugin: everything perpwatch knows about one protocol, registered once.

Each protocol is one package ``indexer/protocols/<name>/`` whose ``PLUGIN`` is listed in
``indexer.registry.PLUGINS``; config validation, scan jobs, event decoding, price sources,
``perpwatch init`` and alert display are all derived from it. Nothing outside
``indexer/protocols/`` names a protocol.

    PLUGIN = ProtocolPlugin(
        name="my_perps", options=MyOptions, make_adapter=my_adapter,
        required_addresses=("vault",), deployments={42161: Deployment({...}, 1234, "docs")},
    )
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from indexer.config.protocol import Deployment, ProtocolConfig
from indexer.config.sections import ChainConfig
from indexer.decode.abi import AbiEntry
from indexer.decode.logs import Flatten, LogDecoder
from indexer.protocols.base import ProtocolAdapter

if TYPE_CHECKING:  # annotations only: a plugin package stays free of I/O imports
    from indexer.decode.json_args import FastPath
    from indexer.prices import PriceSource

AdapterFactory = Callable[[ChainConfig, Any], ProtocolAdapter]
"""(chain, the plugin's validated options) -> adapter; the options are ``plugin.options``."""


def plain_market(market: str, asset: str) -> str:
    """Markets shown as the protocol names them."""
    return market


@dataclass(frozen=True, slots=True)
class ProtocolPlugin:
    """One protocol, as data and hooks.

    - ``name``: the config name (``[[protocols]] name``), also the adapter's and the accounts'
      ``protocol``;
    - ``options``: its ``[[protocols]]`` table, a :class:`ProtocolConfig` subclass with
      ``name: Literal[<name>]`` and ``extra="forbid"``;
    - ``make_adapter``: builds the adapter from the chain and the validated options;
    - ``required_addresses`` (what the adapter actually reads) and ``optional_addresses``;
    - ``deployments``: chain id -> known contracts, first block and implied option defaults;
    - ``events``: ABI events whose logs are stored decoded (the protocol's own and those of its
      price feeds); ``flatteners`` and ``fast_path`` are decoder hooks for its struct events;
    - ``price_source``: the configured price source, or None for the adapter's on-chain reads;
    - ``market_label``: how alerts show one of its markets (given the market and asset);
    - ``example``: its ``perpwatch init`` section, given the example chains (chain id -> name).
    """

    name: str
    options: type[ProtocolConfig]
    make_adapter: AdapterFactory
    required_addresses: tuple[str, ...] = ()
    optional_addresses: tuple[str, ...] = ()
    deployments: Mapping[int, Deployment] = field(default_factory=dict)
    events: tuple[AbiEntry, ...] = ()
    flatteners: Mapping[str, Flatten] = field(default_factory=dict)
    fast_path: Callable[[LogDecoder], FastPath] | None = None
    price_source: Callable[[Any, ProtocolAdapter], PriceSource | None] | None = None
    market_label: Callable[[str, str], str] = plain_market
    example: Callable[[Mapping[int, str]], str] | None = None

    @property
    def address_keys(self) -> tuple[str, ...]:
        """Every address key the protocol accepts, required ones first."""
        return self.required_addresses + self.optional_addresses

    def configured_price_source(
        self, options: ProtocolConfig, adapter: ProtocolAdapter
    ) -> PriceSource | None:
        """The price source ``options`` selects, or None for the adapter's own reads."""
        return None if self.price_source is None else self.price_source(options, adapter)


def unique_events(plugins: Sequence[ProtocolPlugin]) -> list[AbiEntry]:
    """Every plugin's events, each ABI entry once (feeds are shared between protocols)."""
    seen: dict[str, AbiEntry] = {}
    for plugin in plugins:
        for entry in plugin.events:
            key = entry["name"] + repr(entry.get("inputs"))
            seen.setdefault(key, entry)
    return list(seen.values())
