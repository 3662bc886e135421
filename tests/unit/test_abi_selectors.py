"""Every selector, topic0 and key perpwatch uses, recomputed from contracts_abi/ and compared with
the literal values in the adapter fact sheet (GMX v2 §1.4-1.6, Multicall3 and Chainlink §5)."""

from __future__ import annotations

import pytest

from indexer.decode import abi
from indexer.protocols.gmx_v2 import keys as gmx_keys

GMX_FUNCTIONS = [
    ("gmx_v2/SyntheticsReader.json", "getAccountPositions", "77cfb162"),
    ("gmx_v2/SyntheticsReader.json", "getAccountPositionInfoList", "b05e0ea0"),
    ("gmx_v2/SyntheticsReader.json", "getPositionInfo", "0815bce1"),
    ("gmx_v2/SyntheticsReader.json", "isPositionLiquidatable", "456110f9"),
    ("gmx_v2/SyntheticsReader.json", "getPosition", "0fa8f516"),
    ("gmx_v2/SyntheticsReader.json", "getMarket", "714af34b"),
    ("gmx_v2/SyntheticsReader.json", "getMarkets", "ce3264bf"),
    ("gmx_v2/DataStore.json", "getUint", "bd02d0f5"),
    ("gmx_v2/DataStore.json", "getBytes32Count", "f3903b9f"),
    ("gmx_v2/DataStore.json", "getBytes32ValuesAt", "f069052a"),
]
SHARED_FUNCTIONS = [
    ("multicall3/Multicall3.json", "aggregate3", "82ad56cb"),
    ("chainlink/AggregatorV3Interface.json", "latestRoundData", "feaf968c"),
    ("chainlink/AggregatorV3Interface.json", "decimals", "313ce567"),
    ("chainlink/AggregatorV3Interface.json", "getRoundData", "9a6fc8f5"),
    ("chainlink/AggregatorProxy.json", "aggregator", "245a7bfc"),
]
EVENTS = [
    (
        "gmx_v2/EventEmitter.json",
        "EventLog",
        "7e3bde2ba7aca4a8499608ca57f3b0c1c1c93ace63ffd3741a9fab204146fc9a",
    ),
    (
        "gmx_v2/EventEmitter.json",
        "EventLog1",
        "137a44067c8961cd7e1d876f4754a5a3a75989b4552f1843fc69c3b372def160",
    ),
    (
        "gmx_v2/EventEmitter.json",
        "EventLog2",
        "468a25a7ba624ceea6e540ad6f49171b52495b648417ae91bca21676d8a24dc5",
    ),
    (
        "chainlink/AggregatorInterface.json",
        "AnswerUpdated",
        "0559884fd3a460db3073b7fc896cc77986f16e378210ded43186175bf646fc5f",
    ),
    (
        "chainlink/AggregatorInterface.json",
        "NewRound",
        "0109fc6f55cf40689f02fbaad7af7fe7bbac8a3d2186600afc7d3e10cac60271",
    ),
]
EVENT_NAMES = {
    "PositionIncrease": "f94196ccb31f81a3e67df18f2a62cbfb50009c80a7d3c728a3f542e3abc5cb63",
    "PositionDecrease": "07d51b51b408d7c62dcc47cc558da5ce6a6e0fd129a427ebce150f52b0e5171a",
    "PositionFeesCollected": "e096982abd597114bdaa4a60612f87fabfcc7206aa12d61c50e7ba1e6c291100",
    "OrderCreated": "a7427759bfd3b941f14e687e129519da3c9b0046c5b9aaa290bb1dede63753b3",
    "OrderExecuted": "680f10f06595d3d707241f604672ec4b6ae50eb82728ec2f3c65f6789e897760",
}


@pytest.mark.parametrize(("path", "name", "expected"), GMX_FUNCTIONS + SHARED_FUNCTIONS)
def test_function_selector(path: str, name: str, expected: str) -> None:
    entry = abi.abi_entry(path, name)
    assert abi.selector(abi.function_signature(entry)).hex() == expected


@pytest.mark.parametrize(("path", "name", "expected"), EVENTS)
def test_event_topic0(path: str, name: str, expected: str) -> None:
    entry = abi.abi_entry(path, name, kind="event")
    assert abi.topic0(abi.event_signature(entry)).hex() == expected


@pytest.mark.parametrize(("event_name", "expected"), EVENT_NAMES.items())
def test_gmx_event_name_hash(event_name: str, expected: str) -> None:
    assert gmx_keys.event_name_hash(event_name).hex() == expected


def _numbers_of(path: str, function: str) -> list[tuple[str, str]]:
    """(name, type) of Position.Props.numbers in ``function``'s first output."""
    output = abi.abi_entry(path, function)["outputs"][0]
    props = output if output["internalType"].startswith("struct Position.Props") else None
    if props is None:  # PositionInfo wraps the Props as its `position` component
        props = next(c for c in output["components"] if c["name"] == "position")
    numbers = next(c for c in props["components"] if c["name"] == "numbers")
    return [(c["name"], c["type"]) for c in numbers["components"]]


@pytest.mark.parametrize(
    "function",
    ["getPosition", "getAccountPositions", "getPositionInfo", "getAccountPositionInfoList"],
)
def test_position_numbers_have_the_v2_2_layout(function: str) -> None:
    numbers = _numbers_of("gmx_v2/SyntheticsReader.json", function)
    assert len(numbers) == 10
    assert numbers[3] == ("pendingImpactAmount", "int256")
    assert numbers[:3] == [
        ("sizeInUsd", "uint256"),
        ("sizeInTokens", "uint256"),
        ("collateralAmount", "uint256"),
    ]
    assert numbers[-2:] == [("increasedAtTime", "uint256"), ("decreasedAtTime", "uint256")]


