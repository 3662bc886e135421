"""RpcClient against scripted nodes behind httpx.MockTransport: retries, batching, failover."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import httpx
import orjson
import pytest
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from hypothesis import given
from hypothesis import strategies as st

from indexer.errors import (
    BlockNotFound,
    ChainIdMismatch,
    NodeUnreachable,
    RetryableError,
    RpcError,
    RpcRangeTooLarge,
)
from indexer.protocols.base import Read
from indexer.reads.execute import run_read
from indexer.reads.multicall import Call3
from indexer.redact import MASK, redact_text, redact_url
from indexer.retry import parse_retry_after
from indexer.rpc import transport
from indexer.rpc.client import RpcClient
from indexer.rpc.faults import Fault, classify_rpc_error, pick_endpoint

KEY = "Zk3s9QpW7vLx2RtY8uHn4MbC"
PRIMARY = f"https://primary.example/v2/{KEY}"
SECONDARY = f"https://user:hunter22@secondary.example/rpc?apikey={KEY}x"
CHAIN = 42161


T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class FakeClock:
    """Monotonic time that only moves when the client sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


Fault_ = Callable[[httpx.Request], httpx.Response | None]


class Node:
    """A scripted JSON-RPC node: answers each call, or the next queued fault for its host."""

    def __init__(self, chain_id: int = CHAIN, head: int = 0x50) -> None:
        self.chain_id = chain_id
        self.head = head
        self.faults: dict[str, list[Fault_]] = {}
        self.seen: list[tuple[str, Any]] = []  # (host, decoded body) of every request
        self.reverse_batches = False
        self.echo_aggregate3 = False  # answer aggregate3 with each sub-call's data as its return

    def fail(self, host: str, *faults: Fault_) -> None:
        self.faults.setdefault(host, []).extend(faults)

    def answer(self, method: str, params: list[Any]) -> dict[str, Any]:
        if method == "eth_chainId":
            return {"result": hex(self.chain_id)}
        if method == "eth_blockNumber":
            return {"result": hex(self.head)}
        if method == "eth_getBlockByNumber":
            number = self.head if params[0] == "latest" else int(params[0], 16)
            if number > self.head:
                return {"result": None}
            block = {"number": hex(number), "hash": f"0x{number:064x}", "timestamp": hex(number)}
            return {"result": block | {"parentHash": f"0x{number - 1:064x}"}}
        if method == "eth_call" and self.echo_aggregate3:
            (sub_calls,) = abi_decode(
                ["(address,bool,bytes)[]"], bytes.fromhex(params[0]["data"][10:])
            )
            results = [(True, data) for _, _, data in sub_calls]
            return {"result": "0x" + abi_encode(["(bool,bytes)[]"], [results]).hex()}
        if method == "eth_call":
            return {"error": {"code": 3, "message": "execution reverted", "data": "0x08c379a0"}}
        if method == "eth_getLogs":
            return {"error": {"code": -32005, "message": "query returned more than 10000 results"}}
        return {"error": {"code": -32601, "message": "the method does not exist"}}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        self.seen.append((request.url.host, body))
        queue = self.faults.get(request.url.host, [])
        if queue:
            faulty = queue.pop(0)(request)
            if faulty is not None:
                return faulty
        items = body if isinstance(body, list) else [body]
        answers = [
            {"jsonrpc": "2.0", "id": i["id"]} | self.answer(i["method"], i["params"]) for i in items
        ]
        if self.reverse_batches:
            answers.reverse()
        return httpx.Response(
            200, content=orjson.dumps(answers if isinstance(body, list) else answers[0])
        )

    def hosts(self) -> list[str]:
        return [host for host, _ in self.seen]


def status(code: int, headers: dict[str, str] | None = None) -> Fault_:
    return lambda request: httpx.Response(code, headers=headers, content=b"busy")


def truncated(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=b'{"jsonrpc":"2.0","id":0,"res')


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError(f"cannot connect to {request.url}", request=request)


