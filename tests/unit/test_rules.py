"""The alert state machine, one transition per row (monitor.alerts.rules, monitor.alerts.policy)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from indexer.config.sections import AlertConfig, Thresholds, WalletConfig
from indexer.errors import ConfigError
from monitor.alerts.levels import Level
from monitor.alerts.rules import (
    AlertDecision,
    AlertState,
    Policy,
    PriceFreshness,
    Reading,
    Report,
    step,
)
from monitor.health.account import AccountHealth, PositionRisk

T0 = datetime(2025, 1, 1, tzinfo=UTC)
HEARTBEAT_S = 3600.0
W, C, L, LQ = Level.WARNING, Level.CRITICAL, Level.LIQUIDATABLE, Level.LIQUIDATED
U, R, OK = Level.UNKNOWN, Level.RECOVERED, Level.OK

Step = float | str | tuple[float, float] | None
CUT = "BTC long 2 → 1.6"


def report(item: Step, at: datetime) -> Report:
    """A report from a table cell: health, (health, move to liquidation %), or an event word."""
    if isinstance(item, tuple):
        return Report(health=item[0], move_pct=item[1])
    if item == "liq":
        return Report(liquidated=True)
    if isinstance(item, str) and item.startswith("part:"):  # what a partial liquidation left
        return Report(health=float(item[5:]), partial=CUT)
    if item == "stale":  # a feed that missed its heartbeat by 400 s
        old = PriceFreshness("ETH", at - timedelta(seconds=HEARTBEAT_S + 400), HEARTBEAT_S)
        return Report(health=2.0, prices=(old,))
    if item == "stalled":
        return Report(health=2.0, head_stalled=True)
    assert item is None or isinstance(item, float)
    return Report(health=item)


def run(
    items: Sequence[Step], policy: Policy | None = None
) -> tuple[AlertState, list[AlertDecision]]:
    """Feed the reports one minute apart from a fresh state; all alerts in order."""
    state, alerts = AlertState(), []
    for i, item in enumerate(items):
        now = T0 + timedelta(minutes=i)
        state, decided = step(state, report(item, now), policy or Policy(), now)
        alerts += decided
    return state, alerts


TRANSITIONS: list[tuple[str, list[Step], Level, list[tuple[Level, int]]]] = [
    ("healthy stays quiet", [2.0, 1.6], OK, []),
    ("warning", [1.4], W, [(W, 1)]),
    ("warning threshold is inclusive", [1.5], W, [(W, 1)]),
    ("ok straight to critical", [1.1], C, [(C, 1)]),
    ("ok straight to liquidatable: one alert", [0.9], L, [(L, 1)]),
    ("health exactly 1 is liquidatable", [1.0], L, [(L, 1)]),
    ("infinite health is ok", [math.inf], OK, []),
    ("step by step escalation", [1.4, 1.1, 0.95], L, [(W, 1), (C, 1), (L, 1)]),
    ("critical holds inside its clear margin", [1.1, 1.2], C, [(C, 1)]),
    ("critical clears past 1.15*1.05", [1.1, 1.21], W, [(C, 1)]),
    ("liquidatable clears two levels at once", [0.9, 1.3], W, [(L, 1)]),
    ("liquidatable holds up to 1.05", [0.9, 1.05], L, [(L, 1)]),
    ("warning holds inside its clear margin", [1.4, 1.57], W, [(W, 1)]),
    ("recovery past 1.5*1.05", [1.4, 1.58], OK, [(W, 1), (R, 1)]),
    ("next incident is a new episode", [1.4, 2.0, 1.4], W, [(W, 1), (R, 1), (W, 2)]),
    ("re-escalation in an episode is silent", [1.1, 1.3, 1.1], C, [(C, 1)]),
    ("skipped levels count as alerted", [0.9, 1.3, 1.1], C, [(L, 1)]),
    ("stale price is unknown", ["stale"], U, [(U, 1)]),
    ("stalled head is unknown", [1.4, "stalled"], U, [(W, 1), (U, 1)]),
    ("missing health is unknown", [None], U, [(U, 1)]),
    ("NaN health is unknown", [math.nan], U, [(U, 1)]),
    ("staying unknown is silent", ["stale", "stalled", None], U, [(U, 1)]),
    ("unknown then ok recovers", ["stale", 2.0], OK, [(U, 1), (R, 1)]),
    ("unknown then critical alerts", [1.4, "stale", 1.1], C, [(W, 1), (U, 1), (C, 1)]),
    ("leaving unknown ignores hysteresis", [1.4, "stale", 1.55], OK, [(W, 1), (U, 1), (R, 1)]),
    ("unknown back to an alerted level", [1.4, "stale", 1.4], W, [(W, 1), (U, 1)]),
    ("second blind spell: new episode", [1.4, "stale", 1.4, "stale"], U, [(W, 1), (U, 1), (U, 2)]),
    ("alerts anew", [1.4, "stale", 1.4, "stale", 1.4], W, [(W, 1), (U, 1), (U, 2), (W, 2)]),
    ("liquidation event", [1.1, "liq"], LQ, [(C, 1), (LQ, 1)]),
    ("liquidation from ok", ["liq"], LQ, [(LQ, 1)]),
    ("repeated liquidation event is silent", ["liq", "liq"], LQ, [(LQ, 1)]),
    ("open and liquidatable again: new episode", [0.9, "liq", 0.8], L, [(L, 1), (LQ, 1), (L, 2)]),
    ("closed after liquidation recovers", [0.9, "liq", math.inf], OK, [(L, 1), (LQ, 1), (R, 1)]),
    ("open again after a liquidation alerts anew", ["liq", 1.1], C, [(LQ, 1), (C, 2)]),
    ("second liquidation: new episode", ["liq", 1.1, "liq"], LQ, [(LQ, 1), (C, 2), (LQ, 2)]),
    ("liquidated, undone, liquidated: told twice", [0.9, "liq", 0.9, "liq"], LQ,
     [(L, 1), (LQ, 1), (L, 2), (LQ, 2)]),
    ("stale while liquidated", ["liq", "stale"], U, [(LQ, 1), (U, 1)]),
    ("partial liquidation: told, the rest judged", [0.95, "part:1.1"], C, [(L, 1), (LQ, 1)]),
    ("partial from ok, the rest ok", ["part:1.6"], OK, [(LQ, 1), (R, 1)]),
    ("partial then whole: told twice", [0.95, "part:1.1", "liq"], LQ,
     [(L, 1), (LQ, 1), (LQ, 2)]),
    ("second partial: new episode", [0.95, "part:0.98", "part:1.1"], C,
     [(L, 1), (LQ, 1), (LQ, 2), (C, 2)]),
    ("default: 12 % from liquidation is quiet", [(2.0, 12.0)], OK, []),
    ("default: 10 % from liquidation warns", [(2.0, 10.0)], W, [(W, 1)]),
    ("default: 3 % from liquidation is critical", [(2.0, 3.0)], C, [(C, 1)]),
    ("default: distance walks the ladder", [(2.0, 9.0), (2.0, 2.0), (0.99, -0.1)], L,
     [(W, 1), (C, 1), (L, 1)]),
    ("default: a health trigger fires alone", [(1.12, 50.0)], C, [(C, 1)]),
    ("default: critical holds up to 3.15 %", [(2.0, 2.9), (2.0, 3.1)], C, [(C, 1)]),
    ("default: critical clears past 3.15 %", [(2.0, 2.9), (2.0, 3.2)], W, [(C, 1)]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("items", "final", "expected"),
    [row[1:] for row in TRANSITIONS],
    ids=[r[0] for r in TRANSITIONS],
)
def test_transition(items: list[Step], final: Level, expected: list[tuple[Level, int]]) -> None:
    state, alerts = run(items)
    assert state.level is final
    assert [(a.level, a.episode) for a in alerts] == expected
    assert (state.level is OK) == (not state.alerted)


DISTANCE = Policy.from_thresholds(Thresholds(warning_distance_pct=5.0, critical_distance_pct=0))


@pytest.mark.parametrize(
    ("items", "final", "expected"),
    [
        ([(2.0, 4.0)], W, [(W, 1)]),
        ([(2.0, 5.0)], W, [(W, 1)]),  # inclusive, like the health thresholds
        ([(2.0, 5.01)], OK, []),
        ([(2.0, 0.5)], W, [(W, 1)]),  # critical_distance_pct = 0: off
        ([(2.0, 4.0), (2.0, 5.2)], W, [(W, 1)]),  # holds up to 5 * 1.05
        ([(2.0, 4.0), (2.0, 5.3)], OK, [(W, 1), (R, 1)]),
        ([(2.0, 4.0), (1.4, 5.3)], W, [(W, 1)]),  # the health still holds it
        ([(2.0, 4.0), (1.1, 4.0)], C, [(W, 1), (C, 1)]),
        ([(2.0, None)], OK, []),  # no positions, no distance
    ],
)
def test_distance_trigger(
    items: list[Step], final: Level, expected: list[tuple[Level, int]]
) -> None:
    state, alerts = run(items, DISTANCE)
    assert state.level is final
    assert [(a.level, a.episode) for a in alerts] == expected


@pytest.mark.parametrize(
    ("items", "reason"),
    [
        ([1.12], "health 1.12 ≤ 1.15"),
        ([1.42], "health 1.42 ≤ 1.50"),
        ([0.97], "health 0.97 ≤ 1.00"),
        (["liq"], "liquidated on chain"),
        (["stale"], "ETH price 4000s old > heartbeat 3600s"),
        (["stalled"], "node head stalled"),
        ([None], "health unavailable"),
        ([1.4, 1.9], "back to ok from warning: health 1.90"),
        (["stale", 3.0], "back to ok from unknown: health 3.00"),
    ],
)
def test_reasons_are_short_human_lines(items: list[Step], reason: str) -> None:
    _, alerts = run(items)
    assert alerts[-1].reason == reason


def test_distance_reason_names_the_move() -> None:
    _, alerts = run([(2.0, 3.25)], DISTANCE)
    assert alerts == [AlertDecision(W, 1, "liquidation 3.2% away ≤ 5%")]
    _, alerts = run([(1.1, 2.5)])  # both triggers fired: the distance first
    assert alerts[0].reason == "liquidation 2.5% away ≤ 3%; health 1.10 ≤ 1.15"


def test_sigma_trigger_is_off_by_default_and_fires_when_set() -> None:
    quiet = Report(health=2.0, move_pct=20.0, move_sigma=0.5)
    assert step(AlertState(), quiet, Policy(), T0)[1] == []
    sigma = Policy.from_thresholds(Thresholds(warning_sigma=3.0, critical_sigma=1.5))
    _, alerts = step(AlertState(), quiet, sigma, T0)
    assert alerts == [AlertDecision(C, 1, "liquidation 0.5σ away ≤ 1.5σ")]
    unknown_sigma = Report(health=2.0, move_pct=20.0)  # no history yet: silent
    assert step(AlertState(), unknown_sigma, sigma, T0)[1] == []


def test_every_stale_price_is_named() -> None:
    old = T0 - timedelta(hours=2)
    prices = (PriceFreshness("ETH", old, 3600), PriceFreshness("BTC", old, 86400))
    fresh_but_stalled = Report(health=None, prices=prices, head_stalled=True)
    _, alerts = step(AlertState(), fresh_but_stalled, Policy(), T0)
    assert alerts[0].reason == "ETH price 7200s old > heartbeat 3600s; node head stalled; " + (
        "health unavailable"
    )


def test_price_within_heartbeat_is_fresh() -> None:
    at_edge = PriceFreshness("ETH", T0 - timedelta(seconds=HEARTBEAT_S), HEARTBEAT_S)
    state, alerts = step(AlertState(), Report(health=2.0, prices=(at_edge,)), Policy(), T0)
    assert (state.level, alerts) == (OK, [])


def test_since_marks_level_changes_and_updated_at_every_step() -> None:
    state = AlertState()
    times = [T0 + timedelta(minutes=i) for i in range(4)]
    seen = []
    for health, now in zip([2.0, 1.4, 1.45, 1.1], times, strict=True):
        state, _ = step(state, Report(health=health), Policy(), now)
        seen.append((state.since, state.updated_at, state.health))
    assert seen == [
        (None, times[0], 2.0),  # never left ok
        (times[1], times[1], 1.4),
        (times[1], times[2], 1.45),
        (times[3], times[3], 1.1),
    ]


def test_report_from_health_takes_the_closest_position() -> None:
    risks = (
        PositionRisk("ETH-USD", "ETH", 2500.0, 2000.0, 20.0),
        PositionRisk("BTC-USD", "BTC", 60000.0, None, None),
        PositionRisk("SOL-USD", "SOL", 150.0, 140.0, 6.5),
    )
    stalled = Report.from_health(AccountHealth(1000.0, 800.0, 1.25, risks), head_stalled=True)
    assert (stalled.health, stalled.move_pct, stalled.head_stalled) == (1.25, 6.5, True)
    empty = Report.from_health(AccountHealth(1000.0, 0.0, math.inf, ()))
    assert (empty.health, empty.move_pct) == (math.inf, None)
    joint = AccountHealth(1000.0, 800.0, 1.25, risks, move_pct=4.0)  # a cross account's move
    assert Report.from_health(joint, move_sigma=1.5).move_pct == 4.0
    assert Report.from_health(joint, move_sigma=1.5).move_sigma == 1.5


def test_policy_uses_the_account_thresholds() -> None:
    config = AlertConfig(protocols={"gmx_v2": {"critical": 1.3}})
    wallet = WalletConfig(address="0x" + "ab" * 20, warning=1.8)
    policy = Policy.from_thresholds(config.for_account("gmx_v2", wallet))
    assert policy.raw_level(Reading(1.25)) is C
    assert policy.raw_level(Reading(1.7)) is W
    assert Policy.from_thresholds(config.for_account("hyperliquid")).raw_level(Reading(1.25)) is W


def test_policy_refuses_inverted_thresholds() -> None:
    with pytest.raises(ConfigError, match=r"critical \(1.6\) must be below warning \(1.5\)"):
        Policy.from_thresholds(Thresholds(critical=1.6))


def test_new_levels_fit_the_alerts_table(engine: Engine) -> None:
    """Every alert level the machine emits is accepted by the database, keyed per episode."""
    _, alerts = run([1.4, "stale", 0.9, "liq", 2.0, "stale"])
    assert {a.level for a in alerts} == {W, U, L, LQ, R}
    account = sa.text(
        "INSERT INTO accounts (chain_id, protocol, owner, ref, mode, status,"
        " fixed_requirement_usd_e30, block_number, updated_at)"
        " VALUES (1, 'gmx_v2', :owner, 'r', 'cross', 'open', '0', 1, :now)"
    )
    alert = sa.text(
        "INSERT INTO alerts (account_id, level, episode, created_at, payload)"
        " VALUES (:account, :level, :episode, :now, '{}')"
    )
    with engine.begin() as db:
        db.execute(account, {"owner": "0x" + "ab" * 20, "now": T0})
        account_id = db.execute(sa.text("SELECT id FROM accounts")).scalar_one()
        for a in alerts:
            row = {"account": account_id, "level": a.level.value, "episode": a.episode}
            db.execute(alert, {**row, "now": T0})
        stored = db.execute(sa.text("SELECT level, episode FROM alerts ORDER BY id")).all()
    assert [tuple(row) for row in stored] == [(a.level.value, a.episode) for a in alerts]


def test_a_partial_liquidation_says_what_the_venue_closed() -> None:
    _, alerts = run([0.95, "part:1.1"])
    assert alerts[1] == AlertDecision(LQ, 1, f"partially liquidated: {CUT}", partial=CUT)
    _, alerts = run(["part:1.6"])
    assert alerts[1].reason == "back to ok: health 1.60"
