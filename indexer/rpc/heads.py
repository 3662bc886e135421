"""A chain's new heads as its node pushes them: ``eth_subscribe("newHeads")`` over a
WebSocket, in place of polling ``eth_blockNumber``.

    heads = HeadSubscription("wss://arb.example/ws/KEY")
    heads.start()                            # connects in the background, reconnects itself
    if heads.fresh(now, block_time_s):
        head = heads.head                    # no request
    await heads.close()

A monitor that polls the head pays requests every block whether a block came or not: about six
a block at 1 s blocks as ``monitor.runtime.head_pacing`` paces them (a third of all its
requests on the 20,000-account devnet), twenty a second at 0.25 s blocks. A pushed head costs
no request and arrives when the block does. The subscription only ever saves work: while it
is down, refused or silent (a node whose WebSocket stalled while its HTTP still answers), the
monitor polls as it would without it. Going up and going down are logged once each (the URL
redacted), however many attempts fail in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from indexer.redact import redact_text, redact_url

log = logging.getLogger("perpwatch.rpc")

OPEN_TIMEOUT_S = 5.0
"""How long opening the WebSocket and the subscription's answer may take."""
RECONNECT_MIN_S = 1.0
RECONNECT_MAX_S = 30.0
"""Waits between attempts after a failure: doubling from the first to the second."""
SILENT_BLOCKS = 2.0
"""The subscription is trusted while its last head came within this many block times: a
chain one block late is still polled at once (as without a subscription), a stalled one at
the pacer's slow rate."""
MAX_MESSAGE_BYTES = 1 << 20
"""A header is about 2 KB; anything far larger is not one."""

_CHAIN_ID = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
_SUBSCRIBE = json.dumps(
    {"jsonrpc": "2.0", "id": 2, "method": "eth_subscribe", "params": ["newHeads"]}
)


class SubscriptionRefused(ValueError):
    """The node answered ``eth_subscribe`` with an error (or with something else)."""


class HeadSubscription:
    """See the module docstring. ``head`` is -1 until the first push; ``seen_at`` is when the
    last head came (``monotonic`` seconds)."""

    def __init__(
        self,
        url: str,
        *,
        chain_id: int | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        reconnect_min_s: float = RECONNECT_MIN_S,
        reconnect_max_s: float = RECONNECT_MAX_S,
    ) -> None:
        self.url, self.label = url, redact_url(url)
        self.chain_id = chain_id
        """Checked before subscribing (None: not checked): heads of another chain would have
        the monitor scan to blocks its node does not have."""
        self.monotonic, self.sleep = monotonic, sleep
        self.reconnect_min_s, self.reconnect_max_s = reconnect_min_s, reconnect_max_s
        self.head = -1
        self.seen_at = -math.inf
        self.connected = False
        """Subscribed, and the connection has not failed since."""
        self.pushes = 0
        """Heads pushed since the start (every connection)."""
        # What was last said: a failure (each is said once), None once up ("" before either).
        self._problem: str | None = ""
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Connect in the background on the running loop (again if the loop it ran on is
        gone: each ``asyncio.run`` of a script or test has its own)."""
        loop = asyncio.get_running_loop()
        if self._task is not None and not self._task.done() and self._task.get_loop() is loop:
            return
        self.connected = False
        self._task = loop.create_task(self._run(), name=f"heads {self.label}")

    def fresh(self, now: float, block_time_s: float) -> bool:
        """Whether ``head`` can stand in for a poll at ``now``: subscribed, and a head came
        within ``SILENT_BLOCKS`` block times."""
        return (
            self.connected
            and self.head >= 0
            and now - self.seen_at <= (SILENT_BLOCKS * block_time_s)
        )

    async def close(self) -> None:
        """Stop and disconnect."""
        task, self._task = self._task, None
        self.connected = False
        if task is None or task.done():
            return
        if task.get_loop() is not asyncio.get_running_loop():
            return  # its loop is gone, and the connection with it
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        delay = self.reconnect_min_s
        while True:
            try:
                async with connect(
                    self.url, open_timeout=OPEN_TIMEOUT_S, max_size=MAX_MESSAGE_BYTES
                ) as ws:
                    await self._subscribe(ws)
                    delay = self.reconnect_min_s
                    async for message in ws:
                        self._saw(message)
                problem = "the node closed the connection"
            except (OSError, TimeoutError, WebSocketException, ValueError) as exc:
                problem = redact_text(f"{type(exc).__name__}: {exc}", [self.url])
            finally:
                self.connected = False
            # Once per outage (a node that went away first drops the connection, then refuses
            # the next ones: one story, one line).
            if not self._problem:
                log.warning(
                    "head subscription at %s down, the head is polled meanwhile: %s",
                    self.label, problem,
                )  # fmt: skip
            elif problem != self._problem:
                log.debug("head subscription at %s still down: %s", self.label, problem)
            self._problem = problem
            await self.sleep(delay)
            delay = min(delay * 2, self.reconnect_max_s)

    async def _subscribe(self, ws: ClientConnection) -> None:
        if self.chain_id is not None:
            result = (await _ask(ws, _CHAIN_ID)).get("result")
            actual = int(result, 16) if isinstance(result, str) else None
            if actual != self.chain_id:
                raise SubscriptionRefused(
                    f"chain id mismatch: expected {self.chain_id}, node reports {actual}"
                )
        answer = await _ask(ws, _SUBSCRIBE)
        if not isinstance(answer.get("result"), str):
            error = answer.get("error")
            raise SubscriptionRefused(f"eth_subscribe newHeads refused: {error or answer}")
        self.connected = True
        if self._problem is not None:
            log.info("head subscription at %s up: new heads are pushed, not polled", self.label)
            self._problem = None

    def _saw(self, message: str | bytes) -> None:
        """Take a pushed header's number (anything else on the connection is ignored)."""
        params = _json(message).get("params")
        result = params.get("result") if isinstance(params, dict) else None
        number = result.get("number") if isinstance(result, dict) else None
        if not isinstance(number, str):
            return
        self.head, self.seen_at = int(number, 16), self.monotonic()  # lower too: a reorg
        self.pushes += 1


async def _ask(ws: ClientConnection, request: str) -> dict[str, Any]:
    """Send ``request`` and take the next message as its answer (nothing else is pushed
    before a subscription exists)."""
    await ws.send(request)
    async with asyncio.timeout(OPEN_TIMEOUT_S):
        return _json(await ws.recv())


def _json(message: str | bytes) -> dict[str, Any]:
    value = json.loads(message)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value
