"""``Turns``: the SQLite writers of one process take the database in the order they asked."""

from __future__ import annotations

import threading
import time

import pytest

from indexer.errors import DatabaseBusy
from indexer.store.engine import Turns


def _ask(turns: Turns, name: str, got: list[str], timeout_s: float = 5.0) -> threading.Thread:
    """A thread that takes a turn (noting ``name``) and gives it back; started once it has
    asked, so threads started one after another ask in that order."""
    asked = turns._issued

    def run() -> None:
        try:
            turns.take(timeout_s=timeout_s)
        except DatabaseBusy:
            got.append(f"{name} gave up")
            return
        got.append(name)
        turns.give_back()

    thread = threading.Thread(target=run)
    thread.start()
    while turns._issued == asked:  # until it holds its ticket
        time.sleep(0.001)
    return thread


def test_turns_go_in_the_order_asked() -> None:
    turns, got = Turns(), list[str]()
    turns.take(timeout_s=1)
    threads = [_ask(turns, name, got) for name in "abc"]
    turns.give_back()
    for thread in threads:
        thread.join()
    assert got == ["a", "b", "c"]


def test_one_who_gave_up_waiting_does_not_hold_up_the_next() -> None:
    turns, got = Turns(), list[str]()
    turns.take(timeout_s=1)
    impatient = _ask(turns, "a", got, timeout_s=0.05)
    impatient.join()
    patient = _ask(turns, "b", got)
    turns.give_back()
    patient.join()
    assert got == ["a gave up", "b"]


def test_giving_up_says_why() -> None:
    turns = Turns()
    turns.take(timeout_s=1)
    with pytest.raises(DatabaseBusy, match="database is locked"):
        turns.take(timeout_s=0.01)
