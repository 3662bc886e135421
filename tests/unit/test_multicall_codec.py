"""Multicall3 aggregate3 codec: byte-identical to eth_abi both ways, strict on malformed input."""

from __future__ import annotations

import pytest
from eth_abi.abi import decode as eth_abi_decode
from eth_abi.abi import encode
from eth_abi.exceptions import DecodingError
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.errors import DecodeError
from indexer.reads.multicall import (
    AGGREGATE3_SELECTOR,
    Call3,
    decode_aggregate3,
    encode_aggregate3,
)

ADDRESSES = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
CALLS = st.lists(st.builds(Call3, ADDRESSES, st.binary(max_size=200), st.booleans()), max_size=8)
RESULTS = st.lists(st.tuples(st.booleans(), st.binary(max_size=200)), max_size=8)


def test_selector_is_aggregate3() -> None:
    assert AGGREGATE3_SELECTOR.hex() == "82ad56cb"


@settings(max_examples=300, deadline=None)
@given(CALLS)
def test_encode_matches_eth_abi(calls: list[Call3]) -> None:
    reference = encode(
        ["(address,bool,bytes)[]"], [[(c.target, c.allow_failure, c.call_data) for c in calls]]
    )
    assert encode_aggregate3(calls) == AGGREGATE3_SELECTOR + reference


@settings(max_examples=300, deadline=None)
@given(RESULTS)
def test_decode_matches_eth_abi(results: list[tuple[bool, bytes]]) -> None:
    assert decode_aggregate3(encode(["(bool,bytes)[]"], [results])) == results


def test_default_allows_failure_and_checksum_targets_are_accepted() -> None:
    checksummed = Call3("0xcA11bde05977b3631167028862bE2a173976CA11", b"\x12\x34")
    assert checksummed.allow_failure is True
    head = encode_aggregate3([checksummed])[4 + 32 * 3 :]  # selector, offset, length, elem offset
    assert head[12:32].hex() == "ca11bde05977b3631167028862be2a173976ca11"
    assert head[32:64] == (1).to_bytes(32, "big")


@pytest.mark.parametrize("target", ["0x1234", "ca11bde05977b3631167028862bE2a173976CA11", "0xzz"])
def test_bad_target_is_refused(target: str) -> None:
    with pytest.raises(ValueError, match="not an address"):
        encode_aggregate3([Call3(target, b"")])


@settings(max_examples=300, deadline=None)
@given(RESULTS.filter(bool), st.data())
def test_truncated_or_corrupted_results_never_decode_garbage(
    results: list[tuple[bool, bytes]], data: st.DataObject
) -> None:
    raw = encode(["(bool,bytes)[]"], [results])
    cut = data.draw(st.integers(0, len(raw) - 1))
    if data.draw(st.booleans()):
        with pytest.raises(DecodeError):
            decode_aggregate3(raw[:cut])
        return
    corrupt = raw[:cut] + bytes([data.draw(st.integers(0, 255))]) + raw[cut + 1 :]
    try:
        (reference,) = eth_abi_decode(["(bool,bytes)[]"], corrupt)
    except (DecodingError, ValueError, OverflowError):
        with pytest.raises(DecodeError):
            decode_aggregate3(corrupt)
        return
    try:  # stricter than eth_abi is acceptable; a different value is not
        decoded = decode_aggregate3(corrupt)
    except DecodeError:
        return
    assert decoded == list(reference)
