"""``perpwatch init`` and bad configs through the real command line (typer's CliRunner).

A bad config must stop every command with one ``error: …`` line naming the key, exit code 2, and
nothing written: ``db upgrade`` in a fresh directory must not leave a ``perpwatch.db`` behind.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from indexer.config.example import example_config
from indexer.config.loader import load_config
from tests.config_helpers import clean_env as clean_env
from tests.config_helpers import one_error_line, run

CONFIG = "perpwatch.toml"


def test_init_writes_a_config_that_loads(tmp_path: Path) -> None:
    result = run("init")
    assert result.exit_code == 0, result.stderr
    cfg = load_config(tmp_path / CONFIG)
    assert {p.name for p in cfg.protocols} == {"gmx_v2", "hyperliquid", "gtrade"}
    (gtrade,) = [p for p in cfg.protocols if p.name == "gtrade"]
    assert gtrade.addresses["diamond"] == "0xFF162c694eAA571f685030649814282eA457f169"
    assert [c.chain_id for c in cfg.chains] == [42161, 43114, 999]


def test_init_to_another_path(tmp_path: Path) -> None:
    assert run("init", "--path", "other.toml").exit_code == 0
    assert (tmp_path / "other.toml").read_text(encoding="utf-8") == example_config()
    assert not (tmp_path / CONFIG).exists()


def test_init_twice_refuses_and_leaves_the_file_alone(tmp_path: Path) -> None:
    assert run("init").exit_code == 0
    path = tmp_path / CONFIG
    path.write_text("# edited by hand\n", encoding="utf-8")
    result = run("init")
    assert result.exit_code == 2
    assert "already exists" in one_error_line(result)
    assert path.read_text(encoding="utf-8") == "# edited by hand\n"
    assert run("init", "--force").exit_code == 0
    assert path.read_text(encoding="utf-8") == example_config()


BAD_CONFIGS = [
    # (id, replace this in the example, with this, the key the error must name)
    ("bad checksum", "0xFD70de6b91282D8017aA4E741e9Ae325CAb992d8",
     "0xfD70de6b91282D8017aA4E741e9Ae325CAb992d8", "protocols[0].addresses.data_store"),
    ("unknown protocol", 'name = "hyperliquid"', 'name = "dydx"', "protocols[2].name"),
    ("unknown key", "block_time = 0.25", "block_time = 0.25\nblock_tim = 1", "chains[0].block_tim"),
    ("negative chain_id", "chain_id = 42161", "chain_id = -1", "chains[0].chain_id"),
    ("protocol on an unknown chain", 'chain = "hyperevm"', 'chain = "hyper"',
     "protocols[2].chain"),
    ("secret in file", "[channels.telegram]\n", '[channels.telegram]\nbot_token = "1:abc"\n',
     "channels.telegram.bot_token"),
    ("bad TOML", "finality_blocks = 20", "finality_blocks = = 20", "invalid TOML: "),
    ("wrong type", "finality_blocks = 20", 'finality_blocks = "twenty"',
     "chains[0].finality_blocks"),
    ("bad database url", 'database_url = "sqlite:///perpwatch.db"',
     'database_url = "mysql://u:pw@127.0.0.1/x"', "database_url"),
]  # fmt: skip


def bad_config(old: str, new: str) -> str:
    example = example_config()
    assert old in example  # the mutation must really change the example
    return example.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "key"), [pytest.param(*c[1:], id=c[0]) for c in BAD_CONFIGS]
)
def test_bad_config_stops_db_upgrade_before_anything_is_written(
    tmp_path: Path, old: str, new: str, key: str
) -> None:
    (tmp_path / CONFIG).write_text(bad_config(old, new), encoding="utf-8")
    result = run("db", "upgrade")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert line.startswith(f"error: {CONFIG}: ")
    assert key in line
    assert sorted(os.listdir(tmp_path)) == [CONFIG]


def test_bad_config_given_with_the_global_option(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "bad.toml").write_text(bad_config("chain_id = 42161", "chain_id = 0"), "utf-8")
    result = run("--config", "conf/bad.toml", "db", "upgrade")
    assert result.exit_code == 2
    assert "conf/bad.toml: chains[0].chain_id: must be greater than 0 (got 0)" in one_error_line(
        result
    )
    assert sorted(os.listdir(tmp_path)) == ["conf"]


def test_missing_config_given_with_the_global_option(tmp_path: Path) -> None:
    result = run("--config", "absent.toml", "db", "upgrade")
    assert result.exit_code == 2
    assert "absent.toml: no such config file" in one_error_line(result)
    assert os.listdir(tmp_path) == []


def test_good_config_does_create_the_database(tmp_path: Path) -> None:
    """The control for the tests above: the same command with a valid config writes the DB."""
    (tmp_path / CONFIG).write_text(example_config(), encoding="utf-8")
    result = run("db", "upgrade")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "perpwatch.db").is_file()
