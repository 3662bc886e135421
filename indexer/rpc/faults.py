"""Node-client errors and the pure decisions behind retrying: what kind of failure, how long
to wait, which endpoint next. No I/O here; :mod:`indexer.rpc.client` executes these decisions.

Usage::

    fault = classify_rpc_error(-32005, "project ID request rate exceeded", None)  # RATE_LIMITED
    delay = retry_delay(failures=2, retry_after=None, base_s=0.2, max_s=10, rng_value=0.5)
    index, wait_s = pick_endpoint([0.0, 5.0], now=1.0)  # (0, 0.0)
"""

from __future__ import annotations

import email.utils
import math
import re
from collections.abc import Sequence
from enum import StrEnum

from indexer.errors import PerpwatchError, RangeTooLarge, RetryableError
from indexer.rpc.ranges import RangeAdvice

__all__ = [
    "BlockNotFound",
    "Fault",
    "RpcError",
    "RpcRangeTooLarge",
    "classify_rpc_error",
    "parse_retry_after",
    "pick_endpoint",
    "retry_delay",
]

# A server asking for a longer pause than this is not waited for blindly: the request fails
# after its retries and the operator sees why, instead of the indexer freezing silently.
RETRY_AFTER_CAP_S = 120.0


class RpcError(PerpwatchError):
    """The node answered with a JSON-RPC error that retrying will not fix (e.g. a revert).

    ``code``, ``rpc_message`` and ``data`` are the error's fields as sent (``data`` carries the
    revert payload for ``eth_call``); the exception message names the (redacted) endpoint.
    """

    def __init__(
        self, method: str, code: int | None, message: str, data: object, endpoint: str
    ) -> None:
        detail = f" data={data!r:.200}" if data is not None else ""
        super().__init__(f"{method} failed at {endpoint}: [{code}] {message}{detail}")
        self.method = method
        self.code = code
        self.rpc_message = message
        self.data = data


class RpcRangeTooLarge(RangeTooLarge):
    """An ``eth_getLogs`` range the node refused; ``advice`` says how to split it."""

    def __init__(self, message: str, advice: RangeAdvice, from_block: int, to_block: int) -> None:
        super().__init__(message, suggested_to_block=advice.suggested_to_block)
        self.advice = advice
        self.from_block = from_block
        self.to_block = to_block


class BlockNotFound(RetryableError):
    """The node does not have the block (yet): it lags the chain or the block was reorged."""


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


def parse_retry_after(value: str | None, now_epoch_s: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date.

    ``now_epoch_s`` is the current Unix time (for the date form). Returns ``None`` for a
    missing or unparsable header; a date in the past gives ``0.0``.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - now_epoch_s
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def retry_delay(
    failures: int, retry_after: float | None, *, base_s: float, max_s: float, rng_value: float
) -> float:
    """Seconds before trying again after the ``failures``-th consecutive failure (>= 1).

    A server's ``retry_after`` is honoured (capped at ``RETRY_AFTER_CAP_S``); otherwise
    exponential backoff with full jitter: ``rng_value * min(max_s, base_s * 2**(failures-1))``
    where ``rng_value`` is uniform in ``[0, 1)`` (jitter spreads many clients' retries apart).
    """
    if retry_after is not None:
        return min(retry_after, RETRY_AFTER_CAP_S)
    exponent = min(max(failures, 1) - 1, 62)  # bounded so the power stays a finite float
    return rng_value * min(max_s, base_s * 2.0**exponent)


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
