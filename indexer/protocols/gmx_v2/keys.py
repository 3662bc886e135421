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
from eth_utils.crypto import keccak


def _hash_encoded(types: list[str], values: list[object]) -> bytes:
    return bytes(keccak(encode(types, values)))


def base_key(name: str) -> bytes:
    """``keccak256(abi.encode(name))``, the form of every constant in Keys.sol."""
    return _hash_encoded(["string"], [name])


def event_name_hash(event_name: str) -> bytes:
    """``keccak256(bytes(eventName))``: the EventLog1/EventLog2 ``topics[1]``."""
    return bytes(keccak(text=event_name))


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
    return _hash_encoded(["bytes32", "address"], [ACCOUNT_POSITION_LIST, account])


def position_key(account: str, market: str, collateral_token: str, is_long: bool) -> bytes:
    """``Position.getPositionKey``: one position per (account, market, collateral, side)."""
    return _hash_encoded(
        ["address", "address", "address", "bool"], [account, market, collateral_token, is_long]
    )


def min_collateral_factor_key(market: str) -> bytes:
    """Per-market minimum collateral factor (1e30 = 100 %), gates user orders only."""
    return _hash_encoded(["bytes32", "address"], [MIN_COLLATERAL_FACTOR, market])


def min_collateral_factor_for_liquidation_key(market: str) -> bytes:
    """Per-market liquidation threshold factor (1e30 = 100 %) applied to ``sizeInUsd``."""
    return _hash_encoded(["bytes32", "address"], [MIN_COLLATERAL_FACTOR_FOR_LIQUIDATION, market])


def max_position_impact_factor_for_liquidations_key(market: str) -> bytes:
    """Per-market cap (1e30 = 100 % of ``sizeInUsd``) on negative impact counted at liquidation."""
    return _hash_encoded(
        ["bytes32", "address"], [MAX_POSITION_IMPACT_FACTOR_FOR_LIQUIDATIONS, market]
    )


def position_fee_factor_key(market: str, balance_was_improved: bool) -> bytes:
    """Per-market closing/opening fee factor (1e30 = 100 %); liquidation uses ``False``."""
    return _hash_encoded(
        ["bytes32", "address", "bool"], [POSITION_FEE_FACTOR, market, balance_was_improved]
    )
