"""The commented example config ``perpwatch init`` writes: chains, every plugin's section for
the chains it knows, one wallet, alerts and channels."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from indexer.errors import ConfigError
from indexer.registry import PLUGINS

EXAMPLE_CHAINS = {42161: "arbitrum", 43114: "avalanche", 999: "hyperevm"}
"""The example's chains (chain id -> name), as written in its ``[[chains]]`` tables."""

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
# RPC URLs often embed API keys: keep them in the environment variable rpc_urls_env names
# (comma-separated), e.g. export ARBITRUM_RPC_URLS=https://arb-mainnet.example/v2/KEY.
# Its URLs are tried first; the public rpc_urls below are the fallback (and are used alone
# while the variable is unset). Public endpoints are rate-limited: set the variables.
# ws_url_env optionally names a variable holding the provider's wss:// URL: perpwatch run then
# has new heads pushed instead of polling for them (unset: polled, nothing else changes).
# block_time is in seconds; finality_blocks = how deep a block must be before it counts as final.

[[chains]]
name = "arbitrum"
chain_id = 42161
rpc_urls_env = "ARBITRUM_RPC_URLS"
rpc_urls = ["https://arb1.arbitrum.io/rpc"]
ws_url_env = "ARBITRUM_WS_URL"
finality_blocks = 20
max_block_range = 2000
block_time = 0.25

[[chains]]
name = "avalanche"
chain_id = 43114
rpc_urls_env = "AVALANCHE_RPC_URLS"
rpc_urls = ["https://api.avax.network/ext/bc/C/rpc"]
finality_blocks = 2
max_block_range = 2000
block_time = 2.0

[[chains]]
name = "hyperevm"
chain_id = 999
rpc_urls_env = "HYPEREVM_RPC_URLS"
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
# --- wallets ------------------------------------------------------------------------------------
# Replace with the wallets to watch. Thresholds set here override the alert thresholds below.
[[wallets]]
address = "0x1111111111111111111111111111111111111111"
label = "example"
# critical = 1.3

# --- alerts -------------------------------------------------------------------------------------
# A level fires when ANY of its triggers does. The distance is the smallest adverse price move
# that liquidates the account, in % of the price (a cross account: its markets moving against
# it together); health factor = equity / maintenance, at or below 1 the account is liquidatable.
# Why 10 % and 3 %: the README, "How the default thresholds were chosen".
[alerts]
warning_distance_pct = 10.0   # warn when a 10 % move would liquidate (0 turns it off)
critical_distance_pct = 3.0   # critical at 3 %
warning = 1.5                 # also warn at or below this health factor
critical = 1.15               # critical at or below this (below warning, above 1)
clear_margin = 0.05           # an alert clears once every trigger is 5 % past its threshold
# Volatility (off by default): the same move counted in σ of the market's recent moves,
# measured from the prices perpwatch reads (σ of sigma_horizon_s moves over sigma_window_s).
# warning_sigma = 3.0         # warn when a 3σ move (of 1 hour) would liquidate
# critical_sigma = 1.5
# sigma_horizon_s = 3600
# sigma_window_s = 86400

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
    """The example TOML: the chains above with real public RPC URLs, each registered plugin's
    section for the example chains it has deployments on (real addresses), one wallet, alert
    thresholds and channels; comments name the environment variables for secrets."""
    protocols = "".join(p.example(EXAMPLE_CHAINS) for p in PLUGINS.values() if p.example)
    return _EXAMPLE_HEAD + protocols + _EXAMPLE_TAIL


def write_example(path: Path, force: bool = False) -> None:
    """Write ``example_config()`` to ``path`` atomically (temporary file, then rename).

    Raises ``ConfigError`` if ``path`` exists and ``force`` is false, or if it cannot be written.
    Without ``force`` the final step is a hard link, which fails if the file appeared meanwhile.
    """
    if path.exists() and not force:
        raise ConfigError(f"{path}: already exists; use --force to overwrite it")
    tmp_name = ""
    try:
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
        ) as tmp:
            tmp_name = tmp.name
            tmp.write(example_config())
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_name, 0o644)  # mkstemp's 0600 is for secrets; this file holds none
        if force:
            os.replace(tmp_name, path)
        else:
            os.link(tmp_name, path)
    except FileExistsError:
        raise ConfigError(f"{path}: already exists; use --force to overwrite it") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    finally:
        if tmp_name and os.path.exists(tmp_name):
            os.unlink(tmp_name)
