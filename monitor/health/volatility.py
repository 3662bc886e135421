"""Realised volatility of a market from the prices the monitor reads, and distances in σ. Pure.

    window = PriceWindow(span_s=86_400)
    window.record(t, price)                            # seconds (any epoch), USD per unit
    sigma = realised_sigma(window.samples, 3600.0)     # 0.012: moves of 1.2 % per hour

The estimator takes the log returns ``r_i`` between consecutive samples and the time each
spans, estimates the variance per second as ``Σ r_i² / Σ Δt_i`` (zero mean: over minutes to
hours the drift is noise next to the moves) and scales it to the horizon by ``√horizon``.
Irregular ticks need no resampling, and a feed that only updates on deviation (Chainlink) is
handled: its flat stretches add time, its jumps add variance.

A distance "in σ" is the k for which each market moving ``k·σ`` (as a fraction of its price)
against the account liquidates it.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from indexer.models import MarginAccount
from monitor.health.account import PositionRisk, adverse_weights, shock_to_liquidation

MIN_RETURNS = 10
"""Fewer returns than this in a window give no σ: one or two jumps would decide it."""

MIN_SPAN_SHARE = 0.25
"""σ is known once the window spans this share of the horizon (15 minutes for 1 hour):
extrapolating seconds of data to an hour would mostly measure the feed's update rhythm."""

MAX_SAMPLES = 2048
"""Samples a window keeps at most: ticks closer than ``span_s / MAX_SAMPLES`` are merged
(Arbitrum's 0.25 s blocks would otherwise hold 345,600 prices a day per market)."""


def realised_sigma(
    samples: Sequence[tuple[float, float]], horizon_s: float, min_span_s: float = 0.0
) -> float | None:
    """σ of log price moves over ``horizon_s`` seconds from ``(time_s, price)`` samples in time
    order, as a fraction (0.01 = 1 %). Samples that do not advance time, or whose price is not
    finite and > 0, are skipped. None with fewer than ``MIN_RETURNS`` returns or less than
    ``min_span_s`` seconds between the first and last sample used.
    """
    usable: list[tuple[float, float]] = []
    for t, p in samples:
        if math.isfinite(p) and p > 0.0 and math.isfinite(t) and (not usable or t > usable[-1][0]):
            usable.append((t, p))
    squares = [math.log(p1 / p0) ** 2 for (_, p0), (_, p1) in itertools.pairwise(usable)]
    elapsed = usable[-1][0] - usable[0][0] if usable else 0.0
    if len(squares) < MIN_RETURNS or elapsed <= 0.0 or elapsed < min_span_s:
        return None
    return math.sqrt(math.fsum(squares) / elapsed * horizon_s)


class PriceWindow:
    """The ``(time_s, price)`` samples of one market over the last ``span_s`` seconds.

    Out-of-order or repeated times are ignored (a re-read block). The newest sample replaces
    the previous one while they are closer than ``span_s / MAX_SAMPLES``, so the window stays
    small and always ends at the latest price.
    """

    def __init__(self, span_s: float) -> None:
        self.span_s = span_s
        self._min_gap_s = span_s / MAX_SAMPLES
        self._samples: deque[tuple[float, float]] = deque()

    @property
    def samples(self) -> tuple[tuple[float, float], ...]:
        return tuple(self._samples)

    def record(self, time_s: float, price: float) -> None:
        if self._samples and time_s <= self._samples[-1][0]:
            return
        if len(self._samples) >= 2 and time_s - self._samples[-2][0] < self._min_gap_s:
            self._samples.pop()
        self._samples.append((time_s, price))
        # Keep the newest sample at or before the cutoff: the window then covers span_s fully.
        while len(self._samples) > 2 and self._samples[1][0] <= time_s - self.span_s:
            self._samples.popleft()


@dataclass(frozen=True, slots=True)
class Sigmas:
    """σ per asset over ``horizon_s`` seconds, as a fraction; assets without enough history
    are absent."""

    horizon_s: float
    by_asset: Mapping[str, float]


class MarketVolatility:
    """One ``PriceWindow`` per market key (the monitor uses (chain id, protocol, asset): each
    protocol prices with its own source). Feed it every tick's prices; it answers σ.

        vol = MarketVolatility(horizon_s=3600, window_s=86_400)
        sigmas = vol.observe((chain_id, "gmx_v2"), {"ETH": 2500.0}, time_s=now.timestamp())
    """

    def __init__(self, horizon_s: float, window_s: float) -> None:
        self.horizon_s, self.window_s = horizon_s, window_s
        self._windows: dict[tuple[object, str], PriceWindow] = {}

    def observe(self, market: object, prices: Mapping[str, float], time_s: float) -> Sigmas:
        """Record ``prices`` (asset → USD) of ``market`` at ``time_s``; σ of each asset now."""
        min_span = MIN_SPAN_SHARE * min(self.horizon_s, self.window_s)
        out: dict[str, float] = {}
        for asset, price in prices.items():
            window = self._windows.setdefault((market, asset), PriceWindow(self.window_s))
            window.record(time_s, price)
            sigma = realised_sigma(window.samples, self.horizon_s, min_span)
            if sigma is not None:
                out[asset] = sigma
        return Sigmas(self.horizon_s, out)


def position_sigma(risk: PositionRisk, sigmas: Mapping[str, float]) -> float | None:
    """A position's distance to liquidation in σ of its market; None when either is unknown
    or σ is 0 (a price that never moved)."""
    sigma = sigmas.get(risk.asset)
    if risk.distance_pct is None or not sigma:
        return None
    return risk.distance_pct / 100.0 / sigma


def sigma_move(
    account: MarginAccount,
    prices: Mapping[str, float] | None,
    sigmas: Mapping[str, float],
    risks: Iterable[PositionRisk],
) -> float | None:
    """The smallest adverse move that liquidates ``account`` counted in σ: the least of its
    positions' own (``position_sigma``) and, with ``prices`` and several markets, the k for
    which all its markets moving ``k·σ`` against it together liquidate it. None unless σ is
    known (and > 0) for every market of the account: a market with no history may be the
    dangerous one. Negative when already liquidatable.
    """
    markets = {p.asset for p in account.positions}
    if not markets or not all(sigmas.get(a) for a in markets):
        return None
    values = [v for r in risks if (v := position_sigma(r, sigmas)) is not None]
    if prices is not None and len(markets) > 1 and account.assets <= prices.keys():
        weights = adverse_weights(account, {a: sigmas[a] for a in markets})
        joint = shock_to_liquidation(account, prices, weights)
        if joint is not None:
            values.append(joint)
    return min(values, default=None)
