"""``perpwatch index``: scan every configured protocol's logs, with progress and a summary."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from cli.signals import run_interruptible
from indexer.config.loader import Config
from indexer.errors import ChainIdMismatch, NodeUnreachable, RetryableError, UserError
from indexer.registry import ChainJobs, json_decoder, scan_jobs
from indexer.scan.rows import LogSource
from indexer.scan.runner import chain_settings, index_chain, open_rpc
from indexer.scan.scanner import ScanProgress
from indexer.store.cursors import ScanStore
from indexer.store.engine import ensure_schema
from indexer.store.preflight import open_database


def check_range(from_block: int | None, to_block: int | None, *, follow: bool) -> None:
    """Refuse impossible block ranges before anything is opened. Raises ``UserError``."""
    if follow and to_block is not None:
        raise UserError("--follow and --to-block exclude each other")
    if from_block is not None and to_block is not None and from_block > to_block:
        raise UserError(
            f"--from-block {from_block} is above --to-block {to_block}: nothing to index; swap them"
        )


def run_index(
    cfg: Config,
    console: Console,
    *,
    from_block: int | None,
    to_block: int | None,
    follow: bool,
    as_json: bool,
    wait_s: float = 30.0,
) -> list[dict[str, Any]] | None:
    """Index every chain of ``cfg``; returns one summary row per log source (None when a
    signal stopped ``follow``, which ends normally). A signal during a backfill raises
    ``KeyboardInterrupt`` saying how far each source got."""
    check_range(from_block, to_block, follow=follow)
    plan = scan_jobs(cfg)
    if not plan:
        raise UserError("nothing to index: the config has no protocol with events on a chain")
    engine = open_database(cfg.database_url)
    try:
        ensure_schema(engine)
        store = ScanStore(engine)
        started = time.monotonic()
        latest: dict[LogSource, ScanProgress] = {}
        options = {"from_block": from_block, "to_block": to_block, "follow": follow}
        with _progress(console, enabled=not as_json) as progress:
            results, interrupted = run_interruptible(
                lambda stop: _index_all(plan, store, progress, latest, stop, wait_s, **options)
            )
    finally:
        engine.dispose()
    if interrupted and follow:
        if results is not None:  # stopped between polls: the totals are known
            _print(
                console, [_summary(s, r, time.monotonic() - started) for s, r in results], as_json
            )
        console.print("stopped", highlight=False)  # following ends on a signal: exit 0
        return None
    if results is None or interrupted:
        reached = ", ".join(f"{s.name} up to block {p.next_block - 1}" for s, p in latest.items())
        # cli.errors prints "interrupted: …" and exits 130.
        raise KeyboardInterrupt(f"indexed {reached}; run again to resume" if reached else "")
    rows = [_summary(source, result, time.monotonic() - started) for source, result in results]
    _print(console, rows, as_json)
    return rows


def _print(console: Console, rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        console.print_json(orjson.dumps(rows).decode())
    else:
        console.print(_table(rows))


async def _index_all(
    plan: list[ChainJobs],
    store: ScanStore,
    progress: Progress | None,
    latest: dict[LogSource, ScanProgress],
    stop: asyncio.Event,
    wait_s: float,
    **options: Any,
) -> list[tuple[LogSource, ScanProgress]]:
    tasks: dict[LogSource, TaskID] = {}

    def on_progress(source: LogSource, state: ScanProgress) -> None:
        latest[source] = state
        if progress is None:
            return
        if source not in tasks:
            tasks[source] = progress.add_task(source.name, total=state.blocks_total, rates="")
        blocks_s, logs_s = state.rates()
        progress.update(
            tasks[source],
            completed=state.blocks_done,
            total=max(state.blocks_total, 1),
            rates=f"{blocks_s:,.0f} blocks/s  {logs_s:,.0f} logs/s  {state.logs:,} logs",
        )

    async def one_chain(chain_jobs: ChainJobs) -> list[tuple[LogSource, ScanProgress]]:
        chain = chain_jobs.chain
        try:
            async with open_rpc(chain) as rpc:
                results = await index_chain(
                    rpc,
                    chain_settings(chain),
                    store,
                    chain_jobs.jobs,
                    json_decoder(),
                    stop=stop,
                    on_progress=on_progress,
                    wait_s=wait_s,
                    **options,
                )
        except ChainIdMismatch as exc:
            raise ChainIdMismatch(
                f"chain {chain.name}: {exc}; fix chains.chain_id or the RPC URL"
            ) from None
        except RetryableError as exc:
            # Name the chain and how far each of its sources got: the next run resumes there.
            reached = _reached(latest, chain_jobs)
            raise NodeUnreachable(
                f"chain {chain.name}: node unreachable ({exc}){reached}; check rpc_urls or "
                "rpc_urls_env and the node, then run again (it resumes)"
            ) from None
        return [(job.source, result) for job, result in zip(chain_jobs.jobs, results, strict=True)]

    per_chain = await asyncio.gather(*(one_chain(c) for c in plan))
    return [item for chain_results in per_chain for item in chain_results]


def _reached(latest: dict[LogSource, ScanProgress], chain_jobs: ChainJobs) -> str:
    parts = [
        f"{job.source.name} up to block {latest[job.source].next_block - 1}"
        for job in chain_jobs.jobs
        if job.source in latest
    ]
    return f"; indexed {', '.join(parts)}" if parts else ""


@contextmanager
def _progress(console: Console, *, enabled: bool) -> Iterator[Progress | None]:
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[rates]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        yield progress


def _summary(source: LogSource, result: ScanProgress, elapsed_s: float) -> dict[str, Any]:
    return {
        "source": source.name,
        "chain_id": source.chain_id,
        "from_block": result.first_block,
        "to_block": result.next_block - 1,
        "blocks": result.blocks_done,
        "logs": result.logs,
        "ranges": result.ranges,
        "splits": result.splits,
        "reorgs": result.reorgs,
        "seconds": round(elapsed_s, 3),
    }


_TABLE_COLUMNS = ("source", "from_block", "to_block", "blocks", "logs", "reorgs", "seconds")


def _table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="indexed")
    for column in _TABLE_COLUMNS:
        table.add_column(column, justify="left" if column == "source" else "right")
    for row in rows:
        table.add_row(
            *(f"{row[c]:,}" if isinstance(row[c], int) else str(row[c]) for c in _TABLE_COLUMNS)
        )
    return table
