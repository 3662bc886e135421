"""What the monitor covers: ``watch = "wallets"`` (the default when wallets are configured)
reads and evaluates only the watched wallets' accounts; ``watch = "protocol"`` the whole book."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from devnet.demo import demo_config
from devnet.deploy import Devnet
from devnet.gmx import deploy_gmx, devnet_address
from devnet.hyperliquid import install_hyperliquid
from devnet.scenario import World
from indexer.config.loader import Config
from indexer.scan.runner import open_rpc
from monitor.runtime.chain import sync_chain
from monitor.runtime.chain_pass import by_chain
from monitor.runtime.evaluate import evaluate

pytestmark = pytest.mark.chain

E30, USDC = 10**30, 10**6
ALICE, BOB = (devnet_address(f"scope:{n}").lower() for n in ("alice", "bob"))


def _config(world: World, watch: str | None) -> Config:
    raw: dict[str, Any] = demo_config(world, "sqlite://").model_dump(mode="json", exclude_none=True)
    gmx = next(p for p in raw["protocols"] if p["name"] == "gmx_v2")
    gmx.pop("watch")
    if watch is not None:
        gmx["watch"] = watch
    raw["protocols"] = [gmx]
    raw["wallets"] = [{"address": ALICE, "label": "alice"}]
    return Config.model_validate(raw)


def _owners_evaluated(cfg: Config, engine: Engine) -> set[str]:
    (group,) = by_chain(cfg)

    async def main() -> set[str]:
        async with open_rpc(group.chain) as rpc:
            sync = await sync_chain(rpc, engine, group)
        return {v.account.owner for v in evaluate(engine, [sync])}

    return asyncio.run(main())


@pytest.mark.parametrize(
    ("watch", "expected"), [(None, {ALICE}), ("wallets", {ALICE}), ("protocol", {ALICE, BOB})]
)
def test_the_watch_scope_decides_which_accounts_are_evaluated(
    devnet: Devnet, engine: Engine, watch: str | None, expected: set[str]
) -> None:
    world = World(devnet, deploy_gmx(devnet), install_hyperliquid(devnet.anvil, devnet.artifacts))
    for owner in (ALICE, BOB):
        world.gmx.increase(owner, "ETH/USD", "USDC", True, 1_000 * USDC, 5_000 * E30)
    assert _owners_evaluated(_config(world, watch), engine) == expected


def test_without_wallets_the_whole_protocol_is_watched(devnet: Devnet) -> None:
    world = World(devnet, deploy_gmx(devnet), install_hyperliquid(devnet.anvil, devnet.artifacts))
    cfg = _config(world, None)
    (gmx,) = cfg.protocols
    assert cfg.watched_owners(gmx) == frozenset({ALICE})
    no_wallets = Config.model_validate({**cfg.model_dump(mode="json"), "wallets": []})
    assert no_wallets.watched_owners(gmx) is None
