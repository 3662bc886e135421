"""A compiled ABI decoder: each type becomes a small reader over one ``bytes`` buffer.

Compiling happens once per type; reading is slicing and ``int.from_bytes`` on 32-byte words.
Every offset, length and padding is checked, so malformed data raises :class:`DecodeError`
instead of producing values (eth_abi semantics, a fraction of its cost).

Value conventions: ``uintN``/``intN`` → ``int`` (exact); ``address`` → lower-case ``"0x…"``;
``bool`` → ``bool``; ``bytesN`` → lower-case ``"0x…"``; ``bytes`` → ``bytes``; ``string`` →
``str``; arrays and tuples → ``tuple``. ``fixedMxN``/``ufixedMxN`` (absent from perpwatch's ABIs)
go through eth_abi and give ``Decimal``.

Usage::

    codec = compile_codec("tuple", entry["outputs"])    # a function's return data
    (position,) = codec.read(return_data, 0)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode as eth_abi_decode
from eth_abi.abi import is_encodable_type
from eth_abi.exceptions import DecodingError
from eth_abi.grammar import parse as parse_abi_type

from indexer.decode.words import FALSE_WORD, TRUE_WORD
from indexer.errors import DecodeError

WordDecoder = Callable[[bytes], Any]
AbiParam = dict[str, Any]

# --- 32-byte words: every decoder checks its padding, so garbage raises instead of decoding ---

_ZERO12 = bytes(12)
_ELEMENTARY = re.compile(r"(u?int)(\d*)|bytes(\d+)")


def hex_bytes(raw: bytes) -> str:
    """``"0x"`` + lower-case hex."""
    return "0x" + raw.hex()


def _address(word: bytes) -> str:
    if word[:12] != _ZERO12:
        raise DecodeError("address word has non-zero high bytes")
    return "0x" + word[12:].hex()


def _bool(word: bytes) -> bool:
    if word == TRUE_WORD:
        return True
    if word == FALSE_WORD:
        return False
    raise DecodeError("bool word is neither 0 nor 1")


def _uint(bits: int) -> WordDecoder:
    if bits == 256:
        return lambda word: int.from_bytes(word, "big")
    limit = 1 << bits

    def decode(word: bytes) -> int:
        value = int.from_bytes(word, "big")
        if value >= limit:
            raise DecodeError(f"uint{bits} out of range")
        return value

    return decode


def _int(bits: int) -> WordDecoder:
    low, high = -(1 << (bits - 1)), 1 << (bits - 1)

    def decode(word: bytes) -> int:
        value = int.from_bytes(word, "big", signed=True)
        if not low <= value < high:
            raise DecodeError(f"int{bits} out of range")
        return value

    return decode


def _fixed_bytes(size: int) -> WordDecoder:
    padding = bytes(32 - size)

    def decode(word: bytes) -> str:
        if word[size:] != padding:
            raise DecodeError(f"bytes{size} word has non-zero padding")
        return "0x" + word[:size].hex()

    return decode


def _via_eth_abi(kind: str) -> WordDecoder:
    """One-word static types perpwatch never meets (``fixed128x18``, ``function``)."""
    if not is_encodable_type(kind) or parse_abi_type(kind).is_dynamic:
        raise ValueError(f"unsupported ABI type {kind!r}")

    def decode(word: bytes) -> Any:
        try:
            return eth_abi_decode([kind], word)[0]
        except DecodingError as exc:
            raise DecodeError(f"{kind}: {exc}") from exc

    return decode


def compile_word_decoder(kind: str) -> WordDecoder:
    """Decoder of one static elementary type from its 32-byte word.

    Raises:
        ValueError: ``kind`` is not a valid static elementary ABI type.
    """
    if kind == "address":
        return _address
    if kind == "bool":
        return _bool
    match = _ELEMENTARY.fullmatch(kind)
    if match is None:
        return _via_eth_abi(kind)
    if match.group(3):
        size = int(match.group(3))
        if not 1 <= size <= 32:
            raise ValueError(f"unsupported ABI type {kind!r}")
        return _fixed_bytes(size)
    bits = int(match.group(2) or 256)
    if bits % 8 or not 8 <= bits <= 256:
        raise ValueError(f"unsupported ABI type {kind!r}")
    return _uint(bits) if match.group(1) == "uint" else _int(bits)


# --- Codecs: one per ABI type, compiled once, reading a buffer at a position ---


@dataclass(frozen=True, slots=True)
class Codec:
    """Reads one ABI value from ``buf`` at ``pos`` (where the value's own encoding starts).

    ``size`` is the inline head size of a static type, 0 for a dynamic one (whose head is then
    a 32-byte offset). ``word`` is set for one-word elementary types (the fast path).
    """

    read: Callable[[bytes, int], Any]
    size: int
    word: WordDecoder | None = None


_ZERO_PADDING = [bytes(n) for n in range(32)]


def _read_bytes(buf: bytes, pos: int) -> bytes:
    """Length-prefixed bytes, whose zero padding to 32 bytes must be present (as eth_abi asks)."""
    start = pos + 32
    length = int.from_bytes(buf[pos:start], "big")
    end = start + length
    padding = -length % 32
    if start > len(buf) or end + padding > len(buf):
        raise DecodeError(f"bytes at byte {pos} run past the data end ({len(buf)})")
    if buf[end : end + padding] != _ZERO_PADDING[padding]:
        raise DecodeError(f"bytes at byte {pos} have non-zero padding")
    return buf[start:end]


def _read_string(buf: bytes, pos: int) -> str:
    try:
        return _read_bytes(buf, pos).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"string at byte {pos} is not UTF-8") from exc


def _bad_pointer(at: int) -> DecodeError:
    # A target inside the heads is refused, as eth_abi does: no encoder produces one, and
    # reading heads as a value would decode garbage.
    return DecodeError(f"offset at byte {at} points back into the heads")


def _tuple_codec(codecs: Sequence[Codec]) -> Codec:
    """Tuples, and ``T[k]`` (encoded exactly like a tuple of k T's)."""
    steps = []
    head_len = 0
    for codec in codecs:
        steps.append((head_len, codec.word, codec.read, codec.size == 0))
        head_len += codec.size or 32

    def read(buf: bytes, pos: int) -> tuple[Any, ...]:
        heads_end = pos + head_len
        if heads_end > len(buf):
            raise DecodeError(f"tuple head at byte {pos} runs past the data end ({len(buf)})")
        out: list[Any] = []
        append = out.append
        for rel, word, reader, dynamic in steps:
            at = pos + rel
            if word is not None:
                append(word(buf[at : at + 32]))
            elif dynamic:  # the head holds an offset relative to the tuple's start
                target = pos + int.from_bytes(buf[at : at + 32], "big")
                if target < heads_end:
                    raise _bad_pointer(at)
                append(reader(buf, target))
            else:
                append(reader(buf, at))
        return tuple(out)

    static = bool(codecs) and all(c.size for c in codecs)
    return Codec(read, head_len if static else 0)


def _list_codec(elem: Codec) -> Codec:
    """``T[]``: a length word, then the elements encoded as a tuple of that length."""
    word, reader, step = elem.word, elem.read, elem.size or 32

    def read(buf: bytes, pos: int) -> tuple[Any, ...]:
        start = pos + 32
        count = int.from_bytes(buf[pos:start], "big")
        stop = start + count * step
        if start > len(buf) or stop > len(buf):
            raise DecodeError(f"array at byte {pos} runs past the data end ({len(buf)})")
        if word is not None:
            return tuple([word(buf[q : q + 32]) for q in range(start, stop, step)])
        if elem.size:
            return tuple([reader(buf, q) for q in range(start, stop, step)])
        out: list[Any] = []
        for q in range(start, stop, 32):
            # Element offsets are relative to the first element head (just after the length).
            target = start + int.from_bytes(buf[q : q + 32], "big")
            if target < stop:
                raise _bad_pointer(q)
            out.append(reader(buf, target))
        return tuple(out)

    return Codec(read, 0)


def compile_codec(kind: str, components: Sequence[AbiParam] = ()) -> Codec:
    """Compile an ABI type (``"uint256[]"``, ``"tuple"`` with ``components``…) into a Codec.

    The top-level data of a log or a call result is ``compile_codec("tuple", params)`` read at 0.

    Raises:
        ValueError: an unsupported or malformed type.
    """
    if kind.endswith("]"):
        cut = kind.rindex("[")
        elem = compile_codec(kind[:cut], components)
        length = kind[cut + 1 : -1]
        return _tuple_codec([elem] * int(length)) if length else _list_codec(elem)
    if kind == "tuple":
        return _tuple_codec([compile_codec(c["type"], c.get("components", ())) for c in components])
    if kind == "bytes":
        return Codec(_read_bytes, 0)
    if kind == "string":
        return Codec(_read_string, 0)
    decode = compile_word_decoder(kind)

    def read(buf: bytes, pos: int) -> Any:
        if pos + 32 > len(buf):
            raise DecodeError(f"{kind} at byte {pos} is past the data end ({len(buf)})")
        return decode(buf[pos : pos + 32])

    return Codec(read, 32, decode)
