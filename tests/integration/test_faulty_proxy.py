"""RpcClient against a real anvil behind the faulty proxy: every answer right despite faults."""

from __future__ import annotations

import asyncio
import random
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from indexer.errors import RetryableError, RpcRangeTooLarge
from indexer.rpc.client import RpcClient
from indexer.rpc.ranges import split_range
from tests.fixtures.faulty_proxy import (
    FAULTS,
    PROVIDER_RANGE_ERRORS,
    FaultyProxy,
    started_proxies,
)

pytestmark = pytest.mark.chain

ANVIL = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "anvil"
EMITTER = "0x" + "e1" * 20
TOPIC = "0x" + "ab" * 32
# Runtime code: copy the calldata to memory, LOG1(0, calldatasize, TOPIC), stop.
EMITTER_CODE = "0x366000600037" + "7f" + TOPIC[2:] + "36" + "6000" + "a1" + "00"
TXS = 30


@pytest.fixture
def faulty_proxy() -> Iterator[Callable[..., FaultyProxy]]:
    """The shared factory fixture, also available here before conftest lists its plugin."""
    yield from started_proxies()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _call(url: str, method: str, *params: Any) -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    answer = httpx.post(url, json=body, timeout=5).json()
    assert "error" not in answer, answer
    return answer["result"]


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("anvil exited at start")
        try:
            _call(url, "eth_chainId")
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("anvil did not answer in time")


