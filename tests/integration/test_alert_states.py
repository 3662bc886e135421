"""Alert states on both backends: a state is stored when its level, episode or alerted set
change, not on every evaluation, and the rules decide the same from what was stored."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from indexer.config.sections import Thresholds
from monitor.alerts.apply import _load, apply_rules
from monitor.alerts.inference import PartialLiquidation
from monitor.alerts.levels import Level
from monitor.alerts.policy import Policy
from monitor.alerts.rules import AlertState
from monitor.tables import AlertStateRow
from tests.subscription_helpers import OWNERS, observe, owner_account

NOON = datetime(2025, 1, 1, 12, tzinfo=UTC)
_states = AlertStateRow.__table__  # type: ignore[attr-defined]


def stored(engine: Engine) -> list[tuple[str, int, float | None]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_states.c.level, _states.c.episode, _states.c.health))
        return [(str(level), int(episode), health) for level, episode, health in rows]


def test_states_are_written_on_changes_only_and_decide_the_same(engine: Engine) -> None:
    account_id, account = owner_account(engine, OWNERS[0])
    policy = Policy(Thresholds())

    def step(health: float, minutes: int) -> list[Level]:
        now = NOON + timedelta(minutes=minutes)
        done = apply_rules(engine, [observe(account_id, account, health)], lambda a: policy,
                           ["console"], now)  # fmt: skip
        return [d.decision.level for d in done]

    assert step(2.5, 0) == []
    assert step(2.4, 1) == []
    assert stored(engine) == []  # ok from the start: no row, as a new account has none
    assert step(1.1, 2) == [Level.CRITICAL]
    assert stored(engine) == [("critical", 1, 1.1)]
    assert step(1.05, 3) == []  # still critical: nothing new to store
    assert stored(engine) == [("critical", 1, 1.1)]
    assert step(3.0, 4) == [Level.RECOVERED]  # decided from the stored state
    assert stored(engine) == [("ok", 2, 3.0)]
    assert step(1.4, 5) == [Level.WARNING]  # the next episode, as before
    assert stored(engine) == [("warning", 2, 1.4)]


def test_stored_states_read_back_as_written(engine: Engine) -> None:
    """States go in as one driver-level upsert of plain tuples (text timestamps on SQLite,
    aware ones on PostgreSQL; ``alerted`` as JSON text): ``_load`` must read back exactly
    what the rules held, for a state inserted and for one updated in place."""
    ids_accounts = [owner_account(engine, owner) for owner in OWNERS[:2]]
    policy = Policy(Thresholds())
    later = NOON + timedelta(minutes=7, microseconds=123_456)
    for now, health in ((NOON, 1.1), (later, 0.5)):  # a new row, then the same row updated
        known: dict[int, AlertState] = {}
        apply_rules(engine, [observe(i, a, health) for i, a in ids_accounts], lambda a: policy,
                    ["console"], now, known)  # fmt: skip
        levels = {i: state.level for i, state in known.items()}
        with engine.connect() as conn:
            loaded = _load(conn, [i for i, _ in ids_accounts])
        for account_id, _ in ids_accounts:
            state = loaded[account_id]
            assert state.level is levels[account_id]
            assert state.updated_at == now
            assert state.since is not None
            assert state.since.tzinfo is not None
            assert state.health == health
    alerted = {level for state in loaded.values() for level in state.alerted}
    assert alerted == {Level.WARNING, Level.CRITICAL, Level.LIQUIDATABLE}
    assert {s.since for s in loaded.values()} == {later}


def test_known_states_are_what_was_stored(engine: Engine) -> None:
    """The lease holder's cache of stored states (``known``) must equal what ``_load`` reads
    after every commit, whichever accounts changed, stayed, never had a row or went unknown;
    and a cached state is used instead of the row."""
    ids_accounts = [owner_account(engine, owner) for owner in OWNERS[:3]]
    ids = [i for i, _ in ids_accounts]
    policy = Policy(Thresholds())
    known: dict[int, AlertState] = {}
    # Per step, each account's health: ok throughout, a dip and back, unknown in between and
    # back to a reading too large for its column.
    paths = [(2.5, 2.4, 2.6, 2.5, 2.7), (2.5, 1.1, 0.5, 3.0, 1.4), (1.3, math.inf, 1.2, 0.9, 1e301)]
    for minute, healths in enumerate(zip(*paths, strict=True)):
        now = NOON + timedelta(minutes=minute, microseconds=123_457 * minute)
        observations = [observe(i, a, h) for (i, a), h in zip(ids_accounts, healths, strict=True)]
        apply_rules(engine, observations, lambda a: policy, ["console"], now, known=known)
        with engine.connect() as conn:
            loaded = _load(conn, ids)
        assert {i: known[i] for i in ids} == {i: loaded.get(i, AlertState()) for i in ids}
    quiet_id, quiet = ids_accounts[0]  # never left ok: no row at all
    assert known[quiet_id] == AlertState()
    # Told (in memory) that the account is already critical: a critical reading is no news.
    known[quiet_id] = AlertState(Level.CRITICAL, 1, frozenset({Level.WARNING, Level.CRITICAL}))
    later = NOON + timedelta(hours=1)
    decided = apply_rules(engine, [observe(quiet_id, quiet, 1.1)], lambda a: policy, ["console"],
                          later, known=known)  # fmt: skip
    assert decided == []
    decided = apply_rules(engine, [observe(quiet_id, quiet, 1.1)], lambda a: policy, ["console"],
                          later)  # fmt: skip
    assert [d.decision.level for d in decided] == [Level.CRITICAL]  # from the row: it was ok


def test_a_partial_liquidation_retried_after_an_unconfirmed_commit_is_told_once(
    engine: Engine,
) -> None:
    """A tick whose commit went through but could not be confirmed keeps its partial
    liquidation and steps it again: the stored state already told it (a step at or after its
    inference alerted a liquidation), so it is not told in a new episode. A later partial
    liquidation is."""
    account_id, account = owner_account(engine, OWNERS[0])
    policy = Policy(Thresholds())
    cut = PartialLiquidation(account, "ETH long 2 → 1.6", NOON)

    def step(partial: PartialLiquidation, minutes: int) -> list[tuple[Level, int]]:
        obs = replace(observe(account_id, account, 1.1), partial=partial)
        done = apply_rules(engine, [obs], lambda a: policy, ["console"],
                           NOON + timedelta(minutes=minutes))  # fmt: skip
        return [(d.decision.level, d.decision.episode) for d in done]

    assert step(cut, 0) == [(Level.LIQUIDATED, 1), (Level.CRITICAL, 1)]
    assert step(cut, 1) == []  # the retry: told already
    later = replace(cut, inferred_at=NOON + timedelta(minutes=2))
    assert step(later, 2) == [(Level.LIQUIDATED, 2), (Level.CRITICAL, 2)]
