"""Pure block-range decisions for ``eth_getLogs``: classify refusals, split, resize.

Nodes and providers refuse wide log queries with free-text errors that differ per vendor. This
module maps such an answer to a :class:`RangeAdvice` (how many blocks the node says it accepts,
if it says) and turns advice into sub-ranges. No I/O: the scanner feeds it what the node said.

Block ranges are inclusive on both ends, as in ``eth_getLogs``: ``(5, 7)`` is three blocks.

Usage::

    advice = classify_logs_error(err.code, err.message, err.data, 100, 5_000)
    if advice is not None:
        parts = split_range(100, 5_000, advice)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import orjson

__all__ = [
    "RangeAdvice",
    "block_count",
    "classify_logs_error",
    "next_range_size",
    "split_range",
]


@dataclass(frozen=True, slots=True)
class RangeAdvice:
    """What a refused ``eth_getLogs`` answer says about acceptable ranges.

    ``max_blocks``: the largest number of blocks (inclusive count) the node said it accepts,
    or ``None`` when it only said "too many" (the caller halves). ``suggested_to_block``: the
    end of a range starting at the request's ``fromBlock`` that the node said would work.
    ``source``: a short label of the answer's family (``"alchemy"``, ``"reth"``...), for logs.
    """

    source: str
    max_blocks: int | None = None
    suggested_to_block: int | None = None


def block_count(from_block: int, to_block: int) -> int:
    """Number of blocks in the inclusive range ``[from_block, to_block]``."""
    return to_block - from_block + 1


def _int(text: str) -> int:
    """Parse ``"10,000"``, ``"10.000"``, ``"0x2710"`` or ``"2k"`` as an int."""
    text = text.strip().lower()
    if text.startswith("0x"):
        return int(text, 16)
    multiplier = 1
    if text.endswith("k"):
        multiplier, text = 1000, text[:-1]
    return int(re.sub(r"[,._]", "", text)) * multiplier


_Extract = Callable[[re.Match[str], int, int], RangeAdvice]


def _suggested(source: str) -> _Extract:
    """The answer names a range ``[start, end]`` that should work."""

    def extract(m: re.Match[str], from_block: int, to_block: int) -> RangeAdvice:
        start, end = _int(m.group(1)), _int(m.group(2))
        if end < start:
            return RangeAdvice(source)
        # Some nodes (reth behind a load balancer) echo the very range that failed: a
        # suggestion as wide as the request is no advice at all, so the caller halves.
        if end - start >= to_block - from_block:
            return RangeAdvice(source)
        suggested_to = end if start == from_block else None
        return RangeAdvice(source, block_count(start, end), suggested_to)

    return extract


def _limit(source: str, group: int = 1) -> _Extract:
    """The answer names a maximum range. Some providers count ``to - from`` rather than
    blocks; reading the number as a block count keeps us one block on the safe side."""

    def extract(m: re.Match[str], from_block: int, to_block: int) -> RangeAdvice:
        return RangeAdvice(source, max(_int(m.group(group)), 1))

    return extract


def _halve(source: str) -> _Extract:
    """The answer only says "too much": no size to go by."""

    def extract(m: re.Match[str], from_block: int, to_block: int) -> RangeAdvice:
        return RangeAdvice(source)

    return extract


_NUM = r"([0-9][0-9,._]*k?)"
_HEX = r"(0x[0-9a-f]+)"

# First match wins: ranges a node suggests beat limits it states, which beat bare refusals.
_RULES: tuple[tuple[str, _Extract], ...] = (
    (rf"this block range should work: \[{_HEX},\s*{_HEX}\]", _suggested("alchemy")),
    (rf"try with this block range \[{_HEX},\s*{_HEX}\]", _suggested("infura")),
    (r"retry with the range (\d+)-(\d+)", _suggested("reth")),
    (rf"limited to a {_NUM}(?: blocks?)? range", _limit("quicknode")),
    (rf"limited to \d+ - {_NUM} blocks? range", _limit("1rpc")),
    (rf"limited to {_NUM} blocks?", _limit("blockpi")),
    (rf"too many blocks from \d+ to \d+, maximum is set to {_NUM}", _limit("avalanche")),
    (rf"max range: {_NUM}", _limit("cloudflare")),
    (rf"exceed maximum block range: {_NUM}", _limit("geth")),
    (rf"query exceeds max block range {_NUM}", _limit("reth")),
    (rf"block range exceeds server limit, narrow your filter: {_NUM}", _limit("erigon")),
    (rf"range {_NUM} exceeds limit of {_NUM}", _limit("infura", group=2)),
    (rf"range {_NUM} is bigger than range limit {_NUM}", _limit("thirdweb", group=2)),
    (rf"block range is too wide \(maximum {_NUM}\)", _limit("frontier")),
    (rf"up to a {_NUM} block range", _limit("alchemy")),
    (rf"limit the query to at most {_NUM} blocks", _limit("coinbase")),
    (rf"maximum block range: {_NUM}", _limit("publicnode")),
    (r"block range is too wide", _halve("ankr")),
    (r"log response size exceeded", _halve("alchemy")),
    (r"query returned more than \d+ results", _halve("geth")),
    (r"query exceeds max results", _halve("reth")),
    (r"query returns too many logs", _halve("erigon")),
    (r"logs matched by query exceeds limit", _halve("arbitrum")),
    (r"response size should not greater than", _halve("1rpc")),
    (r"backend response too large", _halve("optimism")),
    (r"block range (?:is )?too large", _halve("generic")),
    (r"block range limit exceeded", _halve("chainstack")),
    (r"requested range exceeds maximum rpc range limit", _halve("besu")),
    (r"requested range too large", _halve("generic")),
    (r"too many (?:results|logs)", _halve("generic")),
)
_COMPILED = tuple((re.compile(pattern), extract) for pattern, extract in _RULES)


def _text_of(message: str, data: object) -> str:
    """One lowercase haystack from the error's message and its ``data`` (any JSON shape)."""
    if data is None:
        extra = ""
    elif isinstance(data, str):
        extra = data
    else:
        try:
            extra = orjson.dumps(data).decode()
        except TypeError:
            extra = repr(data)
    return f"{message} {extra}".lower()