@pytest.fixture(scope="module")
def chain_url() -> Iterator[str]:
    """A private anvil with TXS log-emitting blocks interleaved with empty ones."""
    port = _free_port()
    cmd = [str(ANVIL), "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc)
        sender = _call(url, "eth_accounts")[0]
        _call(url, "anvil_setCode", EMITTER, EMITTER_CODE)
        for i in range(TXS):
            tx = {"from": sender, "to": EMITTER, "data": "0x" + f"{i:064x}", "gas": "0x30000"}
            _call(url, "eth_sendTransaction", tx)
            _call(url, "anvil_mine", hex(i % 3))
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _expected_logs(url: str, start: int, end: int) -> list[dict[str, Any]]:
    query = {"fromBlock": hex(start), "toBlock": hex(end), "address": [EMITTER]}
    logs: list[dict[str, Any]] = _call(url, "eth_getLogs", query)
    return logs


async def _logs_split_as_needed(rpc: RpcClient, start: int, end: int) -> list[dict[str, Any]]:
    """What the scanner does: split a refused range as advised and concatenate in order."""
    for _ in range(50):
        try:
            return await rpc.get_logs(start, end, [EMITTER], [TOPIC])
        except RpcRangeTooLarge as refused:
            parts = split_range(start, end, refused.advice)
            if len(parts) > 1:
                chunks = [await _logs_split_as_needed(rpc, s, e) for s, e in parts]
                return [log for chunk in chunks for log in chunk]
    raise AssertionError(f"one-block range {start} refused 50 times")


# A "timeout" fault hangs HANG_S, past the client's timeout; the margin keeps a busy machine's
# slow but honest answers from being taken for faults.
TIMEOUT_S, HANG_S = 0.5, 0.7


def _fast_client(urls: list[str]) -> RpcClient:
    return RpcClient(
        urls,
        chain_id=31337,
        timeout_s=TIMEOUT_S,
        backoff_base_s=0.01,
        backoff_max_s=0.2,
        max_retries=10,
    )


def test_two_hundred_calls_through_faults_all_succeed(chain_url: str) -> None:
    head = int(_call(chain_url, "eth_blockNumber"), 16)
    rng = random.Random(11)
    ranges = [tuple(sorted((rng.randint(0, head), rng.randint(0, head)))) for _ in range(100)]
    expected = [_expected_logs(chain_url, s, e) for s, e in ranges]
    assert sum(len(logs) for logs in expected) > 100  # the ranges do cover logs

    with FaultyProxy(chain_url, rate=0.2, seed=3, hang_s=HANG_S, provider="alchemy") as proxy:

        async def go() -> tuple[list[int], list[list[dict[str, Any]]]]:
            async with _fast_client([proxy.url]) as rpc:
                heads = asyncio.gather(*(rpc.block_number() for _ in range(100)))
                logs = asyncio.gather(*(_logs_split_as_needed(rpc, s, e) for s, e in ranges))
                return await heads, await logs

        heads, logs = asyncio.run(go())

    assert heads == [head] * 100
    assert logs == expected
    counts = proxy.counts()
    assert all(counts.get(kind, 0) > 0 for kind in FAULTS), counts


def test_failover_when_the_first_proxy_dies_mid_run(chain_url: str) -> None:
    head = int(_call(chain_url, "eth_blockNumber"), 16)
    expected = _expected_logs(chain_url, 0, head)
    with (
        FaultyProxy(chain_url, rate=0.1, seed=5, hang_s=HANG_S, provider="infura") as first,
        FaultyProxy(chain_url, rate=0.1, seed=6, hang_s=HANG_S, provider="quicknode") as second,
    ):

        async def go() -> list[Any]:
            answers: list[Any] = []
            async with _fast_client([first.url, second.url]) as rpc:
                for i in range(60):
                    if i == 20:
                        first.stop()
                    if i % 2:
                        answers.append(await rpc.block_number())
                    else:
                        answers.append(await _logs_split_as_needed(rpc, 0, head))
                stats = rpc.stats()
            assert stats[0].failures >= 1
            assert stats[1].requests > 10
            assert stats[1].last_head == head
            return answers

        answers = asyncio.run(go())

    assert answers == [head if i % 2 else expected for i in range(60)]
    assert first.counts().get("forwarded", 0) > 0  # the first URL did serve before it died


@pytest.mark.parametrize("provider", sorted(PROVIDER_RANGE_ERRORS))
def test_each_provider_range_answer_reaches_the_caller_as_advice(
    chain_url: str, provider: str
) -> None:
    async def refused_logs(url: str) -> None:
        rpc = _fast_client([url])
        try:
            await rpc.get_logs(0, 40, [EMITTER])
        finally:
            await rpc.aclose()

    with (
        FaultyProxy(chain_url, rate=1.0, faults=("range",), provider=provider) as proxy,
        pytest.raises(RpcRangeTooLarge) as info,
    ):
        asyncio.run(refused_logs(proxy.url))
    parts = split_range(0, 40, info.value.advice)
    assert len(parts) > 1
    assert parts[0][0] == 0
    assert parts[-1][1] == 40
    assert proxy.counts() == {"range": 1}


def test_stopped_proxy_refuses_connections(
    chain_url: str, faulty_proxy: Callable[..., FaultyProxy]
) -> None:
    proxy = faulty_proxy(chain_url, rate=0.0)
    url = proxy.url
    assert _call(url, "eth_chainId") == hex(31337)
    proxy.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=2)

    async def connect() -> None:
        async with RpcClient([url], chain_id=None, max_retries=1, backoff_base_s=0.01):
            pass

    with pytest.raises(RetryableError, match="ConnectError"):
        asyncio.run(connect())


def test_faults_are_what_they_claim(chain_url: str) -> None:
    with FaultyProxy(chain_url, rate=1.0, faults=("429",), retry_after="3") as proxy:
        answer = httpx.post(proxy.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"})
    assert (answer.status_code, answer.headers["retry-after"]) == (429, "3")
    with FaultyProxy(chain_url, rate=1.0, faults=("truncated",)) as proxy:
        answer = httpx.post(proxy.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"})
    assert answer.status_code == 200
    assert answer.content.startswith(b'{"jsonrpc":"2.0"')
    with pytest.raises(ValueError, match=r"(?i)json|expecting|unterminated"):
        answer.json()
    with FaultyProxy(chain_url, rate=1.0, faults=("timeout",), hang_s=0.4) as proxy:
        with pytest.raises(httpx.TimeoutException):
            httpx.post(proxy.url, json={"id": 1, "method": "eth_chainId"}, timeout=0.2)
        assert proxy.counts() == {"timeout": 1}
