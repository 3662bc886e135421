"""Deploy compiled contracts on a devnet, call and transact, and install Multicall3.

    with start_devnet() as dev:                       # anvil + Multicall3 at its canonical address
        counter = dev.deploy("Counter", 5)
        transact(counter.functions.add(2))
        assert call(counter.functions.count()) == 7

web3.py is used here because this is a development tool; perpwatch's own node access lives in
``indexer.rpc.client``. Senders default to anvil's first unlocked dev account; amounts are in wei.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError
from web3.types import BlockIdentifier, TxParams, TxReceipt, Wei

from devnet.chain import Anvil
from devnet.devrpc import AnvilError, DevRpc
from devnet.solc import Artifact, compile_contracts
from indexer.errors import PerpwatchError
from indexer.reads.multicall import Call3, decode_aggregate3, encode_aggregate3

MULTICALL3_ADDRESS = Web3.to_checksum_address("0xcA11bde05977b3631167028862bE2a173976CA11")


class TransactionReverted(PerpwatchError):
    """A devnet transaction or call reverted; ``data`` is the revert data (hex), if known."""

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.data = data


@dataclass(frozen=True, slots=True)
class Devnet:
    """A running anvil with Multicall3 installed, a web3 client and the compiled artifacts."""

    anvil: Anvil
    w3: Web3
    artifacts: Mapping[str, Artifact]

    def deploy(
        self, name: str, *args: Any, sender: str | None = None, value_wei: int = 0
    ) -> Contract:
        """Deploy the artifact called ``name`` with constructor ``args``."""
        return deploy(self.w3, self.artifacts[name], *args, sender=sender, value_wei=value_wei)

    def at(self, name: str, address: str) -> Contract:
        """The artifact called ``name`` bound to an existing ``address``."""
        return contract_at(self.w3, self.artifacts[name], address)

    @property
    def multicall3(self) -> Contract:
        return self.at("Multicall3", MULTICALL3_ADDRESS)


def connect(node: DevRpc) -> Web3:
    """A web3 client for ``node`` whose default sender is the first dev account.

    One client per URL is kept (the last few), so passing an ``Anvil`` where a ``Web3`` is
    expected costs nothing after the first call.
    """
    return _web3_for(node.rpc_url, node.accounts[0])


@functools.lru_cache(maxsize=8)
def _web3_for(rpc_url: str, default_account: str) -> Web3:
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
    w3.eth.default_account = Web3.to_checksum_address(default_account)
    return w3


def _web3(chain: Web3 | DevRpc) -> Web3:
    return chain if isinstance(chain, Web3) else connect(chain)


def contract_at(chain: Web3 | DevRpc, artifact: Artifact, address: str) -> Contract:
    """``artifact``'s ABI bound to ``address`` (any case of hex)."""
    address = Web3.to_checksum_address(address)
    return _web3(chain).eth.contract(address=address, abi=artifact.abi)


def deploy(
    chain: Web3 | DevRpc,
    artifact: Artifact,
    *args: Any,
    sender: str | None = None,
    value_wei: int = 0,
) -> Contract:
    """Deploy ``artifact`` with constructor ``args`` on ``chain`` (an ``Anvil`` or a ``Web3``).

    Waits for the receipt. Raises ``TransactionReverted`` if the constructor reverts,
    ``ValueError`` if the artifact has no creation code (an interface or abstract contract).
    """
    w3 = _web3(chain)
    if not artifact.bytecode:
        raise ValueError(f"{artifact.name} has no bytecode (interface or abstract contract?)")
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = _send(w3, factory.constructor(*args), _tx_params(sender, value_wei), artifact.name)
    address = receipt["contractAddress"]
    if address is None:
        raise TransactionReverted(f"deploying {artifact.name} created no contract")
    return contract_at(w3, artifact, address)


def transact(fn: ContractFunction, *, sender: str | None = None, value_wei: int = 0) -> TxReceipt:
    """Send ``fn`` as a transaction and wait for its receipt.

    Raises ``TransactionReverted`` (with the revert data) if it reverts.
    """
    return _send(fn.w3, fn, _tx_params(sender, value_wei), fn.fn_name)


def call(
    fn: ContractFunction, *, block: BlockIdentifier = "latest", sender: str | None = None
) -> Any:
    """``eth_call`` ``fn`` at ``block``; returns the decoded result.

    Raises ``TransactionReverted`` (with the revert data) if the call reverts.
    """
    try:
        return fn.call(_tx_params(sender, 0), block_identifier=block)
    except ContractLogicError as exc:
        raise TransactionReverted(f"{fn.fn_name} reverted: {exc.message}", exc.data) from exc


