"""Hand-packed ABI words and the GMX keys built from them agree with eth_abi's encoder."""

from __future__ import annotations

import pytest
from eth_abi.abi import encode
from eth_utils.crypto import keccak
from hypothesis import given
from hypothesis import strategies as st

from indexer.decode.words import (
    address_word,
    bool_word,
    bytes32_word,
    encode_args,
    keccak256,
    uint_word,
)
from indexer.protocols.gmx_v2 import decode as gmx_decode
from indexer.protocols.gmx_v2 import keys as k

addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
words32 = st.binary(min_size=32, max_size=32)


def _eth_abi_key(types: list[str], values: list[object]) -> bytes:
    return bytes(keccak(encode(types, values)))


@given(addresses, st.integers(0, 2**256 - 1), st.booleans(), words32)
def test_words_are_eth_abi_encodings(address: str, value: int, flag: bool, raw: bytes) -> None:
    assert address_word(address) == encode(["address"], [address])
    assert address_word(address.upper().replace("0X", "0x")) == address_word(address)
    assert uint_word(value) == encode(["uint256"], [value])
    assert bool_word(flag) == encode(["bool"], [flag])
    assert bytes32_word(raw) == encode(["bytes32"], [raw])
    assert keccak256(raw) == bytes(keccak(raw))


@given(addresses, addresses, addresses, st.booleans())
def test_gmx_keys_match_eth_abi(account: str, market: str, token: str, flag: bool) -> None:
    b32, addr = "bytes32", "address"
    expected = {
        k.position_key(account, market, token, flag): _eth_abi_key(
            [addr, addr, addr, "bool"], [account, market, token, flag]
        ),
        k.account_position_list_key(account): _eth_abi_key(
            [b32, addr], [k.ACCOUNT_POSITION_LIST, account]
        ),
        k.position_fee_factor_key(market, flag): _eth_abi_key(
            [b32, addr, "bool"], [k.POSITION_FEE_FACTOR, market, flag]
        ),
        k.open_interest_key(market, token, flag, in_tokens=True): _eth_abi_key(
            [b32, addr, addr, "bool"], [k.OPEN_INTEREST_IN_TOKENS, market, token, flag]
        ),
        k.pool_amount_key(market, token): _eth_abi_key(
            [b32, addr, addr], [k.POOL_AMOUNT, market, token]
        ),
        k.max_pnl_factor_for_traders_key(market, flag): _eth_abi_key(
            [b32, b32, addr, "bool"], [k.MAX_PNL_FACTOR, k.MAX_PNL_FACTOR_FOR_TRADERS, market, flag]
        ),
        k.virtual_token_id_key(token): _eth_abi_key([b32, addr], [k.VIRTUAL_TOKEN_ID, token]),
        gmx_decode.funding_per_size_key(market, token, flag): _eth_abi_key(
            [b32, addr, addr, "bool"], [gmx_decode.FUNDING_FEE_AMOUNT_PER_SIZE, market, token, flag]
        ),
        gmx_decode.cumulative_borrowing_factor_key(market, flag): _eth_abi_key(
            [b32, addr, "bool"], [gmx_decode.CUMULATIVE_BORROWING_FACTOR, market, flag]
        ),
    }
    for ours, theirs in expected.items():
        assert ours == theirs


@pytest.mark.parametrize("bad", ["", "0x", "0x" + "ab" * 19, "0x" + "ab" * 21, "ab" * 20,
                                 "0x" + "zz" * 20, "0x" + "ab" * 20 + "\n",
                                 "0x" + "ab " * 13 + "ab" * 7])  # fmt: skip
def test_a_malformed_address_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not an address"):
        address_word(bad)


def test_out_of_range_values_are_refused() -> None:
    with pytest.raises(OverflowError):
        uint_word(-1)
    with pytest.raises(OverflowError):
        uint_word(2**256)
    with pytest.raises(ValueError, match="not 32 bytes"):
        bytes32_word(bytes(31))


_SCALARS = {
    "address": addresses,
    "bool": st.booleans(),
    "bytes32": words32,
    "uint8": st.integers(0, 255),
    "uint32": st.integers(0, 2**32 - 1),
    "uint256": st.integers(0, 2**256 - 1),
    "int64": st.integers(-(2**63), 2**63 - 1),
}


@st.composite
def _arguments(draw: st.DrawFn) -> tuple[list[str], list[object]]:
    kinds = draw(st.lists(st.sampled_from(sorted(_SCALARS)), max_size=5))
    types: list[str] = []
    values: list[object] = []
    for kind in kinds:
        if draw(st.booleans()):
            types.append(kind + "[]")
            values.append(draw(st.lists(_SCALARS[kind], max_size=4)))
        else:
            types.append(kind)
            values.append(draw(_SCALARS[kind]))
    return types, values


@given(_arguments())
def test_encode_args_is_eth_abi_encode(arguments: tuple[list[str], list[object]]) -> None:
    types, values = arguments
    assert encode_args(types, values) == encode(types, values)


def test_other_types_go_through_eth_abi() -> None:
    types = ["string", "uint256[2]", "(address,bool)"]
    values = ["gm", [1, 2], ("0x" + "11" * 20, True)]
    assert encode_args(types, values) == encode(types, values)


@pytest.mark.parametrize(("kind", "value"), [("uint8", 256), ("uint8", -1), ("uint256", True),
                                             ("int64", 2**63), ("bool", 1), ("address", b"x" * 20),
                                             ("uint32[]", [1, 2**32]), ("uint8[]", {1, 2}),
                                             ("uint8[]", b"\x01")])  # fmt: skip
def test_encode_args_refuses_what_does_not_fit(kind: str, value: object) -> None:
    with pytest.raises(ValueError, match=r"^not an? "):
        encode_args([kind], [value])
