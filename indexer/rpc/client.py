"""perpwatch's one node client: async JSON-RPC over HTTP with batching, retries and failover.

Every failure that retrying can fix (timeouts, refused connections, 5xx, 429, rate-limit
errors, truncated or invalid bodies, batch answers missing items) is retried with exponential
backoff and full jitter, moving to the next healthy URL. ``eth_getLogs`` "range too large"
answers raise :class:`~indexer.rpc.faults.RpcRangeTooLarge` at once: the caller splits.
Errors retrying cannot fix (reverts, bad params) raise :class:`~indexer.rpc.faults.RpcError`.
URLs appear in logs and messages only through :func:`~indexer.redact.redact_url`.

Usage::

    urls = ["https://arb1.example/v2/KEY", "http://127.0.0.1:8545"]
    async with RpcClient(urls, chain_id=42161) as rpc:
        head = await rpc.block_number()
        logs = await rpc.get_logs(head - 100, head, [market_address], [[topic0]])
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, Self, TypedDict

import httpx

from indexer.errors import (
    BlockNotFound,
    ChainIdMismatch,
    DecodeError,
    NodeUnreachable,
    RetryableError,
    UserError,
)
from indexer.redact import redact_url
from indexer.rpc.stats import EndpointStats
from indexer.rpc.transport import Call, Endpoint, Exchange, Retry, widen_body_reads

__all__ = ["BlockHeader", "BlockTag", "EndpointStats", "RpcClient"]

log = logging.getLogger("perpwatch.rpc")

BlockTag = int | str  # a block number or "latest" / "safe" / "finalized"
Topic = str | Sequence[str] | None

# The chain-id check at connect is where a wrong or dead URL shows first: a person is usually
# waiting, so it gets a short timeout and one retry instead of the scan's patient policy
# (a URL that accepts connections but never answers would otherwise hold it for over a minute).
BACKOFF_MAX_S = 10.0
"""The longest wait between two attempts of a request, by default (a patient client)."""
CONNECT_TIMEOUT_S = 3.0
CONNECT_RETRIES = 1


class BlockHeader(TypedDict):
    """The header fields perpwatch uses: ``number`` and ``timestamp`` (Unix seconds) as ints."""

    number: int
    hash: str
    parentHash: str  # the JSON-RPC field name, kept so headers compare as sent
    timestamp: int


def _quantity(value: object, what: str) -> int:
    """A JSON-RPC quantity (``"0x1a"``) as an int. Raises ``DecodeError``."""
    if not isinstance(value, str) or not value.startswith("0x"):
        raise DecodeError(f"{what}: expected a 0x quantity, got {value!r:.80}")
    try:
        return int(value, 16)
    except ValueError:
        raise DecodeError(f"{what}: bad hex quantity {value!r:.80}") from None


def _tag(block: BlockTag) -> str:
    return hex(block) if isinstance(block, int) else block


class RpcClient:
    """Async JSON-RPC client for one chain, over one or more URLs in priority order.

    ``chain_id``: the expected chain (``None``: take the first node's). ``timeout_s``: per HTTP
    request (the TCP connect at most ``CONNECT_TIMEOUT_S``). ``max_concurrency``: HTTP requests
    in flight. ``max_retries``: extra attempts per call. ``backoff_base_s``/``backoff_max_s``:
    backoff scale and cap in seconds. ``transport``, ``sleep``, ``rng``, ``clock`` (monotonic
    seconds) are injectable for tests.
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        chain_id: int | None,
        timeout_s: float = 10,
        max_concurrency: int = 8,
        max_retries: int = 6,
        backoff_base_s: float = 0.2,
        backoff_max_s: float = BACKOFF_MAX_S,
        max_batch_size: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not urls:
            raise UserError("no RPC URL configured")
        if max_concurrency < 1 or max_batch_size < 1 or max_retries < 0:
            raise UserError("max_concurrency and max_batch_size must be >= 1, max_retries >= 0")
        self.expected_chain_id = chain_id
        self._max_batch_size = max_batch_size
        self.call_equivalents = 0
        """JSON-RPC calls asked for (each call of a batch counts, retries do not), a Multicall3
        ``aggregate3`` counted as its sub-calls (``indexer.reads.execute`` adds them): what the
        same work would cost as plain ``eth_call``s. ``stats()`` counts HTTP requests."""
        widen_body_reads()
        limits = httpx.Limits(
            max_connections=max_concurrency, max_keepalive_connections=max_concurrency
        )
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, CONNECT_TIMEOUT_S)),
            limits=limits,
            transport=transport,
            http2=False,
        )
        self._exchange = Exchange(
            self._http,
            [Endpoint(url, redact_url(url)) for url in urls],
            timeout_s=timeout_s,
            semaphore=asyncio.Semaphore(max_concurrency),
            retry=Retry(max_retries, backoff_base_s, backoff_max_s, sleep, rng, clock),
        )

    async def __aenter__(self) -> Self:
        try:
            await self.connect()
        except BaseException:
            await self.aclose()  # __aexit__ will not run when __aenter__ fails
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()

    async def connect(self) -> int:
        """Check ``eth_chainId`` on every URL; return the chain id.

        Raises ``ChainIdMismatch`` naming the (redacted) URL, expected and actual id on a
        mismatch; ``NodeUnreachable`` (a ``RetryableError``) if no URL answers within
        ``CONNECT_TIMEOUT_S`` and ``CONNECT_RETRIES``. An unreachable secondary URL is only logged
        and cooled down: failover will try it again later.
        """
        expected = self.expected_chain_id
        reachable = 0
        last_error: RetryableError | None = None
        for index, endpoint in enumerate(self._exchange.endpoints):
            try:
                results = await self._exchange.execute(
                    [Call("eth_chainId", [])],
                    pin=index,
                    max_retries=CONNECT_RETRIES,
                    timeout_s=CONNECT_TIMEOUT_S,
                )
            except RetryableError as exc:  # the transport said the URL is failing, once
                log.debug("rpc %s unreachable at connect: %s", endpoint.label, exc)
                last_error = exc
                continue
            actual = _quantity(results[0], "eth_chainId")
            if expected is None:
                expected = actual
            elif actual != expected:
                raise ChainIdMismatch(
                    f"chain id mismatch at {endpoint.label}: "
                    f"expected {expected}, node reports {actual}"
                )
            reachable += 1
        if reachable == 0 or expected is None:
            raise NodeUnreachable(f"no RPC URL answered eth_chainId: {last_error}")
        self.expected_chain_id = expected
        return expected

    @property
    def backoff_max_s(self) -> float:
        """The longest wait between two attempts of a request."""
        return self._exchange.retry_policy.max_s

    async def request(self, method: str, params: Sequence[Any] = ()) -> Any:
        """One JSON-RPC call; returns its ``result`` as decoded JSON. Raises as the module says."""
        self.call_equivalents += 1
        results = await self._exchange.execute([Call(method, list(params))])
        return results[0]

    async def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Several calls as JSON-RPC batches of at most ``max_batch_size``; results in order.

        Chunks run concurrently (bounded by ``max_concurrency``); the first error cancels the
        rest and is raised.
        """
        items = [Call(method, list(params)) for method, params in calls]
        self.call_equivalents += len(items)
        size = self._max_batch_size
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        tasks = [asyncio.ensure_future(self._exchange.execute(c, batch=True)) for c in chunks]
        try:
            done = await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
        return [result for chunk in done for result in chunk]

    async def block_number(self) -> int:
        """The answering node's head block number."""
        return _quantity(await self.request("eth_blockNumber"), "eth_blockNumber")

    async def chain_id(self) -> int:
        """``eth_chainId`` of the answering node."""
        return _quantity(await self.request("eth_chainId"), "eth_chainId")

    async def get_block_header(self, block: BlockTag) -> BlockHeader:
        """Header of ``block`` (number or tag). Raises ``BlockNotFound`` if the node lacks it."""
        result = await self.request("eth_getBlockByNumber", [_tag(block), False])
        return _header(result, block)

    async def get_block_headers(self, numbers: Sequence[int]) -> list[BlockHeader]:
        """Headers of ``numbers`` in one or a few batches, in the order given."""
        calls = [("eth_getBlockByNumber", [hex(n), False]) for n in numbers]
        results = await self.batch(calls)
        return [_header(result, n) for result, n in zip(results, numbers, strict=True)]

    async def get_logs(
        self,
        from_block: int,
        to_block: int,
        addresses: Sequence[str] = (),
        topics: Sequence[Topic] = (),
    ) -> list[dict[str, Any]]:
        """Raw logs of ``[from_block, to_block]`` (inclusive) as the node returns them.

        Caveat: an empty list proves nothing until the node's head is known to cover
        ``to_block`` (a lagging node answers ``[]``); the scanner must check.
        Raises ``RpcRangeTooLarge`` (with split advice) when the node refuses the range.
        """
        query: dict[str, Any] = {"fromBlock": hex(from_block), "toBlock": hex(to_block)}
        if addresses:
            query["address"] = list(addresses)
        if topics:
            query["topics"] = [t if t is None or isinstance(t, str) else list(t) for t in topics]
        result = await self.request("eth_getLogs", [query])
        if not isinstance(result, list):
            raise DecodeError(f"eth_getLogs: expected a list, got {type(result).__name__}")
        return result

    async def eth_call(self, to: str, data: bytes, block: BlockTag = "latest") -> bytes:
        """Return data of a read-only call. Raises ``RpcError`` (``.data`` = revert data)."""
        return _return_data(await self.request("eth_call", _call_params(to, data, _tag(block))))

    async def eth_calls(
        self, calls: Sequence[tuple[str, bytes]], block: BlockTag = "latest"
    ) -> list[bytes]:
        """Return data of several read-only ``(to, data)`` calls at one ``block``, sent as
        JSON-RPC batches (one HTTP request per ``max_batch_size`` calls, not one per call).
        Raises as :meth:`eth_call` does, for the first call that fails."""
        tag = _tag(block)
        results = await self.batch([("eth_call", _call_params(to, d, tag)) for to, d in calls])
        return [_return_data(result) for result in results]

    def stats(self) -> list[EndpointStats]:
        """Per-URL counters (requests, failures, last head seen) for stall and lag reports."""
        return self._exchange.stats()

    def take_slowest_request_s(self) -> float:
        """The longest single HTTP request since the last call, in seconds (see
        ``Exchange.slowest_s``); then start over. A monitor tick takes it to tell a slow node
        from slow work of its own."""
        return self._exchange.take_slowest()


def _call_params(to: str, data: bytes, tag: str) -> list[Any]:
    return [{"to": to, "data": "0x" + data.hex()}, tag]


def _return_data(result: object) -> bytes:
    """The bytes of an ``eth_call`` result. Raises ``DecodeError`` unless it is 0x hex."""
    if not isinstance(result, str) or not result.startswith("0x"):
        raise DecodeError(f"eth_call: expected 0x data, got {result!r:.80}")
    try:
        return bytes.fromhex(result[2:])
    except ValueError:
        raise DecodeError(f"eth_call: bad hex {result!r:.80}") from None


def _header(result: object, block: BlockTag) -> BlockHeader:
    """A header from an ``eth_getBlockByNumber`` result.

    Raises ``BlockNotFound`` for a null result, ``DecodeError`` for a malformed one.
    """
    if result is None:
        raise BlockNotFound(f"block {block} not found")
    if not isinstance(result, dict):
        raise DecodeError(f"block {block}: expected an object, got {type(result).__name__}")
    return BlockHeader(
        number=_quantity(result.get("number"), "block.number"),
        hash=str(result.get("hash")),
        parentHash=str(result.get("parentHash")),
        timestamp=_quantity(result.get("timestamp"), "block.timestamp"),
    )
