"""GMX v2 return data → perpwatch's normal form. Pure: bytes in, values out.

``Reader.getAccountPositions`` returns ``Position.Props[]`` in the v2.2 layout (PROTOCOLS.md
§1.3), decoded with the official ABI in ``contracts_abi/gmx_v2``; DataStore keys that are not in
``keys`` and Chainlink rounds are here too. What a position becomes in the normal form is
:mod:`indexer.protocols.gmx_v2.market`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from indexer.decode.abi import abi_entry
from indexer.decode.codec import compile_codec
from indexer.decode.words import address_word, bool_word, bytes32_word, keccak256
from indexer.errors import DecodeError
from indexer.models import E30
from indexer.protocols.gmx_v2.keys import base_key

PROTOCOL = "gmx_v2"
FUNDING_PRECISION = E30 * 10**15
"""``fundingFeeAmountPerSize`` scale: amount owed = sizeInUsd · Δ / (1e30 · 1e15), rounded up."""

CUMULATIVE_BORROWING_FACTOR = base_key("CUMULATIVE_BORROWING_FACTOR")
FUNDING_FEE_AMOUNT_PER_SIZE = base_key("FUNDING_FEE_AMOUNT_PER_SIZE")

PositionKeyFn = Callable[[str, str, str, bool], str]
"""``(account, market, collateral_token, is_long) → "0x…"`` position key."""

_POSITIONS = compile_codec(
    "tuple", abi_entry("gmx_v2/SyntheticsReader.json", "getAccountPositions")["outputs"]
)
_UINT = compile_codec("tuple", [{"type": "uint256"}])
_ROUND = compile_codec(
    "tuple", abi_entry("chainlink/AggregatorV3Interface.json", "latestRoundData")["outputs"]
)
_DECIMALS = compile_codec(
    "tuple", abi_entry("chainlink/AggregatorV3Interface.json", "decimals")["outputs"]
)


def cumulative_borrowing_factor_key(market: str, is_long: bool) -> bytes:
    """``Keys.cumulativeBorrowingFactorKey``: borrowing factor (1e30) accrued per market side."""
    return keccak256(
        bytes32_word(CUMULATIVE_BORROWING_FACTOR) + address_word(market) + bool_word(is_long)
    )


def funding_per_size_key(market: str, collateral_token: str, is_long: bool) -> bytes:
    """``Keys.fundingFeeAmountPerSizeKey``: funding owed per size (scale 1e45) by side and
    collateral token."""
    return keccak256(
        bytes32_word(FUNDING_FEE_AMOUNT_PER_SIZE)
        + address_word(market)
        + address_word(collateral_token)
        + bool_word(is_long)
    )


@dataclass(frozen=True, slots=True)
class GmxToken:
    """A token as perpwatch sees it: normal-form ``asset`` (WETH → ``"ETH"``), ``decimals`` of
    its smallest unit, and its Chainlink USD ``feed`` (lower-case address) if one is known."""

    asset: str
    decimals: int
    feed: str | None = None


@dataclass(frozen=True, slots=True)
class GmxMarket:
    """A GMX market (lower-case addresses): positions on ``index_token``, collateral in the
    ``long_token`` or ``short_token``."""

    market_token: str
    index_token: str
    long_token: str
    short_token: str


@dataclass(frozen=True, slots=True)
class GmxPosition:
    """The fields of ``Position.Props`` (v2.2) that perpwatch uses; addresses lower-case."""

    key: str
    account: str
    market: str
    collateral_token: str
    size_in_usd_e30: int
    size_in_tokens_raw: int
    collateral_raw: int
    pending_impact_raw: int
    borrowing_factor_e30: int
    funding_per_size: int
    is_long: bool


def require_ok(result: tuple[bool, bytes], what: str) -> bytes:
    """The return data of a successful sub-call.

    Raises:
        DecodeError: the sub-call failed (its revert data is in the message, hex).
    """
    ok, data = result
    if not ok:
        raise DecodeError(f"{what} reverted: 0x{data.hex()}")
    return data


def decode_uint(data: bytes) -> int:
    """A single ``uint256`` return value. Raises DecodeError on malformed data."""
    (value,) = _UINT.read(data, 0)
    return int(value)


def decode_positions(data: bytes, position_key: PositionKeyFn) -> list[GmxPosition]:
    """``getAccountPositions`` return data → positions; ``position_key`` derives each key.

    Raises:
        DecodeError: malformed data.
    """
    (props,) = _POSITIONS.read(data, 0)
    out = []
    for (account, market, collateral), numbers, (is_long,) in props:
        size_usd, size_tokens, collateral_raw, impact, borrowing, funding = numbers[:6]
        out.append(
            GmxPosition(
                key=position_key(account, market, collateral, is_long),
                account=account,
                market=market,
                collateral_token=collateral,
                size_in_usd_e30=size_usd,
                size_in_tokens_raw=size_tokens,
                collateral_raw=collateral_raw,
                pending_impact_raw=impact,
                borrowing_factor_e30=borrowing,
                funding_per_size=funding,
                is_long=is_long,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class PriceQuote:
    """A Chainlink round: ``answer`` with ``decimals`` digits (USD per whole unit), and when it
    was last updated (``updated_at``, Unix seconds), for staleness checks against a heartbeat."""

    asset: str
    answer: int
    decimals: int
    updated_at: int
    round_id: int

    @property
    def price(self) -> float:
        """USD per whole unit of ``asset``."""
        scale: int = 10**self.decimals
        return self.answer / scale


def decode_quote(asset: str, round_data: bytes, decimals_data: bytes) -> PriceQuote:
    """``latestRoundData`` and ``decimals`` return data → a quote. Raises DecodeError."""
    round_id, answer, _started, updated_at, _answered = _ROUND.read(round_data, 0)
    (decimals,) = _DECIMALS.read(decimals_data, 0)
    return PriceQuote(asset, answer, decimals, updated_at, round_id)


def quotes_from_results(
    assets: Sequence[str], results: Sequence[tuple[bool, bytes]]
) -> dict[str, PriceQuote]:
    """Quotes for ``assets`` from (latestRoundData, decimals) result pairs, in order.

    An asset whose feed reverted or answers ≤ 0 is left out: no price is better than a wrong one.
    """
    quotes = {}
    for i, asset in enumerate(assets):
        (ok_round, round_data), (ok_dec, dec_data) = results[2 * i], results[2 * i + 1]
        if not (ok_round and ok_dec):
            continue
        quote = decode_quote(asset, round_data, dec_data)
        if quote.answer > 0:
            quotes[asset] = quote
    return quotes
