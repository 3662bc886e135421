"""GMX v2 ``EventLog``/``EventLog1``/``EventLog2``: ``EventLogData`` flattened by key name, and
a template fast path for decoding it straight to JSON-safe arguments.

Flattening: the ``EventLogData`` items become top-level args **by key name**, next to
``msgSender``, ``eventName``, ``eventNameHash`` (topics[1]) and ``topic1``/``topic2``
(topics[2]/[3]); :class:`~indexer.decode.logs.LogDecoder` applies it to every parameter of
type :data:`EVENT_LOG_DATA_TYPE`.

Why a template: every GMX ``PositionIncrease`` of one release has the same ``EventLogData``
layout (offsets, key strings, lengths); only the value words differ. The first log of a layout
is decoded in full by :class:`~indexer.decode.logs.LogDecoder`, and the positions of its value
words are recorded. A later log with the same (topic0, eventName hash, data length) is checked
against every structural character of the template; if all match, its values are read straight
from the hex string at the recorded positions, otherwise it is decoded in full. The answer is
always exactly the full decoder's (a property test holds them equal), only cheaper.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from indexer.decode.abi import abi_entry, event_signature, topic0
from indexer.decode.json_args import INT_SIGN, INT_WRAP, JsonArgs
from indexer.decode.logs import LogDecoder
from indexer.errors import DecodeError
from indexer.store.columns import json_safe

# The canonical type of GMX's EventUtils.EventLogData: 7 groups of ((key, T)[], (key, T[])[]).
EVENT_LOG_DATA_TYPE = (
    "("
    + ",".join(
        f"((string,{t})[],(string,{t}[])[])"
        for t in ("address", "uint256", "int256", "bool", "bytes32", "bytes", "string")
    )
    + ")"
)

_GROUP_KINDS = ("address", "uint", "int", "bool", "bytes32", "bytes", "string")
_STATIC_KINDS = frozenset(_GROUP_KINDS[:5])
_ZERO24 = "0" * 24
_FALSE = "0" * 64
_TRUE = "0" * 63 + "1"

EVENT_LOG_TOPICS = frozenset(
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


def flatten_event_log_data(data: tuple[Any, ...], into: dict[str, Any]) -> None:
    """Merge GMX ``EventLogData`` items into ``into`` by key.

    Raises:
        DecodeError: a key occurs twice (in any group, or clashes with a header field); keeping
            either value would silently drop the other.
    """
    for items, array_items in data:
        for key, value in items:
            if key in into:
                raise DecodeError(f"EventLogData key {key!r} occurs twice")
            into[key] = value
        for key, values in array_items:
            if key in into:
                raise DecodeError(f"EventLogData key {key!r} occurs twice")
            into[key] = values


class EventLogTemplates:
    """The :class:`~indexer.decode.json_args.FastPath` of GMX's ``EventLog*`` topics."""

    topics = EVENT_LOG_TOPICS

    def __init__(self, inner: LogDecoder) -> None:
        self.inner = inner
        self._templates: dict[tuple[str, str, int], _Template] = {}

    def decode_json(self, log: Mapping[str, Any]) -> JsonArgs:
        topics = log["topics"]
        data: str = log["data"]
        key = (topics[0], topics[1] if len(topics) > 1 else "", len(data))
        template = self._templates.get(key)
        if template is not None:
            fast = _read(template, data, topics)
            if fast is not None:
                return template.name, fast
        decoded = self.inner.decode(log)
        assert decoded is not None  # its topic0 is one of the decoder's
        args = json_safe(decoded.args)
        if len(topics) > 1 and (learned := _learn(decoded.name, data, topics, args)) is not None:
            self._templates[key] = learned
        return decoded.name, args


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
                out[key] = str(value - INT_WRAP if value & INT_SIGN else value)
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
