"""gTrade diamond calldata and return data, as pure functions (no RPC here).

Selectors, argument and return layouts come from the diamond's ABI in
``contracts_abi/gtrade/GNSMultiCollatDiamond.json`` (v10: a ``Trade`` is 15 words). Values stay
the diamond's raw integers (prices 1e10, leverage 1e3, collateral in the token's smallest unit,
``…P`` percent·1e10, collateral USD prices 1e8); :mod:`indexer.protocols.gtrade.margin` turns
them into the normal form.

    call = all_trades_call(owners, 0, 499)          # Call3 to the diamond
    trades = decode_trades(result)                  # list[RawTrade], empty slots dropped
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from indexer.decode.abi import abi_entry, canonical_type, function_signature, selector
from indexer.decode.codec import Codec, compile_codec
from indexer.decode.words import encode_args, uint_word
from indexer.errors import DecodeError
from indexer.protocols.base import CallResult
from indexer.protocols.gtrade.margin import LiqParams
from indexer.reads.multicall import Call3

PROTOCOL = "gtrade"
ABI = "gtrade/GNSMultiCollatDiamond.json"
TRADE_TYPE_TRADE = 0
"""``tradeType`` of an open position; 1 (limit) and 2 (stop) are pending orders."""
COUNTER_TRADES = 0
"""``CounterType.TRADE`` for ``getCounters``."""


@functools.cache
def _entry(name: str) -> dict[str, Any]:
    return abi_entry(ABI, name)


@functools.cache
def _selector(name: str) -> bytes:
    return selector(function_signature(_entry(name)))


@functools.cache
def _outputs(name: str) -> Codec:
    return compile_codec("tuple", _entry(name)["outputs"])


@functools.cache
def _types(name: str) -> list[str]:
    return [canonical_type(i) for i in _entry(name)["inputs"]]


def diamond_call(diamond: str, name: str, *args: Any) -> Call3:
    """A call of the diamond function ``name`` (its only overload in the ABI) with ``args``."""
    return Call3(diamond, _selector(name) + encode_args(_types(name), args))


def decode_output(name: str, result: CallResult) -> Any:
    """The single return value of ``name``.

    Raises:
        DecodeError: the sub-call failed or returned malformed data.
    """
    ok, data = result
    if not ok:
        raise DecodeError(f"gtrade {name} reverted: 0x{data.hex()}")
    (value,) = _outputs(name).read(data, 0)
    return value


@dataclass(frozen=True, slots=True)
class RawTrade:
    """The ``Trade`` fields perpwatch uses (user lower-case)."""

    user: str
    index: int
    pair_index: int
    leverage_e3: int
    long: bool
    is_open: bool
    collateral_index: int
    trade_type: int
    collateral_raw: int
    open_price_e10: int
    is_counter_trade: bool

    @property
    def key(self) -> tuple[str, int]:
        return (self.user, self.index)


@dataclass(frozen=True, slots=True)
class RawTradeInfo:
    """The ``TradeInfo`` fields perpwatch uses: contractsVersion 0 pre-v9.2, 1 v9.2, 2 v10."""

    created_block: int
    collateral_price_usd_e8: int
    contracts_version: int


@dataclass(frozen=True, slots=True)
class RawCollateral:
    """``getCollaterals()[i]``: collateral index ``i + 1``; ``precision`` = 10^decimals."""

    index: int
    token: str
    is_active: bool
    precision: int

    @property
    def decimals(self) -> int:
        """Decimals of the token, from ``precision``.

        Raises:
            DecodeError: ``precision`` is not a power of ten.
        """
        digits = len(str(self.precision)) - 1
        if self.precision != 10**digits:
            raise DecodeError(f"gtrade collateral {self.index}: precision {self.precision}")
        return digits


def _trade(raw: Sequence[Any]) -> RawTrade:
    (user, index, pair, leverage, long, is_open, collateral, trade_type, amount, open_price,
     _tp, _sl, counter, _size_token, _placeholder) = raw  # fmt: skip
    return RawTrade(
        user, index, pair, leverage, long, is_open, collateral, trade_type, amount, open_price,
        counter,
    )  # fmt: skip


def decode_trades(name: str, result: CallResult) -> list[RawTrade]:
    """``getTrades`` / ``getAllTradesForTraders`` → trades; the batch form's empty slots
    (collateralIndex 0) are dropped."""
    return [_trade(t) for t in decode_output(name, result) if t[6] != 0]


def decode_infos(name: str, result: CallResult, count: int) -> list[RawTradeInfo]:
    """The first ``count`` ``TradeInfo``s (aligned with the trades of the same read)."""
    infos = decode_output(name, result)
    if len(infos) < count:
        raise DecodeError(f"gtrade {name}: {len(infos)} trade infos for {count} trades")
    return [RawTradeInfo(i[0], i[5], i[6]) for i in infos[:count]]


def decode_liq_params(name: str, result: CallResult, count: int) -> list[LiqParams]:
    """The first ``count`` ``GroupLiquidationParams`` (aligned with the trades)."""
    params = decode_output(name, result)
    if len(params) < count:
        raise DecodeError(f"gtrade {name}: {len(params)} liquidation params for {count} trades")
    return [LiqParams(*p) for p in params[:count]]


def decode_open_counts(result: CallResult, owners: int) -> list[int]:
    """``getCountersForTraders(owners, TRADE)`` → each owner's ``openCount``."""
    counters = decode_output("getCountersForTraders", result)
    if len(counters) != owners:
        raise DecodeError(f"gtrade getCountersForTraders: {len(counters)} for {owners} owners")
    return [int(c[1]) for c in counters]


