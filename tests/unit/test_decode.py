"""LogDecoder against eth_abi: random events and GMX EventLogData encoded by eth_abi must decode
to the same values; truncated, mutated and garbage data must raise DecodeError, never decode."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import decode as eth_abi_decode
from eth_abi.abi import encode
from eth_abi.exceptions import DecodingError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.decode.abi import abi_entry, event_signature, load_abi, topic0
from indexer.decode.codec import compile_codec
from indexer.decode.logs import DecodedLog, LogDecoder
from indexer.errors import DecodeError
from indexer.protocols.gmx_v2.events import EVENT_LOG_DATA_TYPE, flatten_event_log_data
from indexer.protocols.gmx_v2.keys import event_name_hash

Param = dict[str, Any]

GMX = LogDecoder(
    load_abi("gmx_v2/EventEmitter.json"), {EVENT_LOG_DATA_TYPE: flatten_event_log_data}
)
GMX_TOPICS = {
    name: "0x" + topic0(event_signature(abi_entry("gmx_v2/EventEmitter.json", name, "event"))).hex()
    for name in ("EventLog", "EventLog1", "EventLog2")
}
HEADER = ("msgSender", "eventName", "eventNameHash", "topic1", "topic2")

# --- strategies: ABI types, values for them, and the normalisation the decoder promises ---

_BITS = st.sampled_from([8, 16, 24, 32, 64, 80, 128, 256])
ELEMENTARY = st.one_of(
    st.sampled_from(["address", "bool", "string", "bytes"]),
    _BITS.map(lambda b: f"uint{b}"),
    _BITS.map(lambda b: f"int{b}"),
    st.integers(1, 32).map(lambda n: f"bytes{n}"),
)


def _extend(inner: st.SearchStrategy[Param]) -> st.SearchStrategy[Param]:
    return st.one_of(
        inner.map(lambda p: {**p, "type": p["type"] + "[]"}),
        st.tuples(inner, st.integers(1, 3)).map(
            lambda pk: {**pk[0], "type": f"{pk[0]['type']}[{pk[1]}]"}
        ),
        st.lists(inner, min_size=1, max_size=3).map(lambda cs: {"type": "tuple", "components": cs}),
    )


PARAMS = st.recursive(ELEMENTARY.map(lambda t: {"type": t}), _extend, max_leaves=5)


def canonical(param: Param) -> str:
    kind: str = param["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(canonical(c) for c in param["components"]) + ")" + kind[5:]
    return kind


def values_for(param: Param) -> st.SearchStrategy[Any]:
    kind = param["type"]
    if kind.endswith("]"):
        cut = kind.rindex("[")
        elem = values_for({**param, "type": kind[:cut]})
        size = kind[cut + 1 : -1]
        return (
            st.lists(elem, max_size=3)
            if not size
            else st.lists(elem, min_size=int(size), max_size=int(size))
        )
    if kind == "tuple":
        return st.tuples(*[values_for(c) for c in param["components"]])
    if kind == "address":
        return st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
    if kind == "bool":
        return st.booleans()
    if kind == "string":
        return st.text(max_size=40)
    if kind == "bytes":
        return st.binary(max_size=70)
    if kind.startswith("bytes"):
        return st.binary(min_size=int(kind[5:]), max_size=int(kind[5:]))
    bits = int(kind.removeprefix("u").removeprefix("int"))
    if kind.startswith("u"):
        return st.integers(0, 2**bits - 1)
    return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def normalise(param: Param, value: Any) -> Any:
    """eth_abi's value in the decoder's conventions (bytesN as hex, sequences as tuples)."""
    kind = param["type"]
    if kind.endswith("]"):
        elem = {**param, "type": kind[: kind.rindex("[")]}
        return tuple(normalise(elem, v) for v in value)
    if kind == "tuple":
        return tuple(normalise(c, v) for c, v in zip(param["components"], value, strict=True))
    if kind.startswith("bytes") and kind != "bytes":
        return "0x" + value.hex()
    if kind == "address":
        return value.lower()
    return value


def is_hashed_when_indexed(param: Param) -> bool:
    return (
        param["type"] in ("string", "bytes") or param["type"].endswith("]") or "components" in param
    )


# --- flat events ---


@st.composite
def flat_events(draw: st.DrawFn) -> tuple[Param, dict[str, Any], dict[str, Any]]:
    """(event ABI, raw log, expected args) with random params, some indexed."""
    params = draw(st.lists(PARAMS, max_size=5))
    inputs: list[dict[str, Any]] = []
    topics: list[str] = []
    data_params: list[Param] = []
    data_values: list[Any] = []
    expected: dict[str, Any] = {}
    for i, param in enumerate(params):
        indexed = len(topics) < 3 and draw(st.booleans())
        entry = {**param, "name": f"p{i}", "indexed": indexed}
        inputs.append(entry)
        if indexed and is_hashed_when_indexed(param):
            topic = draw(st.binary(min_size=32, max_size=32))
            expected[entry["name"]] = "0x" + topic.hex()
            topics.append("0x" + topic.hex())
            continue
        value = draw(values_for(param))
        expected[entry["name"]] = normalise(param, value)
        if indexed:
            topics.append("0x" + encode([param["type"]], [value]).hex())
        else:
            data_params.append(param)
            data_values.append(value)
    event = {"type": "event", "name": "Random", "anonymous": False, "inputs": inputs}
    data = encode([canonical(p) for p in data_params], data_values)
    log = {
        "topics": ["0x" + topic0(event_signature(event)).hex(), *topics],
        "data": "0x" + data.hex(),
    }
    return event, log, expected


@settings(max_examples=150, deadline=None)
@given(flat_events())
def test_flat_events_decode_like_eth_abi(
    case: tuple[Param, dict[str, Any], dict[str, Any]],
) -> None:
    event, log, expected = case
    assert LogDecoder([event]).decode(log) == DecodedLog("Random", expected)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flat_events(), st.data())
def test_flat_events_never_decode_garbage(
    case: tuple[Param, dict[str, Any], dict[str, Any]], data: st.DataObject
) -> None:
    """Truncate or corrupt one byte: either DecodeError, or exactly what eth_abi decodes."""
    event, log, _ = case
    raw = bytes.fromhex(log["data"][2:])
    if not raw:
        return
    cut = data.draw(st.integers(0, len(raw) - 1))
    corrupt = data.draw(
        st.one_of(
            st.just(raw[:cut]),
            st.integers(0, 255).map(lambda b: raw[:cut] + bytes([b]) + raw[cut + 1 :]),
        )
    )
    data_params = [p for p in event["inputs"] if not p["indexed"]]
    try:
        reference = eth_abi_decode([canonical(p) for p in data_params], corrupt)
    except (DecodingError, ValueError, OverflowError):
        reference = None
    mangled = {**log, "data": "0x" + corrupt.hex()}
    if reference is None:
        with pytest.raises(DecodeError):
            LogDecoder([event]).decode(mangled)
        return
    try:  # stricter than eth_abi is acceptable; a different value is not
        decoded = LogDecoder([event]).decode(mangled)
    except DecodeError:
        return
    assert decoded is not None
    for param, value in zip(data_params, reference, strict=True):
        assert decoded.args[param["name"]] == normalise(param, value)


# --- GMX EventLog / EventLog1 / EventLog2 ---

GROUP_TYPES = ("address", "uint256", "int256", "bool", "bytes32", "bytes", "string")


@st.composite
def event_log_data(draw: st.DrawFn) -> tuple[list[Any], dict[str, Any]]:
    """(EventLogData value for eth_abi, the flat dict expected) with unique random keys."""
    keys = iter(
        draw(
            st.lists(
                st.text(min_size=1, max_size=30).filter(lambda k: k not in HEADER),
                unique=True,
                min_size=14,
                max_size=40,
            )
        )
    )
    groups: list[Any] = []
    flat: dict[str, Any] = {}
    for kind in GROUP_TYPES:
        param = {"type": kind}
        drawn_items = [
            (next(keys, None), draw(values_for(param))) for _ in range(draw(st.integers(0, 3)))
        ]
        drawn_arrays = [
            (next(keys, None), draw(st.lists(values_for(param), max_size=3)))
            for _ in range(draw(st.integers(0, 2)))
        ]
        items = [(k, v) for k, v in drawn_items if k is not None]
        arrays = [(k, v) for k, v in drawn_arrays if k is not None]
        flat.update((k, normalise(param, v)) for k, v in items)
        flat.update((k, tuple(normalise(param, x) for x in v)) for k, v in arrays)
        groups.append((items, arrays))
    return groups, flat


def gmx_log(
    variant: str, event_name: str, groups: list[Any], extra_topics: list[bytes]
) -> dict[str, Any]:
    data = encode(
        ["address", "string", EVENT_LOG_DATA_TYPE], ["0x" + "ab" * 20, event_name, groups]
    )
    topics = [GMX_TOPICS[variant], "0x" + event_name_hash(event_name).hex()]
    return {"topics": topics + ["0x" + t.hex() for t in extra_topics], "data": "0x" + data.hex()}


@settings(max_examples=150, deadline=None)
@given(
    event_log_data(),
    st.sampled_from(["EventLog", "EventLog1", "EventLog2"]),
    st.text(max_size=30),
    st.lists(st.binary(min_size=32, max_size=32), min_size=2, max_size=2),
)
def test_gmx_event_log_data_flattens_by_key(
    case: tuple[list[Any], dict[str, Any]], variant: str, name: str, topics: list[bytes]
) -> None:
    groups, flat = case
    extra = topics[: {"EventLog": 0, "EventLog1": 1, "EventLog2": 2}[variant]]
    decoded = GMX.decode(gmx_log(variant, name, groups, extra))
    expected = {
        "msgSender": "0x" + "ab" * 20,
        "eventName": name,
        "eventNameHash": "0x" + event_name_hash(name).hex(),
    }
    expected.update({f"topic{i + 1}": "0x" + t.hex() for i, t in enumerate(extra)})
    assert decoded == DecodedLog(variant, {**expected, **flat})


def position_increase_groups(account: str) -> list[Any]:
    return [
        (
            [
                ("account", account),
                ("market", "0x" + "70" * 20),
                ("collateralToken", "0x" + "af" * 20),
            ],
            [],
        ),
        ([("sizeInUsd", 10**34), ("sizeInTokens", 4 * 10**18), ("orderType", 2)], []),
        ([("priceImpactUsd", -(10**30))], []),
        ([("isLong", True)], []),
        ([("positionKey", b"\x4b" * 32)], []),
        ([], []),
        ([], []),
    ]


def test_position_increase_example() -> None:
    account = "0x1111111111111111111111111111111111111111"
    log = gmx_log(
        "EventLog1",
        "PositionIncrease",
        position_increase_groups(account),
        [bytes(12) + bytes.fromhex(account[2:])],
    )
    args = GMX.decode(log).args  # type: ignore[union-attr]
    assert args["eventName"] == "PositionIncrease"
    assert (
        args["eventNameHash"]
        == "0xf94196ccb31f81a3e67df18f2a62cbfb50009c80a7d3c728a3f542e3abc5cb63"
    )
    assert args["topic1"] == "0x" + "00" * 12 + "11" * 20
    assert (args["account"], args["sizeInUsd"], args["priceImpactUsd"]) == (
        account,
        10**34,
        -(10**30),
    )
    assert (args["isLong"], args["orderType"], args["positionKey"]) == (True, 2, "0x" + "4b" * 32)


def test_duplicate_key_is_an_error_not_a_silent_overwrite() -> None:
    groups = position_increase_groups("0x" + "11" * 20)
    groups[1] = ([("account", 5)], [])  # "account" also in the address group
    with pytest.raises(DecodeError, match="account"):
        GMX.decode(gmx_log("EventLog", "PositionIncrease", groups, []))


@settings(max_examples=150, deadline=None)
@given(event_log_data(), st.data())
def test_gmx_truncated_or_corrupted_never_decodes_garbage(
    case: tuple[list[Any], dict[str, Any]], data: st.DataObject
) -> None:
    log = gmx_log("EventLog", "X", case[0], [])
    raw = bytes.fromhex(log["data"][2:])
    cut = data.draw(st.integers(0, len(raw) - 1))
    if data.draw(st.booleans()):
        with pytest.raises(DecodeError):  # every byte of an ABI encoding is read: none may go
            GMX.decode({**log, "data": "0x" + raw[:cut].hex()})
        return
    corrupt = raw[:cut] + bytes([data.draw(st.integers(0, 255))]) + raw[cut + 1 :]
    try:
        reference = eth_abi_decode(["address", "string", EVENT_LOG_DATA_TYPE], corrupt)
    except (DecodingError, ValueError, OverflowError):
        with pytest.raises(DecodeError):
            GMX.decode({**log, "data": "0x" + corrupt.hex()})
        return
    expected = reference_flat(reference)
    if expected is None:  # the corruption made two keys equal: refusing is the only answer
        with pytest.raises(DecodeError, match="twice"):
            GMX.decode({**log, "data": "0x" + corrupt.hex()})
        return
    decoded = GMX.decode({**log, "data": "0x" + corrupt.hex()})
    assert decoded == DecodedLog("EventLog", {**expected, "eventNameHash": log["topics"][1]})


def reference_flat(reference: tuple[Any, ...]) -> dict[str, Any] | None:
    """eth_abi's decoded (msgSender, eventName, EventLogData) flattened; None on a repeated key."""
    flat = {"msgSender": reference[0], "eventName": reference[1], "eventNameHash": None}
    for (items, arrays), kind in zip(reference[2], GROUP_TYPES, strict=True):
        pairs = [(k, normalise({"type": kind}, v)) for k, v in items]
        pairs += [(k, tuple(normalise({"type": kind}, x) for x in v)) for k, v in arrays]
        for key, value in pairs:
            if key in flat:
                return None
            flat[key] = value
    del flat["eventNameHash"]
    return flat


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600), st.sampled_from(["EventLog", "EventLog1", "EventLog2"]))
def test_gmx_random_bytes_raise(garbage: bytes, variant: str) -> None:
    topics = [GMX_TOPICS[variant]] + ["0x" + "00" * 32] * (
        1 + ["EventLog", "EventLog1", "EventLog2"].index(variant)
    )
    with pytest.raises(DecodeError):
        GMX.decode({"topics": topics, "data": "0x" + garbage.hex()})


