"""HyperEVM read precompiles: calldata and return data, as pure functions (no RPC here).

A precompile takes ``abi.encode(args)`` with no selector and returns ``abi.encode(output)`` in
the official L1Read.sol layout (PROTOCOLS.md §3.1; addresses and layouts are read from
``contracts_abi/hyperliquid/precompiles.json``). HyperCore units, kept as exact ints here:

- ``szi``: signed size in 10^-szDecimals of the coin;
- perp prices: USD · 10^(6 - szDecimals), so ``szi · px`` is USD · 1e6;
- ``entryNtl``, ``rawUsd``, ``accountValue``, ``marginUsed``, ``ntlPos``: USD · 1e6.

    call = position_call("0xabc…", 0)          # Call3 to 0x…0800
    pos = decode_position(result)             # RawPosition(szi=…, entry_ntl_usd_e6=…, …)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from indexer.decode.abi import load_json
from indexer.decode.codec import Codec, compile_codec
from indexer.decode.words import address_word, uint_word
from indexer.errors import DecodeError
from indexer.protocols.base import CallResult
from indexer.reads.multicall import Call3

_READS: dict[str, Any] = load_json("hyperliquid/precompiles.json")["reads"]

UINT16_MAX = 0xFFFF
HIP3_FIRST_ASSET = 100_000
"""HIP-3 perp asset ids are 100000 + perpDexIndex · 10000 + index (PROTOCOLS.md §3.1)."""


def _codec(read: str) -> Codec:
    return compile_codec("tuple", _READS[read]["outputs"])


_POSITION, _PERP_INFO, _SUMMARY = (
    _codec("position"),
    _codec("perpAssetInfo"),
    _codec("accountMarginSummary"),
)
_MARK_PX = _codec("markPx")


@dataclass(frozen=True, slots=True)
class PerpInfo:
    """``perpAssetInfo`` of asset ``index``."""

    index: int
    coin: str
    margin_table_id: int
    sz_decimals: int
    max_leverage: int
    only_isolated: bool


@dataclass(frozen=True, slots=True)
class RawPosition:
    """``position(user, perp)``; ``szi == 0`` means no position."""

    szi: int
    entry_ntl_usd_e6: int
    isolated_raw_usd_e6: int
    leverage: int
    is_isolated: bool


@dataclass(frozen=True, slots=True)
class MarginSummary:
    """``accountMarginSummary(dex, user)``: account value = raw USD + Σ szi · mark."""

    account_value_usd_e6: int
    margin_used_usd_e6: int
    ntl_pos_usd_e6: int
    raw_usd_e6: int


def dex_of(perp: int) -> int:
    """The perp dex of an asset id: 0 (main) below 100000, else HIP-3's encoded index."""
    return 0 if perp < HIP3_FIRST_ASSET else (perp - HIP3_FIRST_ASSET) // 10_000


def position_call(user: str, perp: int) -> Call3:
    """``position`` (uint16 perp, 0x…0800), or ``position2`` (uint32, 0x…0813) past 65535."""
    read = "position" if perp <= UINT16_MAX else "position2"
    return Call3(_READS[read]["address"], address_word(user) + uint_word(perp))


def mark_px_call(perp: int) -> Call3:
    return Call3(_READS["markPx"]["address"], uint_word(perp))


def perp_asset_info_call(perp: int) -> Call3:
    return Call3(_READS["perpAssetInfo"]["address"], uint_word(perp))


def margin_summary_call(dex: int, user: str) -> Call3:
    """Note the argument order of the real precompile: (uint32 perpDexIndex, address user)."""
    return Call3(_READS["accountMarginSummary"]["address"], uint_word(dex) + address_word(user))


def _payload(result: CallResult, what: str) -> bytes:
    ok, data = result
    if not ok:
        # An unknown asset or dex makes the precompile fail (burning its gas): a config error
        # as much as a chain one, so the message names the read.
        raise DecodeError(f"hyperliquid {what} failed (unknown asset or dex?)")
    return data


def decode_perp_info(perp: int, result: CallResult) -> PerpInfo:
    """Raises DecodeError if the call failed or its data is malformed."""
    ((coin, table, sz_decimals, max_leverage, only_isolated),) = _PERP_INFO.read(
        _payload(result, f"perpAssetInfo({perp})"), 0
    )
    if sz_decimals > 6 or max_leverage == 0:
        raise DecodeError(f"hyperliquid perp {perp}: szDecimals {sz_decimals}, maxLeverage 0?")
    return PerpInfo(perp, coin, table, sz_decimals, max_leverage, only_isolated)


def decode_mark_px(perp: int, result: CallResult) -> int:
    """Mark price in USD · 10^(6 - szDecimals). Raises DecodeError (failed call, or 0)."""
    (px,) = _MARK_PX.read(_payload(result, f"markPx({perp})"), 0)
    if px == 0:
        raise DecodeError(f"hyperliquid markPx({perp}) is 0")
    return int(px)


def decode_position(result: CallResult) -> RawPosition:
    """Raises DecodeError if the call failed or its data is malformed."""
    ((szi, entry, iso_raw, leverage, isolated),) = _POSITION.read(_payload(result, "position"), 0)
    return RawPosition(szi, entry, iso_raw, leverage, isolated)


def decode_margin_summary(result: CallResult) -> MarginSummary:
    """Raises DecodeError if the call failed or its data is malformed."""
    ((value, used, ntl, raw),) = _SUMMARY.read(_payload(result, "accountMarginSummary"), 0)
    return MarginSummary(value, used, ntl, raw)
