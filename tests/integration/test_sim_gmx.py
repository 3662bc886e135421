"""The GMX v2 simulator: official selectors and events, and GMX's liquidation rule.

Worked numbers from PROTOCOLS.md §1.9: long ETH, sizeInUsd $10,000, 4 ETH, 1000 USDC,
minCollateralFactorForLiquidation 0.5 %, minCollateralUsd $1, borrowing $4, funding $2,
closing fee 0.06 % ($6) ⇒ remaining hits $50 at 2265.5 (long) and 2734.5 (short); with 0.4 WETH
as collateral, 25155/11 = 2286.8181… .
"""

from __future__ import annotations

import pytest

from devnet.deploy import Devnet, call
from devnet.gmx import GmxDeployment, deploy_gmx
from devnet.solc import Artifact
from indexer.decode.abi import (
    AbiEntry,
    canonical_type,
    event_signature,
    function_signature,
    load_abi,
    topic0,
)
from indexer.decode.words import address_word
from indexer.models import E30
from indexer.protocols import gmx_v2
from indexer.protocols.gmx_v2 import keys as gmx_keys
from indexer.registry import log_decoder

pytestmark = pytest.mark.chain

USD = E30
SIZE_USD_E30 = 10_000 * USD
USDC_1000 = 1_000 * 10**6

OFFICIAL = {
    "GmxV2Reader": "gmx_v2/SyntheticsReader.json",
    "GmxV2DataStore": "gmx_v2/DataStore.json",
    "GmxV2EventEmitter": "gmx_v2/EventEmitter.json",
}
# Every function the adapter or the tests call on the real deployment.
USED_FUNCTIONS = {
    "GmxV2Reader": [
        "getAccountPositions",
        "getPosition",
        "getMarket",
        "getMarkets",
        "isPositionLiquidatable",
    ],
    "GmxV2DataStore": [
        "getUint",
        "getInt",
        "getAddress",
        "getBool",
        "getBytes32Count",
        "getBytes32ValuesAt",
    ],
}


def _by_name(abi: list[AbiEntry], kind: str) -> dict[str, AbiEntry]:
    return {e["name"]: e for e in abi if e.get("type") == kind}


def _outputs(entry: AbiEntry) -> list[str]:
    return [canonical_type(o) for o in entry.get("outputs", [])]


@pytest.mark.parametrize("sim", sorted(USED_FUNCTIONS))
def test_functions_match_official_abi(artifacts: dict[str, Artifact], sim: str) -> None:
    mine = _by_name(artifacts[sim].abi, "function")
    official = _by_name(load_abi(OFFICIAL[sim]), "function")
    for name in USED_FUNCTIONS[sim]:
        assert function_signature(mine[name]) == function_signature(official[name])
        assert _outputs(mine[name]) == _outputs(official[name]), name


def test_event_emitter_topics_match_official(artifacts: dict[str, Artifact]) -> None:
    mine = _by_name(artifacts["GmxV2EventEmitter"].abi, "event")
    official = _by_name(load_abi(OFFICIAL["GmxV2EventEmitter"]), "event")
    assert set(official) == {"EventLog", "EventLog1", "EventLog2"}
    for name, entry in official.items():
        assert topic0(event_signature(mine[name])) == topic0(event_signature(entry))
        assert [p.get("indexed", False) for p in mine[name]["inputs"]] == [
            p.get("indexed", False) for p in entry["inputs"]
        ]


def test_chainlink_feed_matches_official(artifacts: dict[str, Artifact]) -> None:
    abi = artifacts["ChainlinkAggregatorSim"].abi
    functions, events = _by_name(abi, "function"), _by_name(abi, "event")
    for name, entry in _by_name(
        load_abi("chainlink/AggregatorV3Interface.json"), "function"
    ).items():
        assert function_signature(functions[name]) == function_signature(entry)
        assert _outputs(functions[name]) == _outputs(entry)
    for name, entry in _by_name(load_abi("chainlink/AggregatorInterface.json"), "event").items():
        assert topic0(event_signature(events[name])) == topic0(event_signature(entry))


@pytest.fixture
def gmx(devnet: Devnet) -> GmxDeployment:
    return deploy_gmx(devnet)


def _trader(gmx: GmxDeployment) -> str:
    return gmx.devnet.anvil.accounts[1]