def test_canonical_type_expands_nested_tuples() -> None:
    param = {
        "type": "tuple[]",
        "components": [
            {"type": "address"},
            {"type": "tuple[2]", "components": [{"type": "uint8"}, {"type": "bytes"}]},
        ],
    }
    assert abi.canonical_type(param) == "(address,(uint8,bytes)[2])[]"


def test_signature_helpers_refuse_the_wrong_kind() -> None:
    with pytest.raises(ValueError, match="not an event"):
        abi.event_signature(abi.abi_entry("gmx_v2/DataStore.json", "getUint"))
    with pytest.raises(ValueError, match="not a function"):
        abi.function_signature(abi.abi_entry("gmx_v2/EventEmitter.json", "EventLog", "event"))
    with pytest.raises(KeyError):
        abi.abi_entry("gmx_v2/DataStore.json", "setUint")


def test_hyperliquid_precompiles_describe_each_read() -> None:
    reads = abi.load_json("hyperliquid/precompiles.json")["reads"]
    expected = {
        "position": ("0x0000000000000000000000000000000000000800", ["address", "uint16"]),
        "position2": ("0x0000000000000000000000000000000000000813", ["address", "uint32"]),
        "withdrawable": ("0x0000000000000000000000000000000000000803", ["address"]),
        "markPx": ("0x0000000000000000000000000000000000000806", ["uint32"]),
        "oraclePx": ("0x0000000000000000000000000000000000000807", ["uint32"]),
        "perpAssetInfo": ("0x000000000000000000000000000000000000080a", ["uint32"]),
        "accountMarginSummary": (
            "0x000000000000000000000000000000000000080f",
            ["uint32", "address"],
        ),
    }
    got = {n: (r["address"], [p["type"] for p in r["inputs"]]) for n, r in reads.items()}
    assert got == expected
    position = [abi.canonical_type(p) for p in reads["position2"]["outputs"]]
    assert position == ["(int64,uint64,int64,uint32,bool)"]
    summary = [abi.canonical_type(p) for p in reads["accountMarginSummary"]["outputs"]]
    assert summary == ["(int64,uint64,uint64,int64)"]


ACCOUNT = "0x1111111111111111111111111111111111111111"
ETH_USD_MARKET = "0x70d95587d40A2caf56bd97485aB3Eec10Bee6336"
USDC = "0xaf88d065e77c8cC2239327C5EDb3A432268e5831"


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (
            gmx_keys.ACCOUNT_POSITION_LIST,
            "a94015725b1182c6666b50aed1bb84d2b2cf9da39e6f5a5b19cd01f2f37738a1",
        ),
        (
            gmx_keys.POSITION_LIST,
            "3fe95e2be5587b71e685e297dc351a27f09a363e7d84b38bb75158a8f06590ac",
        ),
        (
            gmx_keys.MIN_COLLATERAL_USD,
            "6497f0f2c47edc68f06ede1c06d3475f939eb1a8341362460277bcd8ee7419f4",
        ),
        (
            gmx_keys.MIN_COLLATERAL_FACTOR,
            "9fc265ee9783e670a7a731141f58b59bca5a260ba3eb3f893412fb613dc559f7",
        ),
        (
            gmx_keys.MIN_COLLATERAL_FACTOR_FOR_LIQUIDATION,
            "c1c82b94002bf5bd86480807e32ee86f3d83d38b2853b1e48546acc11884eebd",
        ),
        (
            gmx_keys.MAX_POSITION_IMPACT_FACTOR_FOR_LIQUIDATIONS,
            "60c6f7a6820f7b274465f97450f5ba86cedd20f28f1cd3690510968ab87a0f8c",
        ),
        (
            gmx_keys.POSITION_FEE_FACTOR,
            "3999256650a6ebfea3dfbd4d56990f4d9048943a0e38ea6aabfc65122556c342",
        ),
    ],
)
def test_datastore_base_keys(key: bytes, expected: str) -> None:
    assert key.hex() == expected


def test_datastore_key_vectors() -> None:
    assert (
        gmx_keys.account_position_list_key(ACCOUNT).hex()
        == "bde334f667a228a7615b243d9a1201db964bb1e4788a89ffdd84ad76d20432f6"
    )
    assert (
        gmx_keys.position_key(ACCOUNT, ETH_USD_MARKET, USDC, is_long=True).hex()
        == "4b36953bc2372906307dd1c398e67581d5f09dec17f226a236f4de6c4dfa0391"
    )
    assert (
        gmx_keys.min_collateral_factor_for_liquidation_key(ETH_USD_MARKET).hex()
        == "efc3fc73b918e0aa9a9a9f306393b25a2919aad551cbd5c5535834b6ea9d9934"
    )


def test_keys_differ_by_every_argument() -> None:
    long_key = gmx_keys.position_key(ACCOUNT, ETH_USD_MARKET, USDC, is_long=True)
    assert gmx_keys.position_key(ACCOUNT, ETH_USD_MARKET, USDC, is_long=False) != long_key
    improved = gmx_keys.position_fee_factor_key(ETH_USD_MARKET, balance_was_improved=True)
    assert gmx_keys.position_fee_factor_key(ETH_USD_MARKET, balance_was_improved=False) != improved
    assert gmx_keys.min_collateral_factor_key(ETH_USD_MARKET) != (
        gmx_keys.min_collateral_factor_for_liquidation_key(ETH_USD_MARKET)
    )
