"""ABI words of static values, packed by hand, and keccak-256. Pure.

``abi.encode`` of static types (``address``, ``bool``, ``uintN``, ``bytes32``) is each value as
one 32-byte big-endian word, in order; so is the argument part of a call with only such
arguments. The hot paths build thousands of these per read (a GMX position key per position,
an owner argument per owner, the multicall envelope per sub-call): eth_abi's generic encoders
validate and dispatch per value and cost 60-75 µs per GMX position key where joining the words
costs about 11 µs.

    key = keccak256(address_word(account) + address_word(market) + bool_word(is_long))
    data = selector + encode_args(["address[]", "uint8"], [owners, 0])   # arrays of them too
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from eth_abi.abi import encode
from eth_hash.auto import keccak as _keccak

TRUE_WORD, FALSE_WORD = (1).to_bytes(32, "big"), bytes(32)


@functools.lru_cache(maxsize=65536)
def address_word(address: str) -> bytes:
    """``address`` (``"0x"`` and 40 hex digits, any case) left-padded to a word; cached, as a
    read repeats few targets and each owner's address several times.

    Raises:
        ValueError: not a 20-byte ``0x`` hex address.
    """
    try:  # 42 characters: bytes.fromhex would skip whitespace that eth_abi refuses
        ok = len(address) == 42 and address[:2] in ("0x", "0X")
        raw = bytes.fromhex(address[2:]) if ok else b""
    except ValueError:
        raw = b""
    if len(raw) != 20:
        raise ValueError(f"not an address: {address!r}")
    return bytes(12) + raw


def uint_word(value: int) -> bytes:
    """``value`` as a ``uint256`` word.

    Raises:
        OverflowError: negative or not below 2**256.
    """
    return value.to_bytes(32, "big")


def bool_word(flag: bool) -> bytes:
    """``flag`` as a ``bool`` word."""
    return TRUE_WORD if flag else FALSE_WORD


def bytes32_word(value: bytes) -> bytes:
    """``value`` as a ``bytes32`` word (it must be exactly 32 bytes: a shorter value would be
    right-padded by ``abi.encode``, which no key here relies on).

    Raises:
        ValueError: not 32 bytes long.
    """
    if len(value) != 32:
        raise ValueError(f"not 32 bytes: {len(value)}")
    return bytes(value)


def keccak256(data: bytes) -> bytes:
    """Keccak-256 of ``data`` (Ethereum's, not SHA3-256)."""
    return bytes(_keccak(data))


def _uint_packer(bits: int) -> Callable[[object], bytes]:
    def pack(value: object) -> bytes:
        if type(value) is not int or not 0 <= value < 1 << bits:
            raise ValueError(f"not a uint{bits}: {value!r}")
        return value.to_bytes(32, "big")

    return pack


def _int_packer(bits: int) -> Callable[[object], bytes]:
    def pack(value: object) -> bytes:
        if type(value) is not int or not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
            raise ValueError(f"not an int{bits}: {value!r}")
        return value.to_bytes(32, "big", signed=True)

    return pack


def _pack_address(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"not an address: {value!r}")
    return address_word(value)


def _pack_bool(value: object) -> bytes:
    if not isinstance(value, bool):
        raise ValueError(f"not a bool: {value!r}")
    return bool_word(value)


def _pack_bytes32(value: object) -> bytes:
    if not isinstance(value, bytes | bytearray):
        raise ValueError(f"not bytes32: {value!r}")
    return bytes32_word(bytes(value))


_PACKERS: dict[str, Callable[[object], bytes]] = {
    "address": _pack_address,
    "bool": _pack_bool,
    "bytes32": _pack_bytes32,
    **{f"uint{bits}": _uint_packer(bits) for bits in range(8, 257, 8)},
    **{f"int{bits}": _int_packer(bits) for bits in range(8, 257, 8)},
}


def encode_args(types: Sequence[str], values: Sequence[object]) -> bytes:
    """``abi.encode(types, values)``: packed here when every type is a static scalar
    (``address``, ``bool``, ``bytes32``, ``uintN``, ``intN``) or a one-dimensional array of one
    (``T[]``), as every call on a hot path is; by eth_abi otherwise.

    Stricter than eth_abi in places (an ``int`` subclass such as an ``IntEnum``, an address
    without ``0x`` or as bytes, a ``bytes32`` shorter than 32 bytes are refused, not coerced).

    Raises:
        ValueError: a value does not fit its type on the packed path.
        eth_abi.exceptions.EncodingError: the same on eth_abi's path.
    """
    if len(types) != len(values):
        raise ValueError(f"{len(values)} values for {len(types)} types")
    heads: list[bytes] = []
    tails: list[bytes] = []
    offset = 32 * len(types)  # a dynamic value's tail starts after every head
    for kind, value in zip(types, values, strict=True):
        if (pack := _PACKERS.get(kind)) is not None:
            heads.append(pack(value))
        elif kind.endswith("[]") and (pack := _PACKERS.get(kind[:-2])) is not None:
            if not isinstance(value, list | tuple):  # as eth_abi: no sets, no generators
                raise ValueError(f"not a {kind} list: {value!r}")
            items = value
            tail = b"".join([uint_word(len(items)), *map(pack, items)])
            heads.append(uint_word(offset))
            tails.append(tail)
            offset += len(tail)
        else:
            return bytes(encode(list(types), list(values)))
    return b"".join(heads + tails)
