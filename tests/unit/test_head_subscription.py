"""``HeadSubscription`` against a real WebSocket server on 127.0.0.1: heads pushed are taken
without a request, a refused or dropped subscription is said once (the URL redacted) and tried
again with growing waits, and a silent one stops standing in for polls."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager

import pytest
from websockets.asyncio.server import ServerConnection, serve

from indexer.rpc.heads import SILENT_BLOCKS, HeadSubscription

KEY = "a1b2c3d4e5f6a7b8c9d0"  # looks like an API key: redact_url masks it

Handler = Callable[[ServerConnection], Awaitable[None]]


@asynccontextmanager
async def node(handler: Handler) -> AsyncIterator[str]:
    """A WebSocket server running ``handler`` per connection; yields its URL (with a key)."""
    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/v2/{KEY}"


def header(number: int) -> str:
    return json.dumps(
        {
            "jsonrpc": "2.0",
            "method": "eth_subscription",
            "params": {"subscription": "0x1", "result": {"number": hex(number), "hash": "0x"}},
        }
    )


async def accept(ws: ServerConnection) -> None:
    """Answer the subscription request as a node does."""
    request = json.loads(await ws.recv())
    assert request["method"] == "eth_subscribe"
    assert request["params"] == ["newHeads"]
    await ws.send(json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": "0x1"}))


def run(test: Coroutine[None, None, None]) -> None:
    """Run ``test``; a hang fails it instead of the suite."""
    asyncio.run(asyncio.wait_for(test, 20))


def said_by_perpwatch(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What perpwatch logged (the test server's own complaints about cut handshakes aside)."""
    return [r.getMessage() for r in caplog.records if r.name == "perpwatch.rpc"]


class Waits(list[float]):
    """A ``sleep`` that records what it was asked to wait and waits for nothing (with
    ``hold``: forever, so that the state after the first failure stays to be looked at)."""

    def __init__(self, *, hold: bool = False) -> None:
        super().__init__()
        self.hold = hold

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)
        await (asyncio.Event().wait() if self.hold else asyncio.sleep(0))


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


def test_pushed_heads_stand_in_for_polls_while_they_come() -> None:
    now = [100.0]
    pushes: asyncio.Queue[int] = asyncio.Queue()

    async def handler(ws: ServerConnection) -> None:
        await accept(ws)
        while (number := await pushes.get()) >= 0:
            await ws.send(header(number))

    async def go() -> None:
        async with node(handler) as url:
            heads = HeadSubscription(url, monotonic=lambda: now[0])
            assert not heads.fresh(now[0], 1.0)
            heads.start()
            heads.start()  # started once per loop: a second call changes nothing
            await pushes.put(41)
            await until(lambda: heads.head == 41)
            assert heads.connected
            assert heads.fresh(now[0], 1.0)
            await pushes.put(42)
            await until(lambda: heads.head == 42)
            assert heads.seen_at == now[0]
            now[0] += SILENT_BLOCKS * 1.0
            assert heads.fresh(now[0], 1.0)
            now[0] += 0.01  # silent for longer: poll instead
            assert not heads.fresh(now[0], 1.0)
            assert heads.fresh(now[0], 2.0)  # a slower chain waits longer
            await pushes.put(40)  # a reorg to a shorter chain: taken as pushed
            await until(lambda: heads.head == 40)
            assert heads.fresh(now[0], 1.0)
            assert heads.pushes == 3
            await heads.close()
            assert not heads.connected
            await pushes.put(-1)  # the server's handler ends: it waits on the queue, not the socket

    run(go())


