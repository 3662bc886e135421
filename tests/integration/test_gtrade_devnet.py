"""gTrade on the devnet: the simulator speaks the diamond's ABI, perpwatch's adapter reads it,
and perpwatch's health crosses 1 where the simulator's own rule starts to liquidate."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from devnet.deploy import Devnet, TransactionReverted
from devnet.gmx_types import devnet_address
from devnet.gtrade import GTradeDeployment, deploy_gtrade
from devnet.solc import Artifact
from indexer.decode.abi import canonical_type, load_abi
from indexer.models import MarginAccount, MarginMode
from indexer.prices import OnChainPrices
from indexer.protocols.base import Read
from indexer.protocols.gtrade.adapter import GTradeAdapter
from indexer.reads.execute import run_read
from indexer.rpc.client import RpcClient
from monitor.health.account import AccountHealth, account_health

pytestmark = pytest.mark.chain
T = TypeVar("T")


def trader(label: str) -> str:
    return devnet_address(f"gtrade-test:{label}").lower()


def read(devnet: Devnet, what: Read[T]) -> T:
    """Run a read (with its follow-up steps) through perpwatch's RPC client at the head."""

    async def go() -> T:
        async with RpcClient([devnet.anvil.rpc_url], chain_id=devnet.anvil.chain_id) as rpc:
            return await run_read(rpc, what)

    return asyncio.run(go())


def health(devnet: Devnet, adapter: GTradeAdapter, account: MarginAccount) -> AccountHealth:
    async def go() -> AccountHealth:
        async with RpcClient([devnet.anvil.rpc_url], chain_id=devnet.anvil.chain_id) as rpc:
            block = await rpc.block_number()
            book = await OnChainPrices(adapter).read(rpc, sorted(account.assets), block)
        return account_health(account, book.prices)

    return asyncio.run(go())


def accounts(
    devnet: Devnet, adapter: GTradeAdapter, owners: Sequence[str]
) -> dict[str, MarginAccount]:
    return {a.ref: a for a in read(devnet, adapter.read_accounts(owners))}


@pytest.fixture
def gt(devnet: Devnet) -> GTradeDeployment:
    return deploy_gtrade(devnet)


def test_simulator_reads_and_events_have_the_diamond_abi(artifacts: dict[str, Artifact]) -> None:
    def shape(entry: dict[str, Any]) -> tuple[str, ...]:
        kinds = [canonical_type(p) for p in entry["inputs"]]
        outputs = [canonical_type(p) for p in entry.get("outputs", [])]
        indexed = [str(p.get("indexed")) for p in entry["inputs"]]
        return (entry["type"], ",".join(kinds), ",".join(outputs), ",".join(indexed))

    real = {(e["type"], e["name"]): shape(e) for e in load_abi("gtrade/GNSMultiCollatDiamond.json")
            if e["type"] in ("function", "event")}  # fmt: skip
    sim = artifacts["GTradeDiamond"].abi
    shared = [e for e in sim if (e["type"], e.get("name")) in real]
    assert {e["name"] for e in shared if e["type"] == "event"} == {
        "TradeStored", "TradeClosed", "TradeCollateralUpdated", "TradePositionUpdated",
        "MarketExecuted", "LimitExecuted",
    }  # fmt: skip
    assert len([e for e in shared if e["type"] == "function"]) >= 20
    for entry in shared:
        assert shape(entry) == real[(entry["type"], entry["name"])], entry["name"]


def test_adapter_reads_every_term_and_agrees_with_the_simulators_liquidation_price(
    devnet: Devnet, gt: GTradeDeployment
) -> None:
    alice, bob = trader("alice"), trader("bob")
    opened = [
        (alice, gt.open(alice, "BTC", "USDC", 1_000 * 10**6, 50_000, long=True)),
        (alice, gt.open(alice, "ETH", "WETH", 2 * 10**17, 12_000, long=False)),
        (bob, gt.open(bob, "SOL", "DAI", 500 * 10**18, 20_000, long=True)),
        (bob, gt.open(bob, "BTC", "GNS", 300 * 10**18, 3_000, long=False)),  # min size binds
    ]
    gt.open(bob, "ETH", "USDC", 100 * 10**6, 5_000, long=True, trade_type=1)  # a limit order
    gt.set_realized(alice, 0, trading_fees=3 * 10**6, pnl=-7 * 10**6, old_borrowing=2 * 10**6)
    gt.set_realized(bob, 0, trading_fees=10**18, pnl=4 * 10**18)
    devnet.anvil.mine(50)  # holding fees accrue per block
    gt.set_price("BTC", "60300")

    adapter = gt.adapter(lookback=False)
    found = accounts(devnet, adapter, [alice, bob, trader("nobody")])
    assert set(found) == {f"{who}:{index}" for who, index in opened}  # no limit order
    for who, index in opened:
        account = found[f"{who}:{index}"]
        assert (account.mode, account.owner, account.protocol) == (
            MarginMode.ISOLATED,
            who,
            "gtrade",
        )
        report = health(devnet, adapter, account)
        ours = report.positions[0].liquidation_price
        theirs = gt.liquidation_price_e10(who, index) / 1e10
        assert ours == pytest.approx(theirs, rel=1e-9), account.ref
        notes = dict(account.positions[0].venue_notes)
        closing_fee = notes["closing_fee_collateral_raw"]
        assert isinstance(closing_fee, int)
        assert closing_fee > 0
        assert notes["holding_fee_collateral_raw"] != 0
    usdc_notes = dict(found[f"{alice}:0"].positions[0].venue_notes)
    assert usdc_notes["liq_spread_p"] == 2 * 10**8  # half the 0.04 % spread, under the cap
    assert usdc_notes["realized_pnl_collateral_raw"] == -7 * 10**6
    assert dict(found[f"{alice}:1"].positions[0].venue_notes)["liq_spread_p"] == 0  # a zero param
    assert dict(found[f"{bob}:0"].positions[0].venue_notes)["liq_spread_p"] == 10**9  # capped


