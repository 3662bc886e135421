"""A small hand-computed book for the risk-view tests (Hyperliquid-style: maintenance 1 % of
mark notional, USDC collateral, nothing pending), marks ETH 2,000, BTC 60,000, SOL 150.

- ``A`` isolated long 1 ETH @ 2,000, 200 USDC: liquidated at 1800/0.99 = 1,818.18 (-9.09 %)
- ``B`` isolated long 2 ETH @ 2,000, 30 USDC: already liquidatable (1.98·P = 3,970)
- ``C`` isolated short 1 ETH @ 2,000, 500 USDC: liquidated at 2500/1.01 = 2,475.25 (+23.76 %)
- ``D`` cross long 1 ETH @ 2,000 and 1 BTC @ 60,000, 1,000 USDC: ETH alone (BTC held) at
  1600/0.99 = 1,616.16 (-19.19 %)
"""

from __future__ import annotations

from indexer.models import E30, Collateral, MarginAccount, MarginMode, Position
from monitor.analysis.book import PricedAccount

PRICES = {"ETH": 2000.0, "BTC": 60_000.0, "SOL": 150.0, "USDC": 1.0}


def usdc(amount_usd: float) -> Collateral:
    return Collateral("USDC", round(amount_usd * 10**6), 6, "fixed:USDC")


def perp(asset: str, size: float, entry_price: float) -> Position:
    """A position at 1 % maintenance of mark notional (50x max leverage)."""
    size_raw = round(size * 10**8)
    return Position(
        market=asset,
        asset=asset,
        size_raw=size_raw,
        size_decimals=8,
        entry_notional_usd_e30=round(abs(size) * entry_price) * E30,
        pending_fees_usd_e30=0,
        closing_fee_rate_e30=0,
        mm_rate_e30=E30 // 100,
        mm_rate_entry_e30=0,
        mm_floor_usd_e30=0,
    )


def margin(
    ref: str, mode: MarginMode, collateral_usd: float, *positions: Position, owner: str = "0xaa"
) -> MarginAccount:
    return MarginAccount(1, "test", owner, ref, mode, (usdc(collateral_usd),), tuple(positions), 10)


def hand_book() -> list[PricedAccount]:
    iso, cross = MarginMode.ISOLATED, MarginMode.CROSS
    accounts = [
        margin("A", iso, 200, perp("ETH", 1, 2000)),
        margin("B", iso, 30, perp("ETH", 2, 2000)),
        margin("C", iso, 500, perp("ETH", -1, 2000)),
        margin("D", cross, 1000, perp("ETH", 1, 2000), perp("BTC", 1, 60_000)),
    ]
    return [PricedAccount(a, PRICES) for a in accounts]
