"""Hyperliquid's ``[[protocols]]`` table: which perp dexes and assets to poll, and margin tiers.

    [[protocols]]
    name = "hyperliquid"
    chain = "hyperevm"
    dexes = [0]                  # perp dex indices; 0 = the main dex
    markets = [0, 1]             # asset ids (index in meta.universe): 0 = BTC, 1 = ETH
    [[protocols.margin_tiers.1]] # ETH: from 0 USD notional at most 25x, from 100M at most 15x
    lower_bound_usd = 0
    max_leverage = 25

The read precompiles return an asset's max leverage but not its margin table, so tiers of large
positions come from here (Hyperliquid's docs, "Margin tiers").
"""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Literal

from pydantic import BaseModel, Field, Strict, model_validator

from indexer.config.protocol import PollCadence, ProtocolConfig
from indexer.config.scalars import STRICT, invalid

FAR_POLL_FACTOR = 4
"""A wallet far from every threshold is polled this many times less often than one near a
warning, unless ``far_poll_s`` says otherwise."""


class TierConfig(BaseModel):
    """From ``lower_bound_usd`` of position notional up, at most ``max_leverage``."""

    model_config = STRICT

    lower_bound_usd: int = Field(ge=0)
    max_leverage: int = Field(ge=1)


class HyperliquidOptions(ProtocolConfig):
    """HyperCore perps read through HyperEVM's precompiles: no contract addresses."""

    name: Literal["hyperliquid"]
    dexes: tuple[Annotated[int, Field(ge=0)], ...] = (0,)
    markets: tuple[Annotated[int, Field(ge=0)], ...] = ()
    # TOML table keys are strings: the asset id key alone may be written "1".
    margin_tiers: dict[Annotated[int, Strict(False)], tuple[TierConfig, ...]] = Field(
        default_factory=dict
    )
    # No events reveal a trader's own changes (a close, more margin), so wallets are polled:
    # at-risk ones every tick, those near a warning once per ``poll_s``, the rest (far from
    # every threshold, or holding nothing) as often while few, at most ``far_poll_s`` apart
    # as they grow (``PollCadence.far_period_s``). Prices are re-read every tick, so a market
    # moving a far wallet toward a warning brings it nearer at once; only a trader's own
    # change to a far wallet waits up to ``far_poll_s`` to be seen.
    poll_s: float = Field(default=15.0, gt=0)
    far_poll_s: float | None = Field(default=None, gt=0)
    """Unset: ``FAR_POLL_FACTOR`` times ``poll_s`` (60 s at the default)."""

    def poll_cadence(self) -> PollCadence | None:
        far_s = self.far_poll_s if self.far_poll_s is not None else FAR_POLL_FACTOR * self.poll_s
        return PollCadence(self.poll_s, far_s)

    @model_validator(mode="after")
    def _far_no_more_often_than_near(self) -> HyperliquidOptions:
        if self.far_poll_s is not None and self.far_poll_s < self.poll_s:
            raise invalid("far_poll_s", f"must be at least poll_s ({self.poll_s:g})")
        return self

    @model_validator(mode="after")
    def _tiers_ascend_from_zero(self) -> HyperliquidOptions:
        for asset, tiers in self.margin_tiers.items():
            bounds = [t.lower_bound_usd for t in tiers]
            if not bounds or bounds[0] != 0:
                raise invalid(f"margin_tiers.{asset}", "the first tier must start at 0")
            if any(b >= a for b, a in pairwise(bounds)):
                raise invalid(f"margin_tiers.{asset}", "lower_bound_usd must ascend")
        return self
