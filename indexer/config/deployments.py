"""What perpwatch knows about each protocol and its mainnet deployments, as data.

``PROTOCOLS`` is the registry of protocol names the config accepts, with the contract address keys
each needs and the protocol-specific options it takes. ``KNOWN_DEPLOYMENTS`` maps
``(protocol, chain_id)`` to the real mainnet addresses and first block, so a config for a known
chain may omit them. Every address here is written in its EIP-55 checksum form (a test checks it).

    >>> from indexer.config.deployments import KNOWN_DEPLOYMENTS
    >>> KNOWN_DEPLOYMENTS["gmx_v2", 42161].start_block
    107737756
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class ProtocolSpec:
    """Which address keys and options a protocol's config takes.

    ``options`` names the optional ``ProtocolConfig`` fields that apply to this protocol; setting
    any other protocol-specific field is a config error rather than silently ignored.
    """

    required_addresses: tuple[str, ...]
    optional_addresses: tuple[str, ...] = ()
    options: frozenset[str] = frozenset()

    @property
    def address_keys(self) -> tuple[str, ...]:
        """Every address key the protocol accepts, required ones first."""
        return self.required_addresses + self.optional_addresses


@dataclass(frozen=True, slots=True)
class Deployment:
    """One protocol's contracts on one chain.

    ``start_block`` is the first block worth scanning (the deployment of the contract whose logs
    reveal touched accounts); ``source`` names where the numbers were checked.
    """

    addresses: Mapping[str, str]
    start_block: int
    source: str
    tickers_url: str | None = None


PROTOCOLS: Mapping[str, ProtocolSpec] = MappingProxyType(
    {
        "gmx_v2": ProtocolSpec(
            required_addresses=("data_store", "event_emitter", "reader", "referral_storage"),
            optional_addresses=("liquidation_handler",),
            options=frozenset({"tickers_url", "tokens", "gmx_markets", "price_source"}),
        ),
        # HyperCore is read through precompiles at fixed addresses (PROTOCOLS.md §3.1): no
        # contract addresses to configure, but which perp dexes and assets to poll.
        "hyperliquid": ProtocolSpec(required_addresses=(), options=frozenset({"dexes", "markets"})),
        "synthetix_v3": ProtocolSpec(
            required_addresses=("perps_market_proxy", "perps_account_proxy"),
        ),
    }
)

_GMX_SOURCE = (
    "PROTOCOLS.md §1.1 (gmx-io/gmx-synthetics deployments/<chain>/*.json, @gmx-io/sdk "
    "configs/contracts.js); start_block = EventEmitter deployment, as in GMX's own subgraph"
)
_SNX_SOURCE = (
    "PROTOCOLS.md §2.1 (Synthetixio/v3-contracts <chain>/meta.json); start_block from the "
    "perps-market subgraph manifests (Synthetixio/synthetix-v3 base, kwenta-subgraph arbitrum)"
)

KNOWN_DEPLOYMENTS: Mapping[tuple[str, int], Deployment] = MappingProxyType(
    {
        ("gmx_v2", 42161): Deployment(
            addresses={
                "data_store": "0xFD70de6b91282D8017aA4E741e9Ae325CAb992d8",
                "event_emitter": "0xC8ee91A54287DB53897056e12D9819156D3822Fb",
                "reader": "0x470fbC46bcC0f16532691Df360A07d8Bf5ee0789",
                "referral_storage": "0xe6fab3F0c7199b0d34d7FbE83394fc0e0D06e99d",
                "liquidation_handler": "0xaf157Eb8e2398A8E1Fc1dA929974652b9ba9BC25",
            },
            start_block=107737756,
            source=_GMX_SOURCE,
            tickers_url="https://arbitrum-api.gmxinfra.io/prices/tickers",
        ),
        ("gmx_v2", 43114): Deployment(
            addresses={
                "data_store": "0x2F0b22339414ADeD7D5F06f9D604c7fF5b2fe3f6",
                "event_emitter": "0xDb17B211c34240B014ab6d61d4A31FA0C0e20c26",
                "reader": "0x62Cb8740E6986B29dC671B2EB596676f60590A5B",
                "referral_storage": "0x827ED045002eCdAbEb6e2b0d1604cf5fC3d322F8",
                "liquidation_handler": "0xad7F00b4080BACFfAaE7f44d67560C818d8e5468",
            },
            start_block=32162455,
            source=_GMX_SOURCE,
            tickers_url="https://avalanche-api.gmxinfra.io/prices/tickers",
        ),
        ("synthetix_v3", 8453): Deployment(
            addresses={
                "perps_market_proxy": "0x0A2AF931eFFd34b81ebcc57E3d3c9B1E1dE1C9Ce",
                "perps_account_proxy": "0xcb68b813210aFa0373F076239Ad4803f8809e8cf",
            },
            start_block=7889389,
            source=_SNX_SOURCE,
        ),
        ("synthetix_v3", 42161): Deployment(
            addresses={
                "perps_market_proxy": "0xd762960c31210Cf1bDf75b06A5192d395EEDC659",
                "perps_account_proxy": "0xD935444f5dc75A407ed475C9F387e124911d36C6",
            },
            start_block=218273200,
            source=_SNX_SOURCE,
        ),
        # No EVM events to scan: positions are polled through the read precompiles, so any start
        # block works; 0 keeps "first block" meaningful for cursors.
        ("hyperliquid", 999): Deployment(
            addresses={},
            start_block=0,
            source="PROTOCOLS.md §3.1 (L1Read.sol precompiles 0x…0800-0x…0813 on HyperEVM 999)",
        ),
    }
)


def known_protocols() -> str:
    """The registry's protocol names as one comma-separated, sorted string (for messages)."""
    return ", ".join(sorted(PROTOCOLS))


