"""The production pass on a devnet: indexed accounts equal the simulators' state, closed and
liquidated accounts are marked so, and the vectorised evaluation equals the scalar math."""

from __future__ import annotations

import asyncio
import math

import pytest
from sqlalchemy.engine import Engine

from devnet.demo import demo_config
from devnet.deploy import Devnet
from devnet.gmx import GmxDeployment, deploy_gmx, devnet_address
from devnet.hyperliquid import install_hyperliquid
from devnet.scenario import HlPosition, World
from indexer.models import AccountStatus, MarginMode
from indexer.scan.runner import open_rpc
from indexer.store.accounts import load_accounts
from monitor.health.account import account_health
from monitor.runtime.chain import sync_chain
from monitor.runtime.chain_pass import ChainSync, by_chain
from monitor.runtime.evaluate import evaluate

pytestmark = pytest.mark.chain

E30 = 10**30
ALICE, BOB, CAROL = (devnet_address(f"pipeline:{n}").lower() for n in ("alice", "bob", "carol"))


def _world(devnet: Devnet) -> World:
    gmx = deploy_gmx(devnet)
    hl = install_hyperliquid(devnet.anvil, devnet.artifacts)
    for coin, usd in (("BTC", 60_000), ("ETH", 2_500), ("SOL", 150)):
        hl.set_mark(coin, usd)
    return World(devnet, gmx, hl)


def _sync(world: World, engine: Engine) -> list[ChainSync]:
    cfg = demo_config(world, "sqlite://")  # the engine is passed explicitly

    async def main() -> list[ChainSync]:
        out = []
        for group in by_chain(cfg):
            async with open_rpc(group.chain) as rpc:
                out.append(await sync_chain(rpc, engine, group, [w.address for w in cfg.wallets]))
        return out

    return asyncio.run(main())


def _by_ref(engine: Engine, status: AccountStatus | None) -> dict[str, object]:
    return {a.ref: a for _, a in load_accounts(engine, status=status)}


def _key(gmx: GmxDeployment, owner: str, market: str, collateral: str, is_long: bool) -> str:
    return "0x" + gmx.position_key(owner, market, collateral, is_long).hex()


def test_indexed_accounts_follow_open_change_close_and_liquidation(
    devnet: Devnet, engine: Engine
) -> None:
    world = _world(devnet)
    gmx = world.gmx
    usdc = 10**6
    gmx.increase(ALICE, "ETH/USD", "USDC", True, 1_000 * usdc, 10_000 * E30)
    gmx.increase(BOB, "ETH/USD", "USDC", False, 1_000 * usdc, 5_000 * E30)
    gmx.increase(CAROL, "BTC/USD", "USDC", True, 500 * usdc, 10_000 * E30)  # 20x
    _sync(world, engine)
    opened = _by_ref(engine, AccountStatus.OPEN)
    assert set(opened) == {
        _key(gmx, ALICE, "ETH/USD", "USDC", True),
        _key(gmx, BOB, "ETH/USD", "USDC", False),
        _key(gmx, CAROL, "BTC/USD", "USDC", True),
    }

    gmx.increase(ALICE, "ETH/USD", "USDC", True, 0, 2_000 * E30)  # changed
    gmx.close(BOB, "ETH/USD", "USDC", False)  # closed
    gmx.set_price("BTC", 57_200)  # about -4.7 %: CAROL's 20x long is liquidatable
    assert gmx.liquidate(CAROL, "BTC/USD", "USDC", True)
    _sync(world, engine)

    alice = _key(gmx, ALICE, "ETH/USD", "USDC", True)
    stored = _by_ref(engine, None)
    assert stored[_key(gmx, BOB, "ETH/USD", "USDC", False)].status is AccountStatus.CLOSED  # type: ignore[attr-defined]
    assert stored[_key(gmx, CAROL, "BTC/USD", "USDC", True)].status is AccountStatus.LIQUIDATED  # type: ignore[attr-defined]
    account = stored[alice]
    assert account.status is AccountStatus.OPEN  # type: ignore[attr-defined]
    assert account.mode is MarginMode.ISOLATED  # type: ignore[attr-defined]
    (position,) = account.positions  # type: ignore[attr-defined]
    on_chain = gmx.position(bytes.fromhex(alice[2:]))
    assert position.entry_notional_usd_e30 == on_chain[1][0] == 12_000 * E30
    assert position.size_raw == on_chain[1][1]
    (collateral,) = account.collateral  # type: ignore[attr-defined]
    assert collateral.amount_raw == on_chain[1][2]


def test_vectorised_evaluation_equals_scalar_health(devnet: Devnet, engine: Engine) -> None:
    world = _world(devnet)
    usdc = 10**6
    for i, (market, long) in enumerate([("ETH/USD", True), ("BTC/USD", False), ("ETH/USD", False)]):
        owner = devnet_address(f"vec:{i}").lower()
        world.gmx.increase(owner, market, "USDC", long, (500 + 100 * i) * usdc, (3_000 + i) * E30)
    trader = devnet_address("vec:hl").lower()
    world.hl_positions = [HlPosition(trader, "BTC", isolated=False)]  # makes it a watched wallet
    world.hl.deposit(trader, "10000")
    world.hl.open(trader, "BTC", "0.05", leverage=10)
    world.hl.open(trader, "ETH", "-1", leverage=10)
    world.hl.open(trader, "SOL", "5", leverage=5, isolated=True)
    syncs = _sync(world, engine)
    views = evaluate(engine, syncs)
    assert {v.account.mode for v in views} == {MarginMode.ISOLATED, MarginMode.CROSS}
    assert len(views) == 3 + 2
    for view in views:
        assert view.health is not None
        scalar = account_health(view.account, syncs[0].prices[view.account.protocol])
        assert math.isclose(view.health.health, scalar.health, rel_tol=1e-9)
        for got, want in zip(view.health.positions, scalar.positions, strict=True):
            assert got.market == want.market
            assert (got.liquidation_price is None) == (want.liquidation_price is None)
            if got.liquidation_price is not None and want.liquidation_price is not None:
                assert math.isclose(got.liquidation_price, want.liquidation_price, rel_tol=1e-9)
