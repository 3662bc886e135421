"""The ``perpwatch`` command line: thin wiring from arguments to the library.

Every ``UserError`` becomes one line on stderr and exit code 2; nothing is written before the
configuration and arguments have been validated.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console

from indexer.errors import UserError

P = ParamSpec("P")
R = TypeVar("R")

app = typer.Typer(
    name="perpwatch",
    help="Index leveraged DeFi positions into isolated and cross margin accounts; warn before "
    "liquidation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")

console = Console()
err_console = Console(stderr=True)


class State:
    """Options shared by every command (set by the top-level callback)."""

    config_path: Path | None = None


def user_errors_exit_2(func: Callable[P, R]) -> Callable[P, R]:
    """Print a ``UserError`` as one line and exit 2 instead of showing a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except UserError as exc:
            err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(code=exc.exit_code) from None

    return wrapper


@app.callback()
def main(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Config file (default: ./perpwatch.toml if present).",
            envvar="PERPWATCH_CONFIG",
        ),
    ] = None,
) -> None:
    """perpwatch: on-chain indexer and liquidation monitor."""
    State.config_path = config


@app.command()
@user_errors_exit_2
def init(
    path: Annotated[Path, typer.Option("--path", help="Where to write the example.")] = Path(
        "perpwatch.toml"
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented example config with the real mainnet addresses."""
    from indexer.config import write_example

    write_example(path, force=force)
    console.print(f"wrote {path}: edit the RPC URLs and wallets, then run `perpwatch index`.")


@db_app.command("upgrade")
@user_errors_exit_2
def db_upgrade() -> None:
    """Create or migrate the database schema to the version this perpwatch needs."""
    from indexer.config import load_config
    from indexer.db import make_engine, upgrade

    cfg = load_config(State.config_path)
    engine = make_engine(cfg.database_url)
    before, after = upgrade(engine)
    if before == after:
        console.print(f"database schema already at {after}")
    else:
        console.print(f"database schema upgraded: {before or 'empty'} -> {after}")


def run() -> None:  # pragma: no cover - console entry for `python -m monitor.cli`
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    run()