# --- dispatch, topics and word checks ---

ANSWER_UPDATED = abi_entry("chainlink/AggregatorInterface.json", "AnswerUpdated", "event")
ANSWER_TOPIC = "0x0559884fd3a460db3073b7fc896cc77986f16e378210ded43186175bf646fc5f"


def answer_log(current: int, round_id: int, updated_at: int) -> dict[str, Any]:
    return {
        "topics": [
            ANSWER_TOPIC,
            "0x" + encode(["int256"], [current]).hex(),
            "0x" + encode(["uint256"], [round_id]).hex(),
        ],
        "data": "0x" + encode(["uint256"], [updated_at]).hex(),
    }


def test_chainlink_answer_updated_with_a_negative_indexed_answer() -> None:
    decoded = LogDecoder([ANSWER_UPDATED]).decode(answer_log(-5, 7, 1_700_000_000))
    assert decoded == DecodedLog(
        "AnswerUpdated", {"current": -5, "roundId": 7, "updatedAt": 1_700_000_000}
    )


def test_unknown_topic0_and_no_topics_give_none() -> None:
    decoder = LogDecoder([ANSWER_UPDATED])
    assert decoder.decode({"topics": ["0x" + "00" * 32], "data": "0x"}) is None
    assert decoder.decode({"topics": [], "data": "0x"}) is None
    assert decoder.topics == [ANSWER_TOPIC]


