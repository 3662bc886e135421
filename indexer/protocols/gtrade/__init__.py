"""gTrade v10 (Gains Network's GNSMultiCollatDiamond): isolated margin, one account per trade."""

from __future__ import annotations

from indexer.config.sections import ChainConfig
from indexer.protocols.gtrade.adapter import GTradeAdapter
from indexer.protocols.gtrade.decode import PROTOCOL
from indexer.protocols.gtrade.deployments import DEPLOYMENTS, example
from indexer.protocols.gtrade.events import EVENTS
from indexer.protocols.gtrade.lookback import GTradePair
from indexer.protocols.gtrade.options import GTradeOptions
from indexer.protocols.plugin import ProtocolPlugin


def make_adapter(chain: ChainConfig, options: GTradeOptions) -> GTradeAdapter:
    return GTradeAdapter(
        chain.chain_id,
        options.addresses.get("diamond", ""),
        options.start_block,
        pairs={i: GTradePair(p.asset, p.feed) for i, p in options.pairs.items()},
        collaterals={i: c.asset for i, c in options.collaterals.items()},
        lookback=options.price_source == "lookback",
        owners_per_read=options.owners_per_read,
        source_name=f"{chain.name}:{options.name}",
    )


PLUGIN = ProtocolPlugin(
    name=PROTOCOL,
    options=GTradeOptions,
    make_adapter=make_adapter,
    required_addresses=("diamond",),
    deployments=DEPLOYMENTS,
    events=EVENTS,
    example=example,
)