def test_a_batch_too_small_for_every_trade_is_completed(
    devnet: Devnet, gt: GTradeDeployment
) -> None:
    whale = trader("whale")
    for i in range(21):  # 2 slots per owner + 16 of slack: 18, so one completing read
        gt.open(whale, "ETH", "USDC", (100 + i) * 10**6, 2_000 + i * 100, long=i % 2 == 0)
    gt.close(whale, 4)
    found = accounts(devnet, gt.adapter(), [whale])
    assert sorted(int(ref.split(":")[1]) for ref in found) == [i for i in range(21) if i != 4]
    assert found[f"{whale}:20"].collateral[0].amount_raw == 120 * 10**6


@pytest.mark.parametrize("long", [True, False])
@pytest.mark.parametrize(
    ("pair", "collateral", "amount", "leverage"),
    [("BTC", "USDC", 800 * 10**6, 40_000), ("ETH", "WETH", 3 * 10**17, 15_000),
     ("SOL", "DAI", 250 * 10**18, 8_000), ("BTC", "GNS", 2_000 * 10**18, 30_000)],
)  # fmt: skip
def test_price_steps_flip_the_simulator_within_one_step_of_health_crossing_one(
    devnet: Devnet, gt: GTradeDeployment, pair: str, collateral: str, amount: int, leverage: int,
    long: bool,
) -> None:  # fmt: skip
    who = trader(f"{pair}-{collateral}-{long}")
    index = gt.open(who, pair, collateral, amount, leverage, long=long)
    gt.set_realized(who, index, trading_fees=amount // 500, pnl=-(amount // 300))
    adapter = gt.adapter(lookback=False)
    price, step = gt.prices_usd[pair], Decimal("0.9975") if long else Decimal("1.0025")
    perpwatch_step = sim_step = None
    for n in range(1, 200):
        price = (price * step).quantize(Decimal("0.0001"))
        gt.set_price(pair, price)
        (account,) = accounts(devnet, adapter, [who]).values()
        if perpwatch_step is None and health(devnet, adapter, account).health <= 1:
            perpwatch_step = n
        if sim_step is None and gt.is_liquidatable(who, index):
            sim_step = n
        if perpwatch_step and sim_step:
            break
    assert perpwatch_step is not None
    assert sim_step is not None
    assert abs(perpwatch_step - sim_step) <= 1, (perpwatch_step, sim_step)
    gt.liquidate(who, index)
    assert accounts(devnet, adapter, [who]) == {}


def test_a_wick_that_the_close_hides_is_seen_by_both_lookbacks(
    devnet: Devnet, gt: GTradeDeployment
) -> None:
    who = trader("wick")
    index = gt.open(who, "BTC", "USDC", 1_000 * 10**6, 50_000, long=True)
    adapter = gt.adapter()
    source = OnChainPrices(adapter)  # one per monitored protocol: it remembers rounds
    liq = gt.liquidation_price_e10(who, index) / 1e10
    (account,) = accounts(devnet, adapter, [who]).values()
    assert account.positions[0].asset == "BTC:low"

    async def tick() -> dict[str, float]:
        async with RpcClient([devnet.anvil.rpc_url], chain_id=devnet.anvil.chain_id) as rpc:
            book = await source.read(rpc, sorted(account.assets), await rpc.block_number())
        return book.prices

    first = asyncio.run(tick())
    start = gt.latest_round("BTC") + 1
    wick, close = Decimal(int(liq) - 50), Decimal(int(liq) + 400)
    gt.set_price("BTC", close, wick=wick)
    prices = asyncio.run(tick())
    assert first["BTC:low"] == 60000.0
    assert prices["BTC:low"] == float(wick)
    assert account_health(account, prices).health <= 1
    assert account_health(account, {**prices, "BTC:low": float(close)}).health > 1
    assert not gt.is_liquidatable(who, index)  # the latest round alone: the close
    assert gt.is_liquidatable(who, index, start)  # the lookback saw the wick
    with pytest.raises(TransactionReverted):
        gt.liquidate(who, index)
    gt.liquidate(who, index, start)
    assert asyncio.run(tick())["BTC:low"] == float(close)  # the next interval starts afresh


def test_a_pair_move_moves_the_collateral_that_follows_it(gt: GTradeDeployment) -> None:
    weth = gt.collateral_index("WETH")  # follows ETH
    get = gt.diamond.functions.getCollateralPriceUsd
    gt.set_price("ETH", "2600", wick="2650")
    assert get(weth).call() == 2600 * 10**8  # the close, not the wick
    calls = gt.set_price_calls("ETH", "2400")
    assert len(calls) == 2  # the feed round, then the collateral
    assert get(weth).call() == 2600 * 10**8  # not sent yet
