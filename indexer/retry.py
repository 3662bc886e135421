"""One retry policy for everything perpwatch calls over HTTP (nodes, GMX tickers, notifiers).

Pure: which HTTP statuses are worth retrying, how to read ``Retry-After``, and how long to back
off. Callers add their own jitter to :func:`exponential_backoff_s`.

    if is_retryable_status(503): delay = retry_delay(2, None, base_s=0.2, max_s=10, rng_value=0.5)
"""

from __future__ import annotations

import email.utils
import math

RETRYABLE_STATUS = frozenset({408, 425, 429})
"""Besides every 5xx: request timeout, too early, too many requests."""

# A server asking for a longer pause than this is not waited for blindly: the request fails
# after its retries and the operator sees why, instead of the indexer freezing silently.
RETRY_AFTER_CAP_S = 120.0


def is_retryable_status(status: int) -> bool:
    """True for an HTTP status that a later try may not get (408, 425, 429, 5xx)."""
    return status in RETRYABLE_STATUS or status >= 500


def exponential_backoff_s(failures: int, *, base_s: float, max_s: float) -> float:
    """``min(max_s, base_s * 2**(failures-1))`` for the ``failures``-th failure (>= 1)."""
    exponent = min(max(failures, 1) - 1, 62)  # bounded so the power stays a finite float
    return min(max_s, base_s * 2.0**exponent)


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
    return rng_value * exponential_backoff_s(failures, base_s=base_s, max_s=max_s)
