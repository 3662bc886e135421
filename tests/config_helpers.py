"""Shared parts of the configuration and command-line tests: a clean environment, config files
written as a user would, and the CLI run the way a shell runs it.

    from tests.config_helpers import clean_env as clean_env   # autouse in the importing module
    result = run("--config", str(write_config(tmp_path / "p.toml", data)), "account", address)
    assert "chain_id" in one_error_line(result)
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cli import main as cli
from devnet.demo import demo_config
from devnet.scenario import World
from devnet.toml import write_config

__all__ = [
    "clean_env",
    "one_error_line",
    "run",
    "world_config_file",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No PERPWATCH_* or DATABASE_URL from the caller's shell; cwd is a fresh directory (without
    a perpwatch.toml)."""
    for name in list(os.environ):
        if name.upper().startswith("PERPWATCH_") or name.upper() == "DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def run(*args: str) -> Result:
    """``perpwatch <args>`` through typer's runner (stderr kept apart from stdout)."""
    return CliRunner().invoke(cli.app, list(args))


def one_error_line(result: Result) -> str:
    """The single ``error: …`` line of a command that failed on bad input (exit code 2).

    Raises ``AssertionError`` for another exit code or any other stderr shape.
    """
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def world_config_file(world: World, workdir: Path) -> Path:
    """``workdir/perpwatch.toml``: the devnet ``world``'s config as a user would write it, with
    its SQLite database at ``workdir/perpwatch.db`` (not created here)."""
    cfg = demo_config(world, f"sqlite:///{workdir / 'perpwatch.db'}")
    data = cfg.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    return write_config(workdir / "perpwatch.toml", data)
