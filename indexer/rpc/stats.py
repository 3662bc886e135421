"""What the node client reports about each URL. Pure data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EndpointStats:
    """A snapshot of one URL's counters; ``url`` is redacted. ``last_head`` is the newest
    head block number this URL reported (``None`` until it answered a head query)."""

    url: str
    requests: int
    failures: int
    consecutive_failures: int
    cooling_down: bool
    last_head: int | None
    last_error: str | None
