"""Which wallets of an event-less protocol are re-read every tick: unknown, critical or worse;
a warning waits for its turn in the poll period like a safe wallet."""

from __future__ import annotations

import math

import pytest

from indexer.config.sections import Thresholds
from indexer.models import MarginAccount, MarginMode
from monitor.alerts.apply import at_risk
from monitor.alerts.policy import Policy
from tests.subscription_helpers import observe

ACCOUNT = MarginAccount(
    chain_id=999, protocol="hyperliquid", owner="0x" + "aa" * 20, ref="0x" + "aa" * 20 + ":cross:0",
    mode=MarginMode.CROSS, collateral=(), positions=(), block_number=1,
)  # fmt: skip


@pytest.mark.parametrize(
    ("health", "polled"),
    [(3.0, False), (1.4, False), (1.1, True), (0.9, True), (math.nan, True)],
)
def test_polled_every_tick_from_critical_on_and_when_unknown(health: float, polled: bool) -> None:
    assert at_risk(observe(1, ACCOUNT, health), Policy(Thresholds())) is polled
