"""The HTTP side of :mod:`indexer.rpc.client`: send calls to the right URL, read the answers, retry.

:class:`Exchange` owns the per-URL health state and runs the retry loop; what counts as a
retryable fault, how long to wait and which URL is next are decided by the pure functions of
:mod:`indexer.rpc.faults` and :mod:`indexer.rpc.answers`. Only redacted URLs
(``Endpoint.label``) appear in log lines and exception messages.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx
import orjson

from indexer.errors import RetryableError
from indexer.redact import redact_text
from indexer.retry import retry_delay
from indexer.rpc.answers import Call, Redo, interpret, read_answers
from indexer.rpc.faults import pick_endpoint
from indexer.rpc.stats import EndpointStats

__all__ = ["READ_CHUNK_BYTES", "Call", "Endpoint", "Exchange", "Retry", "widen_body_reads"]

log = logging.getLogger("perpwatch.rpc")

_HEADERS = {"content-type": "application/json", "accept": "application/json"}

READ_CHUNK_BYTES = 1 << 20
"""How much of a response body one read may take. httpcore's default is 64 KiB; an
``eth_getLogs`` answer for a dense range is 10-100 MB, and each read is one pass through h11
and the event loop (asyncio hands over at most one socket read, 256 KiB, per call). Measured
here against anvil (shared machine, 40 posts each, three alternations): a 24 MB answer took
161-185 ms median (best 140 ms) instead of 176-189 ms (best 156-172 ms); a 122 MB answer
1.08-1.13 s best instead of 1.92-2.46 s."""


def widen_body_reads(chunk_bytes: int = READ_CHUNK_BYTES) -> None:
    """Let HTTP/1.1 connections read response bodies ``chunk_bytes`` at a time (process-wide:
    httpcore has no per-client setting; a larger read only returns what has arrived)."""
    if chunk_bytes > httpcore.AsyncHTTP11Connection.READ_NUM_BYTES:
        httpcore.AsyncHTTP11Connection.READ_NUM_BYTES = chunk_bytes


FAILING: set[str] = set()
"""URLs whose last request failed, across every client of the process: each starts failing
and answers again in one line each, however many attempts and clients (a monitor reconnects
every tick while its node is down) fail in between. Only logging depends on it."""


@dataclass(slots=True)
class Endpoint:
    """One node URL and its health. ``url`` holds secrets: show ``label`` instead."""

    url: str
    label: str
    requests: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    cooldown_until: float = 0.0  # clock() seconds; not chosen before unless all are cooling
    last_head: int | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class Retry:
    """Retry policy and the injected clock, sleep and jitter source."""

    max_retries: int
    base_s: float
    max_s: float
    sleep: Callable[[float], Awaitable[None]]
    rng: Callable[[], float]
    clock: Callable[[], float]


class Exchange:
    """Sends calls with retries and failover across ``endpoints`` (priority order)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        endpoints: list[Endpoint],
        *,
        timeout_s: float,
        semaphore: asyncio.Semaphore,
        retry: Retry,
    ) -> None:
        self._http = http
        self.endpoints = endpoints
        self._timeout_s = timeout_s
        self._semaphore = semaphore
        self._retry = retry
        self.slowest_s = 0.0
        """The longest single HTTP exchange since :meth:`take_slowest`: from sending to the
        whole answer read, as the event loop saw it (not the wait for a free connection; each
        attempt of a retried call apart). Mostly the node; a loop kept busy by other work
        (decoding, other chains) lengthens it too."""

    @property
    def retry_policy(self) -> Retry:
        return self._retry

    def take_slowest(self) -> float:
        """:attr:`slowest_s`, then start over from zero."""
        slowest, self.slowest_s = self.slowest_s, 0.0
        return slowest

    def stats(self) -> list[EndpointStats]:
        now = self._retry.clock()
        return [
            EndpointStats(
                e.label,
                e.requests,
                e.failures,
                e.consecutive_failures,
                e.cooldown_until > now,
                e.last_head,
                e.last_error,
            )
            for e in self.endpoints
        ]

    async def execute(
        self,
        calls: Sequence[Call],
        *,
        batch: bool = False,
        pin: int | None = None,
        max_retries: int | None = None,
        timeout_s: float | None = None,
    ) -> list[Any]:
        """Results of ``calls`` in order. ``batch``: send as a JSON-RPC array. ``pin``: use
        only that endpoint. ``max_retries``/``timeout_s`` override the client's for this call.
        Items answered before a retry are not sent again.

        Raises ``RetryableError`` once ``max_retries`` retries failed, ``RpcRangeTooLarge``
        and ``RpcError`` at once.
        """
        results: dict[int, Any] = {}
        pending = list(range(len(calls)))
        failures = 0
        retries = self._retry.max_retries if max_retries is None else max_retries
        while pending:
            endpoint = await self._choose(pin)
            sent = [calls[i] for i in pending]
            try:
                answers = await self._post(endpoint, sent, batch, timeout_s)
            except RetryableError as exc:
                failures = self._on_failure(endpoint, exc, failures, sent, retries)
                continue
            pending, fault = self._absorb(endpoint, sent, pending, answers, results)
            if fault is not None:
                failures = self._on_failure(endpoint, fault, failures, sent, retries)
        return [results[i] for i in range(len(calls))]

    async def _choose(self, pin: int | None) -> Endpoint:
        now = self._retry.clock()
        if pin is None:
            index, wait_s = pick_endpoint([e.cooldown_until for e in self.endpoints], now)
        else:
            index, wait_s = pin, max(self.endpoints[pin].cooldown_until - now, 0.0)
        if wait_s > 0:
            await self._retry.sleep(wait_s)
        return self.endpoints[index]

    def _on_failure(
        self,
        endpoint: Endpoint,
        exc: RetryableError,
        failures: int,
        sent: Sequence[Call],
        max_retries: int,
    ) -> int:
        """Record a retryable failure, cool the endpoint down; raise once retries are spent."""
        failures += 1
        endpoint.failures += 1
        endpoint.consecutive_failures += 1
        endpoint.last_error = str(exc)
        policy = self._retry
        delay_s = retry_delay(
            endpoint.consecutive_failures,
            exc.retry_after,
            base_s=policy.base_s,
            max_s=policy.max_s,
            rng_value=policy.rng(),
        )
        endpoint.cooldown_until = policy.clock() + delay_s
        what = sent[0].method if len(sent) == 1 else f"batch of {len(sent)}"
        # One line when an endpoint starts failing and one when it answers again: a node down
        # for a minute failed every attempt of every request, a warning each (90 lines).
        if endpoint.url not in FAILING:
            FAILING.add(endpoint.url)
            log.warning(
                "rpc %s failing (%s: %s); retried, cooling down, and said again when it "
                "answers",
                endpoint.label, what, exc,
            )  # fmt: skip
        else:
            log.debug(
                "rpc %s attempt %d failed at %s: %s (cooling %.2fs)",
                what, failures, endpoint.label, exc, delay_s,
            )  # fmt: skip
        if failures > max_retries:
            raise RetryableError(
                f"{what} failed after {failures} attempts; last: {exc}", exc.retry_after
            )
        return failures

    async def _post(
        self, endpoint: Endpoint, sent: Sequence[Call], batch: bool, timeout_s: float | None
    ) -> list[Any]:
        """POST ``sent``; the answer objects in ``sent`` order. Raises ``RetryableError``."""
        payload = [
            {"jsonrpc": "2.0", "id": i, "method": c.method, "params": c.params}
            for i, c in enumerate(sent)
        ]
        content = orjson.dumps(payload if batch else payload[0])
        async with self._semaphore:
            endpoint.requests += 1
            started = time.perf_counter()
            try:
                # Streamed, not ``post``: the body is joined here and the response never keeps
                # it. An httpx response sits in a reference cycle, so one holding a 10-100 MB
                # body lived until the next full garbage collection (peak RSS grew with every
                # range of a backfill).
                async with self._http.stream(
                    "POST",
                    endpoint.url,
                    content=content,
                    headers=_HEADERS,
                    timeout=httpx.USE_CLIENT_DEFAULT if timeout_s is None else timeout_s,
                ) as response:
                    body = b"".join([chunk async for chunk in response.aiter_bytes()])
            except httpx.TimeoutException as exc:
                limit_s = self._timeout_s if timeout_s is None else timeout_s
                phase = "connect" if isinstance(exc, httpx.ConnectTimeout) else "answer"
                raise RetryableError(
                    f"no {phase} within {limit_s:g}s at {endpoint.label}"
                ) from None
            except httpx.TransportError as exc:
                detail = redact_text(str(exc), [endpoint.url])
                raise RetryableError(
                    f"{type(exc).__name__} at {endpoint.label}: {detail}"
                ) from None
            finally:  # a request that failed kept perpwatch waiting too
                self.slowest_s = max(self.slowest_s, time.perf_counter() - started)
        return read_answers(
            response.status_code,
            response.headers,
            body,
            len(sent),
            batch,
            endpoint.label,
            sent[0].method,
        )

    def _absorb(
        self,
        endpoint: Endpoint,
        sent: Sequence[Call],
        pending: list[int],
        answers: list[Any],
        results: dict[int, Any],
    ) -> tuple[list[int], RetryableError | None]:
        """Store good results; return the indices to send again and why."""
        redo: list[int] = []
        fault: RetryableError | None = None
        for index, call, answer in zip(pending, sent, answers, strict=True):
            outcome = interpret(call, answer, endpoint.url, endpoint.label)
            if isinstance(outcome, Redo):
                redo.append(index)
                fault = outcome.error
            else:
                results[index] = outcome
                _note_head(endpoint, call, outcome)
        if fault is None:
            if endpoint.url in FAILING:
                FAILING.discard(endpoint.url)
                log.info("rpc %s answering again", endpoint.label)
            endpoint.consecutive_failures = 0
        return redo, fault


def _note_head(endpoint: Endpoint, call: Call, result: Any) -> None:
    """Remember the head this endpoint reported, for lag and stall reports."""
    try:
        if call.method == "eth_blockNumber":
            endpoint.last_head = int(result, 16)
        elif call.method == "eth_getBlockByNumber" and call.params[:1] == ["latest"]:
            endpoint.last_head = int(result["number"], 16)
    except (KeyError, TypeError, ValueError):
        return  # a malformed head is the typed helper's to report, not the bookkeeper's
