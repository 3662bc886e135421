"""GMX v2 DataStore keys and event-name hashes, as ``data/Keys.sol`` derives them.

A base key is ``keccak256(abi.encode(NAME))``: the name **ABI-encoded** (offset, length, padded
bytes), not its raw bytes. Per-account/per-market keys hash ``abi.encode(BASE, arg, …)`` with
32-byte words. Event names (``topics[1]`` of EventLog1/2) are the exception: they hash the raw
string. All results are 32-byte ``bytes``.

Usage::

    account_position_list_key("0x1111111111111111111111111111111111111111").hex()
    position_key(account, market, collateral_token, is_long=True)
    event_name_hash("PositionIncrease")
"""

from __future__ import annotations

from eth_abi.abi import encode

from indexer.decode.words import address_word as _a
from indexer.decode.words import bool_word as _b
from indexer.decode.words import bytes32_word as _k
from indexer.decode.words import keccak256


def base_key(name: str) -> bytes:
    """``keccak256(abi.encode(name))``, the form of every constant in Keys.sol (a string is
    dynamic: eth_abi encodes it; these are computed once, at import)."""
    return keccak256(encode(["string"], [name]))


def event_name_hash(event_name: str) -> bytes:
    """``keccak256(bytes(eventName))``: the EventLog1/EventLog2 ``topics[1]``."""
    return keccak256(event_name.encode())


ACCOUNT_POSITION_LIST = base_key("ACCOUNT_POSITION_LIST")
POSITION_LIST = base_key("POSITION_LIST")
MIN_COLLATERAL_USD = base_key("MIN_COLLATERAL_USD")
MIN_COLLATERAL_FACTOR = base_key("MIN_COLLATERAL_FACTOR")
MIN_COLLATERAL_FACTOR_FOR_LIQUIDATION = base_key("MIN_COLLATERAL_FACTOR_FOR_LIQUIDATION")
MAX_POSITION_IMPACT_FACTOR_FOR_LIQUIDATIONS = base_key(
    "MAX_POSITION_IMPACT_FACTOR_FOR_LIQUIDATIONS"
)
POSITION_FEE_FACTOR = base_key("POSITION_FEE_FACTOR")


def account_position_list_key(account: str) -> bytes:
    """Key of the bytes32 set of an account's position keys (``getBytes32Count``/``ValuesAt``)."""
    return keccak256(_k(ACCOUNT_POSITION_LIST) + _a(account))


def position_key(account: str, market: str, collateral_token: str, is_long: bool) -> bytes:
    """``Position.getPositionKey``: one position per (account, market, collateral, side)."""
    return keccak256(_a(account) + _a(market) + _a(collateral_token) + _b(is_long))


def min_collateral_factor_key(market: str) -> bytes:
    """Per-market minimum collateral factor (1e30 = 100 %), gates user orders only."""
    return keccak256(_k(MIN_COLLATERAL_FACTOR) + _a(market))


def min_collateral_factor_for_liquidation_key(market: str) -> bytes:
    """Per-market liquidation threshold factor (1e30 = 100 %) applied to ``sizeInUsd``."""
    return keccak256(_k(MIN_COLLATERAL_FACTOR_FOR_LIQUIDATION) + _a(market))


def max_position_impact_factor_for_liquidations_key(market: str) -> bytes:
    """Per-market cap (1e30 = 100 % of ``sizeInUsd``) on negative impact counted at liquidation."""
    return keccak256(_k(MAX_POSITION_IMPACT_FACTOR_FOR_LIQUIDATIONS) + _a(market))


def position_fee_factor_key(market: str, balance_was_improved: bool) -> bytes:
    """Per-market closing/opening fee factor (1e30 = 100 %); liquidation uses ``False``."""
    return keccak256(_k(POSITION_FEE_FACTOR) + _a(market) + _b(balance_was_improved))


# -- keys of the liquidation check's other terms (names as in Keys.sol) ------------------------

