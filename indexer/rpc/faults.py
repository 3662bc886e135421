"""The node client's pure decisions: what kind of failure an answer is, and which endpoint next
(how long to wait is :mod:`indexer.retry`'s). :mod:`indexer.rpc.client` executes them.

Usage::

    fault = classify_rpc_error(-32005, "project ID request rate exceeded", None)  # RATE_LIMITED
    index, wait_s = pick_endpoint([0.0, 5.0], now=1.0)  # (0, 0.0)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum

__all__ = ["Fault", "classify_rpc_error", "pick_endpoint"]


class Fault(StrEnum):
    """What a JSON-RPC error asks of the caller."""

    RATE_LIMITED = "rate_limited"  # slow down, then retry (any endpoint)
    TRANSIENT = "transient"  # the node hiccuped: retry, preferably elsewhere
    FATAL = "fatal"  # the same request fails the same way everywhere: raise


_RATE_LIMIT_CODES = frozenset({429, -32029, -32090, -32098})
_RATE_LIMIT_TEXT = re.compile(
    r"rate.?limit|too many requests|request rate|compute units|throughput|"
    r"capacity exceeded|request limit|daily request count|exceeded .*quota",
)
_TRANSIENT_TEXT = re.compile(
    r"header not found|timed? ?out|try again|temporarily unavailable|"
    r"no backend is currently healthy|upstream|overloaded|service unavailable",
)
_FATAL_TEXT = re.compile(r"revert|invalid opcode|out of gas|invalid argument|invalid param")


def classify_rpc_error(code: int | None, message: str, data: object) -> Fault:
    """Classify a JSON-RPC error (not a "range too large" one: see :mod:`indexer.rpc.ranges`).

    Reverts and malformed requests are fatal whatever their code (nodes disagree on codes
    for them); known rate-limit codes and texts ask for a pause; internal errors (-32603) and
    known node hiccups are transient; everything else is fatal so bugs surface at once.
    """
    text = f"{message} {data if isinstance(data, str) else ''}".lower()
    if _FATAL_TEXT.search(text):
        return Fault.FATAL
    if code in _RATE_LIMIT_CODES or _RATE_LIMIT_TEXT.search(text):
        return Fault.RATE_LIMITED
    if code == -32603 or _TRANSIENT_TEXT.search(text):
        return Fault.TRANSIENT
    return Fault.FATAL


def pick_endpoint(cooldown_until: Sequence[float], now: float) -> tuple[int, float]:
    """Choose the endpoint for the next attempt: ``(index, seconds to wait first)``.

    Endpoints are in priority order; the first whose cool-down has ended wins (so the
    primary is used again as soon as it recovers). If all are cooling down, the one that
    recovers first is chosen with the wait until then. Raises ``ValueError`` if empty.
    """
    if not cooldown_until:
        raise ValueError("no endpoints")
    for index, until in enumerate(cooldown_until):
        if until <= now:
            return index, 0.0
    index = min(range(len(cooldown_until)), key=lambda i: cooldown_until[i])
    return index, cooldown_until[index] - now
