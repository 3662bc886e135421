"""``bench.state`` on a tiny devnet: both refreshes agree and the calls are counted exactly."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest

from bench.state import CountingTransport, run


def test_counting_transport_counts_every_item_of_a_batch() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        items = body if isinstance(body, list) else [body]
        results = [{"jsonrpc": "2.0", "id": i["id"], "result": "0x1"} for i in items]
        return httpx.Response(
            200, content=orjson.dumps(results if isinstance(body, list) else results[0])
        )

    async def go() -> CountingTransport:
        transport = CountingTransport(httpx.MockTransport(answer))
        async with httpx.AsyncClient(transport=transport) as client:
            batch = [
                {"jsonrpc": "2.0", "id": i, "method": "eth_call", "params": []} for i in range(3)
            ]
            await client.post("http://node", content=orjson.dumps(batch))
            single = {"jsonrpc": "2.0", "id": 9, "method": "eth_blockNumber", "params": []}
            await client.post("http://node", content=orjson.dumps(single))
        return transport

    transport = asyncio.run(go())
    assert transport.calls == {"eth_call": 3, "eth_blockNumber": 1}
    assert transport.http_requests == 2


@pytest.mark.chain
def test_tiny_run_agrees_with_web3_and_counts_one_read() -> None:
    report = run(5, use_cache=False)
    assert report["accounts"] == 5
    assert report["perpwatch_calls_by_method"] == {"eth_blockNumber": 1, "eth_call": 1}
    assert report["perpwatch_calls"] == 2
    assert report["calls_per_1k_accounts"] == 400.0
    assert report["baseline_calls"] == 1 + 2 * 8 + 5  # shared DataStore values + one per owner
    assert report["gas_per_read"] > 0


@pytest.mark.chain
def test_tiny_gtrade_run_agrees_with_web3_in_two_calls_per_read() -> None:
    from bench.state_gtrade import run_gtrade

    report = run_gtrade(12, trades_per_owner=3)
    assert (report["trades"], report["owners"], report["reads"]) == (12, 4, 1)
    # One read of 4 wallets: the trades, then their fees; plus the pinned block number.
    assert report["perpwatch_calls_by_method"] == {"eth_blockNumber": 1, "eth_call": 2}
    assert report["calls_per_1k_trades"] == 250.0
    assert report["baseline_calls"] == 4 + 12