def rpc_error(code: int, message: str) -> Fault_:
    def fault(request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        return httpx.Response(
            200,
            content=orjson.dumps(
                {"jsonrpc": "2.0", "id": body["id"], "error": {"code": code, "message": message}}
            ),
        )

    return fault


def client(
    node: Node,
    clock: FakeClock,
    urls: list[str] | None = None,
    chain_id: int | None = CHAIN,
    **kwargs: Any,
) -> RpcClient:
    options: dict[str, Any] = {"rng": lambda: 0.5, "backoff_base_s": 0.2} | kwargs
    return RpcClient(
        urls or [PRIMARY],
        chain_id=chain_id,
        transport=httpx.MockTransport(node),
        sleep=clock.sleep,
        clock=clock,
        **options,
    )


def test_backoff_schedule_is_exponential_with_jitter() -> None:
    node, clock = Node(), FakeClock()
    node.fail("primary.example", status(500), status(502), status(503))

    assert run(client(node, clock).block_number()) == 0x50
    # rng 0.5 times 0.2 * 2**k: full jitter over an exponentially growing window
    assert clock.sleeps == pytest.approx([0.1, 0.2, 0.4])


def test_backoff_is_capped_and_retries_end() -> None:
    node, clock = Node(), FakeClock()
    node.fail("primary.example", *[status(502)] * 10)
    rpc = client(node, clock, backoff_base_s=1.0, backoff_max_s=3.0, max_retries=5)

    with pytest.raises(RetryableError, match="after 6 attempts") as info:
        run(rpc.request("eth_blockNumber"))
    assert clock.sleeps == pytest.approx([0.5, 1.0, 1.5, 1.5, 1.5])
    assert len(node.seen) == 6
    assert "HTTP 502" in str(info.value)


def test_a_failing_url_is_said_once_until_it_answers_again(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport, "FAILING", set())
    node, clock = Node(), FakeClock()
    node.fail("primary.example", *[status(502)] * 3)
    with caplog.at_level(logging.DEBUG, logger="perpwatch.rpc"):
        assert run(client(node, clock).block_number()) == 0x50  # three failures, then answered
        node.fail("primary.example", *[refused] * 6)
        for _ in range(2):  # a new client each time, as a monitor reconnects each tick
            with pytest.raises(RetryableError):
                run(client(node, clock, max_retries=2).block_number())
        assert run(client(node, clock).block_number()) == 0x50
    said = [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.INFO]
    assert [level for level, _ in said] == ["WARNING", "INFO", "WARNING", "INFO"]
    assert said[0][1].startswith("rpc https://primary.example/v2/*** failing (eth_blockNumber")
    assert "HTTP 502" in said[0][1]
    assert "cannot connect" in said[2][1]
    assert said[1][1] == said[3][1] == "rpc https://primary.example/v2/*** answering again"
    assert all(KEY not in message for _, message in said)
    attempts = [r for r in caplog.records if r.levelno == logging.DEBUG and "attempt" in r.msg]
    assert len(attempts) == 9 - 2  # every failed attempt but the two said, at debug


def test_retry_after_seconds_is_honoured() -> None:
    node, clock = Node(), FakeClock()
    node.fail("primary.example", status(429, {"Retry-After": "7"}))
    assert run(client(node, clock).block_number()) == 0x50
    assert clock.sleeps == [7.0]


def test_retry_after_http_date() -> None:
    now = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", now) == 30.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now) == 0.0
    assert parse_retry_after(" 2.5 ", now) == 2.5
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_json_rpc_rate_limit_is_retried() -> None:
    node, clock = Node(), FakeClock()
    node.fail("primary.example", rpc_error(-32005, "project ID request rate exceeded"))
    assert run(client(node, clock).block_number()) == 0x50
    assert len(node.seen) == 2
    assert len(clock.sleeps) == 1


def test_truncated_body_is_retried() -> None:
    node, clock = Node(), FakeClock()
    node.fail("primary.example", truncated, truncated)
    assert run(client(node, clock).block_number()) == 0x50
    assert len(node.seen) == 3


def test_revert_raises_at_once_with_its_data() -> None:
    node, clock = Node(), FakeClock()
    with pytest.raises(RpcError) as info:
        run(client(node, clock).eth_call("0x" + "11" * 20, b"\x12\x34"))
    assert info.value.code == 3
    assert info.value.data == "0x08c379a0"
    assert "execution reverted" in str(info.value)
    assert len(node.seen) == 1
    assert clock.sleeps == []


def test_range_too_large_raises_at_once_with_advice() -> None:
    node, clock = Node(), FakeClock()
    with pytest.raises(RpcRangeTooLarge) as info:
        run(client(node, clock).get_logs(100, 30_000, ["0x" + "22" * 20], [["0x" + "33" * 32]]))
    assert (info.value.from_block, info.value.to_block) == (100, 30_000)
    assert info.value.advice.source == "geth"
    assert len(node.seen) == 1
    query = node.seen[0][1]["params"][0]
    assert query["fromBlock"] == "0x64"
    assert query["address"] == ["0x" + "22" * 20]


def test_batch_keeps_order_and_splits() -> None:
    node, clock = Node(head=100), FakeClock()
    node.reverse_batches = True
    rpc = client(node, clock, max_batch_size=3)
    headers = run(rpc.get_block_headers([5, 1, 9, 2, 7, 3, 8]))
    assert [h["number"] for h in headers] == [5, 1, 9, 2, 7, 3, 8]
    assert headers[0]["parentHash"] == f"0x{4:064x}"
    assert [len(body) for _, body in node.seen] == [3, 3, 1]


def test_batch_missing_items_or_non_list_is_retried() -> None:
    node, clock = Node(), FakeClock()

    def drop_last(request: httpx.Request) -> httpx.Response:
        items = orjson.loads(request.content)[:-1]
        answers = [{"jsonrpc": "2.0", "id": i["id"], "result": "0x1"} for i in items]
        return httpx.Response(200, content=orjson.dumps(answers))

    def single_error(request: httpx.Request) -> httpx.Response:
        error = {"jsonrpc": "2.0", "id": None, "error": {"code": -32000, "message": "busy"}}
        return httpx.Response(200, content=orjson.dumps(error))

    node.fail("primary.example", drop_last, single_error)
    results = run(client(node, clock).batch([("eth_blockNumber", []), ("eth_chainId", [])]))
    assert results == ["0x50", hex(CHAIN)]
    assert len(node.seen) == 3


def test_batch_item_error_is_mapped_like_a_single_one() -> None:
    node, clock = Node(), FakeClock()
    calls = [("eth_blockNumber", []), ("eth_call", [{"to": "0x" + "11" * 20}, "latest"])]
    with pytest.raises(RpcError, match="execution reverted"):
        run(client(node, clock).batch(calls))


def test_a_read_of_several_multicall_batches_is_one_request_at_one_block() -> None:
    node, clock = Node(head=0x50), FakeClock()
    node.echo_aggregate3 = True
    node.reverse_batches = True  # answers out of order must still come back in call order
    calls = tuple(Call3("0x" + "11" * 20, bytes([i]) * 4) for i in range(7))
    read = Read(calls, lambda results: [data for _, data in results], batch_size=3)
    rpc = client(node, clock)
    assert run(run_read(rpc, read, block=0x40)) == [bytes([i]) * 4 for i in range(7)]
    assert len(node.seen) == 1  # three aggregate3 calls, one JSON-RPC batch
    ((_, body),) = node.seen
    assert [item["method"] for item in body] == ["eth_call"] * 3
    assert {item["params"][1] for item in body} == {"0x40"}
    assert rpc.call_equivalents == 7  # the node's work is still counted per sub-call


def test_a_reverting_batch_of_a_read_raises_at_once() -> None:
    node, clock = Node(), FakeClock()
    calls = tuple(Call3("0x" + "11" * 20, b"\x01", allow_failure=False) for _ in range(4))
    with pytest.raises(RpcError, match="execution reverted"):
        run(run_read(client(node, clock), Read(calls, list, batch_size=2), block=1))
    assert len(node.seen) == 1
    assert clock.sleeps == []


def test_block_not_found() -> None:
    node, clock = Node(head=10), FakeClock()
    with pytest.raises(BlockNotFound, match="block 11"):
        run(client(node, clock).get_block_header(11))


def test_chain_id_mismatch_is_a_dependency_error_naming_the_redacted_url() -> None:
    node, clock = Node(chain_id=1), FakeClock()

    async def go() -> None:
        async with client(node, clock, urls=[PRIMARY]):
            pass

    with pytest.raises(ChainIdMismatch) as info:
        run(go())
    message = str(info.value)
    assert "expected 42161" in message
    assert "reports 1" in message
    assert "primary.example/v2/***" in message
    assert KEY not in message


def test_connect_gives_up_after_one_retry_and_says_so() -> None:
    node, clock = Node(), FakeClock()
    node.fail("primary.example", status(502), status(502), status(502))

    with pytest.raises(NodeUnreachable, match="HTTP 502") as info:
        run(client(node, clock, urls=[PRIMARY]).connect())
    assert isinstance(info.value, RetryableError)  # a long-running caller may try again later
    assert len(node.seen) == 2


def test_chain_id_is_learned_and_checked_across_urls() -> None:
    node, clock = Node(chain_id=10), FakeClock()
    rpc = client(node, clock, urls=[PRIMARY, SECONDARY], chain_id=None)
    assert run(rpc.connect()) == 10
    assert node.hosts() == ["primary.example", "secondary.example"]


def test_secrets_never_reach_exception_text() -> None:
    node, clock = Node(), FakeClock()
    node.fail("primary.example", *[refused] * 3)
    node.fail("secondary.example", *[refused] * 3)
    rpc = client(node, clock, urls=[PRIMARY, SECONDARY], max_retries=3)
    with pytest.raises(RetryableError) as info:
        run(rpc.block_number())
    text = str(info.value) + "".join(str(s.last_error) for s in rpc.stats())
    assert "ConnectError" in text
    for secret in (KEY, "hunter22", "user:"):
        assert secret not in text


def test_failover_to_second_url_and_back() -> None:
    node, clock = Node(), FakeClock()
    node.fail("primary.example", status(502))

    async def go() -> list[str]:
        rpc = client(node, clock, urls=[PRIMARY, SECONDARY])
        await rpc.block_number()  # 502 at primary, answered by secondary without sleeping
        await rpc.block_number()  # primary still cooling down: secondary again
        assert clock.sleeps == []
        stats = rpc.stats()
        assert (stats[0].failures, stats[0].cooling_down) == (1, True)
        assert stats[1].last_head == 0x50
        clock.now += 60  # the primary's cool-down ends
        await rpc.block_number()
        assert rpc.stats()[0].last_head == 0x50
        assert not rpc.stats()[0].cooling_down
        return node.hosts()

    hosts = run(go())
    assert hosts == ["primary.example", "secondary.example", "secondary.example", "primary.example"]


def test_both_urls_down_waits_for_the_first_to_recover() -> None:
    node, clock = Node(), FakeClock()
    node.fail("primary.example", status(503, {"Retry-After": "4"}))
    node.fail("secondary.example", status(503, {"Retry-After": "2"}))
    assert run(client(node, clock, urls=[PRIMARY, SECONDARY]).block_number()) == 0x50
    assert clock.sleeps == [2.0]
    assert node.hosts() == ["primary.example", "secondary.example", "secondary.example"]


def test_concurrency_is_bounded() -> None:
    in_flight, peak = 0, 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        in_flight -= 1
        body = orjson.loads(request.content)
        return httpx.Response(
            200, content=orjson.dumps({"jsonrpc": "2.0", "id": body["id"], "result": "0x1"})
        )

    async def go() -> list[int]:
        rpc = RpcClient(
            [PRIMARY], chain_id=None, max_concurrency=2, transport=httpx.MockTransport(handler)
        )
        return await asyncio.gather(*(rpc.block_number() for _ in range(10)))

    assert run(go()) == [1] * 10
    assert peak == 2


def test_the_slowest_request_is_measured_and_taken_once() -> None:
    delays = iter([0.0, 0.08, 0.02, 0.0])

    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(next(delays))
        body = orjson.loads(request.content)
        return httpx.Response(
            200, content=orjson.dumps({"jsonrpc": "2.0", "id": body["id"], "result": "0x1"})
        )

    async def go() -> tuple[float, float, float]:
        rpc = RpcClient([PRIMARY], chain_id=None, transport=httpx.MockTransport(handler))
        for _ in range(3):
            await rpc.block_number()
        slowest = rpc.take_slowest_request_s()
        again = rpc.take_slowest_request_s()  # taken: starts over
        await rpc.block_number()  # a fourth, instant answer
        return slowest, again, rpc.take_slowest_request_s()

    slowest, again, last = run(go())
    assert 0.08 <= slowest < 1.0
    assert again == 0.0
    assert 0.0 < last < 0.08


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://eth-mainnet.g.alchemy.com/v2/AbC123xyz789QwE456rTy",
            "https://eth-mainnet.g.alchemy.com/v2/***",
        ),
        (
            "https://mainnet.infura.io/v3/0123456789abcdef0123456789abcdef",
            "https://mainnet.infura.io/v3/***",
        ),
        ("https://rpc.ankr.com/arbitrum/" + "ab" * 32, "https://rpc.ankr.com/arbitrum/***"),
        ("https://x.quiknode.pro/14fb466c039ca54a/", "https://x.quiknode.pro/***/"),
        (
            "https://u:p4ss@node.example:8545/?key=abc&net=arb",
            "https://***@node.example:8545/?key=***&net=***",
        ),
        ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
        ("not a url", MASK),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


