"""gTrade's ``[[protocols]]`` table: the diamond, the pairs to value and their price feeds, the
collaterals' names, and how pair prices are read.

    [[protocols]]
    name = "gtrade"
    chain = "arbitrum"                  # diamond, start block and collaterals are filled in
    price_source = "lookback"           # or "latest"
    [protocols.pairs.0]                 # gTrade pair index 0 = BTC/USD
    asset = "BTC"
    feed = "0x6ce185860a4963106506C203335A2910413708e9"   # a Chainlink BTC/USD feed
    [protocols.collaterals.3]           # collateral index 3 on Arbitrum = USDC
    asset = "USDC"

gTrade prices pairs with its own oracle network (no on-chain price to read), so each pair a
watched trade is in needs a USD feed with Chainlink's ``latestRoundData``/``getRoundData``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, Strict, model_validator

from indexer.config.protocol import ProtocolConfig
from indexer.config.scalars import STRICT, Address, invalid

ASSET_PATTERN = r"^[A-Za-z0-9._-]{1,32}$"


class PairConfig(BaseModel):
    """A gTrade pair: perpwatch's ``asset`` name for its base and its USD price ``feed``."""

    model_config = STRICT

    asset: str = Field(pattern=ASSET_PATTERN)
    feed: Address


class CollateralConfig(BaseModel):
    """A collateral index's ``asset`` name (its USD price is the diamond's own)."""

    model_config = STRICT

    asset: str = Field(pattern=ASSET_PATTERN)


class GTradeOptions(ProtocolConfig):
    """gTrade v10 (GNSMultiCollatDiamond) on one chain.

    ``price_source``: ``"lookback"`` values each trade at the pair price most adverse to it
    among the feed rounds since the monitor's previous read (lowest for a long, highest for a
    short), because gTrade liquidates on lookback high/low prices; ``"latest"`` uses the last
    round only.
    """

    name: Literal["gtrade"]
    price_source: Literal["lookback", "latest"] = "lookback"
    # TOML table keys are strings: the index alone may be written "0".
    pairs: dict[Annotated[int, Strict(False), Field(ge=0)], PairConfig] = Field(
        default_factory=dict
    )
    collaterals: dict[Annotated[int, Strict(False), Field(ge=1, le=255)], CollateralConfig] = Field(
        default_factory=dict
    )
    owners_per_read: int = Field(default=500, ge=1, le=5000)

    @model_validator(mode="after")
    def _distinct_assets(self) -> GTradeOptions:
        # A collateral is valued at the diamond's collateral price, a pair at its feed: one
        # name for both would give one of them the other's price.
        pair_assets = {p.asset for p in self.pairs.values()}
        for index, collateral in self.collaterals.items():
            if collateral.asset in pair_assets:
                raise invalid(
                    f"collaterals.{index}.asset",
                    f"{collateral.asset!r} is also a pair's asset; name the collateral apart "
                    '(e.g. "WETH")',
                )
        return self
