"""``perpwatch demo``: a market crash on a local devnet, watched by perpwatch as in production.

Starts anvil with the GMX v2, Hyperliquid and gTrade simulators and about 350 margin accounts
(isolated and cross, several markets), a local Telegram Bot API stand-in, and a config that
points at both. Then a scripted crash and partial recovery moves every price step by step;
after each step perpwatch runs its production pass (``Monitor.tick``: index → refresh →
prices → health → rules → outbox) and delivers alerts (console and Telegram), and a keeper
liquidates whatever the simulators' own rules allow. The SQLite file lands in the working
directory. The summary says whether every liquidation was warned about, and how early.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine

from devnet.demo_chats import DemoChats
from devnet.deploy import start_devnet
from devnet.digest import AlertDigest
from devnet.scenario import World, build_world
from devnet.telegram_api import TelegramApi
from indexer.config.loader import Config
from indexer.store.engine import ensure_schema, make_engine
from indexer.store.tables import Account
from monitor.alerts.levels import Level
from monitor.alerts.rules import PRIMARY_LENS
from monitor.notify.console import ConsoleNotifier
from monitor.notify.telegram import TelegramNotifier
from monitor.runtime.evaluate import AccountView, evaluate
from monitor.runtime.service import Monitor
from monitor.subscriptions.service import SUBSCRIBERS
from monitor.tables import Alert, OutboxMessage, OutboxStatus

DEVNET_CHAIN_ID = 31337
DEMO_CHAT = "-100123"
DEMO_TOKEN = "4242:perpwatch-demo-token"
WARNING_LEVELS = (Level.WARNING.value, Level.CRITICAL.value, Level.LIQUIDATABLE.value)
EARLY_LEVELS = (Level.WARNING.value, Level.CRITICAL.value)
"""Alerts that come before the account can be liquidated: the ones a trader can still act on."""


@dataclass(frozen=True, slots=True)
class Script:
    """The price path: ``crash_steps`` moves down by ``step_pct`` each, then ``recover_steps``
    moves back up. Percentages of the current price."""

    gmx_traders: int = 200
    hl_traders: int = 50
    gtrade_traders: int = 40
    crash_steps: int = 48
    recover_steps: int = 16
    step_pct: float = 0.25


def demo_config(world: World, database_url: str, *, telegram_url: str | None = None) -> Config:
    """A perpwatch config for the devnet ``world`` (what a user would write in TOML); alert
    thresholds are the defaults."""
    gmx = world.gmx
    raw: dict[str, Any] = {
        "database_url": database_url,
        "chains": [
            {
                "name": "devnet",
                "chain_id": DEVNET_CHAIN_ID,
                "rpc_urls": [world.devnet.anvil.rpc_url],
                "ws_url": world.devnet.anvil.ws_url,
                "finality_blocks": 0,
                "block_time": 1.0,
            }
        ],
        "protocols": [
            {
                "name": "gmx_v2",
                "chain": "devnet",
                "watch": "protocol",  # the demo watches GMX's whole book, as a risk team would
                "addresses": {
                    "data_store": gmx.data_store.address,
                    "reader": gmx.reader.address,
                    "event_emitter": gmx.event_emitter.address,
                },
                "tokens": {
                    t.address: {"asset": t.asset, "decimals": t.decimals, "feed": t.feed.address}
                    for t in gmx.tokens.values()
                },
                "gmx_markets": [
                    {
                        "market_token": m.market_token,
                        "index_token": m.index.address,
                        "long_token": m.long.address,
                        "short_token": m.short.address,
                    }
                    for m in gmx.markets.values()
                ],
            },
            {
                "name": "hyperliquid",
                "chain": "devnet",
                "markets": [p.index for p in world.hl.perps.values()],
            },
        ],
        "wallets": [{"address": a, "label": f"hl-{i}"} for i, a in enumerate(world.hl_traders)],
    }
    if world.gtrade is not None:  # gTrade's whole book too (its events reveal every trade)
        gtrade = {"name": "gtrade", "chain": "devnet", "watch": "protocol"}
        raw["protocols"].append({**gtrade, **world.gtrade.gt.options()})
    if telegram_url is not None:
        raw["channels"] = {
            "console": True,
            "telegram": {"enabled": True, "base_url": telegram_url, "chat_ids": [DEMO_CHAT],
                         "per_chat_rate_per_min": 100_000, "paced": False},
        }  # fmt: skip
        # The token is a secret: in production it comes from PERPWATCH_TELEGRAM_BOT_TOKEN.
        raw["telegram_bot_token"] = DEMO_TOKEN
    return Config.model_validate(raw)


@dataclass
class DemoRun:
    """What happened, for the summary."""

    accounts: int = 0
    steps: int = 0
    blocks: int = 0
    ticks_s: list[float] = field(default_factory=list)
    chats: DemoChats | None = None


def run_demo(console: Console, *, as_json: bool, script: Script = Script(),
             verbose: bool = False) -> dict[str, Any]:  # fmt: skip
    """Run the demo and print (and return) its summary; progress and a digest of the alerts
    of each price step go to stderr with ``as_json`` (every alert with ``verbose``)."""
    started = time.monotonic()
    say = Console(file=sys.stderr) if as_json else console
    db_path = Path.cwd() / "perpwatch.db"
    for stale in (db_path, *db_path.parent.glob(db_path.name + "-*")):
        stale.unlink(missing_ok=True)  # a demo always starts from an empty database
    say.print("starting anvil and deploying the GMX v2, Hyperliquid and gTrade simulators…")
    with start_devnet() as devnet, TelegramApi(DEMO_TOKEN) as telegram:
        say.print(f"devnet at {devnet.anvil.rpc_url}; Telegram stand-in at {telegram.url}")
        traders = script.gmx_traders + script.hl_traders + script.gtrade_traders
        say.print(f"opening positions for {traders} traders (isolated and cross)…")
        world = build_world(devnet, gmx_traders=script.gmx_traders, hl_traders=script.hl_traders,
                            gtrade_traders=script.gtrade_traders)  # fmt: skip
        cfg = demo_config(world, f"sqlite:///{db_path}", telegram_url=telegram.url)
        engine = make_engine(cfg.database_url)
        ensure_schema(engine)
        run = asyncio.run(_crash(world, cfg, engine, telegram, say, script, verbose))
        summary = _summary(engine, world, telegram, run)
    summary["seconds"] = round(time.monotonic() - started, 1)
    if as_json:
        console.print_json(data=summary)
    else:
        console.print(summary_table(summary))
    return summary


async def _crash(world: World, cfg: Config, engine: Engine, telegram: TelegramApi,
                 say: Console, script: Script, verbose: bool) -> DemoRun:  # fmt: skip
    notifier = TelegramNotifier(DEMO_TOKEN, base_url=telegram.url, per_chat_rate_per_min=100_000)
    digest = None if verbose else AlertDigest()
    console = ConsoleNotifier(say) if digest is None else digest
    monitor = Monitor(cfg, engine, {"console": console, "telegram": notifier})
    chats = DemoChats(world, telegram)
    run = DemoRun(chats=chats)
    try:
        async with chats.bot(cfg, engine, monitor):
            await _crash_with_chats(world, monitor, say, script, digest, run)
    finally:
        await notifier.aclose()
    return run


async def _crash_with_chats(world: World, monitor: Monitor, say: Console, script: Script,
                            digest: AlertDigest | None, run: DemoRun) -> None:  # fmt: skip
    assert run.chats is not None
    run.chats.before()
    await run.chats.answered()
    say.print(f"{run.chats.commands} bot commands from 3 Telegram chats answered")
    first_block = world.devnet.w3.eth.block_number
    say.print("indexing the devnet and reading every margin account…")
    summaries = await monitor.tick_all()
    run.accounts = sum(s.accounts for s in summaries)
    say.print(f"{run.accounts} margin accounts indexed; the crash starts")
    down = Decimal(1) - Decimal(str(script.step_pct)) / 100
    up = Decimal(1) + Decimal(str(script.step_pct)) / 100
    path = [down] * script.crash_steps + [up] * script.recover_steps
    try:
        for factor in path:
            world.move_prices(factor)
            tick_started = time.monotonic()
            await monitor.tick_all()
            run.ticks_s.append(time.monotonic() - tick_started)
            await monitor.deliver()
            world.liquidate_what_is_allowed()
            run.steps += 1
            if digest is not None and (line := digest.flush()):
                say.print(f"step {run.steps}/{len(path)}: {line}", highlight=False)
        await monitor.tick_all()  # see the last liquidations
        for _ in range(3):  # let retries (if any) drain
            await monitor.deliver()
        if digest is not None and (line := digest.flush()):
            say.print(f"after the last step: {line}", highlight=False)
        run.chats.after()
        await run.chats.answered()
    finally:
        await monitor.close()
    run.blocks = world.devnet.w3.eth.block_number - first_block


def _summary(engine: Engine, world: World, telegram: TelegramApi, run: DemoRun) -> dict[str, Any]:
    alerts = _alerts_by_ref(engine)
    leads: list[int] = []
    warned = early = 0
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Account.ref, Account.protocol)).all()  # type: ignore[call-overload]
    protocol_of: dict[str, str] = {str(ref): str(protocol) for ref, protocol in rows}
    liquidated_by: dict[str, int] = {}
    warned_by: dict[str, int] = {}
    for ref, liquidated_at in world.liquidated:
        protocol = protocol_of.get(ref, "unknown")
        liquidated_by[protocol] = liquidated_by.get(protocol, 0) + 1
        earlier = [(block, episode, level) for level, episode, block in alerts.get(ref, [])
                   if level in WARNING_LEVELS and block <= liquidated_at]  # fmt: skip
        if not earlier:
            continue
        warned += 1
        warned_by[protocol] = warned_by.get(protocol, 0) + 1
        early += any(level in EARLY_LEVELS for *_, level in earlier)
        last_episode = max(episode for _, episode, _ in earlier)
        first = min(block for block, episode, _ in earlier if episode == last_episode)
        leads.append(liquidated_at - first)
    with engine.connect() as conn:
        sent = conn.execute(
            sa.select(sa.func.count()).where(OutboxMessage.status == OutboxStatus.SENT)  # type: ignore[arg-type]
        ).scalar_one()
        # An account's alert is one per lens (a chat with thresholds of its own has its own).
        keys = conn.execute(
            sa.select(Alert.account_id, Alert.lens, Alert.level, Alert.episode)  # type: ignore[call-overload]
        ).all()
    texts = telegram.texts(DEMO_CHAT)
    by_protocol: dict[str, int] = {}
    for protocol in protocol_of.values():
        by_protocol[protocol] = by_protocol.get(protocol, 0) + 1
    return {
        "accounts": run.accounts,
        "accounts_by_protocol": dict(sorted(by_protocol.items())),
        "steps": run.steps,
        "blocks": run.blocks,
        "liquidations": len(world.liquidated),
        "liquidations_by_protocol": dict(sorted(liquidated_by.items())),
        "warned_before": warned,
        "warned_before_by_protocol": dict(sorted(warned_by.items())),
        "warned_before_liquidatable": early,
        "min_lead_blocks": min(leads, default=None),
        "median_lead_blocks": statistics.median(leads) if leads else None,
        # The primary lens's: what the console and the configured chat hear (a chat with
        # thresholds of its own hears its own lens's alerts, among ``bot_chat_alerts``).
        "alerts": sum(1 for key in keys if key.lens == PRIMARY_LENS),
        "alerts_sent": sent,
        "duplicate_alerts": (len(keys) - len(set(keys))) + (len(texts) - len(set(texts))),
        "telegram_messages": len(texts),
        **_chat_summary(engine, run),
        "median_tick_s": round(statistics.median(run.ticks_s), 3) if run.ticks_s else None,
    }


def _chat_summary(engine: Engine, run: DemoRun) -> dict[str, Any]:
    """The bot's part: chats subscribed, commands answered, alerts those chats heard, and
    alerts delivered to a chat that did not watch the account (must be 0)."""
    assert run.chats is not None
    with engine.connect() as conn:
        chats = conn.execute(
            sa.select(sa.func.count()).where(SUBSCRIBERS.c.kind == "telegram")
        ).scalar_one()
    return {
        "telegram_chats": chats,
        "bot_commands": run.chats.commands,
        "bot_chat_alerts": run.chats.alerts_heard(),
        "misrouted_alerts": run.chats.misrouted(engine),
    }


def _alerts_by_ref(engine: Engine) -> dict[str, list[tuple[str, int, int]]]:
    """(level, episode, block) of every alert, by account ref."""
    query = sa.select(Account.ref, Alert.level, Alert.episode, Alert.payload).join(  # type: ignore[call-overload]
        Alert, Alert.account_id == Account.id
    )
    out: dict[str, list[tuple[str, int, int]]] = {}
    with engine.connect() as conn:
        for ref, level, episode, payload in conn.execute(query):
            out.setdefault(ref, []).append((str(level), int(episode), int(payload["block_number"])))
    return out


def summary_table(summary: dict[str, Any]) -> Table:
    table = Table(title="perpwatch demo: a crash and a partial recovery")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        table.add_row(key, "-" if value is None else str(value))
    return table


def accounts_table(views: list[AccountView]) -> Table:
    """Accounts, worst health first: protocol, mode, owner, positions, health, liquidation."""
    table = Table(title="margin accounts")
    for column in ("protocol", "mode", "owner", "asset", "size", "mark", "liq. price",
                   "distance", "health"):  # fmt: skip
        left = column in ("protocol", "mode", "owner", "asset")
        table.add_column(column, justify="left" if left else "right")
    for view in sorted(views, key=lambda v: v.health.health if v.health else -1.0):
        if view.health is None:
            account = view.account
            table.add_row(account.protocol, account.mode.value, account.owner[:10] + "…",
                          "", "", "", "", "", "unpriced")  # fmt: skip
            continue
        for i, (position, risk) in enumerate(
            zip(view.account.positions, view.health.positions, strict=True)
        ):
            first = i == 0
            table.add_row(
                view.account.protocol if first else "",
                view.account.mode.value if first else "",
                view.account.owner[:10] + "…" if first else "",
                risk.asset,
                f"{position.size:,.4f}",
                f"{risk.mark_price:,.2f}",
                "-" if risk.liquidation_price is None else f"{risk.liquidation_price:,.2f}",
                "-" if risk.distance_pct is None else f"{risk.distance_pct:.1f}%",
                f"{view.health.health:.3f}" if first else "",
            )
    return table


__all__ = ["Script", "accounts_table", "demo_config", "evaluate", "run_demo", "summary_table"]
