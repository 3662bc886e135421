"""The input of every risk view: open accounts, each with the prices its own protocol uses.

Prices stay per account because two protocols can price the same asset differently (GMX's
Chainlink feed, Hyperliquid's mark): a view never mixes them.

    book = [PricedAccount(account, {"ETH": 2500.0, "USDC": 1.0}), ...]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from indexer.models import MarginAccount, Position


@dataclass(frozen=True, slots=True)
class PricedAccount:
    """An account and its protocol's prices (USD per whole unit, every asset of the account)."""

    account: MarginAccount
    prices: Mapping[str, float]


def notional_usd(position: Position, prices: Mapping[str, float]) -> float:
    """Mark notional ``|size| · P`` in USD."""
    return abs(position.size) * prices[position.asset]


def collateral_usd(account: MarginAccount, prices: Mapping[str, float]) -> float:
    """Collateral value after haircuts in USD (a debt counts negative)."""
    return sum(c.amount * prices[c.asset] * (1.0 - c.haircut) for c in account.collateral)


def market_of(asset: str) -> str:
    """The market a price key belongs to: ``BTC`` for ``BTC`` and for a venue's own view of
    its price (gTrade values longs at ``BTC:low`` and shorts at ``BTC:high``, the lookback
    extremes); a BTC move moves all three."""
    return asset.split(":", 1)[0]


def matches_market(position: Position, market: str) -> bool:
    """Whether ``position`` is in ``market``: its market id or its asset's market,
    case-insensitive (a GMX market id is a token address; users name the asset)."""
    key = market.lower()
    return position.market.lower() == key or market_of(position.asset).lower() == key
