"""Decoding straight to JSON-safe arguments, with a template fast path for GMX ``EventLogData``.

    decoder = JsonLogDecoder(LogDecoder(events))
    name, args = decoder.decode_json(raw_log)      # ints as decimal strings, hex lower-case

Why a template: every GMX ``PositionIncrease`` of one release has the same ``EventLogData``
layout (offsets, key strings, lengths); only the value words differ. The first log of a layout
is decoded in full by :class:`~indexer.decode.logs.LogDecoder`, and the positions of its value words
are recorded. A later log with the same (topic0, eventName hash, data length) is checked
against every structural character of the template; if all match, its values are read straight
from the hex string at the recorded positions, otherwise it is decoded in full. The answer is
always exactly the full decoder's (a property test holds them equal), only cheaper.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from indexer.decode.abi import AbiEntry, abi_entry, event_signature, topic0
from indexer.decode.logs import LogDecoder
from indexer.store.columns import json_safe

_GROUP_KINDS = ("address", "uint", "int", "bool", "bytes32", "bytes", "string")
_STATIC_KINDS = frozenset(_GROUP_KINDS[:5])
_ZERO24 = "0" * 24
_FALSE = "0" * 64
_TRUE = "0" * 63 + "1"
_INT_SIGN = 1 << 255
_INT_WRAP = 1 << 256

GMX_EVENT_LOG_TOPICS = frozenset(
    "0x" + topic0(event_signature(abi_entry("gmx_v2/EventEmitter.json", name, "event"))).hex()
    for name in ("EventLog", "EventLog1", "EventLog2")
)
"""topic0 of GMX's EventLog, EventLog1 and EventLog2: the events with ``EventLogData``."""

# topics[i] of an EventLog* log, by the argument name the full decoder gives it.
_TOPIC_ARGS = ("eventNameHash", "topic1", "topic2")


@dataclass(frozen=True, slots=True)
class _Template:
    """Where one layout keeps its value words (hex-char offsets into the ``0x…`` string)."""

    name: str
    length: int
    fixed: tuple[tuple[int, int, str], ...]  # (start, end, text) that must match exactly
    sender: int
    event_name: str
    by_kind: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]


