"""Fill a devnet with many realistic logs, fast: for scanner tests and ingestion benchmarks.

    with Anvil() as node:
        fill = fill_logs(node, artifacts, logs=10_000, logs_per_block=100)

Half the logs are GMX v2 ``EventLog1`` PositionIncrease events carrying a realistic
``EventLogData`` (the real item keys of ``PositionEventUtils.emitPositionIncrease``), emitted by
one contract standing in for the EventEmitter; half are flat Chainlink ``AnswerUpdated`` events
from another. A ``LogEmitter`` contract repeats a prepared log many times per transaction, so a
100,000-log devnet takes seconds to build; topics[2] varies per log (account, round id).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from eth_abi.abi import encode
from eth_utils.crypto import keccak

from devnet.solc import Artifact
from indexer.decode.abi import abi_entry, event_signature, topic0

EVENT_LOG_DATA = (
    "(((string,address)[],(string,address[])[]),((string,uint256)[],(string,uint256[])[]),"
    "((string,int256)[],(string,int256[])[]),((string,bool)[],(string,bool[])[]),"
    "((string,bytes32)[],(string,bytes32[])[]),((string,bytes)[],(string,bytes[])[]),"
    "((string,string)[],(string,string[])[]))"
)
"""GMX v2 ``EventLogData``'s canonical ABI type (7 groups of items and array items)."""
_EMIT3 = keccak(text="emit3(bytes,bytes32,bytes32,uint256,uint256)")[:4]
# Logs one transaction emits at most: 29M gas holds about 1,000 GMX-style logs; denser blocks
# carry several transactions.
LOGS_PER_TX = 500
# First account number used in topics[2] of the GMX-style logs (an address, left-padded).
_ACCOUNT_BASE = 0x1000000000000000000000000000000000000000


class Node(Protocol):
    """The part of :class:`devnet.chain.Anvil` this module uses."""

    @property
    def accounts(self) -> list[str]: ...

    def request(self, method: str, params: Any = ()) -> Any: ...


@dataclass(frozen=True, slots=True)
class FilledLogs:
    """What :func:`fill_logs` built: emitting addresses, topic0s and the block span."""

    event_emitter: str
    aggregator: str
    topic0s: tuple[str, str]
    logs: int
    first_block: int
    last_block: int


def event_log_data(
    addresses: Mapping[str, str] = {},
    uints: Mapping[str, int] = {},
    ints: Mapping[str, int] = {},
    bools: Mapping[str, bool] = {},
    bytes32s: Mapping[str, bytes] = {},
) -> tuple[Any, ...]:
    """A GMX ``EventLogData`` value (no array items, no bytes/string items) for ``eth_abi``."""

    def group(items: Mapping[str, Any]) -> tuple[list[tuple[str, Any]], list[Any]]:
        return (list(items.items()), [])

    return (
        group(addresses),
        group(uints),
        group(ints),
        group(bools),
        group(bytes32s),
        ([], []),
        ([], []),
    )


def position_increase_data(account: str, market: str, collateral_token: str) -> bytes:
    """ABI data (non-indexed part) of a realistic GMX v2 PositionIncrease ``EventLog1``."""
    size_usd_e30 = 10_000 * 10**30
    data = event_log_data(
        addresses={"account": account, "market": market, "collateralToken": collateral_token},
        uints={
            "sizeInUsd": size_usd_e30,
            "sizeInTokens": 4 * 10**18,
            "collateralAmount": 1_000 * 10**6,
            "pendingImpactAmount": 0,
            "borrowingFactor": 123_456_789 * 10**18,
            "fundingFeeAmountPerSize": 987_654 * 10**12,
            "longTokenClaimableFundingAmountPerSize": 0,
            "shortTokenClaimableFundingAmountPerSize": 55 * 10**10,
            "executionPrice": 2_500 * 10**12,
            "indexTokenPrice.max": 2_500 * 10**12,
            "indexTokenPrice.min": 2_499 * 10**12,
            "collateralTokenPrice.max": 10**24,
            "collateralTokenPrice.min": 10**24,
            "sizeDeltaUsd": size_usd_e30,
            "sizeDeltaInTokens": 4 * 10**18,
            "orderType": 2,
            "increasedAtTime": 1_764_000_000,
        },
        ints={
            "collateralDeltaAmount": 1_000 * 10**6,
            "priceImpactUsd": -3 * 10**29,
            "priceImpactAmount": -12 * 10**13,
        },
        bools={"isLong": True},
        bytes32s={"orderKey": keccak(b"order"), "positionKey": keccak(b"position")},
    )
    return encode(["address", "string", EVENT_LOG_DATA], [account, "PositionIncrease", data])


