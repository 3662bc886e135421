"""Alert levels: where an account stands, from safe to gone. Pure."""

from __future__ import annotations

from enum import StrEnum


class Level(StrEnum):
    """Health level of an account, from safe to gone; alerts use all but ``ok``.

    ``unknown`` means the data was too stale to judge (never read as safe); ``recovered`` is
    only an alert level, sent when an account is back to ``ok`` and its episode closes.
    """

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    LIQUIDATABLE = "liquidatable"
    LIQUIDATED = "liquidated"
    UNKNOWN = "unknown"
    RECOVERED = "recovered"