class JsonLogDecoder:
    """``decode_json(log) -> (event name, JSON-safe args) | None`` on top of a LogDecoder."""

    def __init__(
        self,
        inner: LogDecoder,
        template_topics: frozenset[str] = GMX_EVENT_LOG_TOPICS,
        flat_events: Sequence[AbiEntry] = (),
    ):
        """``flat_events``: events of ``inner`` whose parameters are all one-word types
        (address, uintN, intN, bool, bytes32): read straight from the hex, no buffers."""
        self.inner = inner
        self._template_topics = template_topics & set(inner.topics)
        self._templates: dict[tuple[str, str, int], _Template] = {}
        self._flat = {plan.topic0: plan for e in flat_events if (plan := _flat_plan(e))}

    @property
    def topics(self) -> list[str]:
        return self.inner.topics

    def decode_json(self, log: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """Decode one ``eth_getLogs`` entry; None for an unknown topic0.

        Raises ``DecodeError`` exactly when the full decoder does.
        """
        topics = log["topics"]
        if topics and topics[0] in self._template_topics and len(topics) > 1:
            data: str = log["data"]
            key = (topics[0], topics[1], len(data))
            template = self._templates.get(key)
            if template is not None:
                fast = _read(template, data, topics)
                if fast is not None:
                    return template.name, fast
            decoded = self.inner.decode(log)
            assert decoded is not None  # its topic0 is one of ours
            args = json_safe(decoded.args)
            learned = _learn(decoded.name, data, topics, args)
            if learned is not None:
                self._templates[key] = learned
            return decoded.name, args
        flat = self._flat.get(topics[0]) if topics else None
        if flat is not None:
            fast_flat = flat.read(topics, log["data"])
            if fast_flat is not None:
                return flat.name, fast_flat
        decoded = self.inner.decode(log)
        return None if decoded is None else (decoded.name, json_safe(decoded.args))


def _read(t: _Template, d: str, topics: list[str]) -> dict[str, Any] | None:
    """Values of ``d`` at ``t``'s positions, or None when ``d`` does not have ``t``'s layout."""
    if len(d) != t.length:
        return None
    # startswith(text, start) compares in place: no slice is built for the check.
    startswith = d.startswith
    for start, _end, text in t.fixed:
        if not startswith(text, start):
            return None
    s = t.sender
    if not startswith(_ZERO24, s):
        return None
    sender = "0x" + d[s + 24 : s + 64].lower()
    out: dict[str, Any] = {"msgSender": sender, "eventName": t.event_name}
    for name, topic in zip(_TOPIC_ARGS, topics[1:], strict=False):
        out[name] = topic.lower()
    for kind, slots in t.by_kind:
        if kind == "uint":
            for key, c in slots:
                out[key] = str(int(d[c : c + 64], 16))
        elif kind == "address":
            for key, c in slots:
                if not startswith(_ZERO24, c):
                    return None
                out[key] = "0x" + d[c + 24 : c + 64].lower()
        elif kind == "int":
            for key, c in slots:
                value = int(d[c : c + 64], 16)
                out[key] = str(value - _INT_WRAP if value & _INT_SIGN else value)
        elif kind == "bool":
            for key, c in slots:
                word = d[c : c + 64]
                if word not in (_FALSE, _TRUE):
                    return None
                out[key] = word == _TRUE
        else:  # bytes32
            for key, c in slots:
                out[key] = "0x" + d[c : c + 64].lower()
    return out


def _learn(name: str, d: str, topics: list[str], args: dict[str, Any]) -> _Template | None:
    """A template from a log the full decoder accepted, or None if its layout is not simple
    (dynamic values, array items, upper-case hex) or the fast read would not reproduce it."""
    if d != d.lower():
        return None
    try:
        buf = bytes.fromhex(d[2:])
        slots = _value_slots(buf)
    except (ValueError, IndexError, UnicodeDecodeError):
        return None
    if slots is None:
        return None
    by_kind: dict[str, list[tuple[str, int]]] = {}
    for key, kind, byte_pos in slots:
        by_kind.setdefault(kind, []).append((key, 2 + 2 * byte_pos))
    holes = sorted([2] + [c for group in by_kind.values() for _, c in group])
    fixed, cursor = [], 2
    for start in holes:
        if start > cursor:
            fixed.append((cursor, start, d[cursor:start]))
        cursor = start + 64
    fixed.append((cursor, len(d), d[cursor:]))
    template = _Template(
        name=name,
        length=len(d),
        fixed=tuple(fixed),
        sender=2,
        event_name=str(args["eventName"]),
        by_kind=tuple((kind, tuple(group)) for kind, group in by_kind.items()),
    )
    return template if _read(template, d, topics) == args else None


def _value_slots(buf: bytes) -> list[tuple[str, str, int]] | None:
    """(key, kind, byte offset of the value word) of every item of an ``EventLog*`` data
    buffer, or None if any group has array items or a dynamic-valued item."""

    def word(at: int) -> int:
        return int.from_bytes(buf[at : at + 32], "big")

    base = word(64)  # head: msgSender, offset(eventName), offset(eventData)
    slots = []
    for group, kind in enumerate(_GROUP_KINDS):
        start = base + word(base + 32 * group)
        items, arrays = start + word(start), start + word(start + 32)
        count = word(items)
        if word(arrays) != 0 or (count and kind not in _STATIC_KINDS):
            return None
        body = items + 32
        for i in range(count):
            item = body + word(body + 32 * i)
            key_at = item + word(item)
            key = buf[key_at + 32 : key_at + 32 + word(key_at)].decode()
            slots.append((key, kind, item + 32))
    return slots


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
        signed = value - _INT_WRAP if value & _INT_SIGN else value
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
