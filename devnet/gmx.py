"""Drive the GMX v2 simulator on a devnet: deploy it, move prices, trade, liquidate.

    gmx = deploy_gmx(devnet)                          # DataStore, Reader, EventEmitter, exchange
    gmx.set_price("ETH", 2500)                        # the ETH/USD Chainlink feed, USD
    key = gmx.increase(trader, "ETH/USD", "USDC", True, 1_000 * 10**6, 10_000 * E30)
    gmx.set_price("ETH", 2265)
    gmx.is_liquidatable(key).liquidatable, gmx.liquidate(trader, "ETH/USD", "USDC", True)

Units as GMX keeps them: USD values and factors times 1e30 (``*_e30``), token amounts in the
token's smallest unit (``*_raw``), on-chain prices in USD per smallest unit times 1e30. The
contracts' state uses GMX's real DataStore keys (``indexer.protocols.gmx_v2.keys``), so what this
driver writes is what perpwatch's adapter reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from devnet.deploy import Devnet, TransactionReverted, call, transact
from devnet.gmx_types import LiquidationCheck, MarginTerms, SimMarket, SimToken, devnet_address
from indexer.decode.words import address_word, bool_word, bytes32_word
from indexer.models import E30
from indexer.protocols.gmx_v2 import keys as gmx_keys
from indexer.protocols.gmx_v2.adapter import GmxV2Adapter
from indexer.protocols.gmx_v2.decode import (
    GmxMarket,
    GmxToken,
    cumulative_borrowing_factor_key,
    funding_per_size_key,
)

__all__ = [
    "DEFAULT_MARKETS",
    "DEFAULT_TOKENS",
    "GmxDeployment",
    "LiquidationCheck",
    "MarginTerms",
    "SimMarket",
    "SimToken",
    "deploy_gmx",
    "devnet_address",
]


# symbol, asset, decimals, initial USD price
DEFAULT_TOKENS = (("WETH", "ETH", 18, 2500), ("USDC", "USDC", 6, 1), ("WBTC", "BTC", 8, 60000))
# name, index, long, short
DEFAULT_MARKETS = (("ETH/USD", "WETH", "WETH", "USDC"), ("BTC/USD", "WBTC", "WBTC", "USDC"))


@dataclass
class GmxDeployment:
    """The deployed simulator and the keeper operations on it (sent from dev account 0)."""

    devnet: Devnet
    data_store: Contract
    reader: Contract
    event_emitter: Contract
    exchange: Contract
    referral_storage: str
    config: Contract
    tokens: dict[str, SimToken] = field(default_factory=dict)
    markets: dict[str, SimMarket] = field(default_factory=dict)

    # -- lookups -------------------------------------------------------------------------------

    def token(self, symbol_or_asset: str) -> SimToken:
        """A token by symbol (``WETH``) or asset (``ETH``). Raises KeyError if unknown."""
        for token in self.tokens.values():
            if symbol_or_asset in (token.symbol, token.asset):
                return token
        raise KeyError(f"no devnet token {symbol_or_asset!r}")

    def position_key(self, account: str, market: str, collateral: str, is_long: bool) -> bytes:
        m = self.markets[market]
        return gmx_keys.position_key(
            account, m.market_token, self.token(collateral).address, is_long
        )

    def adapter(self, chain_id: int | None = None) -> GmxV2Adapter:
        """perpwatch's GMX v2 adapter configured for this deployment (every market and feed)."""
        tokens = {
            t.address: GmxToken(t.asset, t.decimals, t.feed.address) for t in self.tokens.values()
        }
        markets = [
            GmxMarket(m.market_token, m.index.address, m.long.address, m.short.address)
            for m in self.markets.values()
        ]
        addresses = {
            "data_store": self.data_store.address,
            "reader": self.reader.address,
            "event_emitter": self.event_emitter.address,
            "referral_storage": self.referral_storage,
        }
        chain = chain_id if chain_id is not None else self.devnet.anvil.chain_id
        return GmxV2Adapter(chain, addresses, markets=markets, tokens=tokens)

    # -- prices and parameters -----------------------------------------------------------------

    def set_price(self, asset: str, usd: int | str | Decimal) -> None:
        """Set ``asset``'s feed to ``usd`` (exact: a string or Decimal, not a float).

        Raises ValueError if ``usd`` has more digits than the feed.
        """
        transact(self.set_price_call(asset, usd))

    def set_price_call(self, asset: str, usd: int | str | Decimal) -> ContractFunction:
        """:meth:`set_price` as a call not yet sent."""
        token = self.token(asset)
        answer = Decimal(usd) * 10**token.feed_decimals
        if answer != answer.to_integral_value():
            raise ValueError(f"{usd} has more than {token.feed_decimals} decimals")
        return token.feed.functions.setAnswer(int(answer))

    def oracle_price(self, asset: str) -> int:
        """The simulator's price of ``asset``: USD per smallest unit times 1e30."""
        return int(call(self.exchange.functions.tokenPrice(self.token(asset).address))[0])

    def set_uint(self, key: bytes, value: int) -> None:
        """Write DataStore state directly, as trading does (no event): pools, accruals."""
        transact(self.data_store.functions.setUint(key, value))

    def set_config(self, base: bytes, *args: str | bool | bytes, value: int) -> None:
        """``Config.setUint(base, abi.encode(*args), value)``: a configuration value, stored
        under its ``Keys.sol`` key and announced with a ``SetUint`` event, as GMX sets them.
        ``args``: addresses (0x strings), flags, or base keys (32 bytes)."""
        data = b"".join(_word(a) for a in args)
        transact(self.config.functions.setUint(base, data, value))

    def set_min_collateral_usd(self, usd_e30: int) -> None:
        self.set_config(gmx_keys.MIN_COLLATERAL_USD, value=usd_e30)

    def set_market_factors(
        self,
        market: str,
        *,
        min_collateral_factor_e30: int | None = None,
        liquidation_factor_e30: int | None = None,
        position_fee_factor_e30: int | None = None,
        improved_fee_factor_e30: int | None = None,
    ) -> None:
        """Set any of a market's MIN_COLLATERAL_FACTOR, …_FOR_LIQUIDATION, POSITION_FEE_FACTOR.
        ``position_fee_factor_e30`` sets both balance flags; ``improved_fee_factor_e30`` then
        overrides the ``balanceWasImproved = true`` one."""
        t = self.markets[market].market_token
        if min_collateral_factor_e30 is not None:
            self.set_config(gmx_keys.MIN_COLLATERAL_FACTOR, t, value=min_collateral_factor_e30)
        if liquidation_factor_e30 is not None:
            base = gmx_keys.MIN_COLLATERAL_FACTOR_FOR_LIQUIDATION
            self.set_config(base, t, value=liquidation_factor_e30)
        if position_fee_factor_e30 is not None:
            for improved in (False, True):
                self.set_config(
                    gmx_keys.POSITION_FEE_FACTOR, t, improved, value=position_fee_factor_e30
                )
        if improved_fee_factor_e30 is not None:
            self.set_config(gmx_keys.POSITION_FEE_FACTOR, t, True, value=improved_fee_factor_e30)

    def set_margin_terms(self, market: str, terms: MarginTerms) -> None:
        """Write a market's impact, profit-cap and borrowing-rate configuration and its pools
        (``MarginTerms``)."""
        m = self.markets[market]
        t = m.market_token
        for i, positive in enumerate((True, False)):
            for base, value in (
                (gmx_keys.POSITION_IMPACT_FACTOR, terms.impact_factor_e30[i]),
                (gmx_keys.POSITION_IMPACT_EXPONENT_FACTOR, terms.impact_exponent_e30[i]),
                (gmx_keys.MAX_POSITION_IMPACT_FACTOR, terms.max_impact_e30[i]),
            ):
                self.set_config(base, t, positive, value=value)
        cap = gmx_keys.MAX_POSITION_IMPACT_FACTOR_FOR_LIQUIDATIONS
        self.set_config(cap, t, value=terms.liquidation_impact_cap_e30)
        for is_long in (True, False):
            traders = gmx_keys.MAX_PNL_FACTOR_FOR_TRADERS
            self.set_config(
                gmx_keys.MAX_PNL_FACTOR, traders, t, is_long, value=terms.max_pnl_factor_e30
            )
            self.set_config(gmx_keys.BORROWING_FACTOR, t, is_long, value=terms.borrowing_factor_e30)
        for token, amount in terms.pool_raw.items():
            self.set_uint(gmx_keys.pool_amount_key(t, self.token(token).address), amount)

    def set_pending_impact(self, key: bytes, amount_raw: int) -> None:
        """Set a position's v2.2 ``pendingImpactAmount`` (index-token units, > 0 a credit)."""
        transact(self.exchange.functions.setPendingImpactAmount(key, amount_raw))

    def advance_time(self, seconds: int) -> None:
        """Move the chain clock (and mine a block): borrowing accrues between updates."""
        self.devnet.anvil.request("evm_increaseTime", [seconds])
        self.devnet.anvil.request("evm_mine", [])

    def accrue_borrowing(self, market: str, is_long: bool, factor_delta_e30: int) -> None:
        """Raise the market side's cumulative borrowing factor: every open position of that
        side then owes ``sizeInUsd · delta / 1e30`` USD more."""
        key = cumulative_borrowing_factor_key(self.markets[market].market_token, is_long)
        self.set_uint(key, int(call(self.data_store.functions.getUint(key))) + factor_delta_e30)

    def accrue_funding(self, market: str, collateral: str, is_long: bool, per_size: int) -> None:
        """Raise FUNDING_FEE_AMOUNT_PER_SIZE: positions owe ``sizeInUsd · Δ / 1e45`` collateral
        token units more (rounded up)."""
        m = self.markets[market]
        key = funding_per_size_key(m.market_token, self.token(collateral).address, is_long)
        self.set_uint(key, int(call(self.data_store.functions.getUint(key))) + per_size)

    # -- trading -------------------------------------------------------------------------------

    def increase(
        self,
        account: str,
        market: str,
        collateral: str,
        is_long: bool,
        collateral_raw: int,
        size_delta_usd_e30: int,
    ) -> bytes:
        """Open or increase a position at the feed price; returns its key.

        Raises:
            TransactionReverted: the result would be liquidatable (MIN_COLLATERAL_FACTOR) etc.
        """
        fn = self.increase_call(account, market, collateral, is_long, collateral_raw,
                                size_delta_usd_e30)  # fmt: skip
        transact(fn)
        return self.position_key(account, market, collateral, is_long)

    def increase_call(
        self,
        account: str,
        market: str,
        collateral: str,
        is_long: bool,
        collateral_raw: int,
        size_delta_usd_e30: int,
    ) -> ContractFunction:
        """:meth:`increase` as a call not yet sent (for ``devnet.txbatch``)."""
        args = self._position_args(account, market, collateral, is_long)
        return self.exchange.functions.increasePosition(*args, collateral_raw, size_delta_usd_e30)

    def decrease(
        self,
        account: str,
        market: str,
        collateral: str,
        is_long: bool,
        size_delta_usd_e30: int,
        collateral_raw: int = 0,
    ) -> None:
        """Decrease (a size delta at least the size closes it) and withdraw collateral."""
        args = self._position_args(account, market, collateral, is_long)
        transact(
            self.exchange.functions.decreasePosition(*args, size_delta_usd_e30, collateral_raw)
        )

    def close(self, account: str, market: str, collateral: str, is_long: bool) -> None:
        self.decrease(account, market, collateral, is_long, 2**256 - 1)

    def liquidate(self, account: str, market: str, collateral: str, is_long: bool) -> bool:
        """Try to liquidate as a keeper; True if it went through, False if GMX's rule refused."""
        try:
            transact(self.liquidate_call(account, market, collateral, is_long))
        except TransactionReverted:
            return False
        return True

    def liquidate_call(
        self, account: str, market: str, collateral: str, is_long: bool
    ) -> ContractFunction:
        """:meth:`liquidate` as a call not yet sent."""
        args = self._position_args(account, market, collateral, is_long)
        return self.exchange.functions.liquidatePosition(*args)

    def _position_args(
        self, account: str, market: str, collateral: str, is_long: bool
    ) -> tuple[str, str, str, bool]:
        m = self.markets[market]
        return (
            Web3.to_checksum_address(account),
            m.market_token,
            self.token(collateral).address,
            is_long,
        )

    # -- reading the simulator's own view ------------------------------------------------------

    def position(self, key: bytes) -> Any:
        """``Reader.getPosition`` as web3 decodes it: ((account, market, collateral), numbers,
        (isLong,))."""
        return call(self.reader.functions.getPosition(self.data_store.address, key))

    def market_prices(self, market: str) -> Any:
        return call(self.exchange.functions.marketPrices(self.markets[market].market_token))

    def is_liquidatable(self, key: bytes) -> LiquidationCheck:
        """The simulator's ``Reader.isPositionLiquidatable`` at the feed prices, both flags on."""
        market_token = self.position(key)[0][1]
        market = call(self.reader.functions.getMarket(self.data_store.address, market_token))
        prices = call(self.exchange.functions.marketPrices(market_token))
        fn = self.reader.functions.isPositionLiquidatable(
            self.data_store.address, self.referral_storage, key, market, prices, True, True
        )
        liquidatable, reason, info = call(fn)
        return LiquidationCheck(bool(liquidatable), str(reason), *(int(v) for v in info))


