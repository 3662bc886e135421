"""``perpwatch account <address>`` through the real command line against a devnet world.

The world holds GMX v2 traders (one isolated account per position) and Hyperliquid traders (one
cross account with BTC and ETH, one isolated SOL account). The command's JSON must list exactly
the adapters' own accounts, with the health and liquidation prices ``monitor.health.account``
computes
from the adapters' own reads, and write nothing to the database.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli.account import WalletAccount, read_protocol, wallet_document
from devnet.demo import DEVNET_CHAIN_ID
from devnet.deploy import Devnet
from devnet.gmx import devnet_address
from devnet.scenario import World, build_world
from devnet.toml import write_config
from indexer.models import E30, Collateral, MarginAccount, MarginMode, Position
from indexer.protocols.base import ProtocolAdapter
from indexer.protocols.hyperliquid.adapter import HyperliquidAdapter
from indexer.rpc.client import RpcClient
from monitor.health.account import AccountHealth, account_health
from tests.config_helpers import clean_env as clean_env
from tests.config_helpers import one_error_line, run, world_config_file

# -- helpers -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(devnet_session: Devnet) -> Iterator[World]:
    """3 GMX, 2 Hyperliquid and 3 gTrade traders on the session devnet, undone after the
    module."""
    snapshot_id = devnet_session.anvil.snapshot()
    yield build_world(devnet_session, gmx_traders=3, hl_traders=2, gtrade_traders=3)
    devnet_session.anvil.revert(snapshot_id)


@pytest.fixture
def config_file(world: World, tmp_path: Path) -> Path:
    """The world's config as a user would write it; its database must never appear."""
    return world_config_file(world, tmp_path)


def account_json(config: Path, address: str) -> dict[str, Any]:
    result = run("--config", str(config), "account", address, "--json")
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


async def own_reads(world: World, owner: str) -> list[tuple[MarginAccount, AccountHealth]]:
    """The adapters' own accounts of ``owner`` and their health at the adapters' own prices."""
    adapters: list[ProtocolAdapter] = [world.gmx.adapter(DEVNET_CHAIN_ID)]
    adapters.append(demo_adapter_hyperliquid(world))
    if world.gtrade is not None:
        adapters.append(world.gtrade.gt.adapter(DEVNET_CHAIN_ID))
    out = []
    async with RpcClient([world.devnet.anvil.rpc_url], chain_id=DEVNET_CHAIN_ID) as rpc:
        block = await rpc.block_number()
        for adapter in adapters:
            accounts, prices = await read_protocol(rpc, adapter, owner, block)
            out += [(a, account_health(a, prices)) for a in accounts]
    return out


def demo_adapter_hyperliquid(world: World) -> ProtocolAdapter:
    return HyperliquidAdapter(DEVNET_CHAIN_ID, [p.index for p in world.hl.perps.values()])


def assert_matches(doc: dict[str, Any], account: MarginAccount, health: AccountHealth) -> None:
    assert (doc["protocol"], doc["mode"], doc["chain"]) == (
        account.protocol,
        account.mode.value,
        "devnet",
    )
    assert doc["health"] == pytest.approx(health.health, rel=1e-12)
    assert health.move_pct is not None
    assert doc["move_to_liquidation_pct"] == pytest.approx(health.move_pct, rel=1e-12)
    assert doc["equity_usd"] == pytest.approx(health.equity_usd, rel=1e-12)
    assert [c["amount_raw"] for c in doc["collateral"]] == [
        str(c.amount_raw) for c in account.collateral
    ]
    for position, risk, p_doc in zip(
        account.positions, health.positions, doc["positions"], strict=True
    ):
        assert p_doc["size_raw"] == str(position.size_raw)
        assert p_doc["side"] == ("long" if position.is_long else "short")
        assert p_doc["mark_price"] == pytest.approx(risk.mark_price, rel=1e-12)
        for key, value in (
            ("liquidation_price", risk.liquidation_price),
            ("distance_pct", risk.distance_pct),
        ):
            # None where no positive price liquidates (a long with more than enough margin).
            assert p_doc[key] == (None if value is None else pytest.approx(value, rel=1e-12))


# -- against the devnet ------------------------------------------------------------------------


@pytest.mark.chain
def test_gtrade_trades_are_listed_beside_gmx_and_hyperliquid(
    world: World, config_file: Path
) -> None:
    assert world.gtrade is not None
    gt = world.gtrade.gt
    for trader in sorted({t.trader for t in world.gtrade.trades}):
        document = account_json(config_file, trader)
        expected = asyncio.run(own_reads(world, trader))
        refs = {f"{t.trader}:{t.index}" for t in world.gtrade.trades if t.trader == trader}
        assert {a.ref for a, _ in expected} == refs
        assert [d["protocol"] for d in document["accounts"]] == ["gtrade"] * len(refs)
        by_ref = {a.ref: (a, h) for a, h in expected}
        for doc in document["accounts"]:
            assert_matches(doc, *by_ref[doc["ref"]])
    snapshot_id = world.devnet.anvil.snapshot()
    try:
        for owner, other in ((world.gmx_positions[0].account, "gmx_v2"),
                             (world.hl_traders[0], "hyperliquid")):  # fmt: skip
            gt.open(owner, "BTC", "USDC", 500 * 10**6, 20_000, long=False)
            protocols = {d["protocol"] for d in account_json(config_file, owner)["accounts"]}
            assert protocols == {other, "gtrade"}
    finally:
        world.devnet.anvil.revert(snapshot_id)