def with_known_deployment(raw: object, chain_ids: Mapping[str, object]) -> object:
    """A raw ``[[protocols]]`` table with its known deployment's values filled in as defaults.

    ``chain_ids`` maps configured chain names to their (raw) chain ids. Runs on unvalidated
    input, before the config models: anything malformed comes back unchanged for validation to
    report. Given values win; ``addresses`` merge key by key.
    """
    if not isinstance(raw, dict) or not isinstance(raw.get("chain"), str):
        return raw
    name, chain_id = raw.get("name"), chain_ids.get(raw["chain"])
    if not isinstance(name, str) or type(chain_id) is not int:
        return raw
    known = KNOWN_DEPLOYMENTS.get((name, chain_id))
    if known is None:
        return raw
    filled = {"start_block": known.start_block, **raw}
    given = raw.get("addresses", {})
    if isinstance(given, dict):
        filled["addresses"] = {**known.addresses, **given}
    if known.tickers_url is not None:
        filled.setdefault("tickers_url", known.tickers_url)
    return filled


def _addresses_toml(protocol: str, chain_id: int) -> str:
    known = KNOWN_DEPLOYMENTS[protocol, chain_id]
    keys = PROTOCOLS[protocol].address_keys
    return "\n".join(f'{key} = "{known.addresses[key]}"' for key in keys if key in known.addresses)


def _gmx_toml(chain: str, chain_id: int) -> str:
    known = KNOWN_DEPLOYMENTS["gmx_v2", chain_id]
    return f"""
[[protocols]]
name = "gmx_v2"
chain = "{chain}"
start_block = {known.start_block}
tickers_url = "{known.tickers_url}"

[protocols.addresses]
{_addresses_toml("gmx_v2", chain_id)}
"""


