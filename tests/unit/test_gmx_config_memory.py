"""ConfigMemory: the newest configuration read, retired by a change or by age."""

from __future__ import annotations

from indexer.protocols.gmx_v2.config_memory import ConfigMemory


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
