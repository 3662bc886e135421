"""Subscriptions on both backends: the service's operations and their one-line refusals, the
config seeding them idempotently, and alerts routed so that a chat hears only what it watches
(paused, quiet hours and per-chat thresholds included)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from indexer.config.loader import Config
from indexer.config.sections import Thresholds
from indexer.models import MarginAccount
from monitor.alerts.apply import Decided, LensesFor, Router, apply_rules
from monitor.alerts.lens_states import close_gone_lenses
from monitor.alerts.levels import Level
from monitor.alerts.policy import Policy
from monitor.api.queries import alerts_page, performance_inputs
from monitor.subscriptions.routing import RouteTable
from monitor.subscriptions.service import (
    SubscriptionError,
    Target,
    load_routes,
    seed_from_config,
    set_paused,
    set_quiet_hours,
    set_thresholds,
    subscriber_info,
    unwatch,
    watch,
    watched,
)
from monitor.tables import OutboxMessage
from tests.subscription_helpers import OWNERS, observe, owner_account

A = Target("telegram", "111")
B = Target("telegram", "-100222", is_group=True)
NOON = datetime(2025, 1, 1, 12, tzinfo=UTC)
BASE = Thresholds()


def channels_by_alert(engine: Engine) -> dict[int, set[str]]:
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    out: dict[int, set[str]] = defaultdict(set)
    with engine.connect() as conn:
        for alert_id, channel in conn.execute(sa.select(table.c.alert_id, table.c.channel)):
            out[alert_id].add(channel)
    return out


def test_watch_list_unwatch_and_their_refusals(engine: Engine) -> None:
    watch(engine, A, OWNERS[0], "main", limit=2)
    watch(engine, A, OWNERS[1].upper().replace("0X", "0x"), limit=2)
    assert [(w.owner, w.label) for w in watched(engine, A)] == [
        (OWNERS[0], "main"), (OWNERS[1], ""),
    ]  # fmt: skip
    with pytest.raises(SubscriptionError, match="already watches 2 wallets, the limit"):
        watch(engine, A, OWNERS[2], limit=2)
    watch(engine, A, OWNERS[0], "renamed", limit=2)  # watching again relabels, no new row
    with pytest.raises(SubscriptionError, match="label 'renamed' is already used"):
        watch(engine, A, OWNERS[1], "renamed", limit=2)
    assert watched(engine, B) == []
    assert unwatch(engine, A, "renamed").owner == OWNERS[0]
    assert unwatch(engine, A, OWNERS[1].upper().replace("0X", "0x")).owner == OWNERS[1]
    with pytest.raises(SubscriptionError, match="not watching 'main'"):
        unwatch(engine, A, "main")
    assert watched(engine, A) == []


def test_thresholds_pause_and_quiet_hours_are_validated_and_kept(engine: Engine) -> None:
    set_thresholds(engine, A, warning=2.0, critical=1.3)
    with pytest.raises(SubscriptionError, match=r"critical \(1.5\) must be below warning \(1.2\)"):
        set_thresholds(engine, A, warning=1.2, critical=1.5)
    with pytest.raises(SubscriptionError, match="greater than 1"):
        set_thresholds(engine, A, warning=0.5)
    with pytest.raises(SubscriptionError, match="0 to 23"):
        set_quiet_hours(engine, A, 22, 24)
    set_quiet_hours(engine, A, 22, 7)
    set_paused(engine, A, True)
    info = subscriber_info(engine, A)
    assert info.paused
    assert info.overrides.overrides() == {"warning": 2.0, "critical": 1.3}
    assert (info.quiet_from_hour, info.quiet_to_hour) == (22, 7)
    set_thresholds(engine, A, warning_distance_pct=5.0)
    assert subscriber_info(engine, A).overrides.overrides() == {"warning_distance_pct": 5.0}


def test_config_seeds_subscribers_once(engine: Engine) -> None:
    cfg = Config.model_validate(
        {
            "database_url": "sqlite://",
            "wallets": [{"address": OWNERS[0], "label": "desk"}, {"address": OWNERS[1]}],
            "channels": {"webhook": {"enabled": True, "url": "http://127.0.0.1:9/x"},
                         "telegram": {"enabled": True, "chat_ids": [111, "-100222"]}},
            "telegram_bot_token": "1:x",
        }
    )  # fmt: skip
    assert seed_from_config(engine, cfg) == 6
    assert seed_from_config(engine, cfg) == 0
    assert [(w.owner, w.label) for w in watched(engine, A)] == [
        (OWNERS[0], "desk"), (OWNERS[1], ""),
    ]  # fmt: skip
    routes = load_routes(engine, ("console",))
    assert sorted(s.channel for s in routes.subscribers.values() if s.watch_all) == [
        "telegram:-100222", "telegram:111", "webhook",
    ]  # fmt: skip


def lensed(
    routes: RouteTable, hour: int
) -> tuple[Callable[[MarginAccount], Policy], Router, LensesFor]:
    """The primary policy, router and secondary lenses of ``routes`` over ``BASE`` at ``hour``,
    as the monitor builds them."""

    def policy_for(account: MarginAccount) -> Policy:
        return Policy(BASE)  # the primary lens: the config's thresholds

    def route(account: MarginAccount, level: Level, key: str) -> list[str]:
        (lens,) = [lens for lens in routes.lenses(account, BASE) if lens.key == key]
        return routes.channels(level, hour, lens)

    def lenses_for(account: MarginAccount) -> list[tuple[str, Policy]]:
        return [(lens.key, Policy(lens.thresholds)) for lens in routes.lenses(account, BASE)[1:]]

    return policy_for, route, lenses_for


def test_alerts_reach_only_the_chats_that_watch_their_wallet(engine: Engine) -> None:
    accounts = [owner_account(engine, owner) for owner in OWNERS[:3]]
    watch(engine, A, OWNERS[0], limit=9)
    watch(engine, B, OWNERS[1], limit=9)
    watch(engine, B, OWNERS[0], limit=9, protocol="hyperliquid")  # another venue: not this one
    policy_for, route, lenses_for = lensed(load_routes(engine, ("console",)), NOON.hour)
    observations = [observe(i, a, 1.1) for i, a in accounts]
    decided = apply_rules(engine, observations, policy_for, route, NOON, lenses=lenses_for)
    assert len(decided) == 3
    by_alert = channels_by_alert(engine)
    got = {d.account_id: by_alert[d.alert_id] for d in decided}
    assert got == {
        accounts[0][0]: {"console", "telegram:111"},
        accounts[1][0]: {"console", "telegram:-100222"},
        accounts[2][0]: {"console"},
    }


def test_paused_quiet_and_own_thresholds_filter_a_chats_alerts(engine: Engine) -> None:
    account_id, account = owner_account(engine, OWNERS[0])
    watch(engine, A, OWNERS[0], limit=9)
    watch(engine, B, OWNERS[0], limit=9)
    set_thresholds(engine, A, warning=3.0, critical=2.0)  # A: warned earlier than the config
    routes = load_routes(engine)
    assert routes.thresholds(account, BASE).warning == 3.0  # what freshness follows

    def told(engine: Engine, decided: list[Decided]) -> dict[str, list[str]]:
        by_alert = channels_by_alert(engine)
        out: dict[str, list[str]] = defaultdict(list)
        for d in decided:
            for channel in by_alert.get(d.alert_id, ()):
                out[channel].append(d.decision.level.value)
        return dict(out)

    policy_for, route, lenses_for = lensed(routes, 12)
    first = apply_rules(engine, [observe(account_id, account, 2.5)], policy_for, route, NOON,
                        lenses=lenses_for)  # fmt: skip
    assert told(engine, first) == {"telegram:111": ["warning"]}  # B: still fine by its own

    set_paused(engine, A, True)
    set_quiet_hours(engine, B, 22, 6)
    policy_for, route, lenses_for = lensed(load_routes(engine), 23)
    second = apply_rules(engine, [observe(account_id, account, 1.1, 11)], policy_for, route,
                         NOON, lenses=lenses_for)  # fmt: skip
    # A paused hears nothing; B's own state goes straight to critical, not held back by its
    # quiet hours (they hold warnings only).
    assert told(engine, second) == {"telegram:-100222": ["critical"]}


def test_a_chat_hears_its_own_warning_after_a_more_sensitive_chat_heard_its(
    engine: Engine,
) -> None:
    """A warns at health 3, B at the config's 1.5: each hears a warning at its own
    threshold, once, and each its own recovery."""
    account_id, account = owner_account(engine, OWNERS[0])
    watch(engine, A, OWNERS[0], limit=9)
    watch(engine, B, OWNERS[0], limit=9)
    set_thresholds(engine, A, warning=3.0, critical=1.2)
    routes = load_routes(engine)
    policy_for, route, lenses_for = lensed(routes, 12)
    (_, own) = routes.lenses(account, BASE)
    lens = own.key
    heard: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for block, health in enumerate([3.5, 2.8, 2.0, 1.45, 1.4, 3.5, 3.6], start=10):
        decided = apply_rules(engine, [observe(account_id, account, health, block)], policy_for,
                              route, NOON, lenses=lenses_for)  # fmt: skip
        by_alert = channels_by_alert(engine)
        for d in decided:
            for channel in by_alert.get(d.alert_id, ()):
                heard[channel].append((d.decision.level.value, health))
    assert heard == {
        "telegram:111": [("warning", 2.8), ("recovered", 3.5)],
        "telegram:-100222": [("warning", 1.45), ("recovered", 3.5)],
    }
    # The API's lead times count the config's thresholds (B's here) once, not A's lens too.
    _, events = performance_inputs(engine)
    assert [(e.level.value, e.block_number) for e in events] == [("warning", 13), ("recovered", 15)]
    # The API lists both lenses' alerts, each with its lens; ``lens=""`` the config's alone.
    every = alerts_page(engine, level=None, account_id=None, limit=10, offset=0)
    primary = alerts_page(engine, level=None, account_id=None, limit=10, offset=0, lens="")
    assert sorted(item["lens"] for item in every["items"]) == ["", "", lens, lens]
    assert [item["level"] for item in primary["items"]] == ["recovered", "warning"]


def test_a_lens_that_comes_back_starts_again_from_ok(engine: Engine) -> None:
    """A warns at health 3 and hears a warning; A drops its thresholds (its lens is gone, and
    its episode closed with the routing table), then sets them again: the account at warning
    by them is told again, as to a chat that just asked, not held back by the old warning."""
    account_id, account = owner_account(engine, OWNERS[0])
    watch(engine, A, OWNERS[0], limit=9)

    def step(block: int) -> list[tuple[str, str]]:
        routes = load_routes(engine)
        policy_for, route, lenses_for = lensed(routes, 12)
        close_gone_lenses(engine, lambda a: {lens.key for lens in routes.lenses(a, BASE)})
        decided = apply_rules(engine, [observe(account_id, account, 2.5, block)], policy_for,
                              route, NOON, lenses=lenses_for)  # fmt: skip
        by_alert = channels_by_alert(engine)
        return [(c, d.decision.level.value) for d in decided for c in by_alert.get(d.alert_id, ())]

    set_thresholds(engine, A, warning=3.0, critical=1.2)
    assert step(10) == [("telegram:111", "warning")]
    set_thresholds(engine, A)  # back to the config's: 2.5 is fine there
    assert step(11) == []
    set_thresholds(engine, A, warning=3.0, critical=1.2)
    assert step(12) == [("telegram:111", "warning")]
