"""A large ``eth_getLogs`` answer (tens of MB, the size of a dense range) arrives whole through
the widened body reads, from a real local HTTP server."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import httpcore
import httpx
import orjson

from devnet.http_server import LocalHttpServer, Reply, Request
from indexer.rpc.client import RpcClient
from indexer.rpc.transport import READ_CHUNK_BYTES

LOGS = 30_000


def _log(i: int) -> dict[str, Any]:
    return {
        "address": "0x" + "ab" * 20,
        "blockNumber": hex(1 + i // 1_000),
        "blockHash": "0x" + f"{i // 1_000:064x}",
        "logIndex": hex(i % 1_000),
        "transactionHash": "0x" + f"{i:064x}",
        "topics": ["0x" + "11" * 32, "0x" + f"{i:064x}"],
        "data": "0x" + f"{i:x}".rjust(64, "0") * 20,
    }


class BigLogs(LocalHttpServer):
    """Answers every call with the same large log list (or the chain id)."""

    def __init__(self) -> None:
        super().__init__()
        self.result = [_log(i) for i in range(LOGS)]

    def respond(self, request: Request) -> Reply | None:
        call = orjson.loads(request.body)
        result: Any = "0x7a69" if call["method"] == "eth_chainId" else self.result
        body = orjson.dumps({"jsonrpc": "2.0", "id": call["id"], "result": result})
        return Reply(200, body, {"content-type": "application/json"})


def test_large_get_logs_answer_arrives_whole() -> None:
    with BigLogs() as server:

        async def fetch() -> Any:
            async with RpcClient([server.url], chain_id=31337) as rpc:
                return await rpc.request("eth_getLogs", [{"fromBlock": "0x1", "toBlock": "0x1e"}])

        logs = asyncio.run(fetch())

    assert httpcore.AsyncHTTP11Connection.READ_NUM_BYTES >= READ_CHUNK_BYTES
    assert len(orjson.dumps(logs)) > 20 * READ_CHUNK_BYTES  # many widened reads, not one
    assert logs == server.result


def test_no_response_keeps_a_body_after_the_call() -> None:
    """httpx responses sit in reference cycles; one holding its body kept tens of MB alive
    until the next full collection, so peak RSS grew with every range of a backfill."""
    with BigLogs() as server:

        async def fetch() -> Any:
            async with RpcClient([server.url], chain_id=31337) as rpc:
                return await rpc.request("eth_getLogs", [{"fromBlock": "0x1", "toBlock": "0x2"}])

        gc.collect()
        gc.disable()
        try:
            logs = asyncio.run(fetch())
            holding = [
                o
                for o in gc.get_objects()
                if isinstance(o, httpx.Response) and hasattr(o, "_content")
            ]
        finally:
            gc.enable()
    assert len(logs) == LOGS
    assert holding == []
