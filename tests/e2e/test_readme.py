"""The README's promises: its config example loads, and every command and flag it shows exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from indexer.config.loader import load_config

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_config_example_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    block = re.search(r"```toml\n(.*?)```", README, re.S)
    assert block is not None
    path = tmp_path / "perpwatch.toml"
    path.write_text(block.group(1))
    monkeypatch.setenv("ARBITRUM_RPC_URLS", "https://arb.example/v2/KEY")
    monkeypatch.setenv("PERPWATCH_TELEGRAM_BOT_TOKEN", "1:token")
    cfg = load_config(path)
    assert cfg.chains[0].chain_id == 42161
    assert cfg.protocols[0].addresses["data_store"].lower() == (
        "0xfd70de6b91282d8017aa4e741e9ae325cab992d8"  # filled in from the known deployment
    )
    assert (cfg.alerts.warning_distance_pct, cfg.alerts.critical_distance_pct) == (10, 3)
    assert (cfg.alerts.warning_sigma, cfg.alerts.critical_sigma) == (3, 1.5)
    assert cfg.wallets[0].critical_distance_pct == 5


COMMANDS = sorted(set(re.findall(r"`perpwatch ([a-z][a-z-]*(?: [a-z][a-z-]*)?)", README)))


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_in_the_readme_exists(command: str) -> None:
    words = [w for w in command.split() if not w.startswith("-")]
    result = CliRunner().invoke(app, [*words, "--help"])
    assert result.exit_code == 0, result.output


def test_every_flag_in_the_commands_table_exists() -> None:
    for line in README.splitlines():
        match = re.match(r"\| `perpwatch ([a-z][a-z -]*?)(?: <[a-z]+>)?((?: \[[^]]+\])*)`", line)
        if match is None:
            continue
        words = match.group(1).split()
        help_text = CliRunner().invoke(app, [*words, "--help"]).output
        for flag in re.findall(r"--[a-z-]+", match.group(2)):
            assert flag in help_text, (line, flag)