def test_a_refused_subscription_is_said_once_and_tried_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    waits = Waits()
    attempts = [0]

    async def refuse(ws: ServerConnection) -> None:
        attempts[0] += 1
        request = json.loads(await ws.recv())
        error = {"code": -32601, "message": "the method eth_subscribe does not exist"}
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": request["id"], "error": error}))
        await ws.wait_closed()

    async def go() -> None:
        async with node(refuse) as url:
            heads = HeadSubscription(url, sleep=waits, reconnect_min_s=1, reconnect_max_s=4)
            heads.start()
            await until(lambda: len(waits) >= 4)
            assert not heads.connected
            assert not heads.fresh(0.0, 1.0)
            await heads.close()

    with caplog.at_level(logging.INFO, logger="perpwatch.rpc"):
        run(go())
    assert waits[:4] == [1, 2, 4, 4]  # doubling, capped
    assert attempts[0] >= 4
    said = said_by_perpwatch(caplog)
    assert len(said) == 1  # the same failure again is not news
    assert "eth_subscribe newHeads refused" in said[0]
    assert "does not exist" in said[0]
    assert "head is polled meanwhile" in said[0]
    assert KEY not in said[0]
    assert "/v2/" in said[0]


def test_a_dropped_connection_is_joined_again(caplog: pytest.LogCaptureFixture) -> None:
    connections = [0]

    async def drop_the_first(ws: ServerConnection) -> None:
        connections[0] += 1
        if connections[0] == 2:
            return  # refused: another failure of the same outage, not news
        await accept(ws)
        await ws.send(header(10 * connections[0]))
        if connections[0] == 1:
            return  # the handler returning closes the connection
        await ws.wait_closed()

    async def go() -> None:
        async with node(drop_the_first) as url:
            heads = HeadSubscription(url, sleep=Waits())
            heads.start()
            await until(lambda: heads.head == 30)
            assert heads.connected
            await heads.close()

    with caplog.at_level(logging.INFO, logger="perpwatch.rpc"):
        run(go())
    said = said_by_perpwatch(caplog)
    assert len(said) == 3
    assert "up: new heads are pushed, not polled" in said[0]
    assert "down" in said[1]
    assert "closed" in said[1]
    assert said[2] == said[0]  # up again
    assert all(KEY not in line for line in said)


def test_an_unreachable_node_is_said_once_with_the_url_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    waits = Waits()

    async def go() -> None:
        async with node(accept) as url:
            pass  # the server is gone: its port now refuses
        heads = HeadSubscription(url, sleep=waits)
        heads.start()
        await until(lambda: len(waits) >= 3)
        assert not heads.connected
        await heads.close()

    with caplog.at_level(logging.INFO, logger="perpwatch.rpc"):
        run(go())
    said = said_by_perpwatch(caplog)
    assert len(said) == 1
    assert KEY not in said[0]


def test_garbage_from_the_node_is_a_failure_not_a_head() -> None:
    waits = Waits(hold=True)

    async def garbage(ws: ServerConnection) -> None:
        await accept(ws)
        await ws.send("[1, 2]")  # JSON, but not an object
        await ws.wait_closed()

    async def go() -> None:
        async with node(garbage) as url:
            heads = HeadSubscription(url, sleep=waits)
            heads.start()
            await until(lambda: bool(waits))
            assert heads.head == -1
            assert not heads.connected
            await heads.close()

    run(go())


@pytest.mark.parametrize("node_chain_id", [31337, 1])
def test_the_chain_id_is_checked_before_subscribing(
    node_chain_id: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Heads of another chain (a ws_url of the wrong network) would have the monitor scan to
    blocks its node does not have: such a subscription is never used."""
    waits = Waits(hold=True)

    async def handler(ws: ServerConnection) -> None:
        request = json.loads(await ws.recv())
        assert request["method"] == "eth_chainId"
        answer = {"jsonrpc": "2.0", "id": request["id"], "result": hex(node_chain_id)}
        await ws.send(json.dumps(answer))
        await accept(ws)
        await ws.send(header(7))
        await ws.wait_closed()

    async def go() -> None:
        async with node(handler) as url:
            heads = HeadSubscription(url, chain_id=31337, sleep=waits)
            heads.start()
            await until(lambda: heads.head == 7 or bool(waits))
            assert heads.connected == (node_chain_id == 31337)
            await heads.close()

    with caplog.at_level(logging.INFO, logger="perpwatch.rpc"):
        run(go())
    said = said_by_perpwatch(caplog)
    assert len(said) == 1
    if node_chain_id == 31337:
        assert "up: new heads are pushed" in said[0]
    else:
        assert "chain id mismatch: expected 31337, node reports 1" in said[0]
        assert KEY not in said[0]