def decode_collaterals(result: CallResult) -> dict[int, RawCollateral]:
    """``getCollaterals()`` by 1-based collateral index."""
    return {
        i: RawCollateral(i, c[0], c[1], c[3])
        for i, c in enumerate(decode_output("getCollaterals", result), start=1)
    }


@dataclass(frozen=True, slots=True)
class RawFees:
    """``TradeFeesData``'s realised amounts (collateral units; pnl signed)."""

    realized_trading_fees_raw: int
    realized_pnl_raw: int


def decode_fees_array(result: CallResult, count: int) -> list[RawFees]:
    fees = decode_output("getTradeFeesDataArray", result)
    if len(fees) != count:
        raise DecodeError(f"gtrade getTradeFeesDataArray: {len(fees)} for {count} trades")
    return [RawFees(f[0], f[1]) for f in fees]


def decode_holding_total(result: CallResult) -> int:
    """``TradeHoldingFees.totalFeeCollateral`` (signed, collateral units)."""
    return int(decode_output("getTradePendingHoldingFeesCollateral", result)[3])


def decode_uint(name: str, result: CallResult) -> int:
    return int(decode_output(name, result))


# -- pair feeds (Chainlink's AggregatorV3Interface) ------------------------------------------

_ROUND = compile_codec(
    "tuple", abi_entry("chainlink/AggregatorV3Interface.json", "latestRoundData")["outputs"]
)
_FEED_DECIMALS = compile_codec(
    "tuple", abi_entry("chainlink/AggregatorV3Interface.json", "decimals")["outputs"]
)
LATEST_ROUND_DATA = selector("latestRoundData()")
DECIMALS = selector("decimals()")
GET_ROUND_DATA = selector("getRoundData(uint80)")


@dataclass(frozen=True, slots=True)
class FeedRound:
    """One round of a pair's USD feed: ``answer`` with ``decimals`` digits."""

    round_id: int
    answer: int
    decimals: int
    updated_at: int

    @property
    def price(self) -> float:
        """USD per whole unit of the pair's base."""
        scale: int = 10**self.decimals
        return self.answer / scale

    @property
    def price_e10(self) -> int:
        """As a gTrade price (USD · 1e10), floored when the feed has more digits."""
        if self.decimals <= 10:
            up: int = 10 ** (10 - self.decimals)
            return self.answer * up
        down: int = 10 ** (self.decimals - 10)
        return self.answer // down


def feed_calls(feed: str) -> list[Call3]:
    """``latestRoundData`` and ``decimals`` of ``feed``, in that order."""
    return [Call3(feed, LATEST_ROUND_DATA), Call3(feed, DECIMALS)]


def round_call(feed: str, round_id: int) -> Call3:
    return Call3(feed, GET_ROUND_DATA + uint_word(round_id))


def decode_round(result: CallResult, decimals: int) -> FeedRound | None:
    """A ``latestRoundData``/``getRoundData`` answer, or None if it failed or is not positive."""
    ok, data = result
    if not ok:
        return None
    round_id, answer, _started, updated_at, _answered = _ROUND.read(data, 0)
    return FeedRound(round_id, answer, decimals, updated_at) if answer > 0 else None


def decode_feed(latest: CallResult, decimals: CallResult) -> FeedRound | None:
    """The latest round of a feed from its (latestRoundData, decimals) results, or None."""
    ok, data = decimals
    if not ok:
        return None
    (digits,) = _FEED_DECIMALS.read(data, 0)
    return decode_round(latest, int(digits))
