"""gTrade's pair prices on lookback: the extreme feed rounds since the previous read. Pure.

gTrade liquidates a trade when the LOOKBACK low (long) or high (short) since the trigger's start
block touched its liquidation price, so a wick that the close no longer shows still liquidates.
A price read therefore gets the last round it saw per feed (``memory``, kept by
:class:`indexer.prices.OnChainPrices` between ticks), reads the rounds published since (at most
``MAX_ROUNDS``) and quotes, for a pair asset ``BTC``:

- ``BTC``: the latest round;
- ``BTC:low`` / ``BTC:high``: the lowest / highest round since the previous read (the latest
  alone on the first read): what a long / short trade is valued at with
  ``price_source = "lookback"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from indexer.protocols.base import CallResult, PricesSeen, Read, followed
from indexer.protocols.gtrade import decode as d
from indexer.protocols.gtrade.margin import pinned_price

LOW, HIGH = ":low", ":high"
MAX_ROUNDS = 64
"""Rounds looked at per feed and read; older ones of a longer gap are not."""


@dataclass(frozen=True, slots=True)
class GTradePair:
    """A pair perpwatch can value: its base ``asset`` and USD ``feed`` (lower-case)."""

    asset: str
    feed: str


def price_keys(pair_asset: str) -> tuple[str, str, str]:
    """Every price key of a pair: latest, lookback low, lookback high."""
    return (pair_asset, pair_asset + LOW, pair_asset + HIGH)


def round_ids(last_seen: int | None, latest: int, max_rounds: int = MAX_ROUNDS) -> list[int]:
    """Rounds after ``last_seen`` and before ``latest`` (the newest ``max_rounds - 1`` of
    them): the ones to read besides the latest. None (a first read): none."""
    if last_seen is None or last_seen >= latest:
        return []
    return list(range(max(last_seen + 1, latest - max_rounds + 1), latest))


def read_lookback(
    pairs: Sequence[GTradePair],
    collateral_prices: Read[dict[str, float]],
    wanted: frozenset[str],
    memory: Mapping[str, int],
    max_rounds: int = MAX_ROUNDS,
) -> Read[PricesSeen]:
    """Prices of ``wanted`` (pair keys of ``pairs``, and what ``collateral_prices`` answers),
    with lookback extremes since the rounds in ``memory`` (feed → last round seen): two reads.
    A feed that fails is left out (unpriced), as is a missing older round."""
    calls = [c for p in pairs for c in d.feed_calls(p.feed)]
    first = len(calls)
    calls += collateral_prices.calls

    def follow(results: Sequence[CallResult]) -> Read[PricesSeen]:
        latest = {
            p.feed: d.decode_feed(results[2 * i], results[2 * i + 1]) for i, p in enumerate(pairs)
        }
        base = collateral_prices.decode(results[first:])
        ids = {
            feed: round_ids(memory.get(feed), r.round_id, max_rounds)
            for feed, r in latest.items()
            if r is not None
        }
        more = tuple(d.round_call(feed, r) for feed, rs in ids.items() for r in rs)

        def decode(extra: Sequence[CallResult]) -> PricesSeen:
            it = iter(extra)
            seen = PricesSeen(dict(base), {}, {})
            for pair in pairs:
                last = latest[pair.feed]
                if last is None:
                    continue
                older = [d.decode_round(next(it), last.decimals) for _ in ids[pair.feed]]
                prices = [last.price] + [r.price for r in older if r is not None]
                quoted = (last.price, min(prices), max(prices))
                for key, price in zip(price_keys(pair.asset), quoted, strict=True):
                    seen.prices[key] = price
                    seen.updated_at[key] = last.updated_at
                seen.memory[pair.feed] = last.round_id
            # A collateral key pinned to its conversion price is quoted at that price.
            pinned = {a: p for a in wanted if (p := pinned_price(a)) is not None}
            kept = {a: p for a, p in {**seen.prices, **pinned}.items() if a in wanted}
            return PricesSeen(kept, seen.updated_at, seen.memory)

        return Read(more, decode)

    return Read(tuple(calls), followed, follow=follow)