@functools.lru_cache(maxsize=256)
def _selector(signature: str) -> bytes:
    return bytes(keccak(text=signature)[:4])


def calldata(fn: ContractFunction) -> str:
    """``fn``'s calldata in hex, as web3 encodes it (ten times faster than its own encoder:
    the normalised arguments are encoded directly)."""
    return "0x" + _calldata_bytes(fn).hex()


def call3(fn: ContractFunction) -> Call3:
    """``fn`` as a Multicall3 sub-call (for :func:`call_many` and :func:`dry_run`)."""
    return Call3(str(fn.address), _calldata_bytes(fn))


def _calldata_bytes(fn: ContractFunction) -> bytes:
    return _selector(fn.signature) + encode(fn.argument_types, fn.arguments)


DRY_RUN_CALLS_PER_REQUEST = 10
"""``eth_call``s per JSON-RPC batch in :func:`dry_run` (about half a megabyte at 100 checks
each; anvil answered "Invalid request" to a 4 MB body)."""


def dry_run(devnet: Devnet, calls: Sequence[Call3], per_call: int) -> list[bool]:
    """Whether each of ``calls`` would succeed now (:func:`call_many`)."""
    return [ok for ok, _ in call_many(devnet, calls, per_call)]


def call_many(devnet: Devnet, calls: Sequence[Call3], per_call: int) -> list[tuple[bool, bytes]]:
    """Each of ``calls``' (success, return data) now: Multicall3 ``aggregate3`` at ``latest``,
    ``per_call`` sub-calls per ``eth_call`` (one is capped at the block gas limit).

    Raises ``AnvilRpcError`` if an ``eth_call`` fails as a whole."""
    requests: list[tuple[str, list[Any]]] = [
        ("eth_call", [{"to": MULTICALL3_ADDRESS,
                       "data": "0x" + encode_aggregate3(calls[start : start + per_call]).hex()},
                      "latest"])
        for start in range(0, len(calls), per_call)
    ]  # fmt: skip
    # A few calls per HTTP request: a keeper's pass over 20,000 positions is 200 calls, and
    # anvil refuses a request body of a few megabytes.
    answers = [
        answer
        for start in range(0, len(requests), DRY_RUN_CALLS_PER_REQUEST)
        for answer in devnet.anvil.request_batch(
            requests[start : start + DRY_RUN_CALLS_PER_REQUEST]
        )
    ]
    return [result for ret in answers for result in decode_aggregate3(bytes.fromhex(ret[2:]))]


def install_multicall3(anvil: DevRpc, artifacts: Mapping[str, Artifact] | None = None) -> str:
    """Put perpwatch's Multicall3 runtime code at the canonical address; returns the address.

    The contract has no constructor and no immutables, so its runtime code is all there is to
    install. Raises ``AnvilError`` if the code read back differs.
    """
    artifact = (artifacts if artifacts is not None else compile_contracts())["Multicall3"]
    anvil.set_code(MULTICALL3_ADDRESS, artifact.deployed_bytecode)
    code = anvil.request("eth_getCode", [MULTICALL3_ADDRESS, "latest"])
    if code != "0x" + artifact.deployed_bytecode.hex():
        raise AnvilError(f"Multicall3 code at {MULTICALL3_ADDRESS} did not stick")
    return MULTICALL3_ADDRESS


@contextmanager
def start_devnet(
    *, artifacts: Mapping[str, Artifact] | None = None, **anvil_options: Any
) -> Iterator[Devnet]:
    """Start anvil (``anvil_options`` go to ``Anvil``), install Multicall3, yield a ``Devnet``.

    The contracts are compiled (or read from the cache) before anvil starts; the node stops
    when the block exits, whatever the reason.
    """
    artifacts = artifacts if artifacts is not None else compile_contracts()
    with Anvil(**anvil_options) as anvil:
        install_multicall3(anvil, artifacts)
        yield Devnet(anvil=anvil, w3=connect(anvil), artifacts=artifacts)


def _tx_params(sender: str | None, value_wei: int) -> TxParams:
    params: TxParams = {"value": Wei(value_wei)}
    if sender is not None:
        params["from"] = Web3.to_checksum_address(sender)
    return params


def _send(w3: Web3, fn: Any, params: TxParams, label: str) -> TxReceipt:
    # web3 estimates gas first, so most reverts surface here as ContractLogicError.
    try:
        tx_hash = fn.transact(params)
    except ContractLogicError as exc:
        raise TransactionReverted(f"{label} reverted: {exc.message}", exc.data) from exc
    # Anvil mines on send; poll quickly (web3's default 0.1 s latency dominated devnet setup).
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.005)
    if receipt["status"] != 1:
        raise TransactionReverted(f"{label} reverted on chain (tx {tx_hash.hex()})")
    return receipt