def _open_worked_example(gmx: GmxDeployment, collateral: str, is_long: bool) -> bytes:
    """Open at ETH $2500 without fees, then accrue the example's fees: $12 owed in total."""
    trader = _trader(gmx)
    gmx.set_market_factors("ETH/USD", position_fee_factor_e30=0)
    amount = USDC_1000 if collateral == "USDC" else 4 * 10**17  # 0.4 WETH = $1000
    key = gmx.increase(trader, "ETH/USD", collateral, is_long, amount, SIZE_USD_E30)
    gmx.set_market_factors(
        "ETH/USD", liquidation_factor_e30=5 * E30 // 1000, position_fee_factor_e30=6 * E30 // 10_000
    )
    if collateral == "USDC":
        gmx.accrue_borrowing("ETH/USD", is_long, 4 * USD * E30 // SIZE_USD_E30)  # $4
        # $2 = 2e6 USDC units = size · Δ / 1e45
        gmx.accrue_funding("ETH/USD", "USDC", is_long, 2 * 10**6 * 10**45 // SIZE_USD_E30)
    else:
        # Funding on WETH collateral is owed in WETH (price-dependent); book the $6 as borrowing.
        gmx.accrue_borrowing("ETH/USD", is_long, 6 * USD * E30 // SIZE_USD_E30)
    return key


def test_open_position_is_stored_in_gmx_layout(gmx: GmxDeployment) -> None:
    trader = _trader(gmx)
    key = gmx.increase(trader, "ETH/USD", "USDC", True, USDC_1000, SIZE_USD_E30)
    assert key == gmx.position_key(trader, "ETH/USD", "USDC", True)
    (account, market, collateral), numbers, (is_long,) = gmx.position(key)
    assert (account, market, collateral) == (
        trader,
        gmx.markets["ETH/USD"].market_token,
        gmx.tokens["USDC"].address,
    )
    assert is_long is True
    fee_raw = 6 * 10**6  # 0.06 % of $10,000 opening fee, out of collateral
    assert numbers[:4] == (SIZE_USD_E30, 4 * 10**18, USDC_1000 - fee_raw, 0)
    count_key = gmx_keys.account_position_list_key(trader)
    assert gmx.data_store.functions.getBytes32Count(count_key).call() == 1


@pytest.mark.parametrize(
    ("collateral", "is_long", "safe", "boundary", "liquidatable"),
    [
        ("USDC", True, "2265.6", "2265.5", "2265.49999999"),
        ("USDC", False, "2734.4", "2734.5", "2734.50000001"),
        ("WETH", True, "2286.8182", "2286.81818182", "2286.8181"),
    ],
)
def test_liquidation_rule_matches_worked_example(
    gmx: GmxDeployment, collateral: str, is_long: bool, safe: str, boundary: str, liquidatable: str
) -> None:
    key = _open_worked_example(gmx, collateral, is_long)
    trader = _trader(gmx)
    for price in (safe, boundary):
        gmx.set_price("ETH", price)
        check = gmx.is_liquidatable(key)
        assert not check.liquidatable, (price, check)
        assert check.remaining_collateral_usd_e30 >= 50 * USD
        assert not gmx.liquidate(trader, "ETH/USD", collateral, is_long)
    gmx.set_price("ETH", liquidatable)
    check = gmx.is_liquidatable(key)
    assert check.liquidatable
    assert check.reason == "min collateral for leverage"
    assert check.min_collateral_usd_for_leverage_e30 == 50 * USD
    assert gmx.liquidate(trader, "ETH/USD", collateral, is_long)
    assert gmx.position(key)[1][0] == 0
    assert (
        gmx.data_store.functions.getBytes32Count(gmx_keys.account_position_list_key(trader)).call()
        == 0
    )


def test_usdc_long_remaining_is_exact(gmx: GmxDeployment) -> None:
    key = _open_worked_example(gmx, "USDC", True)
    gmx.set_price("ETH", "2400")
    # 1000 + 4·2400 - 10000 - (6 + 4 + 2) = 588
    assert gmx.is_liquidatable(key).remaining_collateral_usd_e30 == 588 * USD


def test_min_collateral_usd_and_negative_remaining(gmx: GmxDeployment) -> None:
    key = _open_worked_example(gmx, "USDC", True)
    gmx.set_market_factors("ETH/USD", liquidation_factor_e30=0)
    gmx.set_min_collateral_usd(100 * USD)
    gmx.set_price("ETH", "2290")  # remaining 1000 + 9160 - 10012 = 148
    assert not gmx.is_liquidatable(key).liquidatable
    gmx.set_price("ETH", "2277")  # remaining 96 < $100
    assert gmx.is_liquidatable(key).reason == "min collateral"
    gmx.set_min_collateral_usd(0)
    gmx.set_price("ETH", "2253")  # remaining exactly 0: not < $0 floor, but <= 0
    assert gmx.is_liquidatable(key).reason == "< 0"


def test_increase_rejects_too_much_leverage(gmx: GmxDeployment) -> None:
    from devnet.deploy import TransactionReverted

    with pytest.raises(TransactionReverted):
        # $50 of collateral on $10,000 is 0.5 %, under MIN_COLLATERAL_FACTOR 1 %
        gmx.increase(_trader(gmx), "ETH/USD", "USDC", True, 50 * 10**6, SIZE_USD_E30)


def test_decrease_realises_pnl_and_close_removes(gmx: GmxDeployment) -> None:
    trader = _trader(gmx)
    gmx.set_market_factors("ETH/USD", position_fee_factor_e30=0)
    key = gmx.increase(trader, "ETH/USD", "USDC", True, USDC_1000, SIZE_USD_E30)
    gmx.set_price("ETH", "2400")  # 4 ETH lost $400; half the size realises -$200
    gmx.decrease(trader, "ETH/USD", "USDC", True, SIZE_USD_E30 // 2)
    numbers = gmx.position(key)[1]
    assert numbers[:3] == (SIZE_USD_E30 // 2, 2 * 10**18, USDC_1000 - 200 * 10**6)
    gmx.close(trader, "ETH/USD", "USDC", True)
    assert gmx.position(key)[1][0] == 0


def test_events_carry_gmx_keys(gmx: GmxDeployment) -> None:
    trader = _trader(gmx)
    key = _open_worked_example(gmx, "USDC", True)
    gmx.set_price("ETH", "2000")
    assert gmx.liquidate(trader, "ETH/USD", "USDC", True)
    every = gmx.devnet.anvil.request(
        "eth_getLogs",
        [{"address": gmx.event_emitter.address, "fromBlock": "0x0", "toBlock": "latest"}],
    )
    decoder = log_decoder([gmx_v2.PLUGIN])
    names = [d.args["eventName"] for d in map(decoder.decode, every) if d is not None]
    assert set(names) == {"SetUint", "PositionIncrease", "PositionDecrease"}  # Config's too
    logs = [log for log, name in zip(every, names, strict=True) if name.startswith("Position")]
    decoded = [decoder.decode(log) for log in logs]
    assert [d.args["eventName"] for d in decoded if d is not None] == [
        "PositionIncrease",
        "PositionDecrease",
    ]
    increase, decrease = (d.args for d in decoded if d is not None)
    account_topic = "0x" + bytes(12).hex() + trader[2:].lower()
    assert logs[0]["topics"][1] == "0x" + gmx_keys.event_name_hash("PositionIncrease").hex()
    assert logs[0]["topics"][2] == account_topic
    assert increase["account"] == trader.lower()
    assert increase["positionKey"] == "0x" + key.hex()
    assert (increase["sizeInUsd"], increase["sizeInTokens"], increase["orderType"]) == (
        SIZE_USD_E30,
        4 * 10**18,
        2,
    )
    assert increase["isLong"] is True
    assert decrease["orderType"] == 7
    assert decrease["sizeInUsd"] == 0
    assert decrease["basePnlUsd"] == -2000 * USD  # 4 ETH from 2500 to 2000
    assert decrease["priceImpactUsd"] == 0
    assert {"market", "collateralToken", "collateralAmount"} <= set(decrease)


def test_config_writes_as_gmx_config_does(gmx: GmxDeployment) -> None:
    """Config.setUint stores under Keys.getFullKey(baseKey, data) and emits SetUint with the
    base key as topic1 and items baseKey, data, value (GMX's Config.sol)."""
    market = gmx.markets["ETH/USD"].market_token
    value = 7 * E30 // 1000
    gmx.set_market_factors("ETH/USD", liquidation_factor_e30=value)
    key = gmx_keys.min_collateral_factor_for_liquidation_key(market)
    assert call(gmx.data_store.functions.getUint(key)) == value
    (log,) = gmx.devnet.anvil.request(
        "eth_getLogs", [{"address": gmx.event_emitter.address, "fromBlock": "latest"}]
    )
    base = "0x" + gmx_keys.MIN_COLLATERAL_FACTOR_FOR_LIQUIDATION.hex()
    assert log["topics"][1:] == ["0x" + gmx_keys.event_name_hash("SetUint").hex(), base]
    decoded = log_decoder([gmx_v2.PLUGIN]).decode(log)
    assert decoded is not None
    args = decoded.args
    assert (args["eventName"], args["baseKey"], args["value"]) == ("SetUint", base, value)
    assert args["data"] == address_word(market)


def test_feed_round_data(gmx: GmxDeployment) -> None:
    feed = gmx.tokens["WETH"].feed
    gmx.set_price("ETH", "2345.67")
    round_id, answer, _started, updated_at, answered = feed.functions.latestRoundData().call()
    assert answer == 234_567_000_000
    assert round_id == answered == 2
    assert updated_at == int(gmx.devnet.anvil.block()["timestamp"], 16)
    assert gmx.oracle_price("ETH") == 234_567 * 10**10  # 2345.67 · 10**(30 - 18)
    assert feed.functions.decimals().call() == 8
