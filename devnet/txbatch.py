"""Many devnet transactions sent as one JSON-RPC batch and mined into one block.

    with TxBatch(devnet) as batch:                      # automine off until the block exits
        batch.add(gmx.increase_call(trader, "ETH/USD", "USDC", True, amount_raw, size_e30))
        batch.add(hl.deposit_call(user, "5000"))         # mined, and checked, every per_block
                                                         # transactions and on exit

Building a world one automined transaction at a time costs a block, a gas estimate and a receipt
poll per action (about 0.1 s each); at tens of thousands of accounts that is most of an hour.
Here each transaction carries an explicit nonce and gas limit, so nothing is estimated, and a
block holds ``per_block`` of them. The state is the one the same transactions sent one by one
give: one sender, consecutive nonces, so they execute in the order they were added. Every
receipt is checked: a reverted transaction raises, as ``transact`` does. Dev account 0 sends.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from web3.contract.contract import ContractFunction

from devnet.deploy import Devnet, TransactionReverted, calldata

GAS_PER_TX = 2_000_000
"""Each transaction's gas limit: above any single open of the simulators (a few hundred
thousand). Blocks are packed by gas limit, so the block gas limit is raised while batching."""
PER_BLOCK = 400
"""Transactions per block (and per JSON-RPC batch)."""


class TxBatch:
    """Collect contract calls as transactions; see the module docstring."""

    def __init__(self, devnet: Devnet, *, per_block: int = PER_BLOCK) -> None:
        self.devnet, self.per_block = devnet, per_block
        self.sender = devnet.anvil.accounts[0]
        self.sent = 0
        self._pending: list[tuple[str, str, str]] = []  # (to, calldata, label)
        self._nonce = 0
        self._gas_limit = 0

    def __enter__(self) -> Self:
        anvil = self.devnet.anvil
        self._nonce = int(anvil.request("eth_getTransactionCount", [self.sender, "pending"]), 16)
        self._gas_limit = int(anvil.block()["gasLimit"], 16)
        anvil.request("evm_setAutomine", [False])
        anvil.request("evm_setBlockGasLimit", [hex(GAS_PER_TX * self.per_block)])
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        anvil = self.devnet.anvil
        try:
            if exc_type is None:
                self.flush()
        finally:
            anvil.request("evm_setBlockGasLimit", [hex(self._gas_limit)])
            # An empty block with the old limit, so that reads at ``latest`` see it again.
            anvil.request("evm_mine")
            anvil.request("evm_setAutomine", [True])

    def add(self, fn: ContractFunction) -> None:
        """Queue ``fn`` as a transaction; a full block's worth is sent and mined at once."""
        self._pending.append((str(fn.address), calldata(fn), fn.fn_name))
        if len(self._pending) >= self.per_block:
            self.flush()

    def flush(self) -> None:
        """Send the queued transactions, mine them into one block and check every receipt.

        Raises ``TransactionReverted`` naming the first that reverted or was left out."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        anvil = self.devnet.anvil
        hashes = _send_all(self.devnet, [(to, data) for to, data, _ in pending], self._nonce)
        self._nonce += len(pending)
        anvil.request("evm_mine")
        receipts = anvil.request_batch([("eth_getTransactionReceipt", [h]) for h in hashes])
        for (_, _, label), tx_hash, receipt in zip(pending, hashes, receipts, strict=True):
            if receipt is None:
                raise TransactionReverted(f"{label} was not mined (tx {tx_hash})")
            if int(receipt["status"], 16) != 1:
                raise TransactionReverted(f"{label} reverted on chain (tx {tx_hash})")
        self.sent += len(pending)


def _send_all(devnet: Devnet, calls: Sequence[tuple[str, str]], nonce: int) -> list[str]:
    """Send ``(to, calldata)`` transactions from dev account 0 as one JSON-RPC batch, with
    consecutive nonces from ``nonce`` and an explicit gas limit (nothing estimated); their
    hashes."""
    sender = devnet.anvil.accounts[0]
    requests: list[tuple[str, list[Any]]] = [
        ("eth_sendTransaction", [{"from": sender, "to": to, "data": data,
                                  "gas": hex(GAS_PER_TX), "nonce": hex(nonce + i)}])
        for i, (to, data) in enumerate(calls)
    ]  # fmt: skip
    return list(devnet.anvil.request_batch(requests))


RECEIPTS_PER_REQUEST = 500
"""Receipts asked per JSON-RPC batch in :func:`send_pipelined`: a crash's keeper pass at 20,000
accounts sends thousands of liquidations, and their receipts (GMX's with several logs each)
came back as one answer of megabytes; anvil once reset the connection during such a wait."""


def send_pipelined(
    devnet: Devnet, calls: Sequence[ContractFunction], *, timeout_s: float = 120.0
) -> list[int | None]:
    """On a chain that mines by itself (interval mining): send ``calls`` at once and wait until
    the chain has mined every one; per call, the block that mined it, or None if it reverted
    (what a revert means is the caller's to say).

    ``transact`` waits for each receipt before the next send, a block time apiece on such a
    chain; a keeper's pass of a hundred liquidations took minutes.

    Raises ``TimeoutError`` if a transaction is not mined within ``timeout_s``.
    """
    if not calls:
        return []
    anvil = devnet.anvil
    nonce = int(anvil.request("eth_getTransactionCount", [anvil.accounts[0], "pending"]), 16)
    hashes = _send_all(devnet, [(str(fn.address), calldata(fn)) for fn in calls], nonce)
    receipts: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout_s
    while len(receipts) < len(hashes):
        waiting = [h for h in hashes if h not in receipts]
        for start in range(0, len(waiting), RECEIPTS_PER_REQUEST):
            chunk = waiting[start : start + RECEIPTS_PER_REQUEST]
            found = anvil.request_batch([("eth_getTransactionReceipt", [h]) for h in chunk])
            receipts.update((h, r) for h, r in zip(chunk, found, strict=True) if r is not None)
        if len(receipts) < len(hashes):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(hashes) - len(receipts)} transactions not mined")
            time.sleep(0.05)
    return [
        int(r["blockNumber"], 16) if int(r["status"], 16) == 1 else None
        for r in (receipts[h] for h in hashes)
    ]
