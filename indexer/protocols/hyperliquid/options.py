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

from indexer.config.protocol import ProtocolConfig
from indexer.config.scalars import STRICT, invalid


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
    # at-risk ones every tick, the rest once per this many seconds.
    poll_s: float = Field(default=15.0, gt=0)

    def poll_interval_s(self) -> float | None:
        return self.poll_s

    @model_validator(mode="after")
    def _tiers_ascend_from_zero(self) -> HyperliquidOptions:
        for asset, tiers in self.margin_tiers.items():
            bounds = [t.lower_bound_usd for t in tiers]
            if not bounds or bounds[0] != 0:
                raise invalid(f"margin_tiers.{asset}", "the first tier must start at 0")
            if any(b >= a for b, a in pairwise(bounds)):
                raise invalid(f"margin_tiers.{asset}", "lower_bound_usd must ascend")
        return self