def test_bytes_input_and_upper_case_topic0_are_accepted() -> None:
    log = answer_log(1, 2, 3)
    as_bytes = {
        "topics": [bytes.fromhex(t[2:]) for t in log["topics"]],
        "data": bytes.fromhex(log["data"][2:]),
    }
    decoder = LogDecoder([ANSWER_UPDATED])
    assert decoder.decode(as_bytes) == decoder.decode(log)
    upper = {**log, "topics": ["0x" + log["topics"][0][2:].upper(), *log["topics"][1:]]}
    assert decoder.decode(upper) == decoder.decode(log)


@pytest.mark.parametrize(
    ("topics", "data", "message"),
    [
        ([ANSWER_TOPIC, "0x" + "00" * 32], "0x" + "00" * 32, "topics"),  # one indexed topic missing
        ([ANSWER_TOPIC, "0x" + "00" * 32, "0x" + "00" * 31], "0x" + "00" * 32, "31 bytes"),
        ([ANSWER_TOPIC, "0x" + "00" * 32, "0x" + "00" * 32], "0x" + "00" * 31, "past the data end"),
        ([ANSWER_TOPIC, "0x" + "00" * 32, "0x" + "00" * 32], "0xzz", "not hex"),
    ],
)
def test_malformed_topics_and_data_raise(topics: list[str], data: str, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        LogDecoder([ANSWER_UPDATED]).decode({"topics": topics, "data": data})


def _one_param_event(kind: str) -> Param:
    return {
        "type": "event",
        "name": "E",
        "anonymous": False,
        "inputs": [{"name": "v", "type": kind, "indexed": False}],
    }


@pytest.mark.parametrize(
    ("kind", "word", "message"),
    [
        ("address", "01" + "00" * 31, "address"),
        ("bool", "00" * 31 + "02", "bool"),
        ("uint8", "00" * 30 + "01" + "00", "uint8 out of range"),
        ("int8", "00" * 31 + "80", "int8 out of range"),
        ("bytes4", "11" * 4 + "00" * 27 + "01", "bytes4"),
    ],
)
def test_dirty_padding_is_rejected(kind: str, word: str, message: str) -> None:
    event = _one_param_event(kind)
    log = {"topics": ["0x" + topic0(event_signature(event)).hex()], "data": "0x" + word}
    with pytest.raises(DecodeError, match=message):
        LogDecoder([event]).decode(log)


def test_constructor_rejects_non_events_and_clashing_layouts() -> None:
    with pytest.raises(ValueError, match="not a non-anonymous event"):
        LogDecoder([abi_entry("gmx_v2/DataStore.json", "getUint")])
    transfer: dict[str, Any] = {
        "type": "event",
        "name": "Transfer",
        "inputs": [
            {"name": "a", "type": "address", "indexed": True},
            {"name": "v", "type": "uint256", "indexed": False},
        ],
    }
    nft = {
        **transfer,
        "inputs": [{**transfer["inputs"][0]}, {**transfer["inputs"][1], "indexed": True}],
    }
    assert LogDecoder([transfer, transfer]).topics == LogDecoder([transfer]).topics
    with pytest.raises(ValueError, match="share topic0"):
        LogDecoder([transfer, nft])
    with pytest.raises(ValueError, match="unsupported ABI type"):
        LogDecoder([_one_param_event("uint7")])


# --- the same compiled codec on a call result (adapters decode Reader outputs with it) ---

GET_POSITION = abi_entry("gmx_v2/SyntheticsReader.json", "getPosition")


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_compiled_codec_decodes_reader_get_position(data: st.DataObject) -> None:
    outputs = GET_POSITION["outputs"]
    values = [data.draw(values_for(p)) for p in outputs]
    encoded = encode([canonical(p) for p in outputs], values)
    expected = tuple(normalise(p, v) for p, v in zip(outputs, values, strict=True))
    assert compile_codec("tuple", outputs).read(encoded, 0) == expected
