"""anvil's development JSON-RPC methods (``anvil_*``, ``evm_*``) over a synchronous httpx client.

    rpc = DevRpc("http://127.0.0.1:8545")      # an anvil started elsewhere
    snapshot_id = rpc.snapshot()
    rpc.increase_time(3600)
    rpc.revert(snapshot_id)

``devnet.chain.Anvil`` extends this class with the node's lifecycle. Quantities travel as 0x-hex
and come back as ints; times are in seconds, amounts in wei. This is a test tool: perpwatch's own
node client, with batching and retries, is ``indexer.rpc.client``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from eth_utils.address import to_checksum_address

from indexer.errors import PerpwatchError

ReorgTx = tuple[Mapping[str, Any] | str, int]
"""A transaction (request dict, or signed raw transaction in hex) and its new block's offset."""


class AnvilError(PerpwatchError):
    """anvil failed to start, exited early, refused a request, or was used while not running."""


class AnvilRpcError(AnvilError):
    """anvil answered a JSON-RPC request with an error object."""

    def __init__(self, method: str, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{method}: {message} (code {code})")
        self.method = method
        self.code = code
        self.rpc_message = message
        self.data = data


class DevRpc:
    """anvil's dev methods for one endpoint; ``close()`` releases the HTTP connection."""

    def __init__(self, url: str | None = None, *, timeout_s: float = 30.0) -> None:
        self._url = url
        self._timeout_s = timeout_s
        self._client: httpx.Client | None = None
        self._accounts: list[str] | None = None
        self._ids = itertools.count(1)

    @property
    def rpc_url(self) -> str:
        if self._url is None:
            raise AnvilError("anvil is not running: use `with Anvil() as chain:` or start()")
        return self._url

    @property
    def ws_url(self) -> str:
        """The same node's WebSocket endpoint (anvil serves both on one port)."""
        return "ws" + self.rpc_url.removeprefix("http")

    def close(self) -> None:
        self.close_connection()
        self._accounts = None

    def request(self, method: str, params: Sequence[Any] = ()) -> Any:
        """Send one JSON-RPC request; returns its ``result``.

        Raises ``AnvilRpcError`` for an error answer, ``httpx.HTTPError`` for transport faults.
        """
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        return _result(method, self._post(body))

    def request_batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Send ``calls`` (method, params) as one JSON-RPC batch; their results, in order.

        Raises ``AnvilRpcError`` for the first error answer, ``httpx.HTTPError`` for transport
        faults."""
        if not calls:
            return []
        ids = [next(self._ids) for _ in calls]
        body = [
            {"jsonrpc": "2.0", "id": i, "method": method, "params": list(params)}
            for i, (method, params) in zip(ids, calls, strict=True)
        ]
        answers = self._post(body)
        if isinstance(answers, Mapping):  # the batch as a whole refused (anvil caps its size)
            _result(f"a batch of {len(calls)} calls", answers)
            raise AnvilRpcError(f"a batch of {len(calls)} calls", 0, "no answer per call")
        by_id: dict[int, Mapping[str, Any]] = {a["id"]: a for a in answers}
        return [_result(method, by_id[i]) for i, (method, _) in zip(ids, calls, strict=True)]

    def _post(self, body: Any) -> Any:
        url = self.rpc_url
        for attempt in range(2):
            if self._client is None:
                self._client = httpx.Client(timeout=self._timeout_s)
            try:
                response = self._client.post(url, json=body)
                break
            except httpx.RemoteProtocolError:
                # anvil closes a connection after refusing a body (a batch too large): a
                # request sent on it as it closed is dropped unanswered. Once more, on a new one.
                self.close_connection()
                if attempt:
                    raise
        response.raise_for_status()
        return response.json()

    def close_connection(self) -> None:
        """Drop the pooled HTTP connection; the next request opens a new one."""
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def accounts(self) -> list[str]:
        """The unlocked dev accounts (checksummed), as ``eth_accounts`` lists them."""
        if self._accounts is None:
            self._accounts = [to_checksum_address(a) for a in self.request("eth_accounts")]
        return list(self._accounts)

    def block_number(self) -> int:
        return int(self.request("eth_blockNumber"), 16)

    def block(self, number: int | str = "latest") -> dict[str, Any]:
        """``eth_getBlockByNumber`` without full transactions; ``number`` is an int or a tag.

        Raises ``AnvilError`` if there is no such block.
        """
        tag = hex(number) if isinstance(number, int) else number
        block: dict[str, Any] | None = self.request("eth_getBlockByNumber", [tag, False])
        if block is None:
            raise AnvilError(f"no block {number}")
        return block

    def mine(self, n: int = 1) -> None:
        """Mine ``n`` blocks (holding any pending transactions)."""
        self.request("anvil_mine", [hex(n)])

    def increase_time(self, seconds: int) -> int:
        """Move the chain clock forward and mine one block; returns its timestamp (seconds).

        The block is mined so that ``eth_call`` at ``latest`` sees the new time at once.
        """
        self.request("evm_increaseTime", [seconds])
        self.mine()
        return int(self.block()["timestamp"], 16)

    def set_code(self, address: str, code: bytes | str) -> None:
        """Replace the runtime code at ``address`` (bytes, or hex with or without 0x)."""
        self.request("anvil_setCode", [address, _hex(code)])

    def set_balance(self, address: str, wei: int) -> None:
        self.request("anvil_setBalance", [address, hex(wei)])

    def snapshot(self) -> str:
        """Save the chain state; returns the id to pass to ``revert``."""
        return str(self.request("evm_snapshot"))

    def revert(self, snapshot_id: str) -> None:
        """Return to a snapshot. anvil consumes it (and later ones): snapshot again to reuse.

        Raises ``AnvilError`` if anvil does not know the id.
        """
        if self.request("evm_revert", [snapshot_id]) is not True:
            raise AnvilError(f"anvil has no snapshot {snapshot_id} (already reverted?)")

    def reorg(self, depth: int, txs: Sequence[ReorgTx] = ()) -> None:
        """Replace the last ``depth`` blocks (``anvil_reorg``); the head keeps its height.

        Each of ``txs`` goes into the new block at its offset, 0 being the lowest replaced
        height. Raises ``AnvilRpcError`` if ``depth`` exceeds the chain.
        """
        self.request("anvil_reorg", [depth, [[tx, offset] for tx, offset in txs]])


def _result(method: str, answer: Mapping[str, Any]) -> Any:
    error = answer.get("error")
    if error is not None:
        code, message = error.get("code", 0), error.get("message", "")
        raise AnvilRpcError(method, code, message, error.get("data"))
    return answer.get("result")


def _hex(code: bytes | str) -> str:
    if isinstance(code, bytes):
        return "0x" + code.hex()
    return code if code.startswith("0x") else "0x" + code
