"""Hyperliquid emits no liquidation event, so how an account ended is inferred: one gone below
its maintenance margin was liquidated, even when the keeper took it before any tick saw it
liquidatable (the race a chain that keeps moving runs every block); one its trader closed while
healthy was closed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bench.live_metrics import read_alerts, read_statuses
from devnet.demo import demo_config
from devnet.deploy import Devnet
from devnet.scenario import HlPosition, World, build_world
from indexer.config.loader import Config
from indexer.models import AccountStatus
from indexer.store.columns import utcnow
from monitor.alerts.levels import Level
from monitor.runtime import service
from monitor.runtime.service import Monitor

pytestmark = pytest.mark.chain


def _hyperliquid_only(world: World) -> Config:
    raw: dict[str, Any] = demo_config(world, "sqlite://").model_dump(mode="json", exclude_none=True)
    # Every wallet polled every tick: this test is about endings, not about polling.
    raw["protocols"] = [
        {**p, "poll_s": 0.001} for p in raw["protocols"] if p["name"] == "hyperliquid"
    ]
    return Config.model_validate(raw)


def _crash_until_liquidatable(world: World, victim: HlPosition) -> None:
    """Move the victim's coin against it, with no tick in between, until the simulator lets
    the keeper liquidate it."""
    long = world.hl.position(victim.account, victim.coin)[0] > 0
    factor = Decimal("0.98") if long else Decimal("1.02")
    perp = world.hl.perp(victim.coin)
    for _ in range(200):
        if world.hl.is_liquidatable(victim.account, victim.coin):
            return
        price = (world.prices_usd[victim.coin] * factor).quantize(
            Decimal(10) ** -(6 - perp.sz_decimals)
        )
        world.prices_usd[victim.coin] = price
        world.hl.set_mark(victim.coin, price)
    raise AssertionError("the crash never made the victim liquidatable")


def _liquidated_between_ticks(devnet: Devnet, engine: Engine) -> tuple[World, Monitor]:
    """A world whose first tick saw nothing liquidatable, then a crash and a keeper that
    liquidates (a cross account among them) before the next tick."""
    world = build_world(devnet, gmx_traders=1, hl_traders=4, seed=3)
    chain_now = datetime.fromtimestamp(int(devnet.anvil.block()["timestamp"], 16), UTC)
    skew = chain_now - utcnow()
    monitor = Monitor(_hyperliquid_only(world), engine, {}, clock=lambda: utcnow() + skew)
    asyncio.run(monitor.tick_all())
    assert not [a for a in read_alerts(engine) if a.level is Level.LIQUIDATABLE]
    _crash_until_liquidatable(world, world.hl_positions[0])
    assert world.liquidate_what_is_allowed() >= 1
    assert any(":cross:" in ref for ref, _ in world.liquidated)  # the case worth testing
    return world, monitor


def _assert_told_liquidated_once(world: World, engine: Engine) -> None:
    statuses, alerts = read_statuses(engine), read_alerts(engine)
    for ref, _ in world.liquidated:
        levels = [a.level for a in alerts if a.ref == ref]
        # Never seen liquidatable, yet told liquidated (once): inferred from the marks.
        assert Level.LIQUIDATABLE not in levels, ref
        assert levels.count(Level.LIQUIDATED) == 1, (ref, levels)
        assert Level.RECOVERED not in levels, (ref, levels)
        # An isolated account is gone; a cross account keeps what is left of its balance.
        gone = AccountStatus.OPEN if ":cross:" in ref else AccountStatus.LIQUIDATED
        assert statuses[ref] is gone, ref


def test_a_liquidation_between_two_ticks_is_recorded_and_alerted(
    devnet: Devnet, engine: Engine
) -> None:
    world, monitor = _liquidated_between_ticks(devnet, engine)
    healthy = [p for p in world.hl_positions if p.isolated]
    asyncio.run(monitor.tick_all())
    _assert_told_liquidated_once(world, engine)

    # A healthy isolated position its trader closes is a plain close.
    assert healthy, "the seeded world must keep an isolated position after the crash"
    closer = healthy[0]
    world.hl.close(closer.account, closer.coin)
    asyncio.run(monitor.tick_all())
    ref = f"{closer.account}:isolated:{world.hl.perp(closer.coin).index}"
    assert read_statuses(engine)[ref] is AccountStatus.CLOSED
    assert Level.LIQUIDATED not in {a.level for a in read_alerts(engine) if a.ref == ref}


def test_a_tick_that_fails_after_the_read_does_not_forget_the_liquidation(
    devnet: Devnet, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read that finds the accounts gone happens once; the next tick reads them as they
    are now (gone, or a bare balance), so a tick failing before it records them must leave
    the inference to the next one."""
    world, monitor = _liquidated_between_ticks(devnet, engine)
    apply_rules = service.apply_rules
    failures = iter([OSError("database went away")])

    def apply_rules_failing_once(*args: Any, **kwargs: Any) -> Any:
        for failure in failures:
            raise failure
        return apply_rules(*args, **kwargs)

    monkeypatch.setattr(service, "apply_rules", apply_rules_failing_once)
    with pytest.raises(OSError, match="database went away"):
        asyncio.run(monitor.tick_all())
    assert not [a for a in read_alerts(engine) if a.level is Level.LIQUIDATED]
    asyncio.run(monitor.tick_all())
    _assert_told_liquidated_once(world, engine)