def deploy_gmx(
    devnet: Devnet,
    tokens: tuple[tuple[str, str, int, int], ...] = DEFAULT_TOKENS,
    markets: tuple[tuple[str, str, str, str], ...] = DEFAULT_MARKETS,
) -> GmxDeployment:
    """Deploy the GMX v2 simulator with Chainlink feeds and markets on ``devnet``.

    Defaults (GMX's typical values, PROTOCOLS.md §1.5): minCollateralUsd $1, per market
    MIN_COLLATERAL_FACTOR 1 %, …_FOR_LIQUIDATION 0.5 %, position fee 0.06 % (0.04 % when closing
    improves the open-interest balance); no borrowing or funding accrued, no price impact and no
    profit cap until ``set_margin_terms``. Token and market addresses are fixed labels (no
    ERC-20 code behind them).
    """
    data_store = devnet.deploy("GmxV2DataStore")
    emitter = devnet.deploy("GmxV2EventEmitter")
    reader = devnet.deploy("GmxV2Reader")
    exchange = devnet.deploy("GmxV2Exchange", data_store.address, emitter.address, reader.address)
    config = devnet.deploy("GmxV2Config", data_store.address, emitter.address)
    for writer in (exchange, config):
        transact(data_store.functions.setController(writer.address, True))
        transact(emitter.functions.setController(writer.address, True))
    gmx = GmxDeployment(
        devnet=devnet,
        data_store=data_store,
        reader=reader,
        event_emitter=emitter,
        exchange=exchange,
        referral_storage=devnet_address("ReferralStorage"),
        config=config,
    )
    for symbol, asset, decimals, usd in tokens:
        feed = devnet.deploy("ChainlinkAggregatorSim", 8, f"{asset} / USD", usd * 10**8)
        token = SimToken(symbol, asset, devnet_address(symbol), decimals, feed)
        transact(exchange.functions.setPriceFeed(token.address, feed.address, decimals))
        gmx.tokens[symbol] = token
    for name, index, long, short in markets:
        market = SimMarket(
            name, devnet_address(f"market:{name}"), *(gmx.tokens[s] for s in (index, long, short))
        )
        transact(
            exchange.functions.createMarket(
                market.market_token, market.index.address, market.long.address, market.short.address
            )
        )
        gmx.markets[name] = market
        gmx.set_market_factors(
            name,
            min_collateral_factor_e30=E30 // 100,
            liquidation_factor_e30=5 * E30 // 1000,
            position_fee_factor_e30=6 * E30 // 10_000,
            improved_fee_factor_e30=4 * E30 // 10_000,
        )
        for is_long in (True, False):  # linear borrowing rate (the factor is 0 until set)
            exponent = gmx_keys.BORROWING_EXPONENT_FACTOR
            gmx.set_config(exponent, market.market_token, is_long, value=E30)
    gmx.set_min_collateral_usd(E30)
    return gmx


def _word(arg: str | bool | bytes) -> bytes:
    """One ``abi.encode`` word: an address, a flag, or a 32-byte key."""
    if isinstance(arg, bool):
        return bool_word(arg)
    if isinstance(arg, bytes):
        return bytes32_word(arg)
    return address_word(arg)
