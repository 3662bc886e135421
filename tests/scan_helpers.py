"""Shared parts of the scanner's acceptance tests: logs on a devnet, index snapshots, a worker.

    emitter = deploy_emitter(node, artifacts)
    send(node, emit_tx(node, emitter, answers(price=7, first=0, count=3)))
    state = index_state(engine, source)            # rows, cursor, kept block hashes
    assert state == fresh_index(node.rpc_url, source, tmp_path)

Run as ``python -m tests.scan_helpers --rpc URL --db URL --source JSON`` this module is a
backfill worker without the CLI (the kill -9 test starts and kills it): it prints one line
``next <block>`` after every commit, so the parent knows a backfill is under way.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from eth_abi.abi import encode
from eth_utils.crypto import keccak
from sqlalchemy.engine import Engine

from devnet.chain import Anvil
from devnet.devrpc import DevRpc
from devnet.logfill import fill_logs, position_increase_data
from devnet.solc import Artifact
from indexer.decode.abi import abi_entry, event_signature, topic0
from indexer.registry import json_decoder
from indexer.rpc.client import RpcClient
from indexer.scan.rows import LogSource
from indexer.scan.scanner import ProgressFn, Scanner, ScanProgress, ScanSettings
from indexer.store.cursors import ScanStore
from indexer.store.engine import make_engine, upgrade
from indexer.store.tables import BlockHash, Cursor, EventBlock, RawEvent

CHAIN_ID = 31337
REPO_ROOT = Path(__file__).resolve().parent.parent
_EMIT3 = keccak(text="emit3(bytes,bytes32,bytes32,uint256,uint256)")[:4]
ANSWER_TOPIC0 = topic0(
    event_signature(abi_entry("chainlink/AggregatorInterface.json", "AnswerUpdated", "event"))
)
GMX_TOPIC0 = topic0(event_signature(abi_entry("gmx_v2/EventEmitter.json", "EventLog1", "event")))
_GMX_DATA = position_increase_data(
    "0x" + "11" * 20, "0x70d95587d40a2caf56bd97485ab3eec10bee6336", "0x" + "af" * 20
)

Row = tuple[Any, ...]


# -- logs on a devnet ---------------------------------------------------------------------------


def send(node: DevRpc, tx: Mapping[str, Any]) -> dict[str, Any]:
    """Send ``tx`` on an automining node; returns its receipt.

    Raises ``AssertionError`` if the transaction fails or its receipt does not appear.
    """
    tx_hash = node.request("eth_sendTransaction", [dict(tx)])
    for _ in range(500):  # anvil can answer the send before the receipt is queryable
        receipt: dict[str, Any] | None = node.request("eth_getTransactionReceipt", [tx_hash])
        if receipt is not None:
            assert receipt["status"] == "0x1", receipt
            return receipt
        time.sleep(0.01)
    raise AssertionError(f"no receipt for {tx_hash}")


def deploy_emitter(node: DevRpc, artifacts: Mapping[str, Artifact]) -> str:
    """Deploy a ``LogEmitter``; returns its lower-case address."""
    code = "0x" + artifacts["LogEmitter"].bytecode.hex()
    address: str = send(node, {"from": node.accounts[0], "data": code})["contractAddress"]
    return address.lower()


def answers(price: int, first: int, count: int) -> bytes:
    """Calldata emitting ``count`` Chainlink ``AnswerUpdated(price, first + i, updatedAt)``."""
    data = encode(["uint256"], [1_764_000_000 + price])
    return _emit3(data, ANSWER_TOPIC0, price.to_bytes(32, "big"), first, count)


def increases(first_account: int, count: int) -> bytes:
    """Calldata emitting ``count`` GMX ``EventLog1`` PositionIncrease logs (accounts vary)."""
    return _emit3(_GMX_DATA, GMX_TOPIC0, keccak(text="PositionIncrease"), first_account, count)


def _emit3(data: bytes, t0: bytes, t1: bytes, t2_base: int, count: int) -> bytes:
    return _EMIT3 + encode(
        ["bytes", "bytes32", "bytes32", "uint256", "uint256"], [data, t0, t1, t2_base, count]
    )


def emit_tx(node: DevRpc, emitter: str, calldata: bytes) -> dict[str, Any]:
    """A transaction request calling ``emitter`` with ``calldata`` from the first dev account."""
    return {
        "from": node.accounts[0],
        "to": emitter,
        "data": "0x" + calldata.hex(),
        "gas": hex(5_000_000),
    }


def emitter_source(emitter: str, start_block: int, name: str = "devnet:emitter") -> LogSource:
    """Every log of ``emitter`` with either test topic0, from ``start_block``."""
    topics = ("0x" + ANSWER_TOPIC0.hex(), "0x" + GMX_TOPIC0.hex())
    return LogSource(name, CHAIN_ID, (emitter,), (topics,), start_block)


# -- what an index holds ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IndexState:
    """Everything a scan leaves in the database for one source, comparable across backends.

    ``rows``: one tuple per raw event (block_number, log_index, block_hash, tx_hash, address,
    topics, data, event_name, args as sorted JSON); ``hashes``: (number, hash, parent_hash).
    """

    rows: frozenset[Row]
    row_count: int
    cursor: int | None
    hashes: frozenset[tuple[int, str, str]]


_events = RawEvent.__table__  # type: ignore[attr-defined]
_blocks = EventBlock.__table__  # type: ignore[attr-defined]
_hashes = BlockHash.__table__  # type: ignore[attr-defined]
_cursors = Cursor.__table__  # type: ignore[attr-defined]


def event_rows(engine: Engine, chain_id: int = CHAIN_ID) -> list[Row]:
    """Every stored raw event of ``chain_id`` as a plain tuple (see :class:`IndexState`)."""
    c, b = _events.c, _blocks.c
    columns = [c.block_number, c.log_index, b.hash, c.tx_hash, c.address]
    columns += [c.topic0, c.topic1, c.topic2, c.topic3, c.data, c.event_name, c.args]
    # An outer join: an event without its block's hash shows as None (and fails comparisons).
    joined = _events.outerjoin(_blocks, (b.chain_id == c.chain_id) & (b.number == c.block_number))
    with engine.connect() as conn:
        result = conn.execute(
            sa.select(*columns).select_from(joined).where(c.chain_id == chain_id)
        ).all()
    return [
        (
            *row[:9],
            None if row[9] is None else bytes(row[9]),
            row[10],
            orjson.dumps(row[11], option=orjson.OPT_SORT_KEYS),
        )
        for row in result
    ]


def index_state(engine: Engine, source: LogSource) -> IndexState:
    """The rows, cursor and kept block hashes ``source``'s scans left in ``engine``."""
    rows = event_rows(engine, source.chain_id)
    with engine.connect() as conn:
        cursor = conn.execute(
            sa.select(_cursors.c.next_block).where(_cursors.c.name == source.name)
        ).scalar_one_or_none()
        hashes = conn.execute(
            sa.select(_hashes.c.number, _hashes.c.hash, _hashes.c.parent_hash).where(
                _hashes.c.chain_id == source.chain_id
            )
        ).all()
    return IndexState(
        frozenset(rows),
        len(rows),
        None if cursor is None else int(cursor),
        frozenset((int(n), h, p) for n, h, p in hashes),
    )


