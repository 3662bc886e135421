"""Pure checks of one range's node answers, for :mod:`indexer.scan.scanner`.

A range is fetched in one JSON-RPC batch with ``eth_blockNumber`` and the headers it is checked
against; these functions turn a disagreement between those answers into :class:`ChainMoved`
(the scanner retries the range, then looks for a reorg). No I/O here.
"""

from __future__ import annotations

import itertools
from typing import Any

from indexer.errors import ChainMoved
from indexer.rpc.stats import EndpointStats
from indexer.scan.reorg import Header

__all__ = ["check_headers", "check_log_hashes", "lagging_urls", "parse_header"]


def lagging_urls(stats: list[EndpointStats], max_lag_blocks: int) -> list[tuple[str, int]]:
    """(redacted URL, blocks behind) of every URL whose last reported head is more than
    ``max_lag_blocks`` behind the best one (pure; URLs that never reported are skipped)."""
    heads = [(s.url, s.last_head) for s in stats if s.last_head is not None]
    best = max((h for _, h in heads), default=0)
    return [(url, best - h) for url, h in heads if best - h > max_lag_blocks]


def parse_header(raw: Any) -> Header:
    """A header from an ``eth_getBlockByNumber`` result; a null one means the chain moved."""
    if raw is None:
        raise ChainMoved("node does not have a block it just reported")
    return Header(int(raw["number"], 16), raw["hash"], raw["parentHash"])


def check_headers(headers: list[Header]) -> None:
    """Raise ``ChainMoved`` if a header does not extend the one before it (consecutive only)."""
    for parent, child in itertools.pairwise(headers):
        if child.number == parent.number + 1 and child.parent_hash != parent.hash:
            raise ChainMoved(f"block {child.number} does not extend block {parent.number}")


def check_log_hashes(logs: list[dict[str, Any]], headers: list[Header]) -> None:
    """Raise ``ChainMoved`` for a removed log, or one whose block hash is not its header's."""
    expected = {h.number: h.hash for h in headers}
    for entry in logs:
        if entry.get("removed"):
            raise ChainMoved("node returned a removed log")
        want = expected.get(int(entry["blockNumber"], 16))
        if want is not None and entry["blockHash"] != want:
            raise ChainMoved(f"log of block {int(entry['blockNumber'], 16)} has another hash")
