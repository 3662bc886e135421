"""Fast decoding of raw ``eth_getLogs`` entries, prepared once per topic0 (the ingest hot path).

Each event's ABI is compiled once into a tree of small readers; decoding a log is then slicing
one ``bytes.fromhex`` buffer and ``int.from_bytes`` on 32-byte words, with bounds checked at
every offset and length so that malformed data raises :class:`DecodeError` instead of producing
values. A protocol may flatten a struct parameter into top-level args (``flatteners``; GMX v2's
``EventLogData`` by key name, ``indexer.protocols.gmx_v2.events``).

Values follow :mod:`indexer.decode.codec` (ints exact, addresses and ``bytesN`` lower-case
``"0x…"``, arrays as tuples); an indexed dynamic value is its topic, the hash, as ``"0x…"``.

Usage::

    decoder = LogDecoder(load_abi("chainlink/AggregatorInterface.json"))
    decoded = decoder.decode(raw_log)   # None when topics[0] is not one of these events
    decoded.args["current"]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from indexer.decode.abi import AbiEntry, canonical_type, event_signature, topic0
from indexer.decode.codec import Codec, WordDecoder, compile_codec, compile_word_decoder, hex_bytes
from indexer.errors import DecodeError

__all__ = ["DecodedLog", "Flatten", "LogDecoder"]

Flatten = Callable[[Any, dict[str, Any]], None]
"""Merges one decoded parameter's value into the args (raising ``DecodeError`` on a clash)."""


@dataclass(frozen=True, slots=True)
class DecodedLog:
    """One decoded log: the ABI event ``name`` and its ``args``."""

    name: str
    args: dict[str, Any]


class _EventPlan:
    """Everything needed to decode one event, computed once from its ABI entry."""

    __slots__ = ("_data", "_data_names", "_flatten", "_indexed", "name")

    def __init__(self, entry: AbiEntry, flatteners: Mapping[str, Flatten]) -> None:
        self.name: str = entry["name"]
        inputs = entry.get("inputs", [])
        names = [p.get("name") or f"arg{i}" for i, p in enumerate(inputs)]
        self._indexed: list[tuple[str, WordDecoder | None]] = [
            (n, _topic_decoder(p)) for n, p in zip(names, inputs, strict=True) if p.get("indexed")
        ]
        data_params = [p for p in inputs if not p.get("indexed")]
        self._data_names = [n for n, p in zip(names, inputs, strict=True) if not p.get("indexed")]
        self._data: Codec = compile_codec("tuple", data_params)
        # Only the last non-indexed parameter is flattened (GMX's EventLogData is last).
        last = canonical_type(data_params[-1]) if data_params else ""
        self._flatten: Flatten | None = flatteners.get(last)

    def decode(self, topics: Sequence[str | bytes], data: bytes) -> DecodedLog:
        if len(topics) != 1 + len(self._indexed):
            raise DecodeError(
                f"{self.name}: {len(topics)} topics, ABI has {len(self._indexed)} indexed"
            )
        args: dict[str, Any] = {}
        for (name, word_decoder), topic in zip(self._indexed, topics[1:], strict=True):
            word = _to_bytes(topic)
            if len(word) != 32:
                raise DecodeError(f"{self.name}: topic {name} is {len(word)} bytes, not 32")
            args[name] = hex_bytes(word) if word_decoder is None else word_decoder(word)
        values = self._data.read(data, 0)
        if self._flatten is not None:
            args.update(zip(self._data_names[:-1], values[:-1], strict=True))
            self._flatten(values[-1], args)
        else:
            args.update(zip(self._data_names, values, strict=True))
        return DecodedLog(self.name, args)


def _topic_decoder(param: AbiEntry) -> WordDecoder | None:
    """Decoder of an indexed parameter's topic; None when the topic is a hash (dynamic types)."""
    kind = param["type"]
    if kind in ("string", "bytes") or kind.startswith("tuple") or kind.endswith("]"):
        return None
    return compile_word_decoder(kind)


def _to_bytes(value: str | bytes) -> bytes:
    if isinstance(value, bytes):
        return value
    try:
        return bytes.fromhex(value[2:] if value[:2] in ("0x", "0X") else value)
    except ValueError as exc:
        raise DecodeError(f"not hex: {value[:20]!r}…") from exc


class LogDecoder:
    """Decode raw logs of a fixed set of events, dispatching on topics[0].

    Raises (constructor):
        ValueError: an entry is not a non-anonymous event, uses an unknown type, or two
            different entries share a topic0.
    """

    def __init__(
        self, events: Sequence[AbiEntry], flatteners: Mapping[str, Flatten] | None = None
    ) -> None:
        """``flatteners``: canonical ABI type -> how a last data parameter of that type is
        merged into the args (a protocol's hook, e.g. GMX v2's ``EventLogData`` by key)."""
        flatteners = flatteners or {}
        self._plans: dict[str, _EventPlan] = {}
        signatures: dict[str, AbiEntry] = {}
        for entry in events:
            if entry.get("type") != "event" or entry.get("anonymous"):
                raise ValueError(f"not a non-anonymous event: {entry.get('name')!r}")
            key = "0x" + topic0(event_signature(entry)).hex()
            previous = signatures.get(key)
            if previous is not None:
                if _indexed_layout(previous) != _indexed_layout(entry):
                    raise ValueError(f"{entry['name']}: two layouts share topic0 {key}")
                continue
            signatures[key] = entry
            self._plans[key] = _EventPlan(entry, flatteners)

    @property
    def topics(self) -> list[str]:
        """The topic0s (``"0x…"`` lower-case) this decoder knows, for log filters."""
        return list(self._plans)

    def decode(self, log: Mapping[str, Any]) -> DecodedLog | None:
        """Decode one ``eth_getLogs`` entry (``topics``/``data`` as hex strings or bytes).

        Returns None for a log whose topics[0] is unknown (or that has no topics).

        Raises:
            DecodeError: the topics or data do not match the event's ABI.
        """
        topics = log["topics"]
        if not topics:
            return None
        first = topics[0]
        key = first.lower() if isinstance(first, str) else "0x" + first.hex()
        plan = self._plans.get(key)
        if plan is None:
            return None
        return plan.decode(topics, _to_bytes(log["data"]))


def _indexed_layout(entry: AbiEntry) -> list[tuple[str, bool]]:
    return [(canonical_type(p), bool(p.get("indexed"))) for p in entry.get("inputs", [])]
