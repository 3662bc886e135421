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
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench.live_metrics import read_alerts, read_statuses
from devnet.demo import demo_config
from devnet.deploy import Devnet
from devnet.scenario import HlPosition, World, build_world
from indexer.config.loader import Config
from indexer.models import AccountStatus
from indexer.store.columns import utcnow
from indexer.store.tables import Account
from monitor.alerts import apply
from monitor.alerts.levels import Level
from monitor.analysis.performance import alert_performance
from monitor.api.queries import performance_inputs
from monitor.runtime import service
from monitor.runtime.service import Monitor
from monitor.tables import Alert

pytestmark = pytest.mark.chain


def _hyperliquid_only(world: World) -> Config:
    raw: dict[str, Any] = demo_config(world, "sqlite://").model_dump(mode="json", exclude_none=True)
    # Every wallet polled every tick: this test is about endings, not about polling.
    raw["protocols"] = [
        {**p, "poll_s": 0.001, "far_poll_s": 0.001}
        for p in raw["protocols"]
        if p["name"] == "hyperliquid"
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
    apply_rules = apply.apply_rules  # what the monitor calls
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


WHALE = "0x" + "77" * 20


def _whale_payloads(engine: Engine, ref: str) -> list[tuple[Level, int, dict[str, Any]]]:
    query = (
        sa.select(Alert.level, Alert.episode, Alert.payload)  # type: ignore[call-overload]
        .join(Account, Account.id == Alert.account_id)
        .where(Account.ref == ref)
        .order_by(Alert.id)
    )
    with engine.connect() as conn:
        return [
            (Level(level), int(ep), dict(payload)) for level, ep, payload in conn.execute(query)
        ]


def test_a_large_position_liquidated_a_fifth_at_a_time_is_told_partial_then_whole(
    devnet: Devnet, engine: Engine
) -> None:
    """Hyperliquid liquidates a position over 100k USDC of notional 20 % at a time (then whole
    within 30 s). The account stays open with a smaller position: perpwatch tells a partial
    liquidation, says what went, keeps watching what is left, and tells the whole one after."""
    world = build_world(devnet, gmx_traders=1, hl_traders=2, seed=3)
    btc = world.prices_usd["BTC"]
    size = (Decimal(200_000) / btc).quantize(Decimal("0.01"))  # about 200k USD of notional
    world.hl.deposit(WHALE, "10000")
    world.hl.open(WHALE, "BTC", size, leverage=40)
    whale = HlPosition(WHALE, "BTC", isolated=False)
    world.hl_positions.append(whale)
    chain_now = datetime.fromtimestamp(int(devnet.anvil.block()["timestamp"], 16), UTC)
    skew = chain_now - utcnow()
    monitor = Monitor(_hyperliquid_only(world), engine, {}, clock=lambda: utcnow() + skew)
    asyncio.run(monitor.tick_all())
    ref = f"{WHALE}:cross:0"
    # 40x with 10k on 200k: a warning at most (liquidation a few percent away)
    assert {level for level, _, _ in _whale_payloads(engine, ref)} <= {Level.WARNING}

    _crash_until_liquidatable(world, whale)
    world.liquidate_what_is_allowed()
    assert ref in {r for r, _ in world.partially_liquidated}
    left = Decimal(world.hl.position(WHALE, "BTC")[0]).scaleb(-5)
    assert left == size * Decimal("0.8")
    asyncio.run(monitor.tick_all())
    told = [t for t in _whale_payloads(engine, ref) if t[0] is Level.LIQUIDATED]
    assert [t[:2] for t in told] == [(Level.LIQUIDATED, 1)]
    assert told[0][2]["partial"] == f"BTC long {size.normalize():f} → {left.normalize():f}"
    assert told[0][2]["positions"][0]["side"] == "long"  # what is left, valued
    assert read_statuses(engine)[ref] is AccountStatus.OPEN

    # Lower still, within the 30 s cooldown: the keeper's next liquidation is whole. The next
    # block is stamped a second after the cut, however long the tick above took.
    cut_at = int(devnet.anvil.block()["timestamp"], 16)
    devnet.anvil.request("evm_setNextBlockTimestamp", [cut_at + 1])
    mark = (world.prices_usd["BTC"] * Decimal("0.99")).quantize(Decimal("0.1"))
    world.prices_usd["BTC"] = mark
    world.hl.set_mark("BTC", mark)
    world.liquidate_what_is_allowed()
    assert ref in {r for r, _ in world.liquidated}
    asyncio.run(monitor.tick_all())
    told = _whale_payloads(engine, ref)
    liquidations = [
        (level, ep, "partial" in p) for level, ep, p in told if level is Level.LIQUIDATED
    ]
    assert liquidations == [(Level.LIQUIDATED, 1, True), (Level.LIQUIDATED, 2, False)]
    assert Level.RECOVERED not in [level for level, _, _ in told]

    # Alert performance counts both (the cross account is still open: its status says
    # nothing), and the partial's alert warned of the whole one.
    perf = alert_performance(*performance_inputs(engine))
    (cut,) = [lead.liquidation for lead in perf.leads if lead.liquidation.partial]
    leads = [lead for lead in perf.leads if lead.liquidation.account_id == cut.account_id]
    assert [lead.liquidation.partial for lead in leads] == [True, False]
    first = leads[1].first_warning
    assert first is not None
    assert first.partial
