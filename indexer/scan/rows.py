"""What a scan produces: log sources, event rows ready for a bulk insert, touched accounts.

Pure data and conversion; no I/O. Rows are plain dicts keyed by ``raw_events`` column names,
because a bulk Core insert of dicts is several times faster than building ORM objects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

EventRow = dict[str, Any]


@dataclass(frozen=True, slots=True)
class LogSource:
    """Logs to scan on one chain: emitting ``addresses`` and position-wise ``topics`` filters.

    ``topics[i]`` is None (any) or a tuple of accepted lower-case 0x topics (OR).
    ``name`` keys the cursor, e.g. ``"arbitrum:gmx_v2"``.
    """

    name: str
    chain_id: int
    addresses: tuple[str, ...]
    topics: tuple[tuple[str, ...] | None, ...]
    start_block: int


class TouchKind(StrEnum):
    """Why an account needs a fresh read: it changed, closed, or was liquidated."""

    TOUCHED = "touched"
    CLOSED = "closed"
    LIQUIDATED = "liquidated"


class Touch(NamedTuple):
    """An account an event touched; ``ref`` is the protocol's own id of the account.

    A named tuple, not a dataclass: a flat-event backfill makes one per log, and a frozen
    dataclass took four times as long to build (its ``__init__`` sets each field through
    ``object.__setattr__``)."""

    protocol: str
    ref: str
    owner: str
    block_number: int
    kind: TouchKind = TouchKind.TOUCHED


TouchFn = Callable[[Sequence[EventRow]], list[Touch]]


class Decoder(Protocol):
    """Decodes a raw log to (event name, JSON-safe args), or None for an unknown topic0."""

    def decode_json(self, log: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None: ...


def event_rows(
    source: LogSource, logs: Sequence[dict[str, Any]], decoder: Decoder
) -> list[EventRow]:
    """``raw_events`` rows for ``logs`` as returned by ``eth_getLogs`` (hex strings).

    Hashes and addresses are stored lower-case; undecodable-but-known logs raise the decoder's
    ``DecodeError``; logs of unknown topic0 are kept with ``event_name`` None.
    """
    rows: list[EventRow] = []
    append = rows.append
    chain_id, name = source.chain_id, source.name
    decode = decoder.decode_json
    for entry in logs:
        topics = entry["topics"]
        n = len(topics)
        decoded = decode(entry)
        append(
            {
                "chain_id": chain_id,
                "block_number": int(entry["blockNumber"], 16),
                "block_hash": entry["blockHash"].lower(),
                "log_index": int(entry["logIndex"], 16),
                "tx_hash": entry["transactionHash"].lower(),
                "address": entry["address"].lower(),
                "topic0": topics[0].lower() if n > 0 else None,
                "topic1": topics[1].lower() if n > 1 else None,
                "topic2": topics[2].lower() if n > 2 else None,
                "topic3": topics[3].lower() if n > 3 else None,
                # A decoded log is kept as its arguments (lossless); the bytes only when
                # perpwatch could not decode it. Storing both tripled the commit time.
                "data": None if decoded is not None else bytes.fromhex(entry["data"][2:]),
                "source": name,
                "event_name": decoded[0] if decoded is not None else None,
                "args": decoded[1] if decoded is not None else None,
            }
        )
    return rows
