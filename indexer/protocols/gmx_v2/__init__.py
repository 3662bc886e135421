"""GMX v2 (Synthetics): isolated margin, one account per position (PROTOCOLS.md §1)."""

from __future__ import annotations

from indexer.config.sections import ChainConfig
from indexer.decode.abi import load_abi
from indexer.prices import PriceSource
from indexer.protocols.base import ProtocolAdapter
from indexer.protocols.gmx_v2.adapter import GmxMarket, GmxToken, GmxV2Adapter
from indexer.protocols.gmx_v2.decode import PROTOCOL
from indexer.protocols.gmx_v2.deployments import DEPLOYMENTS, example
from indexer.protocols.gmx_v2.events import (
    EVENT_LOG_DATA_TYPE,
    EventLogTemplates,
    flatten_event_log_data,
)
from indexer.protocols.gmx_v2.options import GmxV2Options
from indexer.protocols.gmx_v2.tickers import GmxTickerPrices
from indexer.protocols.plugin import ProtocolPlugin

# Chainlink's AnswerUpdated is stored decoded too: the feeds GMX values positions with.
EVENT_ABIS = ("gmx_v2/EventEmitter.json", "chainlink/AggregatorInterface.json")


def make_adapter(chain: ChainConfig, options: GmxV2Options) -> GmxV2Adapter:
    tokens = {
        address.lower(): GmxToken(t.asset, t.decimals, t.feed.lower() if t.feed else None)
        for address, t in options.tokens.items()
    }
    markets = [
        GmxMarket(
            m.market_token.lower(), m.index_token.lower(), m.long_token.lower(),
            m.short_token.lower(),
        )
        for m in options.gmx_markets
    ]  # fmt: skip
    return GmxV2Adapter(
        chain.chain_id,
        {key: value.lower() for key, value in options.addresses.items()},
        options.start_block,
        markets=markets,
        tokens=tokens,
        source_name=f"{chain.name}:{options.name}",
        config_max_age_s=options.config_max_age_s,
    )


def price_source(options: GmxV2Options, adapter: ProtocolAdapter) -> PriceSource | None:
    """GMX's tickers endpoint with ``price_source = "tickers"``; Chainlink (on chain) else."""
    if options.price_source != "tickers" or not isinstance(adapter, GmxV2Adapter):
        return None
    assert options.tickers_url is not None  # the options require it with "tickers"
    return GmxTickerPrices(str(options.tickers_url), adapter.tokens)


def market_label(market: str, asset: str) -> str:
    """GMX names markets by their token address: show the asset with a short id."""
    return f"{asset}/USD {market[:8]}…" if market.startswith("0x") else market


PLUGIN = ProtocolPlugin(
    name=PROTOCOL,
    options=GmxV2Options,
    make_adapter=make_adapter,
    required_addresses=("data_store", "event_emitter", "reader"),
    deployments=DEPLOYMENTS,
    events=tuple(e for path in EVENT_ABIS for e in load_abi(path) if e.get("type") == "event"),
    flatteners={EVENT_LOG_DATA_TYPE: flatten_event_log_data},
    fast_path=EventLogTemplates,
    price_source=price_source,
    market_label=market_label,
    example=example,
)
