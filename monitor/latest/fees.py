"""Measured fee growth per position, for the time-to-liquidation view. Pure.

perpwatch's adapters read the fees a position owes now, not a forecast of the venue's rates, so
the growth is measured: between the last two readings of a position whose pending fees differ,
``Δfees / Δt`` in USD per hour. A fall (fees claimed on an increase, funding turning into a
credit) is not a growth: that position's growth is unknown until the next rise.

    tracker = FeeGrowth()
    tracker.observe(account_id, account, now_s)      # {market: USD per hour}, known ones only
"""

from __future__ import annotations

from indexer.models import E30, MarginAccount

SECONDS_PER_HOUR = 3600.0


class FeeGrowth:
    """Each position's last differing fee reading and its measured growth."""

    def __init__(self) -> None:
        self._last: dict[tuple[int, str], tuple[int, float]] = {}
        self._growth: dict[tuple[int, str], float] = {}

    def observe(self, account_id: int, account: MarginAccount, now_s: float) -> dict[str, float]:
        """Record ``account``'s pending fees at ``now_s`` (Unix seconds); the growth (USD per
        hour) of each position whose growth is known, by market."""
        out: dict[str, float] = {}
        for position in account.positions:
            key = (account_id, position.market)
            fees = position.pending_fees_usd_e30
            last = self._last.get(key)
            if last is None or (last[0] != fees and now_s > last[1]):
                if last is not None:
                    rate = (fees - last[0]) / E30 / ((now_s - last[1]) / SECONDS_PER_HOUR)
                    if rate > 0.0:
                        self._growth[key] = rate
                    else:
                        self._growth.pop(key, None)
                self._last[key] = (fees, now_s)
            if key in self._growth:
                out[position.market] = self._growth[key]
        return out
