"""The JSON decoder's fast paths give exactly what the full decoder gives (then ``json_safe``):
GMX ``EventLogData`` templates, and one-word flat events. A changed layout falls back, never
misreads."""

from __future__ import annotations

from typing import Any

from eth_abi.abi import encode
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.decode.abi import load_abi
from indexer.decode.json_args import JsonLogDecoder
from indexer.decode.logs import LogDecoder
from indexer.protocols import gmx_v2
from indexer.protocols.gmx_v2.events import (
    EVENT_LOG_DATA_TYPE,
    EventLogTemplates,
    flatten_event_log_data,
)
from indexer.registry import json_decoder
from indexer.store.columns import json_safe
from tests.unit.test_decode import ANSWER_UPDATED, answer_log, event_log_data, gmx_log

GMX_EVENTS = load_abi("gmx_v2/EventEmitter.json")


def _full(decoder: LogDecoder, log: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    decoded = decoder.decode(log)
    assert decoded is not None
    return decoded.name, json_safe(decoded.args)


def _static_only(groups: list[Any]) -> list[Any]:
    """The same groups without array items or dynamic values: the template's layout."""
    return [(items if i < 5 else [], []) for i, (items, _) in enumerate(groups)]


@settings(max_examples=120, deadline=None)
@given(event_log_data(), event_log_data(), st.text(max_size=20), st.booleans())
def test_template_reads_equal_the_full_decoder(
    first: tuple[list[Any], dict[str, Any]],
    second: tuple[list[Any], dict[str, Any]],
    name: str,
    static: bool,
) -> None:
    full = LogDecoder(GMX_EVENTS, {EVENT_LOG_DATA_TYPE: flatten_event_log_data})
    fast = json_decoder([gmx_v2.PLUGIN])
    topic = [b"\x11" * 32]
    pick = _static_only if static else (lambda groups: groups)
    logs = [gmx_log("EventLog1", name, pick(groups), topic) for groups, _ in (first, second)]
    for log in logs + logs:  # the second round reads through any template the first learned
        assert fast.decode_json(log) == _full(full, log)


@settings(max_examples=60, deadline=None)
@given(event_log_data(), st.data())
def test_same_length_but_another_layout_falls_back(
    case: tuple[list[Any], dict[str, Any]], data: st.DataObject
) -> None:
    groups = _static_only(case[0])
    full = LogDecoder(GMX_EVENTS, {EVENT_LOG_DATA_TYPE: flatten_event_log_data})
    fast = json_decoder([gmx_v2.PLUGIN])
    log = gmx_log("EventLog1", "PositionIncrease", groups, [b"\x22" * 32])
    fast.decode_json(log)  # learns the template
    hex_data = log["data"]
    # Flip one hex digit anywhere: a value word (read fast) or structure (must fall back).
    at = data.draw(st.integers(2, len(hex_data) - 1))
    flipped = "0" if hex_data[at] != "0" else "1"
    changed = {**log, "data": hex_data[:at] + flipped + hex_data[at + 1 :]}
    try:
        expected = _full(full, changed)
    except Exception as exc:  # the full decoder refuses it: so must the fast one
        try:
            fast.decode_json(changed)
        except type(exc):
            return
        raise AssertionError("fast path accepted data the full decoder refuses") from None
    assert fast.decode_json(changed) == expected


@given(st.integers(-(2**255), 2**255 - 1), st.integers(0, 2**256 - 1), st.integers(0, 2**256 - 1))
def test_flat_one_word_events_equal_the_full_decoder(
    current: int, round_id: int, updated_at: int
) -> None:
    full = LogDecoder([ANSWER_UPDATED])
    fast = JsonLogDecoder(LogDecoder([ANSWER_UPDATED]), flat_events=[ANSWER_UPDATED])
    log = answer_log(current, round_id, updated_at)
    assert fast.decode_json(log) == _full(full, log)


def test_upper_case_hex_reads_lower_case_like_the_full_decoder() -> None:
    full = LogDecoder(GMX_EVENTS, {EVENT_LOG_DATA_TYPE: flatten_event_log_data})
    fast = json_decoder([gmx_v2.PLUGIN])
    groups: list[Any] = [([("account", "0x" + "ab" * 20)], []), ([("size", 7)], [])] + [
        ([], [])
    ] * 5
    log = gmx_log("EventLog1", "PositionIncrease", groups, [b"\x33" * 32])
    fast.decode_json(log)
    upper = {**log, "data": "0x" + log["data"][2:].upper()}
    assert fast.decode_json(upper) == _full(full, upper)
    assert encode(["uint256"], [7]).hex() in log["data"]


def test_a_repeated_layout_is_read_without_the_full_decoder() -> None:
    inner = LogDecoder(GMX_EVENTS, {EVENT_LOG_DATA_TYPE: flatten_event_log_data})
    calls = []
    decode = inner.decode

    def counting(log: Any) -> Any:
        calls.append(log)
        return decode(log)

    inner.decode = counting  # type: ignore[method-assign]
    fast = JsonLogDecoder(inner, fast_paths=[EventLogTemplates(inner)])
    groups: list[Any] = [([("account", "0x" + "ab" * 20)], []), ([("size", 7)], [])] + [
        ([], [])
    ] * 5
    first = gmx_log("EventLog1", "PositionIncrease", groups, [b"\x33" * 32])
    groups[1] = ([("size", 8)], [])
    second = gmx_log("EventLog1", "PositionIncrease", groups, [b"\x44" * 32])
    fast.decode_json(first)
    result = fast.decode_json(second)
    assert len(calls) == 1
    assert result is not None
    assert result[1]["size"] == "8"
    assert result[1]["topic1"] == "0x" + "44" * 32
