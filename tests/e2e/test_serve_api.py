"""``perpwatch serve`` as a real process over what the real monitor wrote during a crash on
the devnet, on SQLite and PostgreSQL: every endpoint answers from the database, numbers agree
with each other and with the monitor's record, reads and writes need the token."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from devnet.demo import demo_config
from devnet.scenario import World
from indexer.config.loader import Config
from indexer.store.accounts import load_accounts
from monitor.tables import Alert, ChainTick
from tests.api_helpers import TOKEN, ServeProcess, run_monitor_crash
from tests.monitor_helpers import alert_rows, write_toml
from tests.monitor_helpers import world as world

_alerts = Alert.__table__  # type: ignore[attr-defined]
_ticks = ChainTick.__table__  # type: ignore[attr-defined]


def _health_key(item: dict[str, object]) -> tuple[bool, float]:
    value = item["health"]
    return (value is None, float(value) if isinstance(value, float | int) else 0.0)


@pytest.mark.chain
@pytest.mark.slow
def test_serve_answers_from_the_monitors_database(
    world: World, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    cfg = demo_config(world, db_url)
    run_monitor_crash(world, cfg, engine)
    assert world.liquidated, "the crash must liquidate something, or this test proves nothing"
    open_ids = [i for i, _ in load_accounts(engine)]
    config = write_toml(cfg, tmp_path / "perpwatch.toml")

    with ServeProcess(config) as server:
        # Without the token: 401 on reads (public_reads is off) and on writes.
        assert httpx.get(server.url + "/api/accounts").status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert httpx.get(server.url + "/api/stress", headers=wrong).status_code == 401
        body = {"address": world.hl_traders[0]}
        assert httpx.post(server.url + "/api/watchlist", json=body).status_code == 401

        # Accounts: every open one, riskiest first, filters and pages consistent.
        listing = server.get("/api/accounts", limit=1000).json()
        assert listing["total"] == len(open_ids)
        items = listing["items"]
        assert sorted(i["id"] for i in items) == sorted(open_ids)
        assert items == sorted(items, key=_health_key)
        assert all(i["data_age_s"] is not None for i in items)
        page = server.get("/api/accounts", limit=5, offset=5).json()["items"]
        assert [i["id"] for i in page] == [i["id"] for i in items[5:10]]
        for level in {i["level"] for i in items}:
            chosen = server.get("/api/accounts", level=level, limit=1000).json()
            assert {i["level"] for i in chosen["items"]} == {level}
            assert chosen["total"] == sum(i["level"] == level for i in items)
        eth = server.get("/api/accounts", market="ETH", limit=1000).json()["items"]
        assert eth
        assert all(any(p["asset"] == "ETH" for p in i["positions"]) for i in eth)
        assert len(eth) == sum(any(p["asset"] == "ETH" for p in i["positions"]) for i in items)
        cross = server.get("/api/accounts", mode="cross", limit=1000).json()["items"]
        assert {i["mode"] for i in cross} == {"cross"}
        hl = server.get("/api/accounts", protocol="hyperliquid", limit=1000).json()["items"]
        assert hl
        assert {i["protocol"] for i in hl} == {"hyperliquid"}
        owner = items[0]["owner"]
        mine = server.get("/api/accounts", wallet=owner, limit=1000).json()["items"]
        assert {i["owner"] for i in mine} == {owner}
        risky = server.get("/api/accounts", health_max=1.5, limit=1000).json()["items"]
        assert all(i["health"] <= 1.5 for i in risky)
        assert server.get("/api/accounts", wallet="0x12").status_code == 422

        # One account: the health recomputed at the stored prices is the stored one.
        detail = server.get(f"/api/accounts/{items[0]['id']}").json()
        assert math.isclose(detail["now"]["health"], detail["stored"]["health"], rel_tol=1e-9)
        assert len(detail["positions"]) == len(items[0]["positions"])
        assert detail["positions"][0]["mark_price_usd"] > 0
        assert len(detail["drift"]["positions"]) == len(detail["positions"])
        assert server.get("/api/accounts/999999").status_code == 404

        # Markets, ladder and stress agree on the open notional.
        markets = server.get("/api/markets").json()["markets"]
        eth_notional = sum(
            m["long_notional_usd"] + m["short_notional_usd"] for m in markets if m["asset"] == "ETH"
        )
        ladder = server.get("/api/markets/ETH/ladder").json()
        total = ladder["long"]["total_notional_usd"] + ladder["short"]["total_notional_usd"]
        assert total == pytest.approx(eth_notional, rel=1e-9)
        assert server.get("/api/markets/NOPE/ladder").status_code == 404
        stress = server.get("/api/stress").json()
        at_zero = next(p for p in stress["joint"]["points"] if p["move_pct"] == 0.0)
        liquidatable = [i for i in items if i["health"] is not None and i["health"] <= 1.0]
        assert at_zero["liquidated_accounts"] == len(liquidatable)
        assert stress["accounts"] == len(open_ids)

        # What-if for a wallet with open positions; a bad address is refused.
        wallet = next(i["owner"] for i in items if i["protocol"] == "hyperliquid")
        whatif = server.get(f"/api/wallets/{wallet}/whatif").json()
        assert whatif["venues"]
        assert {v["name"] for v in whatif["venues"][0]["variants"]} >= {"cross"}
        assert server.get("/api/wallets/0xzz/whatif").status_code == 422

        # Alerts: the monitor's record, newest first; performance over the crash.
        rows = alert_rows(engine)
        alerts = server.get("/api/alerts", limit=1000).json()
        assert alerts["total"] == len(rows)
        assert [a["id"] for a in alerts["items"]] == [r.id for r in reversed(rows)]
        perf = server.get("/api/alerts/performance").json()
        assert perf["liquidations"] == len(world.liquidated)
        assert perf["missed"] == 0  # the monitor warns before every liquidation of this crash
        assert all(lead["lead_blocks"] >= 0 for lead in perf["leads"])
        assert perf["median_lead_s"] > 0

        # Freshness: the monitor's heartbeat.
        with engine.connect() as conn:
            head = conn.execute(sa.select(_ticks.c.block_number)).scalar_one()
        chains = server.get("/api/freshness").json()["chains"]
        assert [(c["chain"], c["block_number"]) for c in chains] == [("devnet", head)]

        # Watch list: writes with the token.
        added = httpx.post(server.url + "/api/watchlist", json=body, headers=server.auth)
        assert added.status_code == 201
        assert added.json()["added"] is True
        listed = server.get("/api/watchlist").json()["wallets"]
        assert [w["address"] for w in listed] == [world.hl_traders[0].lower()]
        path = f"/api/watchlist/{world.hl_traders[0]}"
        assert httpx.delete(server.url + path).status_code == 401
        assert httpx.delete(server.url + path, headers=server.auth).status_code == 200
        assert httpx.delete(server.url + path, headers=server.auth).status_code == 404

        # Subscriptions: what the bot's /watch writes, through the API with the token.
        subs = "/api/subscriptions/telegram/-100777/wallets"
        desk = {"address": world.hl_traders[0], "label": "desk"}
        assert httpx.post(server.url + subs, json=desk).status_code == 401
        assert httpx.post(server.url + subs, json=desk, headers=server.auth).status_code == 201
        other = {"address": world.hl_traders[1], "label": "desk"}  # the label is taken
        assert httpx.post(server.url + subs, json=other, headers=server.auth).status_code == 409
        odd = "/api/subscriptions/pigeon/1/wallets"
        assert httpx.post(server.url + odd, json=desk, headers=server.auth).status_code == 422
        chats = {s["channel"]: s for s in server.get("/api/subscriptions").json()["subscribers"]}
        wallets = chats["telegram:-100777"]["wallets"]
        assert [(w["owner"], w["label"]) for w in wallets] == [
            (world.hl_traders[0].lower(), "desk")
        ]
        assert httpx.delete(server.url + subs + "/desk", headers=server.auth).status_code == 200
        assert httpx.delete(server.url + subs + "/desk", headers=server.auth).status_code == 404

        # /metrics from the database: the same numbers.
        assert httpx.get(server.url + "/metrics").status_code == 401
        metrics = server.metrics()
        by_level = {
            labels: v for (name, labels), v in metrics.items() if name == "perpwatch_accounts"
        }
        assert sum(by_level.values()) == len(open_ids)
        assert metrics["perpwatch_tick_block", (("chain", "devnet"),)] == head
        recorded = sum(v for (n, _), v in metrics.items() if n == "perpwatch_alerts_recorded_total")
        assert recorded == len(rows)
        assert metrics["perpwatch_alerts_sent_total", (("channel", "console"),)] == len(rows)
        p99 = metrics[
            "perpwatch_delivery_latency_seconds", (("channel", "console"), ("quantile", "0.99"))
        ]
        assert p99 >= 0

        schema = server.get("/openapi.json").json()
        assert "/api/markets/{market}/ladder" in schema["paths"]
    assert server.returncode == 0
    assert "stopped" in server.stderr


def _serve(config: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cli.main", "--config", str(config), "serve", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_serve_refuses_to_start_without_a_token_or_on_a_busy_port(tmp_path: Path) -> None:
    config = write_toml(Config.model_validate({"database_url": f"sqlite:///{tmp_path / 'db'}"}),
                        tmp_path / "perpwatch.toml")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPWATCH_")}
    no_token = _serve(config, env=env)
    assert no_token.returncode == 2
    assert "PERPWATCH_API_TOKEN" in no_token.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = _serve(config, "--port", str(port), env={**env, "PERPWATCH_API_TOKEN": TOKEN})
    assert taken.returncode == 3
    assert f"cannot listen on 127.0.0.1:{port}" in taken.stderr
