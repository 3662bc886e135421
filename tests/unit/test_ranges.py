"""Range decisions: one row per provider's "range too large" answer, plus property tests."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.rpc.ranges import (
    RangeAdvice,
    block_count,
    classify_logs_error,
    next_range_size,
    split_range,
)

FROM, TO = 0x112A880, 0x112A880 + 20_000  # a requested range wider than every limit below

ALCHEMY_SIZE = (
    "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range "
    "and no limit on the response size, or you can request any block range with a cap of 10K "
    "logs in the response. Based on your parameters and the response size limit, this block "
    "range should work: [0x112a880, 0x112a8c2]"
)

# (case id, code, message, data, expected advice) — texts as the providers send them.
PROVIDER_ROWS = [
    ("alchemy-size", -32602, ALCHEMY_SIZE, None, RangeAdvice("alchemy", 0x43, 0x112A8C2)),
    (
        "alchemy-free-tier",
        -32600,
        "Under the Free tier plan, you can make eth_getLogs requests with up to a 10 block range.",
        None,
        RangeAdvice("alchemy", 10),
    ),
    (
        "anvil-fork-passthrough",
        -32603,
        "Fork Error: JsonRpcClientError(ProviderError(JsonRpcError(JsonRpcError { code: -32602, "
        'message: \\"' + ALCHEMY_SIZE + '\\"',
        None,
        RangeAdvice("alchemy", 0x43, 0x112A8C2),
    ),
    (
        "infura-results",
        -32005,
        "query returned more than 10000 results. Try with this block range [0x112A880, 0x112A908].",
        None,
        RangeAdvice("infura", 0x89, 0x112A908),
    ),
    (
        "infura-range",
        -32602,
        "range 1000000 exceeds limit of 10000",
        None,
        RangeAdvice("infura", 10_000),
    ),
    (
        "quicknode",
        -32614,
        "eth_getLogs is limited to a 10,000 range",
        None,
        RangeAdvice("quicknode", 10_000),
    ),
    (
        "quicknode-docs",
        -32602,
        "eth_getLogs and eth_newFilter are limited to a 10,000 blocks range",
        None,
        RangeAdvice("quicknode", 10_000),
    ),
    ("ankr-range", -32600, "block range is too wide", None, RangeAdvice("ankr")),
    ("ankr-results", -32005, "query exceeds max results", None, RangeAdvice("reth")),
    (
        "geth-rangelimit",
        -32000,
        "exceed maximum block range: 50000",
        None,
        RangeAdvice("geth", 50_000),
    ),
    ("geth-results", -32005, "query returned more than 10000 results", None, RangeAdvice("geth")),
    (
        "erigon-range",
        -32602,
        "query block range exceeds server limit, narrow your filter: 1000",
        None,
        RangeAdvice("erigon", 1000),
    ),
    (
        "erigon-results",
        -32000,
        "query returns too many logs, narrow your filter: 20000",
        None,
        RangeAdvice("erigon"),
    ),
    (
        "reth-range",
        -32602,
        "query exceeds max block range 100000",
        None,
        RangeAdvice("reth", 100_000),
    ),
    (
        "reth-results-hint",
        -32602,
        f"query exceeds max results 20000, retry with the range {FROM}-{FROM + 1484}",
        None,
        RangeAdvice("reth", 1485, FROM + 1484),
    ),
    (
        "cloudflare",
        -32047,
        "Invalid eth_getLogs request. 'fromBlock'-'toBlock' range too large. Max range: 800",
        None,
        RangeAdvice("cloudflare", 800),
    ),
    (
        "besu",
        -32005,
        "Requested range exceeds maximum RPC range limit",
        None,
        RangeAdvice("besu"),
    ),
    (
        "thirdweb-data",
        -32602,
        "invalid params",
        {"error_id": "4ed9", "payload": "range 9009594 is bigger than range limit 2000"},
        RangeAdvice("thirdweb", 2000),
    ),
    (
        "frontier",
        -32603,
        "block range is too wide (maximum 1024)",
        None,
        RangeAdvice("frontier", 1024),
    ),
    ("chainstack", -32600, "Block range limit exceeded.", None, RangeAdvice("chainstack")),
    ("base", -32020, "backend response too large", None, RangeAdvice("optimism")),
    (
        "avalanche",
        -32000,
        "requested too many blocks from 0 to 20000, maximum is set to 2048",
        None,
        RangeAdvice("avalanche", 2048),
    ),
    (
        "1rpc",
        -32602,
        "eth_getLogs is limited to 0 - 50 blocks range",
        None,
        RangeAdvice("1rpc", 50),
    ),
]


@pytest.mark.parametrize(
    ("code", "message", "data", "expected"),
    [row[1:] for row in PROVIDER_ROWS],
    ids=[row[0] for row in PROVIDER_ROWS],
)
def test_provider_answers_are_recognised(
    code: int, message: str, data: object, expected: RangeAdvice
) -> None:
    assert classify_logs_error(code, message, data, FROM, TO) == expected


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (-32602, "block range extends beyond current head block"),  # lagging node: wait, not split
        (-32602, "BlockOutOfRangeError: block height is 0 but requested was 5"),
        (-32005, "project ID request rate exceeded"),  # Infura's rate limit shares the code
        (429, "Your app has exceeded its compute units per second capacity."),
        (-32602, "invalid block range params"),
        (3, "execution reverted"),
        (-32000, "exceed max addresses or topics per search position"),
    ],
)
def test_other_errors_are_not_range_errors(code: int, message: str) -> None:
    assert classify_logs_error(code, message, None, FROM, TO) is None


def test_suggestion_as_wide_as_the_request_is_no_advice() -> None:
    # reth behind a balancer may echo the failed range back; following it would loop forever.
    message = f"query exceeds max results 20000, retry with the range {FROM}-{TO}"
    advice = classify_logs_error(-32602, message, None, FROM, TO)
    assert advice == RangeAdvice("reth")
    parts = split_range(FROM, TO, advice)
    assert len(parts) == 2


def test_suggested_range_drives_the_split() -> None:
    advice = classify_logs_error(-32602, ALCHEMY_SIZE, None, 0x112A880, 0x112A880 + 200)
    assert advice is not None
    parts = split_range(0x112A880, 0x112A880 + 200, advice)
    assert parts[0] == (0x112A880, 0x112A8C2)
    assert parts[-1][1] == 0x112A880 + 200


def test_split_examples() -> None:
    assert split_range(10, 19, RangeAdvice("x", 4)) == [(10, 13), (14, 17), (18, 19)]
    assert split_range(10, 19, None) == [(10, 14), (15, 19)]
    assert split_range(10, 20, RangeAdvice("x")) == [(10, 15), (16, 20)]
    assert split_range(7, 7, None) == [(7, 7)]
    with pytest.raises(ValueError, match="invalid block range"):
        split_range(5, 4, None)


advices = st.one_of(
    st.none(),
    st.builds(RangeAdvice, st.just("p"), st.one_of(st.none(), st.integers(1, 5_000))),
)


@given(
    from_block=st.integers(0, 10**9),
    span=st.integers(1, 100_000),
    advice=advices,
)
def test_split_covers_exactly_without_overlap(
    from_block: int, span: int, advice: RangeAdvice | None
) -> None:
    to_block = from_block + span - 1
    parts = split_range(from_block, to_block, advice)
    assert parts[0][0] == from_block
    assert parts[-1][1] == to_block
    for (_, prev_end), (start, _) in itertools.pairwise(parts):
        assert start == prev_end + 1
    assert all(start <= end for start, end in parts)
    assert sum(block_count(s, e) for s, e in parts) == span
    if span > 1:
        assert len(parts) >= 2  # a refused range always gets smaller
    if advice is not None and advice.max_blocks is not None and advice.max_blocks < span:
        assert max(block_count(s, e) for s, e in parts) <= advice.max_blocks


@given(
    current=st.integers(1, 1_000_000),
    result_count=st.integers(0, 100_000),
    target=st.integers(1, 20_000),
    bounds=st.tuples(st.integers(1, 1000), st.integers(1, 2_000_000)).filter(
        lambda b: b[0] <= b[1]
    ),
)
def test_next_range_size_moves_towards_target(
    current: int, result_count: int, target: int, bounds: tuple[int, int]
) -> None:
    min_size, max_size = bounds
    size = next_range_size(
        current, result_count, target_results=target, min_size=min_size, max_size=max_size
    )
    assert min_size <= size <= max_size
    clamped = max(min_size, min(current, max_size))
    if result_count < target:
        assert size >= clamped
    if result_count > target:
        assert size <= clamped
    assert size <= max(min_size, current * 2)


def test_next_range_size_examples() -> None:
    assert next_range_size(1000, 0, target_results=500, max_size=10**6) == 2000
    assert next_range_size(1000, 5000, target_results=500, max_size=10**6) == 100
    assert next_range_size(1000, 400, target_results=500, max_size=10**6) == 1250
    assert next_range_size(1000, 500, target_results=500, max_size=10**6) == 1000
    assert next_range_size(1000, 10**6, target_results=1, min_size=5, max_size=10**6) == 5
    with pytest.raises(ValueError, match="positive"):
        next_range_size(0, 1, target_results=1, max_size=10)