def migrated_sqlite(path: Path) -> Engine:
    """A migrated SQLite database at ``path``."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return engine


async def backfill(
    urls: Sequence[str],
    engine: Engine,
    source: LogSource,
    settings: ScanSettings,
    *,
    on_progress: ProgressFn | None = None,
    **rpc_options: Any,
) -> tuple[ScanProgress, RpcClient]:
    """Backfill ``source`` from the node(s) at ``urls`` into ``engine``; returns the totals and
    the (closed) client, whose ``stats()`` stay readable. ``rpc_options`` go to the client."""
    async with RpcClient(urls, chain_id=CHAIN_ID, **rpc_options) as rpc:
        decoder = json_decoder()
        store = ScanStore(engine)
        scanner = Scanner(rpc, store, source, decoder, settings, on_progress=on_progress)
        progress = await scanner.backfill()
    return progress, rpc


def fresh_index(url: str, source: LogSource, workdir: Path, window: int = 256) -> IndexState:
    """An uninterrupted backfill of the canonical chain into a new SQLite database."""
    workdir.mkdir(parents=True, exist_ok=True)
    engine = migrated_sqlite(workdir / "reference.db")
    try:
        settings = ScanSettings(reorg_window=window)
        asyncio.run(backfill([url], engine, source, settings))
        return index_state(engine, source)
    finally:
        engine.dispose()


@dataclass(frozen=True, slots=True)
class Filled:
    """A node holding filled logs, the source that reads them, and a clean backfill's index."""

    node: Anvil
    source: LogSource
    reference: IndexState


