"""The ``perpwatch`` command line: thin wiring from arguments to the library.

Every command ends in success, one ``error: …`` line with exit code 2 (the user's input or
config) or 3 (a dependency: database, node, chain id), or on Ctrl-C (see ``cli.errors``); nothing
is written before the configuration and arguments have been validated.
"""

from __future__ import annotations

import logging
import os
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from cli.errors import Debug, err_console, one_line_errors
from cli.logs import setup_logging
from indexer.errors import UserError

if TYPE_CHECKING:  # the config is imported by each command, not at start-up (--help is quick)
    from indexer.config.loader import Config

app = typer.Typer(
    name="perpwatch",
    help="Index leveraged DeFi positions into isolated and cross margin accounts; warn before "
    "liquidation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")

console = Console(soft_wrap=True)  # one line per message, however narrow the terminal


class State:
    """Options shared by every command (set by the top-level callback)."""

    config_path: Path | None = None


def _flag(*names: str, help: str) -> Any:
    # An empty metavar: typer would otherwise show "<bool>" after a flag that takes no value.
    return typer.Option(*names, help=help, metavar="")


def _version(value: bool) -> None:
    if value:
        try:
            console.print(f"perpwatch {version('perpwatch')}", highlight=False)
        except PackageNotFoundError:  # running from a tree that was never installed
            console.print("perpwatch (not installed)", highlight=False)
        raise typer.Exit()


def load(*, needs_protocols: str | None = None) -> Config:
    """The validated config. ``needs_protocols`` (the command's goal, e.g. "nothing to index")
    turns a config without protocols into an error that names a missing config file."""
    from indexer.config.loader import DEFAULT_CONFIG_PATH, load_config

    cfg = load_config(State.config_path)
    if needs_protocols and not cfg.protocols:
        if State.config_path is None and not DEFAULT_CONFIG_PATH.is_file():
            raise UserError(
                f"{needs_protocols}: no config file ({DEFAULT_CONFIG_PATH} not found in "
                f"{Path.cwd()}); write one with `perpwatch init` or pass --config FILE"
            )
        raise UserError(
            f"{needs_protocols}: the config has no [[protocols]] (see `perpwatch init`)"
        )
    return cfg


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
    debug: Annotated[
        bool, _flag("--debug", help="Show the traceback of an error instead of one line.")
    ] = False,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            callback=_version,
            is_eager=True,
            metavar="",
        ),
    ] = False,
) -> None:
    """perpwatch: on-chain indexer and liquidation monitor."""
    State.config_path = config
    Debug.enabled = debug
    setup_logging(logging.ERROR, debug=debug)  # long-running commands lower it


