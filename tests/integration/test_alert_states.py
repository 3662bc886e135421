"""Alert states on both backends: a state is stored when its level, episode or alerted set
change, not on every evaluation, and the rules decide the same from what was stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from indexer.config.sections import Thresholds
from monitor.alerts.apply import apply_rules
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
