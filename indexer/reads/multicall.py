"""Multicall3 ``aggregate3`` calldata and return data, as pure functions (no RPC here).

``aggregate3((address target, bool allowFailure, bytes callData)[]) → (bool success,
bytes returnData)[]``, selector 0x82ad56cb, at 0xcA11bde05977b3631167028862bE2a173976CA11 on
every chain perpwatch watches. Encoding is hand-rolled (one ``b"".join``); decoding uses the
compiled reader of :mod:`indexer.decode.codec` built from the official ABI.

Usage::

    data = encode_aggregate3([Call3(reader, call_data), Call3(data_store, other)])
    # eth_call {"to": MULTICALL3_ADDRESS, "data": "0x" + data.hex()} → ret
    for ok, payload in decode_aggregate3(ret): ...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from indexer.decode.abi import abi_entry, function_signature, selector
from indexer.decode.codec import compile_codec
from indexer.decode.words import address_word, bool_word, uint_word

MULTICALL3_ADDRESS = "0xcA11bde05977b3631167028862bE2a173976CA11"

_ENTRY = abi_entry("multicall3/Multicall3.json", "aggregate3")
AGGREGATE3_SELECTOR = selector(function_signature(_ENTRY))
_RESULTS = compile_codec("tuple", _ENTRY["outputs"])

# Each Call3 is a dynamic tuple: target, allowFailure, offset of callData (3 words), then bytes.
_CALL_DATA_OFFSET = uint_word(3 * 32)


@dataclass(frozen=True, slots=True)
class Call3:
    """One sub-call: ``target`` address (``"0x…"``), ABI-encoded ``call_data`` (with selector).

    ``allow_failure=False`` makes the whole aggregate3 revert when this call fails.
    """

    target: str
    call_data: bytes
    allow_failure: bool = True


def _encode_call(call: Call3) -> bytes:
    data = call.call_data
    return b"".join(
        (
            address_word(call.target),
            bool_word(call.allow_failure),
            _CALL_DATA_OFFSET,
            uint_word(len(data)),
            data,
            bytes(-len(data) % 32),
        )
    )


def encode_aggregate3(calls: Sequence[Call3]) -> bytes:
    """Calldata (selector included) of ``aggregate3(calls)``.

    Raises:
        ValueError: a target is not a 20-byte hex address.
    """
    bodies = [_encode_call(call) for call in calls]
    heads = []
    offset = 32 * len(bodies)  # element offsets count from the first element head
    for body in bodies:
        heads.append(uint_word(offset))
        offset += len(body)
    return b"".join((AGGREGATE3_SELECTOR, uint_word(32), uint_word(len(bodies)), *heads, *bodies))


def decode_aggregate3(ret: bytes) -> list[tuple[bool, bytes]]:
    """``(success, returnData)`` per sub-call, in call order, from aggregate3's return data.

    A failed sub-call's ``returnData`` is its revert data (possibly empty).

    Raises:
        DecodeError: ``ret`` is not a well-formed ``(bool,bytes)[]`` encoding.
    """
    (results,) = _RESULTS.read(ret, 0)
    return list(results)