@pytest.mark.chain
def test_gmx_trader_has_one_isolated_account_per_position(world: World, config_file: Path) -> None:
    for position in world.gmx_positions:
        document = account_json(config_file, position.account)
        assert document["owner"].lower() == position.account
        expected = asyncio.run(own_reads(world, position.account))
        assert [d["mode"] for d in document["accounts"]] == ["isolated"]
        assert len(expected) == 1
        assert_matches(document["accounts"][0], *expected[0])
        market = document["accounts"][0]["positions"][0]["market"]
        assert market == world.gmx.markets[position.market].market_token.lower()
        # The closing fee factor GMX's check uses, and the balance flag that chose it.
        venue = document["accounts"][0]["positions"][0]["venue"]
        assert venue == dict(expected[0][0].positions[0].venue_notes)
        assert venue["closing_fee_factor_e30"] in {str(6 * 10**26), str(4 * 10**26)}
        assert isinstance(venue["balance_was_improved"], bool)
    assert not (config_file.parent / "perpwatch.db").exists()


@pytest.mark.chain
def test_hyperliquid_trader_has_one_cross_and_one_isolated_account(
    world: World, config_file: Path
) -> None:
    for trader in world.hl_traders:
        document = account_json(config_file, trader.upper().replace("0X", "0x"))
        by_mode = {d["mode"]: d for d in document["accounts"]}
        assert sorted(by_mode) == ["cross", "isolated"]
        assert len(document["accounts"]) == 2
        assert sorted(p["asset"] for p in by_mode["cross"]["positions"]) == ["BTC", "ETH"]
        assert [p["asset"] for p in by_mode["isolated"]["positions"]] == ["SOL"]
        expected = {a.mode.value: (a, h) for a, h in asyncio.run(own_reads(world, trader))}
        for mode, doc in by_mode.items():
            assert_matches(doc, *expected[mode])
        healths = [d["health"] for d in document["accounts"]]
        assert healths == sorted(healths)  # worst first
    assert not (config_file.parent / "perpwatch.db").exists()


@pytest.mark.chain
def test_table_shows_every_position(world: World, config_file: Path) -> None:
    trader = world.hl_traders[0]
    result = run("--config", str(config_file), "account", trader)
    assert result.exit_code == 0, result.output
    assert "2 margin account(s)" in result.stdout
    for word in ("cross", "isolated", "BTC", "ETH", "SOL", "USDC"):
        assert word in result.stdout


@pytest.mark.chain
def test_wallet_without_accounts_says_so(world: World, config_file: Path) -> None:
    nobody = devnet_address("nobody")
    result = run("--config", str(config_file), "account", nobody)
    assert result.exit_code == 0, result.output
    assert "has no open margin account" in result.stdout
    assert account_json(config_file, nobody) == {"owner": nobody, "accounts": []}
    assert not (config_file.parent / "perpwatch.db").exists()


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("0x1234", "not an address"),
        ("vitalik.eth", "not an address"),
        ("0xFD70de6b91282D8017aA4E741e9Ae325CAb992D8", "bad checksum"),  # last letter flipped
    ],
)
def test_bad_address_is_one_line_and_exit_2(tmp_path: Path, address: str, problem: str) -> None:
    db = tmp_path / "perpwatch.db"
    config = write_config(tmp_path / "c.toml", {"database_url": f"sqlite:///{db}"})
    line = one_error_line(run("--config", str(config), "account", address))
    assert problem in line
    assert address in line
    assert not db.exists()


def test_no_protocols_configured_is_exit_2(tmp_path: Path) -> None:
    db = tmp_path / "perpwatch.db"
    config = write_config(tmp_path / "c.toml", {"database_url": f"sqlite:///{db}"})
    line = one_error_line(run("--config", str(config), "account", "0x" + "ab" * 20, "--json"))
    assert "no protocols configured" in line
    assert not db.exists()


# -- the document (pure) -------------------------------------------------------------------------


def _account(ref: str, positions: tuple[Position, ...]) -> MarginAccount:
    usdc = Collateral("USDC", 10**30 + 1, 24, "feed")  # needs exact digits beyond a float
    return MarginAccount(
        1, "gmx_v2", "0x" + "ab" * 20, ref, MarginMode.ISOLATED, (usdc,), positions, 5
    )


def test_document_keeps_exact_integers_and_marks_unknown_health() -> None:
    eth = Position("m", "ETH", -(3 * 10**18), 18, 6000 * E30, 0, 0, 10**28, 0, 0)
    priced = _account("a", (eth,))
    unpriced = _account("b", (eth,))
    prices = {"USDC": 1.0, "ETH": 2000.0}
    rows = [
        WalletAccount("c", priced, prices, account_health(priced, prices)),
        WalletAccount("c", unpriced, {"USDC": 1.0}, None),
    ]
    document = json.loads(json.dumps(wallet_document("0xAb", rows)))
    first, second = document["accounts"]
    assert (first["ref"], first["priced"], first["health"]) == ("b", False, None)
    assert first["positions"][0]["liquidation_price"] is None
    assert second["collateral"][0]["amount_raw"] == str(10**30 + 1)
    assert second["positions"][0]["size_raw"] == str(-(3 * 10**18))
    assert second["health"] == pytest.approx((1e6 + 6000 - 6000) / 60.0, rel=1e-12)


def test_document_has_no_infinity_for_an_account_without_requirement() -> None:
    free = _account("free", ())
    prices = {"USDC": 1.0}
    health = account_health(free, prices)
    assert math.isinf(health.health)
    document = wallet_document("0xAb", [WalletAccount("c", free, prices, health)])
    assert document["accounts"][0]["health"] is None
    assert document["accounts"][0]["priced"] is True
