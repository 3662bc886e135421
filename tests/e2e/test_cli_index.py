"""``perpwatch index`` as a user runs it: a config file, a devnet, SQLite in the working dir."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from devnet.deploy import Devnet
from devnet.scenario import World, build_world
from devnet.toml import write_config
from indexer.protocols.gmx_v2 import keys as gmx_keys
from indexer.store.engine import make_engine
from tests.config_helpers import clean_env as clean_env
from tests.config_helpers import one_error_line, run, world_config_file

pytestmark = pytest.mark.chain


@pytest.fixture(scope="module")
def world(devnet_session: Devnet) -> Iterator[World]:
    """4 GMX and 1 Hyperliquid traders on the session devnet, undone after the module."""
    snapshot_id = devnet_session.anvil.snapshot()
    yield build_world(devnet_session, gmx_traders=4, hl_traders=1)
    devnet_session.anvil.revert(snapshot_id)


@pytest.fixture
def config_file(world: World, tmp_path: Path) -> Path:
    return world_config_file(world, tmp_path)


def _index(config: Path, *args: str) -> list[dict[str, Any]]:
    result = run("--config", str(config), "index", "--json", *args)
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def _stored_events(db: Path) -> int:
    with make_engine(f"sqlite:///{db}").connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM raw_events")).scalar_one())


def _config_writes(world: World) -> int:
    """The GMX deployment's configuration writes (SetUint events), which the scan selects."""
    set_uint = "0x" + gmx_keys.event_name_hash("SetUint").hex()
    query = {"fromBlock": "0x0", "address": world.gmx.event_emitter.address}
    logs = world.devnet.anvil.request("eth_getLogs", [query])
    return sum(1 for log in logs if log["topics"][1] == set_uint)


def test_index_backfills_then_resumes_from_its_cursor(
    config_file: Path, tmp_path: Path, world: World
) -> None:
    expected = 4 + _config_writes(world)  # one PositionIncrease per GMX trader, and Config's
    (row,) = _index(config_file)  # GMX only: Hyperliquid has no events to scan
    assert row["source"] == "devnet:gmx_v2"
    assert row["logs"] == expected > 4
    assert _stored_events(tmp_path / "perpwatch.db") == expected
    (again,) = _index(config_file)
    assert again["from_block"] == row["to_block"] + 1
    assert again["logs"] == 0
    assert _stored_events(tmp_path / "perpwatch.db") == expected


def test_to_block_stops_early_and_from_block_reindexes_without_duplicates(
    config_file: Path, tmp_path: Path, world: World
) -> None:
    first_event = min(
        int(r["blockNumber"], 16)
        for r in world.devnet.anvil.request(
            "eth_getLogs",
            [{"fromBlock": "0x0", "toBlock": "latest",
              "address": world.gmx.event_emitter.address}],
        )
    )  # fmt: skip
    (early,) = _index(config_file, "--to-block", str(first_event))
    assert early["to_block"] == first_event
    assert early["logs"] == 1
    _index(config_file)
    (again,) = _index(config_file, "--from-block", "0")
    expected = 4 + _config_writes(world)
    assert again["logs"] == expected
    assert _stored_events(tmp_path / "perpwatch.db") == expected


def test_follow_and_to_block_together_are_refused(config_file: Path, tmp_path: Path) -> None:
    line = one_error_line(run("--config", str(config_file), "index", "--follow", "--to-block", "5"))
    assert "--follow" in line


def test_nothing_to_index_is_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", {"database_url": f"sqlite:///{tmp_path / 'x.db'}"})
    assert "nothing to index" in one_error_line(run("--config", str(config), "index"))
    assert not (tmp_path / "x.db").exists()
