"""Decoding straight to JSON-safe arguments: the form ``raw_events.args`` stores.

    decoder = JsonLogDecoder(LogDecoder(events), flat_events=events)
    name, args = decoder.decode_json(raw_log)      # ints as decimal strings, hex lower-case

Two cheaper paths give exactly the full decoder's answer (property tests hold them equal):
events whose parameters are all one-word types are read straight from the hex string, and a
protocol may register a :class:`FastPath` for topics it knows better (GMX v2's ``EventLogData``
templates, ``indexer.protocols.gmx_v2.events``). Anything a fast path does not recognise falls
back to :class:`~indexer.decode.logs.LogDecoder`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from indexer.decode.abi import AbiEntry, event_signature, topic0
from indexer.decode.logs import LogDecoder
from indexer.store.columns import json_safe

INT_SIGN = 1 << 255
INT_WRAP = 1 << 256

JsonArgs = tuple[str, dict[str, Any]]
"""An event name and its JSON-safe arguments."""


class FastPath(Protocol):
    """A protocol's own decoder for some topic0s, built on the shared full decoder."""

    @property
    def topics(self) -> frozenset[str]:
        """The topic0s (``"0x…"`` lower-case) this path decodes."""
        ...

    def decode_json(self, log: Mapping[str, Any]) -> JsonArgs:
        """Decode a log whose topic0 is one of ``topics``; raises ``DecodeError`` exactly
        when the full decoder does."""
        ...


class JsonLogDecoder:
    """``decode_json(log) -> (event name, JSON-safe args) | None`` on top of a LogDecoder."""

    def __init__(
        self,
        inner: LogDecoder,
        fast_paths: Sequence[FastPath] = (),
        flat_events: Sequence[AbiEntry] = (),
    ):
        """``flat_events``: events of ``inner`` whose parameters are all one-word types
        (address, uintN, intN, bool, bytes32): read straight from the hex, no buffers."""
        self.inner = inner
        known = set(inner.topics)
        self._fast = {t: path for path in fast_paths for t in path.topics if t in known}
        self._flat = {plan.topic0: plan for e in flat_events if (plan := _flat_plan(e))}

    @property
    def topics(self) -> list[str]:
        return self.inner.topics

    def decode_json(self, log: Mapping[str, Any]) -> JsonArgs | None:
        """Decode one ``eth_getLogs`` entry; None for an unknown topic0.

        Raises ``DecodeError`` exactly when the full decoder does.
        """
        topics = log["topics"]
        if not topics:
            return None
        fast = self._fast.get(topics[0])
        if fast is not None:
            return fast.decode_json(log)
        flat = self._flat.get(topics[0])
        if flat is not None:
            fast_flat = flat.read(topics, log["data"])
            if fast_flat is not None:
                return flat.name, fast_flat
        decoded = self.inner.decode(log)
        return None if decoded is None else (decoded.name, json_safe(decoded.args))


_WORD_KINDS = ("address", "bool", "bytes32")


@dataclass(frozen=True, slots=True)
class _FlatPlan:
    """An event of one-word parameters: (name, kind, source, hex offset) per parameter, where
    source is a topic index (1..3) or -1 for the data and kind is one of address, bool,
    bytes32, uint, int (with ``bits``). Anything out of range returns None (full decode)."""

    topic0: str
    name: str
    topics: int
    data_length: int
    params: tuple[tuple[str, str, int, int, int], ...]

    def read(self, topics: Sequence[str], data: str) -> dict[str, Any] | None:
        if len(topics) != self.topics or len(data) != self.data_length:
            return None
        out: dict[str, Any] = {}
        for name, kind, source, at, bits in self.params:
            word = data[at : at + 64] if source < 0 else topics[source][2:]
            value = _word(kind, word, bits)
            if value is None:
                return None
            out[name] = value
        return out


def _word(kind: str, word: str, bits: int) -> Any:
    """A JSON-safe value of a one-word type from 64 hex chars, or None if out of range."""
    if len(word) != 64:
        return None
    value = int(word, 16)
    if kind == "uint":
        return str(value) if value >> bits == 0 else None
    if kind == "int":
        signed = value - INT_WRAP if value & INT_SIGN else value
        limit = 1 << (bits - 1)
        return str(signed) if -limit <= signed < limit else None
    if kind == "address":
        return "0x" + word[24:].lower() if value >> 160 == 0 else None
    if kind == "bool":
        return bool(value) if value <= 1 else None
    return "0x" + word.lower()  # bytes32


def _flat_plan(entry: AbiEntry) -> _FlatPlan | None:
    params, topic_index, data_words = [], 1, 0
    for i, param in enumerate(entry.get("inputs", [])):
        kind, bits = _one_word_kind(param["type"])
        if kind is None:
            return None
        name = param.get("name") or f"arg{i}"
        if param.get("indexed"):
            params.append((name, kind, topic_index, 0, bits))
            topic_index += 1
        else:
            params.append((name, kind, -1, 2 + 64 * data_words, bits))
            data_words += 1
    topic = "0x" + topic0(event_signature(entry)).hex()
    return _FlatPlan(topic, entry["name"], topic_index, 2 + 64 * data_words, tuple(params))


def _one_word_kind(abi_type: str) -> tuple[str | None, int]:
    if abi_type in _WORD_KINDS:
        return abi_type, 256
    for prefix in ("uint", "int"):
        if abi_type.startswith(prefix) and abi_type[len(prefix) :].isdigit():
            return prefix, int(abi_type[len(prefix) :])
    return None, 0