def _topic0(abi_path: str, event: str) -> bytes:
    return topic0(event_signature(abi_entry(abi_path, event, "event")))


def _send(node: Node, to: str | None, data: bytes) -> dict[str, Any]:
    tx: dict[str, Any] = {
        "from": node.accounts[0],
        "data": "0x" + data.hex(),
        "gas": hex(29_000_000),
    }
    if to is not None:
        tx["to"] = to
    tx_hash = node.request("eth_sendTransaction", [tx])
    receipt: dict[str, Any] | None = None
    for _ in range(200):  # automine answers before the receipt is always queryable
        receipt = node.request("eth_getTransactionReceipt", [tx_hash])
        if receipt is not None:
            break
        time.sleep(0.01)
    if receipt is None or receipt.get("status") != "0x1":
        raise RuntimeError(f"transaction {tx_hash} failed: {receipt}")
    return receipt


def _send_block(node: Node, target: str, args: list[Any], count: int) -> None:
    """One block of ``count`` logs ``emit3(*args)`` from ``target``: one transaction, or (past
    what one transaction's gas holds) several mined together in one block."""
    if count <= LOGS_PER_TX:
        _send(node, target, _emit3(args, count))
        return
    node.request("evm_setAutomine", [False])
    try:
        hashes = []
        for first in range(0, count, LOGS_PER_TX):
            part = min(LOGS_PER_TX, count - first)
            tx = {
                "from": node.accounts[0],
                "to": target,
                "data": "0x" + _emit3([*args[:3], args[3] + first], part).hex(),
                "gas": hex(29_000_000),
            }
            hashes.append(node.request("eth_sendTransaction", [tx]))
        node.request("evm_mine")
    finally:
        node.request("evm_setAutomine", [True])
    blocks = set()
    for tx_hash in hashes:
        receipt = node.request("eth_getTransactionReceipt", [tx_hash])
        if receipt is None or receipt.get("status") != "0x1":
            raise RuntimeError(f"transaction {tx_hash} failed: {receipt}")
        blocks.add(receipt["blockNumber"])
    if len(blocks) != 1:
        raise RuntimeError(f"one block's transactions landed in {len(blocks)} blocks")


def _emit3(args: list[Any], count: int) -> bytes:
    return _EMIT3 + encode(
        ["bytes", "bytes32", "bytes32", "uint256", "uint256"], [*args[:4], count]
    )


def _deploy(node: Node, artifact: Artifact) -> str:
    address: str = _send(node, None, artifact.bytecode)["contractAddress"]
    return address


def fill_logs(
    node: Node, artifacts: Mapping[str, Artifact], *, logs: int, logs_per_block: int = 100
) -> FilledLogs:
    """Emit ``logs`` logs (half GMX-style, half flat) in blocks of ``logs_per_block``, each
    block one shape (alternating). Blocks denser than :data:`LOGS_PER_TX` take several
    transactions, mined together (the node needs a block gas limit above 29M per 500 logs)."""
    emitter = _deploy(node, artifacts["LogEmitter"])
    aggregator = _deploy(node, artifacts["LogEmitter"])
    gmx_topic0 = _topic0("gmx_v2/EventEmitter.json", "EventLog1")
    answer_topic0 = _topic0("chainlink/AggregatorInterface.json", "AnswerUpdated")
    gmx_data = position_increase_data(
        "0x" + "11" * 20, "0x70d95587d40a2caf56bd97485ab3eec10bee6336", "0x" + "af" * 20
    )
    answer_data = encode(["uint256"], [1_764_000_000])
    first = int(node.request("eth_blockNumber"), 16) + 1
    emitted, block = 0, 0
    while emitted < logs:
        count = min(logs_per_block, logs - emitted)
        if block % 2 == 0:
            args = [gmx_data, gmx_topic0, keccak(text="PositionIncrease"), _ACCOUNT_BASE + emitted]
            target = emitter
        else:
            args = [answer_data, answer_topic0, (2_500 * 10**8).to_bytes(32, "big"), emitted]
            target = aggregator
        _send_block(node, target, args, count)
        emitted += count
        block += 1
    last = int(node.request("eth_blockNumber"), 16)
    return FilledLogs(
        emitter,
        aggregator,
        ("0x" + gmx_topic0.hex(), "0x" + answer_topic0.hex()),
        emitted,
        first,
        last,
    )