def classify_logs_error(
    code: int | None, message: str, data: object, from_block: int, to_block: int
) -> RangeAdvice | None:
    """Recognise an ``eth_getLogs`` refusal that means "range or result too large".

    ``code``/``message``/``data`` are the JSON-RPC error's fields (``code`` may be ``None`` for
    answers that arrived as plain HTTP bodies); ``from_block``/``to_block`` the refused range.
    Returns ``None`` when the error is something else (rate limit, bad params, a node that is
    behind): those must not be answered by splitting. Caveat: matching is on text, because
    providers reuse codes (Infura's -32005 is both "too many results" and a rate limit).
    """
    del code  # Codes are shared between unrelated errors; the text decides.
    text = _text_of(message, data)
    for pattern, extract in _COMPILED:
        match = pattern.search(text)
        if match is not None:
            return extract(match, from_block, to_block)
    return None


def split_range(
    from_block: int, to_block: int, advice: RangeAdvice | None
) -> list[tuple[int, int]]:
    """Split ``[from_block, to_block]`` into consecutive, non-overlapping, non-empty parts.

    With a usable ``advice.max_blocks`` (smaller than the range) the parts are that size (the
    last may be shorter); otherwise the range is halved. A single block cannot be split and is
    returned unchanged: the caller must treat a refused one-block range as a hard error.

    Raises ``ValueError`` if ``to_block < from_block`` or ``from_block < 0``.
    """
    if from_block < 0 or to_block < from_block:
        raise ValueError(f"invalid block range [{from_block}, {to_block}]")
    total = block_count(from_block, to_block)
    size = advice.max_blocks if advice is not None else None
    if size is None or size >= total:
        size = (total + 1) // 2
    size = max(size, 1)
    return [
        (start, min(start + size - 1, to_block)) for start in range(from_block, to_block + 1, size)
    ]


def next_range_size(
    current: int,
    result_count: int,
    *,
    target_results: int,
    min_size: int = 1,
    max_size: int,
) -> int:
    """Next ``eth_getLogs`` range size in blocks, aiming at ``target_results`` logs per call.

    Log density drifts, so growth is capped at doubling per step; shrinking is proportional
    (a dense stretch should not cost several refused calls). The answer lies in
    ``[min_size, max_size]``; it is ``>= current`` when fewer logs than the target came back
    and ``<= current`` when more did (both before clamping).

    Raises ``ValueError`` on a non-positive size or target, or ``min_size > max_size``.
    """
    if current < 1 or target_results < 1 or min_size < 1 or min_size > max_size:
        raise ValueError("sizes and target must be positive and min_size <= max_size")
    if result_count < 0:
        raise ValueError("result_count must be >= 0")
    if result_count == 0:
        proposed = current * 2
    else:
        proposed = min(current * target_results // result_count, current * 2)
        if result_count < target_results:
            proposed = max(proposed, current)
    return max(min_size, min(proposed, max_size))
