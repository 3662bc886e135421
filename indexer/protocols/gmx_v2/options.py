"""GMX v2's ``[[protocols]]`` table: the markets to value, their tokens and the price source.

[[protocols]]
name = "gmx_v2"
chain = "arbitrum"
price_source = "chainlink"           # or "tickers" (GMX's HTTP endpoint, ``tickers_url``)
[[protocols.gmx_markets]]
market_token = "0x70d9…"              # positions on index_token, collateral long/short
[protocols.tokens."0x82aF…"]
asset = "ETH"; decimals = 18; feed = "0x639F…"   # Chainlink USD feed
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from indexer.config.protocol import ProtocolConfig
from indexer.config.scalars import STRICT, Address, HttpUrl, invalid
from indexer.protocols.gmx_v2.config_memory import CONFIG_MAX_AGE_S


class TokenConfig(BaseModel):
    """A token GMX prices: normal-form ``asset`` name, ``decimals`` of its smallest unit, and
    its Chainlink USD feed."""

    model_config = STRICT

    asset: str = Field(pattern=r"^[A-Za-z0-9._-]{1,32}$")
    decimals: int = Field(ge=0, le=77)
    feed: Address | None = None


class GmxMarketConfig(BaseModel):
    """A GMX v2 market: positions on ``index_token``, collateral in ``long_token`` or
    ``short_token`` (every token must be listed in the protocol's ``tokens``)."""

    model_config = STRICT

    market_token: Address
    index_token: Address
    long_token: Address
    short_token: Address


class GmxV2Options(ProtocolConfig):
    """GMX v2 (Synthetics) on one chain; ``tickers_url`` defaults to the known deployment's."""

    name: Literal["gmx_v2"]
    tickers_url: HttpUrl | None = None
    tokens: dict[Address, TokenConfig] = Field(default_factory=dict)
    gmx_markets: tuple[GmxMarketConfig, ...] = ()
    # "tickers" values positions with GMX's HTTP tickers (``tickers_url``) instead of Chainlink.
    price_source: Literal["chainlink", "tickers"] = "chainlink"
    # The markets' configuration (fee, liquidation, impact and borrowing-rate factors) is read
    # again when GMX's Config announces a change, and at least this often; 0 reads it with
    # every read (``indexer.protocols.gmx_v2.config_memory``).
    config_max_age_s: float = Field(default=CONFIG_MAX_AGE_S, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> GmxV2Options:
        if self.price_source == "tickers" and self.tickers_url is None:
            raise invalid("tickers_url", 'required with price_source = "tickers"')
        for index, market in enumerate(self.gmx_markets):
            for field in ("index_token", "long_token", "short_token"):
                if getattr(market, field) not in self.tokens:
                    raise invalid(f"gmx_markets[{index}].{field}", "not listed in tokens")
        return self
