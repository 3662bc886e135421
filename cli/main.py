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
    from indexer.config.loader import write_example

    write_example(path, force=force)
    console.print(f"wrote {path}: edit the RPC URLs and wallets, then run `perpwatch index`.")


@db_app.command("upgrade")
@user_errors_exit_2
def db_upgrade() -> None:
    """Create or migrate the database schema to the version this perpwatch needs."""
    from indexer.config.loader import load_config
    from indexer.store.engine import make_engine, upgrade

    cfg = load_config(State.config_path)
    engine = make_engine(cfg.database_url)
    before, after = upgrade(engine)
    if before == after:
        console.print(f"database schema already at {after}")
    else:
        console.print(f"database schema upgraded: {before or 'empty'} -> {after}")


@app.command()
@user_errors_exit_2
def index(
    from_block: Annotated[
        int | None, typer.Option("--from-block", min=0, help="Start here instead of the cursor.")
    ] = None,
    to_block: Annotated[
        int | None, typer.Option("--to-block", min=0, help="Stop after this block.")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep following new blocks until Ctrl-C.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary only.")] = False,
) -> None:
    """Scan the configured protocols' logs into the database (resumes where it stopped)."""
    from cli.index import run_index
    from indexer.config.loader import load_config

    cfg = load_config(State.config_path)
    run_index(
        cfg, console, from_block=from_block, to_block=to_block, follow=follow, as_json=as_json
    )


@app.command()
@user_errors_exit_2
def account(
    address: Annotated[str, typer.Argument(help="Wallet address (0x…, EIP-55 or one case).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Show a wallet's margin accounts on every configured protocol, read live from the chain."""
    from cli.account import parse_owner, run_account
    from indexer.config.loader import load_config

    owner = parse_owner(address)
    cfg = load_config(State.config_path)
    run_account(cfg, owner, console, as_json=as_json)


@app.command()
@user_errors_exit_2
def run() -> None:
    """Index, refresh, evaluate and alert continuously, as configured (Ctrl-C stops cleanly)."""
    from cli.run import run_monitor
    from indexer.config.loader import load_config

    run_monitor(load_config(State.config_path), console)


@app.command()
@user_errors_exit_2
def demo(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON summary.")] = False,
) -> None:
    """Run perpwatch end to end on a local devnet (anvil + simulators); SQLite in the cwd."""
    from devnet.demo import run_demo

    run_demo(console, as_json=as_json)


@app.command()
@user_errors_exit_2
def devnet(
    config: Annotated[
        Path, typer.Option("--write-config", help="Where to write the devnet's config.")
    ] = Path("perpwatch.toml"),
    block_time: Annotated[float, typer.Option("--block-time", help="Seconds per block.")] = 1.0,
    accounts: Annotated[int, typer.Option("--accounts", help="Positions to open.")] = 300,
    seed: Annotated[int, typer.Option("--seed", help="Seed of positions and prices.")] = 7,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the config.")] = False,
) -> None:
    """A live local chain for `perpwatch run`: both simulators, prices on a random walk with
    crashes, a keeper liquidating at once (Ctrl-C stops)."""
    from cli.devnet import run_devnet

    run_devnet(console, config=config, block_time_s=block_time, accounts=accounts, seed=seed,
               force=force)  # fmt: skip


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
