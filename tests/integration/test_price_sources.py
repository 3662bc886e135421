"""Price sources in the production pass: on-chain Chainlink quotes by default, GMX's tickers
endpoint when configured (served here by a real local HTTP server)."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from devnet.demo import demo_config
from devnet.deploy import Devnet
from devnet.scenario import World, build_world
from indexer.config.loader import Config
from indexer.scan.runner import open_rpc
from monitor.runtime.chain import sync_chain
from monitor.runtime.chain_pass import ChainSync, by_chain
from tests.fixtures.gmx_tickers_api import TickersApi

pytestmark = pytest.mark.chain


def _with_tickers(cfg: Config, url: str | None) -> Config:
    raw: dict[str, Any] = cfg.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    gmx = next(p for p in raw["protocols"] if p["name"] == "gmx_v2")
    gmx["price_source"] = "tickers"
    if url is not None:
        gmx["tickers_url"] = url
    return Config.model_validate(raw)


def _sync(cfg: Config, engine: Engine) -> ChainSync:
    async def main() -> ChainSync:
        (group,) = by_chain(cfg)
        async with open_rpc(group.chain) as rpc:
            return await sync_chain(rpc, engine, group, [w.address for w in cfg.wallets])

    return asyncio.run(main())


def test_chainlink_quotes_carry_their_update_time(devnet: Devnet, engine: Engine) -> None:
    world: World = build_world(devnet, gmx_traders=3, hl_traders=1)
    sync = _sync(demo_config(world, "sqlite://"), engine)
    assert sync.prices["gmx_v2"]["ETH"] == 2500.0
    assert set(sync.price_updated_at["gmx_v2"]) == set(sync.prices["gmx_v2"])
    assert "hyperliquid" not in sync.price_updated_at or not sync.price_updated_at["hyperliquid"]


def test_gmx_tickers_price_source_values_positions(devnet: Devnet, engine: Engine) -> None:
    world = build_world(devnet, gmx_traders=3, hl_traders=1)
    eth, usdc, btc = (world.gmx.token(s) for s in ("WETH", "USDC", "WBTC"))
    at_ms = 1_764_000_000_000
    quotes = {eth.address: (2_400 * 10**12, 2_402 * 10**12), usdc.address: (10**24, 10**24),
              btc.address: (59_000 * 10**22, 59_000 * 10**22)}  # fmt: skip
    items = [
        {"tokenAddress": token, "minPrice": str(low), "maxPrice": str(high), "updatedAt": at_ms}
        for token, (low, high) in quotes.items()
    ]
    with TickersApi(items) as api:
        sync = _sync(_with_tickers(demo_config(world, "sqlite://"), api.url), engine)
        assert api.paths == ["/prices/tickers"]
    assert math.isclose(sync.prices["gmx_v2"]["ETH"], 2401.0)  # mid of min and max
    assert math.isclose(sync.prices["gmx_v2"]["BTC"], 59_000.0)
    assert sync.price_updated_at["gmx_v2"]["ETH"] == 1_764_000_000


def test_tickers_source_needs_a_url_on_an_unknown_chain(devnet: Devnet) -> None:
    world = build_world(devnet, gmx_traders=1, hl_traders=1)
    cfg = demo_config(world, "sqlite://")
    with pytest.raises(ValidationError, match="tickers_url"):
        _with_tickers(cfg, None)