secrets = st.text(
    alphabet="abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=16, max_size=64
)


@given(secret=secrets, where=st.sampled_from(["path", "query", "userinfo"]))
def test_redaction_never_leaks_the_secret(secret: str, where: str) -> None:
    url = {
        "path": f"https://node.example/v2/{secret}",
        "query": f"https://node.example/rpc?apikey={secret}",
        "userinfo": f"https://me:{secret}@node.example/",
    }[where]
    assert secret not in redact_url(url)
    assert secret not in redact_text(f"error talking to {url} (key {secret})", [url])
    assert "node.example" in redact_url(url)


@pytest.mark.parametrize(
    ("code", "message", "fault"),
    [
        (429, "Your app has exceeded its compute units per second capacity", Fault.RATE_LIMITED),
        (-32005, "daily request count exceeded, request rate limited", Fault.RATE_LIMITED),
        (-32000, "header not found", Fault.TRANSIENT),
        (-32603, "internal error", Fault.TRANSIENT),
        (-32603, "VM Exception while processing transaction: revert", Fault.FATAL),
        (3, "execution reverted", Fault.FATAL),
        (-32602, "invalid argument 0: hex string without 0x prefix", Fault.FATAL),
        (-32601, "the method eth_foo does not exist/is not available", Fault.FATAL),
    ],
)
def test_classify_rpc_error(code: int, message: str, fault: Fault) -> None:
    assert classify_rpc_error(code, message, None) is fault


def test_pick_endpoint() -> None:
    assert pick_endpoint([0.0, 0.0], 5.0) == (0, 0.0)
    assert pick_endpoint([9.0, 0.0], 5.0) == (1, 0.0)
    assert pick_endpoint([9.0, 7.0], 5.0) == (1, 2.0)
    with pytest.raises(ValueError, match="no endpoints"):
        pick_endpoint([], 0.0)
