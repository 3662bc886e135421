"""gTrade v10 (GNSMultiCollatDiamond): isolated margin, one account per (trader, index).

The adapter describes; :mod:`indexer.reads.execute` executes. ``read_accounts`` is two reads at
one block, because the holding fees take the pair price and the trade index as arguments:

1. Multicall3's block number, ``getCollaterals``, each configured pair feed's
   ``latestRoundData`` and ``decimals``, ``getCountersForTraders(owners, TRADE)`` and the
   ``…ForTraders`` batch forms of ``getTrades``/``getTradeInfos``/``getTradesLiquidationParams``
   (aligned; the diamond skips wallets whose ``openCount`` is 0 itself). A batch that could not
   hold every open trade is completed by one more read of the same three.
2. For every open trade (``tradeType`` 0; limit and stop orders are stored as trades too):
   ``getTradeFeesDataArray`` (one call), ``getTradePendingHoldingFeesCollateral`` at the pair's
   feed price, ``pairSpreadPArray`` (one call for every (trader, pair)), per pair
   ``pairTotalPositionSizeFeeP``, ``pairMinPositionSizeUsd`` (and for counter trades
   ``getPairCounterTradeFeeRateMultiplier``), per collateral ``getCollateralPriceUsd``.

What a trade becomes in the normal form is :func:`indexer.protocols.gtrade.margin.trade_account`;
the collateral is converted to USD at the diamond's ``getCollateralPriceUsd`` at the read's
block (Pc), and its asset key is pinned to that price (``WETH@312345678901``, quoted as such by
``read_prices``), so health crosses 1 at gTrade's liquidation price whatever the token's live
price does afterwards (gTrade's rule is in collateral units).

    adapter = GTradeAdapter(42161, "0xFF16…", pairs={0: GTradePair("BTC", feed)},
                            collaterals={3: "USDC"})
    read = adapter.read_accounts(["0xabc…"])          # Read[list[MarginAccount]] with follow
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from indexer.errors import ConfigError, DecodeError
from indexer.models import MarginAccount
from indexer.protocols.base import CallResult, PricesSeen, Read, followed
from indexer.protocols.gtrade import decode as d
from indexer.protocols.gtrade.events import EVENT_TOPICS, touched_by
from indexer.protocols.gtrade.lookback import HIGH, LOW, GTradePair, price_keys, read_lookback
from indexer.protocols.gtrade.margin import (
    LEVERAGE_SCALE,
    LiqParams,
    TradeTerms,
    closing_fee_collateral_raw,
    liq_spread_p,
    pinned_asset,
    trade_account,
)
from indexer.reads.multicall import MULTICALL3_ADDRESS, Call3
from indexer.scan.rows import EventRow, LogSource, Touch

_BLOCK_NUMBER = Call3(MULTICALL3_ADDRESS, bytes.fromhex("42cbb15c"), allow_failure=False)
FEES_BATCH = 600
"""Sub-calls per Multicall3 request of the fees step: a holding-fee read per trade is the bulk,
so 500 one-trade wallets fit one request (and 2,000 trades take four)."""
SLACK_SLOTS = 16
"""Batch slots beyond two per owner, so most reads need no completing read."""


@dataclass(frozen=True, slots=True)
class _Trade:
    trade: d.RawTrade
    info: d.RawTradeInfo
    liq: LiqParams


class GTradeAdapter:
    """gTrade v10 on one chain (or the devnet simulator with the same reads and events).

    ``pairs`` maps a pair index to its asset and USD feed; ``collaterals`` a collateral index
    (1-based) to its asset name. ``lookback`` names positions' prices after the adverse
    lookback extreme (``BTC:low`` for a long, ``BTC:high`` for a short; see
    :mod:`indexer.protocols.gtrade.prices`) instead of the pair's latest price (``BTC``).

    Raises:
        ConfigError: no diamond address, or a collateral named like a pair.
    """

    name = d.PROTOCOL
    # TradeClosed and a LIQ_CLOSE LimitExecuted end the trade, and a trader's next trade takes
    # a new index (the ref is trader:index), so an ended ref never comes back.
    events_end_accounts = True

    def __init__(
        self,
        chain_id: int,
        diamond: str,
        start_block: int = 0,
        *,
        pairs: Mapping[int, GTradePair] | None = None,
        collaterals: Mapping[int, str] | None = None,
        lookback: bool = True,
        owners_per_read: int = 500,
        source_name: str | None = None,
    ) -> None:
        if not diamond:
            raise ConfigError("gtrade: missing addresses: diamond")
        self.chain_id = chain_id
        self.diamond = diamond.lower()
        self.start_block = start_block
        self.pairs = {i: GTradePair(p.asset, p.feed.lower()) for i, p in (pairs or {}).items()}
        self.collaterals = dict(collaterals or {})
        self.lookback = lookback
        self.owners_per_read = owners_per_read
        self.source_name = source_name or f"{chain_id}:{d.PROTOCOL}"
        clash = set(self.collaterals.values()) & {p.asset for p in self.pairs.values()}
        if clash:
            raise ConfigError(f"gtrade: {sorted(clash)} named both a pair and a collateral")

    # -- logs ----------------------------------------------------------------------------------

    def log_source(self) -> LogSource:
        """Every trade lifecycle event of the diamond (PROTOCOLS.md §4.3)."""
        return LogSource(
            name=self.source_name,
            chain_id=self.chain_id,
            addresses=(self.diamond,),
            topics=(tuple(EVENT_TOPICS),),
            start_block=self.start_block,
        )

    def touched(self, rows: Sequence[EventRow]) -> list[Touch]:
        """Trades touched, closed (``TradeClosed``) or liquidated (``LimitExecuted`` with
        orderType 6) by these decoded rows of the diamond; ref ``trader:index``."""
        return touched_by(rows, self.diamond)

    # -- accounts ------------------------------------------------------------------------------

    def position_asset(self, pair_asset: str, long: bool) -> str:
        """The price key a trade is valued at (see ``lookback``)."""
        if not self.lookback:
            return pair_asset
        return pair_asset + (LOW if long else HIGH)

    def _feed_calls(self) -> list[Call3]:
        return [c for p in self.pairs.values() for c in d.feed_calls(p.feed)]

    def _pair_prices(self, results: Sequence[CallResult]) -> dict[int, int]:
        """Pair index → latest feed price (1e10); pairs whose feed failed are left out."""
        rounds = {
            index: d.decode_feed(results[2 * i], results[2 * i + 1])
            for i, index in enumerate(self.pairs)
        }
        return {index: r.price_e10 for index, r in rounds.items() if r is not None}

    def _trade_calls(self, owners: Sequence[str], first: int, last: int) -> list[Call3]:
        return [
            d.diamond_call(self.diamond, name, owners, first, last)
            for name in (
                "getAllTradesForTraders",
                "getAllTradeInfosForTraders",
                "getAllTradesLiquidationParamsForTraders",
            )
        ]

    def _decode_trades(self, results: Sequence[CallResult], count: int) -> list[_Trade]:
        trades = d.decode_trades("getAllTradesForTraders", results[0])[:count]
        infos = d.decode_infos("getAllTradeInfosForTraders", results[1], len(trades))
        liq = d.decode_liq_params(
            "getAllTradesLiquidationParamsForTraders", results[2], len(trades)
        )
        return [_Trade(t, i, p) for t, i, p in zip(trades, infos, liq, strict=True)]

    def read_accounts(self, owners: Sequence[str]) -> Read[list[MarginAccount]]:
        """Every open trade of ``owners`` (lower-case 0x addresses) as an isolated account."""
        owners = list(dict.fromkeys(o.lower() for o in owners))  # the diamond would repeat them
        slots = 2 * len(owners) + SLACK_SLOTS
        feeds = self._feed_calls()
        calls = [
            _BLOCK_NUMBER,
            d.diamond_call(self.diamond, "getCollaterals"),
            *feeds,
            d.diamond_call(self.diamond, "getCountersForTraders", owners, d.COUNTER_TRADES),
            *self._trade_calls(owners, 0, slots - 1),
        ]

        def follow(results: Sequence[CallResult]) -> Read[list[MarginAccount]]:
            if len(results) != len(calls):
                raise DecodeError(f"gtrade: {len(results)} results for {len(calls)} calls")
            block = _uint(results[0])
            collaterals = d.decode_collaterals(results[1])
            at = 2 + len(feeds)
            prices = self._pair_prices(results[2:at])
            total = sum(d.decode_open_counts(results[at], len(owners)))
            trades = self._decode_trades(results[at + 1 : at + 4], min(total, slots))
            state = _ReadState(block, collaterals, prices)
            if total <= slots:
                return self._fees_read(state, trades)
            rest = self._trade_calls(owners, slots, total - 1)

            def more(extra: Sequence[CallResult]) -> Read[list[MarginAccount]]:
                trades_all = trades + self._decode_trades(extra, total - slots)
                return self._fees_read(state, trades_all)

            return Read(tuple(rest), followed, follow=more)

        # The block, collaterals and feeds are everyone's; the counters and trades the owners'.
        shared = 2 + len(feeds)
        return Read(tuple(calls), followed, batch_size=len(calls), follow=follow, shared=shared)

    def _fees_read(self, state: _ReadState, trades: Sequence[_Trade]) -> Read[list[MarginAccount]]:
        """Phase 2: fees, holding fees at the pair price, spreads and collateral prices."""
        open_trades = [t for t in trades if t.trade.trade_type == d.TRADE_TYPE_TRADE]
        for t in open_trades:
            self._require_known(t.trade, state)
        plan = _FeesPlan.build(open_trades)
        calls: list[Call3] = []
        if open_trades:
            users = [t.trade.user for t in open_trades]
            indices = [t.trade.index for t in open_trades]
            calls.append(d.diamond_call(self.diamond, "getTradeFeesDataArray", users, indices))
        for t in open_trades:
            price = state.prices[t.trade.pair_index]
            calls.append(
                d.diamond_call(
                    self.diamond, "getTradePendingHoldingFeesCollateral",
                    t.trade.user, t.trade.index, price,
                )
            )  # fmt: skip
        calls += [
            d.diamond_call(self.diamond, "pairTotalPositionSizeFeeP", pair) for pair in plan.pairs
        ]
        calls += [
            d.diamond_call(self.diamond, "getPairCounterTradeFeeRateMultiplier", pair)
            for pair in plan.counter_pairs
        ]
        calls += [
            d.diamond_call(self.diamond, "pairMinPositionSizeUsd", pair) for pair in plan.pairs
        ]
        if plan.spread_keys:
            spread_users = [user for user, _ in plan.spread_keys]
            spread_pairs = [pair for _, pair in plan.spread_keys]
            calls.append(
                d.diamond_call(self.diamond, "pairSpreadPArray", spread_users, spread_pairs)
            )
        calls += [
            d.diamond_call(self.diamond, "getCollateralPriceUsd", index)
            for index in plan.collaterals
        ]

        def decode(results: Sequence[CallResult]) -> list[MarginAccount]:
            if len(results) != len(calls):
                raise DecodeError(f"gtrade: {len(results)} results for {len(calls)} calls")
            if not open_trades:
                return []
            it = iter(results)
            fees = d.decode_fees_array(next(it), len(open_trades))
            holding = [d.decode_holding_total(next(it)) for _ in open_trades]
            fee_p = {p: d.decode_uint("pairTotalPositionSizeFeeP", next(it)) for p in plan.pairs}
            counter = {
                p: d.decode_uint("getPairCounterTradeFeeRateMultiplier", next(it))
                for p in plan.counter_pairs
            }
            min_usd = {p: d.decode_uint("pairMinPositionSizeUsd", next(it)) for p in plan.pairs}
            spreads = d.decode_output("pairSpreadPArray", next(it))
            if len(spreads) != len(plan.spread_keys):
                raise DecodeError(f"gtrade pairSpreadPArray: {len(spreads)} spreads")
            spread = dict(zip(plan.spread_keys, map(int, spreads), strict=True))
            usd_e8 = {c: d.decode_uint("getCollateralPriceUsd", next(it)) for c in plan.collaterals}
            values = _Values(fee_p, counter, min_usd, spread, usd_e8)
            return [
                self._account(state, t, f, h, values)
                for t, f, h in zip(open_trades, fees, holding, strict=True)
            ]

        return Read(tuple(calls), decode, batch_size=FEES_BATCH)

    def _require_known(self, trade: d.RawTrade, state: _ReadState) -> None:
        where = f"gtrade: trade {trade.user}:{trade.index}"
        if trade.pair_index not in self.pairs:
            raise ConfigError(
                f"{where} is in pair {trade.pair_index}, which is not configured "
                f"(set [protocols.pairs.{trade.pair_index}] asset and feed)"
            )
        if trade.pair_index not in state.prices:
            raise DecodeError(f"{where}: the feed of pair {trade.pair_index} has no price")
        if trade.collateral_index not in self.collaterals:
            raise ConfigError(
                f"{where} uses collateral {trade.collateral_index}, which is not named "
                f"(set [protocols.collaterals.{trade.collateral_index}] asset)"
            )
        if trade.collateral_index not in state.collaterals:
            raise DecodeError(f"{where}: collateral {trade.collateral_index} is not listed")

    def _account(
        self, state: _ReadState, t: _Trade, fees: d.RawFees, holding: int, values: _Values
    ) -> MarginAccount:
        trade, collateral = t.trade, state.collaterals[t.trade.collateral_index]
        decimals = collateral.decimals
        usd_e8 = values.collateral_usd_e8[trade.collateral_index]
        closing = closing_fee_collateral_raw(
            values.fee_p[trade.pair_index],
            trade.collateral_raw,
            trade.leverage_e3,
            values.min_size_usd_e18[trade.pair_index],
            usd_e8,
            decimals,
            counter_trade_fee_rate_multiplier_e3=(
                values.counter_multiplier_e3[trade.pair_index]
                if trade.is_counter_trade
                else LEVERAGE_SCALE
            ),
        )
        spread = liq_spread_p(
            values.spread_p[(trade.user, trade.pair_index)], 0, t.liq.max_liq_spread_p,
            t.info.contracts_version,
        )  # fmt: skip
        terms = TradeTerms(
            long=trade.long,
            open_price_e10=trade.open_price_e10,
            collateral_raw=trade.collateral_raw,
            collateral_decimals=decimals,
            leverage_e3=trade.leverage_e3,
            liq_params=t.liq,
            closing_fee_collateral_raw=closing,
            holding_fee_collateral_raw=holding,
            realized_pnl_collateral_raw=fees.realized_pnl_raw,
            realized_trading_fees_collateral_raw=fees.realized_trading_fees_raw,
            liq_spread_p=spread,
        )
        pair_asset = self.pairs[trade.pair_index].asset
        try:
            return trade_account(
                terms,
                account_id=f"{trade.user}:{trade.index}",
                owner=trade.user,
                market=f"{pair_asset}/USD",
                asset=self.position_asset(pair_asset, trade.long),
                # Valued at the conversion price itself: health then crosses 1 exactly at
                # gTrade's liquidation price whatever the token's live price does.
                collateral_asset=pinned_asset(self.collaterals[trade.collateral_index], usd_e8),
                collateral_price_feed=f"gtrade:collateral:{trade.collateral_index}",
                collateral_price_usd_e8=usd_e8,
                chain_id=self.chain_id,
                block_number=state.block,
                protocol=self.name,
            )
        except ValueError as exc:
            raise DecodeError(f"gtrade trade {trade.user}:{trade.index}: {exc}") from exc

    # -- prices --------------------------------------------------------------------------------

    def read_prices(self, assets: Sequence[str]) -> Read[dict[str, float]]:
        """USD per whole unit: a pair's latest feed round (also for its ``:low``/``:high``
        keys) and a collateral's ``getCollateralPriceUsd``. Assets it does not price, and
        feeds that fail, are left out."""
        wanted = frozenset(assets)
        seen = read_lookback(self._pairs_for(wanted), self._collateral_prices(wanted), wanted, {})

        def follow(results: Sequence[CallResult]) -> Read[dict[str, float]]:
            more = seen.follow(results) if seen.follow is not None else seen
            return Read(more.calls, lambda extra: more.decode(extra).prices)

        return Read(seen.calls, followed, follow=follow)

    def read_prices_since(
        self, assets: Sequence[str], memory: Mapping[str, int]
    ) -> Read[PricesSeen]:
        """Prices with the lookback extremes since the feed rounds in ``memory`` (see
        :mod:`indexer.protocols.gtrade.lookback`); ``memory`` of the answer is for the next."""
        wanted = frozenset(assets)
        return read_lookback(
            self._pairs_for(wanted), self._collateral_prices(wanted), wanted, memory
        )

    def _pairs_for(self, wanted: frozenset[str]) -> list[GTradePair]:
        return [p for p in self.pairs.values() if wanted & set(price_keys(p.asset))]

    def _collateral_prices(self, wanted: frozenset[str]) -> Read[dict[str, float]]:
        """``getCollateralPriceUsd`` (1e8) of the wanted collaterals, USD per whole unit."""
        indices = [i for i, asset in self.collaterals.items() if asset in wanted]
        calls = tuple(d.diamond_call(self.diamond, "getCollateralPriceUsd", i) for i in indices)

        def decode(results: Sequence[CallResult]) -> dict[str, float]:
            return {
                self.collaterals[i]: _uint(r) / 10**8
                for i, r in zip(indices, results, strict=True)
                if r[0]
            }

        return Read(calls, decode)


@dataclass(frozen=True, slots=True)
class _ReadState:
    block: int
    collaterals: Mapping[int, d.RawCollateral]
    prices: Mapping[int, int]


@dataclass(frozen=True, slots=True)
class _Values:
    fee_p: Mapping[int, int]
    counter_multiplier_e3: Mapping[int, int]
    min_size_usd_e18: Mapping[int, int]
    spread_p: Mapping[tuple[str, int], int]
    collateral_usd_e8: Mapping[int, int]


@dataclass(frozen=True, slots=True)
class _FeesPlan:
    """The distinct per-pair, per-trader and per-collateral reads of phase 2, in call order."""

    pairs: tuple[int, ...]
    counter_pairs: tuple[int, ...]
    spread_keys: tuple[tuple[str, int], ...]
    collaterals: tuple[int, ...]

    @staticmethod
    def build(trades: Sequence[_Trade]) -> _FeesPlan:
        rows = [t.trade for t in trades]
        return _FeesPlan(
            tuple(dict.fromkeys(r.pair_index for r in rows)),
            tuple(dict.fromkeys(r.pair_index for r in rows if r.is_counter_trade)),
            tuple(dict.fromkeys((r.user, r.pair_index) for r in rows)),
            tuple(dict.fromkeys(r.collateral_index for r in rows)),
        )


def _uint(result: CallResult) -> int:
    ok, data = result
    if not ok or len(data) != 32:
        raise DecodeError("gtrade: a uint read failed")
    return int.from_bytes(data, "big")
