"""``perpwatch demo``: the whole pipeline on a local devnet, with nothing to configure.

Starts anvil, deploys the GMX v2 and Hyperliquid simulators, opens isolated and cross
positions, then runs perpwatch exactly as production does (index → refresh → prices → health)
against a config that points at the devnet. The SQLite file lands in the working directory.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from devnet.deploy import start_devnet
from devnet.scenario import World, build_world
from indexer.config import Config
from indexer.db import ensure_schema, make_engine
from monitor.pipeline import AccountView, by_chain, evaluate, sync_chain

DEVNET_CHAIN_ID = 31337


def demo_config(world: World, database_url: str) -> Config:
    """A perpwatch config for the devnet ``world`` (what a user would write in TOML)."""
    gmx = world.gmx
    raw: dict[str, Any] = {
        "database_url": database_url,
        "chains": [
            {
                "name": "devnet",
                "chain_id": DEVNET_CHAIN_ID,
                "rpc_urls": [world.devnet.anvil.rpc_url],
                "finality_blocks": 0,
                "block_time": 1.0,
            }
        ],
        "protocols": [
            {
                "name": "gmx_v2",
                "chain": "devnet",
                "addresses": {
                    "data_store": gmx.data_store.address,
                    "reader": gmx.reader.address,
                    "event_emitter": gmx.event_emitter.address,
                    "referral_storage": gmx.referral_storage,
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
    return Config.model_validate(raw)


def run_demo(
    console: Console, *, as_json: bool, gmx_traders: int = 12, hl_traders: int = 6
) -> dict[str, Any]:
    """Run the demo; returns (and prints) its summary."""
    started = time.monotonic()

    def say(text: str) -> None:
        if not as_json:
            console.print(text)

    db_path = Path.cwd() / "perpwatch.db"
    with start_devnet() as devnet:
        say(f"devnet up at {devnet.anvil.rpc_url}; deploying GMX v2 and Hyperliquid simulators")
        world = build_world(devnet, gmx_traders=gmx_traders, hl_traders=hl_traders)
        say(
            f"opened {len(world.gmx_positions)} GMX and {len(world.hl_positions)} Hyperliquid "
            "positions"
        )
        cfg = demo_config(world, f"sqlite:///{db_path}")
        engine = make_engine(cfg.database_url)
        ensure_schema(engine)
        views, syncs = asyncio.run(_pass(cfg, engine))
    summary = {
        "database": str(db_path),
        "logs_indexed": sum(s.logs for s in syncs),
        "accounts": len(views),
        "isolated": sum(v.account.mode == "isolated" for v in views),
        "cross": sum(v.account.mode == "cross" for v in views),
        "min_health": round(
            min((v.health.health for v in views if v.health), default=float("nan")), 4
        ),
        "seconds": round(time.monotonic() - started, 1),
    }
    if as_json:
        console.print_json(data=summary)
    else:
        console.print(accounts_table(views))
        console.print(summary)
    return summary


async def _pass(cfg: Config, engine: Any) -> tuple[list[AccountView], list[Any]]:
    from indexer.runner import open_rpc

    syncs = []
    watched = [w.address for w in cfg.wallets]
    for group in by_chain(cfg):
        async with open_rpc(group.chain) as rpc:
            syncs.append(await sync_chain(rpc, engine, group, watched))
    return evaluate(engine, syncs), syncs


def accounts_table(views: list[AccountView]) -> Table:
    """Accounts, worst health first: protocol, mode, owner, positions, health, liquidation."""
    table = Table(title="margin accounts")
    for column in (
        "protocol",
        "mode",
        "owner",
        "market",
        "size",
        "mark",
        "liq. price",
        "distance",
        "health",
    ):
        table.add_column(
            column, justify="left" if column in ("protocol", "mode", "owner", "market") else "right"
        )
    for view in sorted(views, key=lambda v: v.health.health if v.health else -1.0):
        if view.health is None:
            table.add_row(
                view.account.protocol,
                view.account.mode.value,
                view.account.owner[:10],
                "",
                "",
                "",
                "",
                "",
                "unpriced",
            )
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
