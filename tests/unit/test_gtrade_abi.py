"""gTrade v10: every selector and topic0 perpwatch uses, recomputed from
contracts_abi/gtrade/GNSMultiCollatDiamond.json and compared with the literal values of the
adapter fact sheet (PROTOCOLS.md §4.2, §4.3); the v10 struct layouts the decoders rely on."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from indexer.decode import abi
from indexer.protocols.gtrade import events

DIAMOND = "gtrade/GNSMultiCollatDiamond.json"

# (name, selector) exactly as PROTOCOLS.md §4.2 lists them.
FUNCTIONS = [
    ("getTrades", "4bfad7c0"),
    ("getTrade", "15878e07"),
    ("getTradeInfos", "0d1e3c94"),
    ("getTradesLiquidationParams", "f7746f3c"),
    ("getTradePendingHoldingFeesCollateral", "668cdc31"),
    ("getTradeFeesData", "62a6ace6"),
    ("getTradeLiquidationPrice", "ef6c0449"),
    ("getCollaterals", "78b92636"),
    ("getCollateral", "bb33a55b"),
    ("getAllTrades", "dffd8a1f"),
    ("getTraders", "0e503724"),
    ("getTradersCount", "32080d60"),
    ("getCounters", "0212f0d6"),
    ("getCountersForTraders", "c1ee6f78"),
    ("getAllTradesForTraders", "33ea7f74"),
    ("getAllTradesLiquidationParamsForTraders", "556e838f"),
    ("getTradeFeesDataArray", "2b9455fd"),
    ("getTradeLiquidationParams", "28dc892f"),
    ("getGroupLiquidationParams", "3572929c"),
    ("getPairLiquidationParams", "6633ced6"),
]

# Reads the adapter also makes that PROTOCOLS.md §4.2 does not list: selectors of the shipped
# ABI's signatures, pinned here so a changed ABI file cannot move them silently.
MORE_FUNCTIONS = [
    (
        "getAllTradeInfosForTraders",
        "01e87cb0",
        "getAllTradeInfosForTraders(address[],uint256,uint256)",
    ),
    ("getCollateralPriceUsd", "bbb4e3f9", "getCollateralPriceUsd(uint8)"),
    ("pairMinPositionSizeUsd", "5e26ff4e", "pairMinPositionSizeUsd(uint256)"),
    ("pairSpreadP", "d6bfb055", "pairSpreadP(address,uint256)"),
    ("pairSpreadPArray", "842a91d6", "pairSpreadPArray(address[],uint256[])"),
    ("pairTotalPositionSizeFeeP", "c927b4b6", "pairTotalPositionSizeFeeP(uint256)"),
    (
        "getEffectiveTotalPositionSizeFeeP",
        "ace26965",
        "getEffectiveTotalPositionSizeFeeP(uint16,bool)",
    ),
    (
        "getPairCounterTradeFeeRateMultiplier",
        "b3a611f4",
        "getPairCounterTradeFeeRateMultiplier(uint16)",
    ),
]

# (name, topic0) exactly as PROTOCOLS.md §4.3 lists them.
EVENTS = [
    ("TradeStored", "a14af6e9b04a80b4f40bf3946fceabd8e21e03bed8bdfd8d7b99af550efbf792"),
    ("TradeClosed", "a518dc0f204e7b9dcb9655590f084b91940be34dd66e174c2b29f4a81d99d5df"),
    ("TradePositionUpdated", "2412b874f666f2bd61ccfb0bad6a68558833fcfb00fdf60c0b8caed34742bae3"),
    ("TradeCollateralUpdated", "48a630649f549ef031330c87af1da1f77164d2f664b9044c7e95bc01d27999e5"),
    ("MarketExecuted", "bdc1265da95238ea4c775f66ac8fe748af83982c4b356ac4d0c28a0f512c0a8b"),
    ("LimitExecuted", "9c19bc42a9be820f3366fa0563f85e5c227966eaea4c45acd2f7cd868086a17d"),
    (
        "PositionSizeIncreaseExecuted",
        "3b7323355a4d9442335bf892bd48defd6c1647cb9c7170cb42f41dfba8e95aeb",
    ),
    (
        "PositionSizeDecreaseExecuted",
        "38297f283e8c7319a10c298de767e2b919d8f506a0c15c6579fb7ad1c049cb43",
    ),
]

TRADE_V10 = (
    "(address,uint32,uint16,uint24,bool,bool,uint8,uint8,uint120,uint64,uint64,uint64,bool,"
    "uint160,uint24)"
)
TRADE_INFO = "(uint32,uint32,uint32,uint16,uint48,uint48,uint8,uint32,uint8)"
LIQ_PARAMS = "(uint40,uint40,uint40,uint24,uint24)"


@pytest.mark.parametrize(("name", "expected"), FUNCTIONS)
def test_function_selector(name: str, expected: str) -> None:
    entry = abi.abi_entry(DIAMOND, name)
    assert abi.selector(abi.function_signature(entry)).hex() == expected


@pytest.mark.parametrize(("name", "expected", "signature"), MORE_FUNCTIONS)
def test_more_function_selectors(name: str, expected: str, signature: str) -> None:
    entry = abi.abi_entry(DIAMOND, name)
    assert abi.function_signature(entry) == signature
    assert abi.selector(signature).hex() == expected


@pytest.mark.parametrize(("name", "expected"), EVENTS)
def test_event_topic0(name: str, expected: str) -> None:
    entry = abi.abi_entry(DIAMOND, name, kind="event")
    assert abi.topic0(abi.event_signature(entry)).hex() == expected


def test_trade_is_the_v10_fifteen_word_layout() -> None:
    (out,) = abi.abi_entry(DIAMOND, "getTrade")["outputs"]
    assert abi.canonical_type(out) == TRADE_V10
    assert len(out["components"]) == 15
    names = [c["name"] for c in out["components"]]
    assert names[12:] == ["isCounterTrade", "positionSizeToken", "__placeholder"]
    (many,) = abi.abi_entry(DIAMOND, "getTrades")["outputs"]
    assert abi.canonical_type(many) == TRADE_V10 + "[]"


def test_trade_stored_carries_trade_info_and_liquidation_params() -> None:
    entry = abi.abi_entry(DIAMOND, "TradeStored", kind="event")
    assert abi.event_signature(entry) == (
        f"TradeStored(address,uint32,{TRADE_V10},{TRADE_INFO},{LIQ_PARAMS})"
    )
    assert [p["indexed"] for p in entry["inputs"]] == [True, True, False, False, False]


def test_pre_v10_layout_would_change_the_topic0() -> None:
    """The 13-word pre-v10 Trade gives another TradeStored topic0: decoders must not mix them."""
    pre_v10 = TRADE_V10.replace(",bool,uint160,uint24)", ",uint192)")
    assert pre_v10.count(",") == 12
    old = abi.topic0(f"TradeStored(address,uint32,{pre_v10},{TRADE_INFO},{LIQ_PARAMS})").hex()
    assert old != EVENTS[0][1]


def test_liquidation_params_struct_and_fees_data_order() -> None:
    (params,) = abi.abi_entry(DIAMOND, "getTradeLiquidationParams")["outputs"]
    assert [c["name"] for c in params["components"]] == [
        "maxLiqSpreadP",
        "startLiqThresholdP",
        "endLiqThresholdP",
        "startLeverage",
        "endLeverage",
    ]
    assert abi.canonical_type(params) == LIQ_PARAMS
    (fees,) = abi.abi_entry(DIAMOND, "getTradeFeesData")["outputs"]
    assert [c["name"] for c in fees["components"]][:2] == [
        "realizedTradingFeesCollateral",
        "realizedPnlCollateral",
    ]
    assert [c["type"] for c in fees["components"]][:2] == ["uint128", "int128"]
    (holding,) = abi.abi_entry(DIAMOND, "getTradePendingHoldingFeesCollateral")["outputs"]
    assert [c["name"] for c in holding["components"]][-1] == "totalFeeCollateral"
    assert holding["components"][-1]["type"] == "int256"


def test_only_reads_and_events_are_shipped() -> None:
    entries = abi.load_abi(DIAMOND)
    kinds = {e["type"] for e in entries}
    assert kinds == {"function", "event"}
    assert all(e["stateMutability"] in ("view", "pure") for e in entries if e["type"] == "function")


def _diamond_names_in_adapter() -> set[str]:
    """Every string literal in indexer/protocols/gtrade/ that names a diamond function."""
    functions = {e["name"] for e in abi.load_abi(DIAMOND) if e["type"] == "function"}
    package = Path(events.__file__).parent
    found: set[str] = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in functions
            ):
                found.add(node.value)
    return found


def test_every_diamond_function_the_adapter_names_is_pinned() -> None:
    used = _diamond_names_in_adapter()
    pinned = {name for name, _ in FUNCTIONS} | {name for name, _, _ in MORE_FUNCTIONS}
    assert used, "no diamond function found in the adapter's source"
    assert used <= pinned, f"selectors not checked: {sorted(used - pinned)}"


def test_the_adapter_filters_exactly_the_listed_events() -> None:
    assert set(events.EVENT_TOPICS) == {"0x" + topic for _, topic in EVENTS}