@contextmanager
def filled_node(
    artifacts: Mapping[str, Artifact], workdir: Path, name: str, *, logs: int, logs_per_block: int
) -> Iterator[Filled]:
    """A fresh node with ``logs`` logs (``fill_logs``), the source ``name`` over both emitters,
    and the index an uninterrupted backfill into ``workdir`` makes of them; the node stops on
    leaving. Raises ``AssertionError`` if that backfill does not hold exactly ``logs`` rows.
    """
    with Anvil() as node:
        fill = fill_logs(node, artifacts, logs=logs, logs_per_block=logs_per_block)
        source = LogSource(
            name,
            CHAIN_ID,
            (fill.event_emitter.lower(), fill.aggregator.lower()),
            (fill.topic0s,),
            fill.first_block,
        )
        reference = fresh_index(node.rpc_url, source, workdir)
        assert reference.row_count == fill.logs == logs
        yield Filled(node, source, reference)


def node_log_count(node: DevRpc, source: LogSource, to_block: int) -> int:
    """How many logs the node itself returns for ``source`` up to ``to_block`` (one query)."""
    query = {
        "fromBlock": hex(source.start_block),
        "toBlock": hex(to_block),
        "address": list(source.addresses),
        "topics": [list(t) if t is not None else None for t in source.topics],
    }
    return len(node.request("eth_getLogs", [query]))


# -- the kill -9 worker -------------------------------------------------------------------------


def source_json(source: LogSource) -> str:
    return orjson.dumps(asdict(source)).decode()


def _source_from_json(text: str) -> LogSource:
    raw = orjson.loads(text)
    topics = tuple(None if t is None else tuple(t) for t in raw["topics"])
    return LogSource(
        raw["name"], raw["chain_id"], tuple(raw["addresses"]), topics, raw["start_block"]
    )


# Small ranges and several in flight, several ranges per transaction (about 400 logs): many
# commits, and a kill often lands inside one.
WORKER_SETTINGS = ScanSettings(
    initial_block_range=2, max_block_range=3, concurrency=3, commit_logs=400
)


async def _work(rpc_url: str, db_url: str, source: LogSource) -> None:
    engine = make_engine(db_url)

    def report(progress: ScanProgress) -> None:
        print(f"next {progress.next_block}", flush=True)

    async with RpcClient([rpc_url], chain_id=CHAIN_ID) as rpc:
        scanner = Scanner(
            rpc, ScanStore(engine), source, json_decoder(), WORKER_SETTINGS, on_progress=report
        )
        await scanner.backfill()
    print("done", flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="backfill one log source (test worker)")
    parser.add_argument("--rpc", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--source", required=True, help="the LogSource as JSON")
    args = parser.parse_args(argv)
    print("started", flush=True)
    asyncio.run(_work(args.rpc, args.db, _source_from_json(args.source)))


if __name__ == "__main__":
    main(sys.argv[1:])


def count_hash_requests(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The block numbers of every request a scanner makes for canonical hashes, from now on
    (a tip check, a reorg's lookup)."""
    asked: list[list[int]] = []
    canonical_hashes = Scanner._canonical_hashes

    async def counted(self: Scanner, numbers: list[int]) -> dict[int, str]:
        asked.append(numbers)
        return await canonical_hashes(self, numbers)

    monkeypatch.setattr(Scanner, "_canonical_hashes", counted)
    return asked
