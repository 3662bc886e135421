"""GMX v2's mainnet deployments, and its section of the example config.

Every address is written in its EIP-55 checksum form (a test checks it). ``start_block`` is the
EventEmitter's deployment, as in GMX's own subgraph.
"""

from __future__ import annotations

from collections.abc import Mapping

from indexer.config.protocol import Deployment

_SOURCE = (
    "PROTOCOLS.md §1.1 (gmx-io/gmx-synthetics deployments/<chain>/*.json, @gmx-io/sdk "
    "configs/contracts.js); start_block = EventEmitter deployment, as in GMX's own subgraph"
)

DEPLOYMENTS: Mapping[int, Deployment] = {
    42161: Deployment(
        addresses={
            "data_store": "0xFD70de6b91282D8017aA4E741e9Ae325CAb992d8",
            "event_emitter": "0xC8ee91A54287DB53897056e12D9819156D3822Fb",
            "reader": "0x470fbC46bcC0f16532691Df360A07d8Bf5ee0789",
        },
        start_block=107737756,
        source=_SOURCE,
        defaults={"tickers_url": "https://arbitrum-api.gmxinfra.io/prices/tickers"},
    ),
    43114: Deployment(
        addresses={
            "data_store": "0x2F0b22339414ADeD7D5F06f9D604c7fF5b2fe3f6",
            "event_emitter": "0xDb17B211c34240B014ab6d61d4A31FA0C0e20c26",
            "reader": "0x62Cb8740E6986B29dC671B2EB596676f60590A5B",
        },
        start_block=32162455,
        source=_SOURCE,
        defaults={"tickers_url": "https://avalanche-api.gmxinfra.io/prices/tickers"},
    ),
}


def example(chains: Mapping[int, str]) -> str:
    """``[[protocols]]`` tables for every example chain with a known GMX v2 deployment."""
    return "".join(
        _one(name, DEPLOYMENTS[cid]) for cid, name in chains.items() if cid in DEPLOYMENTS
    )


def _one(chain: str, known: Deployment) -> str:
    addresses = "\n".join(f'{key} = "{value}"' for key, value in known.addresses.items())
    return f"""
[[protocols]]
name = "gmx_v2"
chain = "{chain}"
start_block = {known.start_block}
tickers_url = "{known.defaults["tickers_url"]}"

[protocols.addresses]
{addresses}
"""
