"""``settled``: concurrent awaitables that all finish before a failure is raised."""

from __future__ import annotations

import asyncio

import pytest

from monitor.runtime.chain import settled


async def _value(value: int, delay_s: float, done: list[int]) -> int:
    await asyncio.sleep(delay_s)
    done.append(value)
    return value


async def _fail(message: str, delay_s: float) -> int:
    await asyncio.sleep(delay_s)
    raise ValueError(message)


def test_results_come_back_in_the_given_order() -> None:
    done: list[int] = []
    results = asyncio.run(settled([_value(1, 0.03, done), _value(2, 0.0, done)]))
    assert results == [1, 2]
    assert done == [2, 1]  # they ran side by side: the shorter finished first


def test_a_failure_cancels_none_of_the_others_and_the_first_in_order_is_raised() -> None:
    done: list[int] = []
    with pytest.raises(ValueError, match="first"):
        asyncio.run(settled([_fail("first", 0.02), _fail("second", 0.0), _value(3, 0.05, done)]))
    assert done == [3]  # the slow one still finished (and recorded what it read)