@app.command()
@one_line_errors
def init(
    path: Annotated[Path, typer.Option("--path", help="Where to write the example.")] = Path(
        "perpwatch.toml"
    ),
    force: Annotated[bool, _flag("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented example config with the real mainnet addresses."""
    from indexer.config.example import write_example

    write_example(path, force=force)
    console.print(f"wrote {path}: edit the RPC URLs and wallets, then run `perpwatch index`.")


@db_app.command("upgrade")
@one_line_errors
def db_upgrade() -> None:
    """Create or migrate the database schema to the version this perpwatch needs."""
    from indexer.config.loader import DEFAULT_CONFIG_PATH
    from indexer.store.engine import upgrade
    from indexer.store.preflight import describe_location, open_database

    cfg = load()
    from_env = any(os.environ.get(v) for v in ("DATABASE_URL", "PERPWATCH_DATABASE_URL"))
    if State.config_path is None and not DEFAULT_CONFIG_PATH.is_file() and not from_env:
        err_console.print(
            f"note: no {DEFAULT_CONFIG_PATH} in {Path.cwd()}: using the default database",
            highlight=False,
        )
    engine = open_database(cfg.database_url)
    where = describe_location(engine)
    try:
        before, after = upgrade(engine)
    finally:
        engine.dispose()
    if before == after:
        console.print(f"database schema already at {after} ({where})", highlight=False)
    else:
        console.print(
            f"database schema upgraded: {before or 'empty'} -> {after} ({where})", highlight=False
        )


@app.command()
@one_line_errors
def index(
    from_block: Annotated[
        int | None, typer.Option("--from-block", min=0, help="Start here instead of the cursor.")
    ] = None,
    to_block: Annotated[
        int | None, typer.Option("--to-block", min=0, help="Stop after this block.")
    ] = None,
    follow: Annotated[bool, _flag("--follow", help="Keep following new blocks until Ctrl-C.")] = (
        False
    ),
    wait: Annotated[
        float,
        typer.Option(
            "--wait", min=0, help="Seconds to wait for a lagging node to reach --to-block."
        ),
    ] = 30.0,
    as_json: Annotated[bool, _flag("--json", help="Print a JSON summary only.")] = False,
) -> None:
    """Scan the configured protocols' logs into the database (resumes where it stopped)."""
    from cli.index import check_range, run_index

    check_range(from_block, to_block, follow=follow)
    cfg = load(needs_protocols="nothing to index")
    if follow:  # a long-running process: its warnings (a stalled or lagging node) matter
        setup_logging(logging.WARNING, debug=Debug.enabled, force=True)
    run_index(
        cfg,
        console,
        from_block=from_block,
        to_block=to_block,
        follow=follow,
        as_json=as_json,
        wait_s=wait,
    )


@app.command()
@one_line_errors
def account(
    address: Annotated[str, typer.Argument(help="Wallet address (0x…, EIP-55 or one case).")],
    as_json: Annotated[bool, _flag("--json", help="Print one JSON document.")] = False,
) -> None:
    """Show a wallet's margin accounts on every configured protocol, read live from the chain."""
    from cli.account import parse_owner, run_account

    owner = parse_owner(address)
    run_account(load(needs_protocols="no protocols configured"), owner, console, as_json=as_json)


@app.command()
@one_line_errors
def stress(
    as_json: Annotated[bool, _flag("--json", help="Print one JSON document.")] = False,
) -> None:
    """Notional liquidated and bad debt for price moves of -50..+50 %, per market and all
    together (the stored open book at live prices)."""
    from cli.risk import run_stress

    run_stress(load(needs_protocols="no protocols configured"), console, as_json=as_json)


@app.command()
@one_line_errors
def ladder(
    market: Annotated[str, typer.Argument(help="Market id or asset (e.g. ETH).")],
    step_pct: Annotated[
        float, typer.Option("--step-pct", help="Bin width, percent of the mark.")
    ] = 1.0,
    max_pct: Annotated[float, typer.Option("--max-pct", help="Outermost bin, percent.")] = 50.0,
    as_json: Annotated[bool, _flag("--json", help="Print one JSON document.")] = False,
) -> None:
    """Long and short notional by liquidation price around the mark, cumulative (the stored
    open book at live prices)."""
    from cli.risk import run_ladder

    cfg = load(needs_protocols="no protocols configured")
    run_ladder(cfg, console, market, step_pct=step_pct, max_pct=max_pct, as_json=as_json)


@app.command()
@one_line_errors
def whatif(
    address: Annotated[str, typer.Argument(help="Wallet address (0x…, EIP-55 or one case).")],
    as_json: Annotated[bool, _flag("--json", help="Print one JSON document.")] = False,
) -> None:
    """A wallet's positions as one cross account and as isolated ones, side by side."""
    from cli.account import parse_owner
    from cli.risk import run_whatif

    owner = parse_owner(address)
    run_whatif(load(needs_protocols="no protocols configured"), console, owner, as_json=as_json)


@app.command()
@one_line_errors
def drift(
    address: Annotated[str, typer.Argument(help="Wallet address (0x…, EIP-55 or one case).")],
    as_json: Annotated[bool, _flag("--json", help="Print one JSON document.")] = False,
) -> None:
    """Time to liquidation at current prices from fee and funding drift, and liquidation-price
    drift per day (the monitor's latest prices and measured fee growth)."""
    from cli.account import parse_owner
    from cli.risk import run_drift

    owner = parse_owner(address).lower()
    run_drift(load(), console, owner, as_json=as_json)


@app.command()
@one_line_errors
def run(
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            min=1,
            max=65535,
            help="Serve this process's Prometheus metrics on this port.",
        ),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option("--metrics-host", help="Address for --metrics-port.")
    ] = "127.0.0.1",
) -> None:
    """Index, refresh, evaluate and alert continuously, as configured (Ctrl-C stops cleanly)."""
    from cli.run import run_monitor

    cfg = load(needs_protocols="nothing to monitor")
    run_monitor(cfg, console, metrics_host=metrics_host, metrics_port=metrics_port)


@app.command()
@one_line_errors
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 8765,
) -> None:
    """Serve the HTTP API, /metrics and the dashboard from the monitor's database (Ctrl-C
    stops cleanly)."""
    from cli.serve import run_serve

    run_serve(load(), console, host=host, port=port)


@app.command()
@one_line_errors
def demo(
    as_json: Annotated[bool, _flag("--json", help="Print one JSON summary.")] = False,
    verbose: Annotated[
        bool, _flag("--verbose", "-v", help="Print every alert, not only the digest.")
    ] = False,
    serve: Annotated[
        bool, _flag("--serve", help="Then serve the dashboard and API on the demo's database.")
    ] = False,
    host: Annotated[str, typer.Option("--host", help="Address for --serve.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port for --serve.")] = (
        8765
    ),
) -> None:
    """Run perpwatch end to end on a local devnet (anvil + simulators); SQLite in the cwd."""
    from devnet.demo import run_demo

    if serve:
        from cli.listen import check_port

        check_port(host, port)  # before the demo, not after minutes of it
    run_demo(console, as_json=as_json, verbose=verbose)
    if serve:
        from cli.serve import demo_config, run_serve

        database = f"sqlite:///{Path.cwd() / 'perpwatch.db'}"
        cfg = demo_config(database, token=os.environ.get("PERPWATCH_API_TOKEN"))
        run_serve(cfg, err_console if as_json else console, host=host, port=port)


@app.command("test-alert")
@one_line_errors
def send_test_alert(
    channel: Annotated[
        str | None,
        typer.Option(
            "--channel",
            help="Only this channel (console, telegram, webhook or a "
            "full name such as telegram:-100123).",
        ),
    ] = None,
) -> None:
    """Send a test message through each configured alert channel and report each outcome."""
    from cli.test_alert import run_test_alert

    run_test_alert(load(), console, channel=channel)


@app.command()
@one_line_errors
def devnet(
    config: Annotated[
        Path, typer.Option("--write-config", help="Where to write the devnet's config.")
    ] = Path("perpwatch.toml"),
    block_time: Annotated[float, typer.Option("--block-time", help="Seconds per block.")] = 1.0,
    accounts: Annotated[int, typer.Option("--accounts", help="Positions to open.")] = 300,
    seed: Annotated[int, typer.Option("--seed", help="Seed of positions and prices.")] = 7,
    force: Annotated[bool, _flag("--force", help="Overwrite the config.")] = False,
) -> None:
    """A live local chain for `perpwatch run`: the simulators, prices on a random walk with
    crashes, a keeper liquidating at once (Ctrl-C stops)."""
    from cli.devnet import run_devnet

    run_devnet(console, config=config, block_time_s=block_time, accounts=accounts, seed=seed,
               force=force)  # fmt: skip


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
