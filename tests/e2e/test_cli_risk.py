"""``perpwatch stress``, ``ladder`` and ``whatif`` through the real command line on a devnet.

The world's accounts are written to the database by one production pass (``sync_chain``, as
``perpwatch run`` does); the commands must read that book, price it live, and print exactly
what ``monitor.analysis`` computes from the stored accounts and the pass's own prices.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devnet.deploy import Devnet
from devnet.scenario import World, build_world
from devnet.toml import write_config
from indexer.config.loader import load_config
from indexer.scan.runner import open_rpc
from indexer.store.accounts import load_accounts
from indexer.store.engine import ensure_schema
from indexer.store.preflight import open_database
from monitor.analysis.book import PricedAccount, notional_usd
from monitor.analysis.stress import stress_report
from monitor.analysis.whatif import wallet_whatif
from monitor.runtime.chain import sync_chain
from monitor.runtime.chain_pass import by_chain
from tests.config_helpers import clean_env as clean_env
from tests.config_helpers import one_error_line, run, world_config_file


@pytest.fixture(scope="module")
def world(devnet_session: Devnet) -> Iterator[World]:
    """4 GMX and 2 Hyperliquid traders on the session devnet, undone after the module."""
    snapshot_id = devnet_session.anvil.snapshot()
    yield build_world(devnet_session, gmx_traders=4, hl_traders=2)
    devnet_session.anvil.revert(snapshot_id)


@pytest.fixture
def stored(world: World, tmp_path: Path) -> tuple[Path, list[PricedAccount]]:
    """The world's config, its database after one monitor pass, and the stored book priced
    with that pass's prices."""
    config = world_config_file(world, tmp_path)
    cfg = load_config(config)
    engine = open_database(cfg.database_url)
    ensure_schema(engine)

    async def sync_all() -> dict[tuple[int, str], dict[str, float]]:
        prices: dict[tuple[int, str], dict[str, float]] = {}
        for group in by_chain(cfg):
            async with open_rpc(group.chain) as rpc:
                synced = await sync_chain(rpc, engine, group, [w.address for w in cfg.wallets])
            prices |= {(synced.chain_id, p): book for p, book in synced.prices.items()}
        return prices

    try:
        prices = asyncio.run(sync_all())
        accounts = [a for _, a in load_accounts(engine)]
    finally:
        engine.dispose()
    book = [PricedAccount(a, prices[a.chain_id, a.protocol]) for a in accounts]
    assert {a.mode.value for a in accounts} == {"isolated", "cross"}
    return config, book


def run_json(config: Path, *args: str) -> dict[str, Any]:
    result = run("--config", str(config), *args, "--json")
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


@pytest.mark.chain
def test_stress_prints_the_curves_of_the_stored_book(
    stored: tuple[Path, list[PricedAccount]],
) -> None:
    config, book = stored
    document = run_json(config, "stress")
    expected = stress_report(book)
    assert document["accounts"] == len(book)
    assert document["unpriced_accounts"] == 0
    assert [c["market"] for c in document["curves"]] == [c.market for c in expected.curves]
    for got, want in zip(
        [*document["curves"], document["joint"]], [*expected.curves, expected.joint], strict=True
    ):
        for point, ref in zip(got["points"], want.points, strict=True):
            assert point["move_pct"] == ref.move_pct
            assert point["liquidated_accounts"] == ref.liquidated_accounts
            assert point["liquidated_notional_usd"] == pytest.approx(ref.liquidated_notional_usd)
            assert point["bad_debt_usd"] == pytest.approx(ref.bad_debt_usd)
    # A 50 % joint fall liquidates every long at 2x or more: the curve is not trivially empty.
    assert document["joint"]["points"][0]["liquidated_accounts"] > 0
    table = run("--config", str(config), "stress")
    assert table.exit_code == 0, table.output
    assert "+10%" in table.stdout
    assert "all" in table.stdout


@pytest.mark.chain
def test_ladder_accounts_for_every_open_position(
    stored: tuple[Path, list[PricedAccount]],
) -> None:
    config, book = stored
    document = run_json(config, "ladder", "ETH")
    for side, sign in (("long", 1), ("short", -1)):
        open_usd = sum(
            notional_usd(p, e.prices)
            for e in book
            for p in e.account.positions
            if p.asset == "ETH" and p.side == sign
        )
        assert document[side]["total_notional_usd"] == pytest.approx(open_usd)
    cross = sum(
        amounts["cross_notional_usd"]
        for side in ("long", "short")
        for amounts in (
            document[side]["now"],
            document[side]["beyond"],
            *(b["amounts"] for b in document[side]["bins"]),
        )
    )
    assert cross > 0  # the Hyperliquid traders' cross accounts hold ETH
    assert len(document["long"]["bins"]) == 50


@pytest.mark.chain
def test_ladder_of_an_unknown_market_is_exit_2(stored: tuple[Path, list[PricedAccount]]) -> None:
    config, _ = stored
    line = one_error_line(run("--config", str(config), "ladder", "DOGE"))
    assert "DOGE" in line
    assert "ETH" in line


@pytest.mark.chain
def test_whatif_shows_the_wallet_cross_and_isolated(
    world: World, stored: tuple[Path, list[PricedAccount]]
) -> None:
    config, book = stored
    trader = world.hl_traders[0]
    document = run_json(config, "whatif", trader)
    (venue,) = wallet_whatif([e for e in book if e.account.owner == trader])
    (doc,) = document["venues"]
    assert sorted(p["asset"] for p in doc["positions"]) == ["BTC", "ETH", "SOL"]
    assert [v["name"] for v in doc["variants"]] == ["cross", "isolated_own", "isolated_even"]
    for got, want in zip(doc["variants"], venue.variants, strict=True):
        assert got["first"] == want.first
        for outcome, ref in zip(got["outcomes"], want.outcomes, strict=True):
            assert outcome["liquidation_price_usd"] == pytest.approx(ref.liquidation_price_usd)
            assert outcome["survives_pct"] == pytest.approx(ref.survives_pct)
    table = run("--config", str(config), "whatif", trader)
    assert table.exit_code == 0, table.output
    assert "isolated own" in table.stdout


# -- bad input (no chain) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("stress",), "no protocols configured"),
        (("ladder", "ETH", "--json"), "no protocols configured"),
        (("whatif", "0x1234"), "not an address"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], problem: str
) -> None:
    db = tmp_path / "perpwatch.db"
    config = write_config(tmp_path / "c.toml", {"database_url": f"sqlite:///{db}"})
    result = run("--config", str(config), *args)
    assert problem in one_error_line(result)
    if "--json" in args:  # and the same on stdout, for scripts
        assert json.loads(result.stdout)["exit_code"] == 2
    assert not db.exists()


@pytest.mark.chain
def test_ladder_bins_must_make_sense(stored: tuple[Path, list[PricedAccount]]) -> None:
    config, _ = stored
    line = one_error_line(run("--config", str(config), "ladder", "ETH", "--step-pct", "0"))
    assert "--step-pct" in line
