"""gTrade v10's diamonds (GNSMultiCollatDiamond), and its section of the example config.

Addresses: PROTOCOLS.md §4 (``@gainsnetwork/sdk`` ``contracts/addresses.json``), EIP-55 form.
``start_block`` is where each diamond began emitting v10 events (a ``Trade`` of 15 words: the
earlier layout has other topic0s), as recorded by a public third-party gTrade indexer; not
re-checked on chain. Collateral names are Arbitrum's indexes (PROTOCOLS.md §4: DAI 1, ETH 2,
USDC 3, GNS 4), WETH named apart from the ETH pair.
"""

from __future__ import annotations

from collections.abc import Mapping

from indexer.config.protocol import Deployment

_SOURCE = (
    "PROTOCOLS.md §4 (@gainsnetwork/sdk contracts/addresses.json); start_block = first v10 "
    "block as recorded by a third-party gTrade indexer"
)

ARBITRUM_COLLATERALS = {
    "1": {"asset": "DAI"},
    "2": {"asset": "WETH"},
    "3": {"asset": "USDC"},
    "4": {"asset": "GNS"},
}

DEPLOYMENTS: Mapping[int, Deployment] = {
    42161: Deployment(
        addresses={"diamond": "0xFF162c694eAA571f685030649814282eA457f169"},
        start_block=364917633,
        source=_SOURCE,
        defaults={"collaterals": ARBITRUM_COLLATERALS},
    ),
    8453: Deployment(
        addresses={"diamond": "0x6cD5aC19a07518A8092eEFfDA4f1174C72704eeb"},
        start_block=33765881,
        source=_SOURCE,
    ),
    137: Deployment(
        addresses={"diamond": "0x209A9A01980377916851af2cA075C2b170452018"},
        start_block=74793870,
        source=_SOURCE,
    ),
    33139: Deployment(
        addresses={"diamond": "0x2BE5D7058AdBa14Bc38E4A83E94A81f7491b0163"},
        start_block=20196286,
        source=_SOURCE,
    ),
    4326: Deployment(
        addresses={"diamond": "0x2D5B1ba6E2093a5b927Fe5bF8C049B107de31eaF"},
        start_block=7584314,
        source=_SOURCE,
    ),
}


def example(chains: Mapping[int, str]) -> str:
    """The ``[[protocols]]`` table of gTrade on the example Arbitrum chain."""
    if 42161 not in chains:
        return ""
    known = DEPLOYMENTS[42161]
    return f"""
# gTrade v10: one isolated account per trade. Pairs are valued with a USD feed per pair index
# (gTrade's own oracle prices are not readable on chain): list every pair a watched trade is
# in. "lookback" values a trade at the most adverse feed round since the last read, as gTrade
# liquidates on lookback high/low. Collateral names default to Arbitrum's indexes 1-4.
[[protocols]]
name = "gtrade"
chain = "{chains[42161]}"
start_block = {known.start_block}
price_source = "lookback"

[protocols.addresses]
diamond = "{known.addresses["diamond"]}"

[protocols.pairs.0]     # BTC/USD (check feeds at data.chain.link)
asset = "BTC"
feed = "0x6ce185860a4963106506C203335A2910413708e9"

[protocols.pairs.1]     # ETH/USD
asset = "ETH"
feed = "0x639Fe6ab55C921f74e7fac1ee960C0B6293ba612"
"""