OPEN_INTEREST = base_key("OPEN_INTEREST")
OPEN_INTEREST_IN_TOKENS = base_key("OPEN_INTEREST_IN_TOKENS")
POOL_AMOUNT = base_key("POOL_AMOUNT")
MAX_PNL_FACTOR = base_key("MAX_PNL_FACTOR")
MAX_PNL_FACTOR_FOR_TRADERS = base_key("MAX_PNL_FACTOR_FOR_TRADERS")
POSITION_IMPACT_FACTOR = base_key("POSITION_IMPACT_FACTOR")
POSITION_IMPACT_EXPONENT_FACTOR = base_key("POSITION_IMPACT_EXPONENT_FACTOR")
MAX_POSITION_IMPACT_FACTOR = base_key("MAX_POSITION_IMPACT_FACTOR")
CUMULATIVE_BORROWING_FACTOR_UPDATED_AT = base_key("CUMULATIVE_BORROWING_FACTOR_UPDATED_AT")
BORROWING_FACTOR = base_key("BORROWING_FACTOR")
BORROWING_EXPONENT_FACTOR = base_key("BORROWING_EXPONENT_FACTOR")
OPTIMAL_USAGE_FACTOR = base_key("OPTIMAL_USAGE_FACTOR")
BASE_BORROWING_FACTOR = base_key("BASE_BORROWING_FACTOR")
ABOVE_OPTIMAL_USAGE_BORROWING_FACTOR = base_key("ABOVE_OPTIMAL_USAGE_BORROWING_FACTOR")
OPEN_INTEREST_RESERVE_FACTOR = base_key("OPEN_INTEREST_RESERVE_FACTOR")
FUNDING_UPDATED_AT = base_key("FUNDING_UPDATED_AT")
MAX_FUNDING_FACTOR_PER_SECOND = base_key("MAX_FUNDING_FACTOR_PER_SECOND")
VIRTUAL_TOKEN_ID = base_key("VIRTUAL_TOKEN_ID")
SKIP_BORROWING_FEE_FOR_SMALLER_SIDE = base_key("SKIP_BORROWING_FEE_FOR_SMALLER_SIDE")
"""Global bool: the strictly smaller OI side pays no borrowing fee."""
USE_OPEN_INTEREST_IN_TOKENS_FOR_BALANCE = base_key("USE_OPEN_INTEREST_IN_TOKENS_FOR_BALANCE")
"""Global bool: balance (fee flag, impact, funding) from OI in tokens x mid price, not USD."""


def market_key(base: bytes, market: str) -> bytes:
    """``keccak256(abi.encode(BASE, market))``: per-market keys (FUNDING_UPDATED_AT, …)."""
    return keccak256(_k(base) + _a(market))


def market_flag_key(base: bytes, market: str, flag: bool) -> bytes:
    """``keccak256(abi.encode(BASE, market, flag))``: per market side (``isLong``) or per impact
    sign (``isPositive``) keys, e.g. BORROWING_FACTOR or POSITION_IMPACT_FACTOR."""
    return keccak256(_k(base) + _a(market) + _b(flag))


def open_interest_key(market: str, collateral_token: str, is_long: bool, in_tokens: bool) -> bytes:
    """OPEN_INTEREST (USD·1e30, at entry) or OPEN_INTEREST_IN_TOKENS (index token units) by
    market, collateral token and side; a side's total sums both collateral tokens."""
    base = OPEN_INTEREST_IN_TOKENS if in_tokens else OPEN_INTEREST
    return keccak256(_k(base) + _a(market) + _a(collateral_token) + _b(is_long))


def pool_amount_key(market: str, token: str) -> bytes:
    """POOL_AMOUNT: a market's pool of ``token`` (its smallest units)."""
    return keccak256(_k(POOL_AMOUNT) + _a(market) + _a(token))


def max_pnl_factor_for_traders_key(market: str, is_long: bool) -> bytes:
    """``maxPnlFactorKey(MAX_PNL_FACTOR_FOR_TRADERS, market, isLong)`` (1e30 = 100 % of pool)."""
    return keccak256(_k(MAX_PNL_FACTOR) + _k(MAX_PNL_FACTOR_FOR_TRADERS) + _a(market) + _b(is_long))


def virtual_token_id_key(token: str) -> bytes:
    """VIRTUAL_TOKEN_ID of an index token: non-zero when virtual inventory applies."""
    return keccak256(_k(VIRTUAL_TOKEN_ID) + _a(token))