_EXAMPLE_HEAD = """\
# perpwatch configuration.
#
# Every key is checked when perpwatch starts: an unknown key or a bad value stops it with a
# one-line error naming the key. Any key can be overridden from the environment as
# PERPWATCH_<KEY>, nested keys joined with "__", e.g. PERPWATCH_ALERTS__WARNING=1.4.
#
# Secrets are read ONLY from the environment, never from this file:
#   PERPWATCH_TELEGRAM_BOT_TOKEN   Telegram bot token (required when channels.telegram is enabled)
#   PERPWATCH_WEBHOOK_SECRET       key that signs webhook bodies (optional)
#   PERPWATCH_API_TOKEN            bearer token for the HTTP API (optional)

# SQLite file by default. For PostgreSQL: postgresql+psycopg://user@host/db.
# DATABASE_URL or PERPWATCH_DATABASE_URL (which wins) override this.
database_url = "sqlite:///perpwatch.db"

# --- chains -------------------------------------------------------------------------------------
# RPC URLs often embed API keys: put them in an environment variable instead, comma-separated,
# and name it in rpc_urls_env (its URLs are tried first, then rpc_urls).
# block_time is in seconds; finality_blocks = how deep a block must be before it counts as final.

[[chains]]
name = "arbitrum"
chain_id = 42161
rpc_urls = ["https://arb1.arbitrum.io/rpc"]
# rpc_urls_env = "ARBITRUM_RPC_URLS"
finality_blocks = 20
max_block_range = 2000
block_time = 0.25

[[chains]]
name = "avalanche"
chain_id = 43114
rpc_urls = ["https://api.avax.network/ext/bc/C/rpc"]
finality_blocks = 2
max_block_range = 2000
block_time = 2.0

[[chains]]
name = "hyperevm"
chain_id = 999
rpc_urls = ["https://rpc.hyperliquid.xyz/evm"]
finality_blocks = 2
max_block_range = 1000
block_time = 1.0

# --- protocols ----------------------------------------------------------------------------------
# On these chain ids perpwatch knows the mainnet addresses and first block, so addresses and
# start_block may be left out; they are written here so you can see and override them (GMX
# redeploys its Reader from time to time).
"""

_EXAMPLE_TAIL = """
# Hyperliquid positions are read through HyperEVM's read precompiles: no addresses needed.
[[protocols]]
name = "hyperliquid"
chain = "hyperevm"
dexes = [0]          # perp dex indices; 0 = the main dex
markets = [0, 1]     # asset ids (index in meta.universe): 0 = BTC, 1 = ETH; [] = all

# --- wallets ------------------------------------------------------------------------------------
# Replace with the wallets to watch. Thresholds set here override the alert thresholds below.
[[wallets]]
address = "0x1111111111111111111111111111111111111111"
label = "example"
# critical = 1.3

# --- alerts -------------------------------------------------------------------------------------
# Health factor = equity / maintenance margin; at or below 1 the account can be liquidated.
[alerts]
warning = 1.5         # warn at or below this health factor
critical = 1.15       # critical at or below this (must be below warning, above 1)
clear_margin = 0.05   # an alert clears once health is 5 % above its threshold
# distance_pct = 5.0  # also warn when the price is within 5 % of the liquidation price

# [alerts.protocols.hyperliquid]
# critical = 1.25

# --- channels -----------------------------------------------------------------------------------
[channels]
console = true

[channels.telegram]
enabled = false       # needs PERPWATCH_TELEGRAM_BOT_TOKEN in the environment
base_url = "https://api.telegram.org"
chat_ids = []         # e.g. [-1001234567890, "@my_alerts_channel"]
per_chat_rate_per_min = 20

[channels.webhook]
enabled = false       # bodies are signed with PERPWATCH_WEBHOOK_SECRET when it is set
# url = "https://example.com/perpwatch-hook"
"""


def example_config() -> str:
    """The commented example TOML that ``perpwatch init`` writes, built from the tables above.

    Arbitrum and Avalanche GMX v2 with their real addresses, Hyperliquid on HyperEVM 999, one
    wallet, alert thresholds and channels; comments name the environment variables for secrets.
    """
    gmx = _gmx_toml("arbitrum", 42161) + _gmx_toml("avalanche", 43114)
    return _EXAMPLE_HEAD + gmx + _EXAMPLE_TAIL
