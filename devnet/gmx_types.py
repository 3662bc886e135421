"""The GMX v2 simulator's devnet objects as plain data: tokens, markets, a liquidation check,
and the fixed addresses that stand for tokens and markets with no code behind them.

Units as GMX keeps them: USD values times 1e30 (``*_e30``). ``devnet.gmx`` re-exports all of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract

__all__ = ["LiquidationCheck", "MarginTerms", "SimMarket", "SimToken", "devnet_address"]


def devnet_address(label: str) -> str:
    """A fixed, checksummed address for a devnet-only token or market named ``label``."""
    return Web3.to_checksum_address(keccak(text=f"perpwatch-devnet:{label}")[:20])


@dataclass(frozen=True, slots=True)
class SimToken:
    """A token the simulator prices; ``asset`` is perpwatch's name for it (WETH → ``ETH``)."""

    symbol: str
    asset: str
    address: str
    decimals: int
    feed: Contract
    feed_decimals: int = 8


@dataclass(frozen=True, slots=True)
class SimMarket:
    """A GMX market: positions on ``index`` backed by ``long``- or ``short``-token collateral."""

    name: str
    market_token: str
    index: SimToken
    long: SimToken
    short: SimToken


@dataclass(frozen=True, slots=True)
class LiquidationCheck:
    """``Reader.isPositionLiquidatable``'s answer; USD values times 1e30."""

    liquidatable: bool
    reason: str
    remaining_collateral_usd_e30: int
    min_collateral_usd_e30: int
    min_collateral_usd_for_leverage_e30: int


@dataclass(frozen=True, slots=True)
class MarginTerms:
    """A market's liquidation-check terms beyond fees, for ``GmxDeployment.set_margin_terms``:
    impact factors/exponents/max factors as (positive, negative), the liquidation impact cap,
    the traders' max pnl factor (both sides), the borrowing factor per second (linear in
    reserved / pool), and pool amounts by token symbol (smallest units). Factors times 1e30."""

    impact_factor_e30: tuple[int, int] = (0, 0)
    impact_exponent_e30: tuple[int, int] = (10**30, 10**30)
    max_impact_e30: tuple[int, int] = (0, 0)
    liquidation_impact_cap_e30: int = 0
    max_pnl_factor_e30: int = 0
    borrowing_factor_e30: int = 0
    pool_raw: dict[str, int] = field(default_factory=dict)
