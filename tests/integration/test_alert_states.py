"""Alert states on both backends: a state is stored when its level, episode or alerted set
change, not on every evaluation, and the rules decide the same from what was stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from indexer.config.sections import Thresholds
from monitor.alerts.apply import _load, apply_rules
from monitor.alerts.levels import Level
from monitor.alerts.policy import Policy
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
        levels: dict[int, Level] = {}
        apply_rules(engine, [observe(i, a, health) for i, a in ids_accounts], lambda a: policy,
                    ["console"], now, levels)  # fmt: skip
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
