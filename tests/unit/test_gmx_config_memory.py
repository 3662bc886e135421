"""ConfigMemory: the newest configuration read, retired by a change or by age."""

from __future__ import annotations

from indexer.decode.words import address_word, keccak256, uint_word
from indexer.protocols.gmx_v2 import keys as k
from indexer.protocols.gmx_v2.config_memory import ConfigMemory
from indexer.protocols.gmx_v2.decode import GmxMarket
from indexer.protocols.gmx_v2.market_reads import CONFIG_BASE_KEYS, config_keys


def _memory(clock: list[float]) -> ConfigMemory:
    return ConfigMemory(max_age_s=10.0, monotonic=lambda: clock[0])


def test_the_newest_block_wins_whatever_order_reads_finish_in() -> None:
    memory = _memory([0.0])
    memory.remember(12, (1,))
    memory.remember(11, (2,))  # an older read finishing late
    assert memory.recall() == (1,)
    memory.remember(13, (3,))
    assert memory.recall() == (3,)


def test_a_change_retires_the_values_and_refuses_reads_from_before_it() -> None:
    memory = _memory([0.0])
    memory.remember(20, (1,))
    memory.changed(18)  # a reorg put a write below the values' block: they go too
    assert memory.recall() is None
    memory.remember(17, (2,))
    assert memory.recall() is None
    memory.remember(18, (3,))  # read at the change's block: after it
    assert memory.recall() == (3,)


def test_values_retire_at_their_max_age() -> None:
    clock = [100.0]
    memory = _memory(clock)
    memory.remember(5, (1,))
    clock[0] = 109.99
    assert memory.recall() == (1,)
    clock[0] = 110.0
    assert memory.recall() is None
    memory.remember(6, (2,))
    assert memory.recall() == (2,)


def test_every_configuration_key_read_is_written_under_a_watched_base_key() -> None:
    """A Config write is taken as a change only for ``CONFIG_BASE_KEYS``: each configuration
    value the adapter reads must be ``Keys.getFullKey(base, data)`` of one of them."""
    market = GmxMarket("0x" + "11" * 20, "0x" + "22" * 20, "0x" + "33" * 20, "0x" + "44" * 20)
    at = address_word(market.market_token)
    flags = [uint_word(0), uint_word(1)]
    datas = [at] + [at + f for f in flags] + [k.MAX_PNL_FACTOR_FOR_TRADERS + at + f for f in flags]
    written = {keccak256(base + data) for base in CONFIG_BASE_KEYS for data in datas}
    keys = [key for _, key in config_keys(market)]
    assert len(keys) == 25  # and the virtual token id: 26 calls a market
    assert all(key in written for key in keys)
    # The globals and the virtual token id: the base key alone, or with the token's address.
    assert {k.MIN_COLLATERAL_USD, k.SKIP_BORROWING_FEE_FOR_SMALLER_SIDE} <= CONFIG_BASE_KEYS
    assert k.USE_OPEN_INTEREST_IN_TOKENS_FOR_BALANCE in CONFIG_BASE_KEYS
    token_key = k.virtual_token_id_key(market.index_token)
    assert token_key == keccak256(k.VIRTUAL_TOKEN_ID + address_word(market.index_token))
    assert k.VIRTUAL_TOKEN_ID in CONFIG_BASE_KEYS
    assert k.MIN_COLLATERAL_FACTOR not in CONFIG_BASE_KEYS  # gates orders only: not read
