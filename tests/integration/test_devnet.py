"""The devnet itself: anvil's lifecycle, solc compile and cache, deploy, Multicall3, dev RPCs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import decode, encode
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.crypto import keccak
from hypothesis import given
from hypothesis import strategies as st

from devnet import chain as chain_module
from devnet.chain import Anvil, AnvilError, AnvilRpcError, build_command, parse_port
from devnet.deploy import (
    MULTICALL3_ADDRESS,
    Devnet,
    TransactionReverted,
    call,
    deploy,
    transact,
)
from devnet.devrpc import DevRpc
from devnet.solc import (
    CONTRACTS_DIR,
    SOLC_DIR,
    Artifact,
    SolcError,
    cache_key,
    compile_contracts,
    run_solcjs,
)
from indexer.errors import UserError

pytestmark = pytest.mark.chain

REPO_ROOT = Path(__file__).resolve().parents[2]
AGGREGATE3 = bytes.fromhex("82ad56cb")

# The canonical Multicall3's selectors (mds1/multicall3 ABI).
MULTICALL3_SELECTORS = {
    "aggregate": "252dba42",
    "aggregate3": "82ad56cb",
    "aggregate3Value": "174dea71",
    "blockAndAggregate": "c3077fa9",
    "getBasefee": "3e64a696",
    "getBlockHash": "ee82ac5e",
    "getBlockNumber": "42cbb15c",
    "getChainId": "3408e470",
    "getCurrentBlockCoinbase": "a8b0574e",
    "getCurrentBlockDifficulty": "72425d9d",
    "getCurrentBlockGasLimit": "86d516e8",
    "getCurrentBlockTimestamp": "0f28c97d",
    "getEthBalance": "4d2301cc",
    "getLastBlockHash": "27e86d6e",
    "tryAggregate": "bce38bd7",
    "tryBlockAndAggregate": "399542e9",
}


def _gone(pid: int) -> bool:
    """True once ``pid`` is no more, or only a zombie nobody has reaped yet."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def _wait_gone(pid: int, timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not _gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def _abi_type(param: dict[str, Any]) -> str:
    if not param["type"].startswith("tuple"):
        return str(param["type"])
    inner = ",".join(_abi_type(c) for c in param["components"])
    return f"({inner}){param['type'].removeprefix('tuple')}"


def _signature(fn: dict[str, Any]) -> str:
    """``name(type,...)`` from an ABI entry, tuples spelled out, as selectors are computed."""
    return f"{fn['name']}({','.join(_abi_type(p) for p in fn['inputs'])})"


# -- anvil lifecycle ---------------------------------------------------------------------------


def test_anvil_stops_on_normal_exit() -> None:
    with Anvil() as node:
        pid = node.pid
        assert not _gone(pid)
        assert node.block_number() == 0
        assert len(node.accounts) == 10
    assert _gone(pid)
    assert pid not in chain_module._LIVE


@pytest.mark.parametrize("error", [RuntimeError("test body failed"), KeyboardInterrupt()])
def test_anvil_stops_when_the_body_raises(error: BaseException) -> None:
    pids: list[int] = []

    def body() -> None:
        with Anvil() as node:
            pids.append(node.pid)
            raise error

    with pytest.raises(type(error)):
        body()
    assert len(pids) == 1
    assert _gone(pids[0])


CHILD = """
import time
from devnet.chain import Anvil
with Anvil() as node:
    print(node.pid, flush=True)
    time.sleep(600)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_anvil_dies_with_its_python_process(sig: signal.Signals, tmp_path: Path) -> None:
    """Ctrl-C runs ``__exit__``; SIGTERM and SIGKILL skip it, Linux's parent-death signal holds."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        cwd=REPO_ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path)},  # a killed child cannot remove its log
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    anvil_pid = 0
    try:
        assert child.stdout is not None
        anvil_pid = int(child.stdout.readline())
        assert not _gone(anvil_pid)
        child.send_signal(sig)
        child.wait(timeout=30)
        assert _wait_gone(anvil_pid)
    finally:
        child.kill()
        child.wait()
        if anvil_pid and not _gone(anvil_pid):  # the test failed: still leave no orphan
            os.killpg(anvil_pid, signal.SIGKILL)


def test_anvil_start_failure_shows_its_output_and_leaves_nothing() -> None:
    before = dict(chain_module._LIVE)  # the session's own devnet may be running
    with pytest.raises(AnvilError, match="--no-such-flag"):
        Anvil(extra_args=["--no-such-flag"]).start()
    assert before == chain_module._LIVE


def test_missing_anvil_binary_says_make_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERPWATCH_ANVIL", "/nonexistent/anvil")
    with pytest.raises(UserError, match="make setup"):
        Anvil().start()


def test_chain_id_and_block_time_options() -> None:
    with Anvil(chain_id=42161, accounts=2) as node:
        assert int(node.request("eth_chainId"), 16) == 42161
        assert len(node.accounts) == 2
    cmd = build_command(
        Path("anvil"),
        chain_id=1,
        block_time=0.5,
        accounts=3,
        load_state=None,
        dump_state=None,
        extra_args=["--no-cors"],
    )
    assert cmd[1:5] == ["--host", "127.0.0.1", "--port", "0"]
    assert cmd[cmd.index("--block-time") + 1] == "0.5"
    assert cmd[-1] == "--no-cors"


def test_state_dump_and_load(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    target = "0x00000000000000000000000000000000000000aa"
    with Anvil(dump_state=state) as node:
        node.set_code(target, b"\x60\x00")
        node.mine(4)
    assert state.is_file()
    with Anvil(load_state=state) as node:
        assert node.request("eth_getCode", [target, "latest"]) == "0x6000"
        assert node.block_number() == 4


# -- pure functions ------------------------------------------------------------------------------


@given(
    prefix=st.binary().filter(lambda b: b"Listening on" not in b),
    port=st.integers(1, 65535),
    suffix=st.binary(),
)
def test_parse_port_finds_the_listening_line(prefix: bytes, port: int, suffix: bytes) -> None:
    assert parse_port(prefix) is None
    assert parse_port(prefix + b"\nListening on 127.0.0.1:%d\n" % port + suffix) == port


sources_st = st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=40), min_size=1)


@given(sources=sources_st, extra=st.characters())
def test_cache_key_covers_every_source_and_ignores_order(
    sources: dict[str, str], extra: str
) -> None:
    settings = {"optimizer": {"enabled": True}}
    key = cache_key(sources, "0.8.37", settings)
    assert cache_key(dict(reversed(list(sources.items()))), "0.8.37", settings) == key
    assert cache_key(sources, "0.8.38", settings) != key
    assert cache_key(sources, "0.8.37", {"optimizer": {"enabled": False}}) != key
    for name in sources:
        changed = {**sources, name: sources[name] + extra}
        assert cache_key(changed, "0.8.37", settings) != key


# -- solc ------------------------------------------------------------------------------------------


def test_compile_cache_is_hit_without_node(tmp_path: Path) -> None:
    # Only this file's own contracts, so the test does not hang on every simulator compiling.
    sources = tmp_path / "contracts"
    sources.mkdir()
    for name in ("Counter.sol", "Multicall3.sol"):
        (sources / name).write_text((CONTRACTS_DIR / name).read_text())
    runs: list[str] = []

    def counting_runner(input_json: str) -> str:
        runs.append(input_json)
        return run_solcjs(input_json, SOLC_DIR)

    cache = tmp_path / "cache"
    first = compile_contracts(sources, cache_dir=cache, runner=counting_runner)
    assert len(runs) == 1
    assert set(json.loads(runs[0])["sources"]) == {"Counter.sol", "Multicall3.sol"}
    assert set(first) == {"Counter", "Multicall3"}
    assert len(list(cache.glob("*.json"))) == 1
    second = compile_contracts(sources, cache_dir=cache, runner=counting_runner)
    assert len(runs) == 1
    assert second == first
    (sources / "Counter.sol").write_text((CONTRACTS_DIR / "Counter.sol").read_text() + "\n")
    compile_contracts(sources, cache_dir=cache, runner=counting_runner)
    assert len(runs) == 2


def test_compile_error_carries_solc_message(tmp_path: Path) -> None:
    (tmp_path / "Broken.sol").write_text("pragma solidity ^0.8.20;\ncontract Broken { uint x }\n")
    with pytest.raises(SolcError, match=r"(?s)Expected ';'.*Broken\.sol:2"):
        compile_contracts(tmp_path, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_artifacts_come_from_the_contracts_folder(artifacts: dict[str, Artifact]) -> None:
    # A file may declare no contract (only structs or free functions), so a subset.
    names = {p.relative_to(CONTRACTS_DIR).as_posix() for p in CONTRACTS_DIR.rglob("*.sol")}
    assert {a.source for a in artifacts.values()} <= names
    assert {"Counter", "Multicall3"} <= set(artifacts)
    counter = artifacts["Counter"]
    assert counter.bytecode.endswith(counter.deployed_bytecode[-32:])
    assert counter.deployed_bytecode
    assert counter.deployed_bytecode != counter.bytecode


def test_multicall3_abi_has_the_canonical_selectors(artifacts: dict[str, Artifact]) -> None:
    abi = artifacts["Multicall3"].abi
    selectors = {
        f["name"]: function_signature_to_4byte_selector(_signature(f)).hex()
        for f in abi
        if f["type"] == "function"
    }
    assert selectors == MULTICALL3_SELECTORS


# -- deploy, call, transact --------------------------------------------------------------------


def test_deploy_transact_and_call(devnet: Devnet) -> None:
    counter = devnet.deploy("Counter", 5)
    receipt = transact(counter.functions.add(2))
    assert call(counter.functions.count()) == 7
    (event,) = counter.events.Incremented().process_receipt(receipt)
    assert event["args"]["newCount"] == 7
    assert event["args"]["by"] == devnet.anvil.accounts[0]
    by_node = deploy(devnet.anvil, devnet.artifacts["Counter"], 3)  # an Anvil works as well
    assert call(by_node.functions.count()) == 3
    assert by_node.address != counter.address
    with pytest.raises(TransactionReverted) as info:
        call(counter.functions.boom(9))
    assert info.value.data == "0x" + (_selector("Boom(uint256)") + encode(["uint256"], [9])).hex()


def test_aggregate3_at_the_canonical_address(devnet: Devnet) -> None:
    assert _selector("aggregate3((address,bool,bytes)[])") == AGGREGATE3
    counter = devnet.deploy("Counter", 41)
    ok = (counter.address, True, _selector("count()"))
    bad = (counter.address, True, _selector("boom(uint256)") + encode(["uint256"], [3]))
    data = AGGREGATE3 + encode(["(address,bool,bytes)[]"], [[ok, bad]])
    raw = devnet.anvil.request("eth_call", [{"to": MULTICALL3_ADDRESS, "data": "0x" + data.hex()}])
    (results,) = decode(["(bool,bytes)[]"], bytes.fromhex(raw[2:]))
    assert results[0] == (True, encode(["uint256"], [41]))
    assert results[1] == (False, _selector("Boom(uint256)") + encode(["uint256"], [3]))

    strict = AGGREGATE3 + encode(["(address,bool,bytes)[]"], [[ok, (bad[0], False, bad[2])]])
    with pytest.raises(AnvilRpcError, match="Multicall3: call failed"):
        devnet.anvil.request("eth_call", [{"to": MULTICALL3_ADDRESS, "data": "0x" + strict.hex()}])


def test_multicall3_block_getters(devnet: Devnet) -> None:
    m = devnet.multicall3
    who = devnet.anvil.accounts[1]
    devnet.anvil.set_balance(who, 123_456_789)
    assert call(m.functions.getEthBalance(who)) == 123_456_789
    assert call(m.functions.getBlockNumber()) == devnet.anvil.block_number()
    assert call(m.functions.getChainId()) == devnet.anvil.chain_id
    block_number, results = call(m.functions.aggregate([(m.address, _selector("getBasefee()"))]))
    assert block_number == devnet.anvil.block_number()
    assert len(results) == 1


# -- dev RPCs ------------------------------------------------------------------------------------


def test_snapshot_and_revert(devnet: Devnet) -> None:
    counter = devnet.deploy("Counter", 1)
    height = devnet.anvil.block_number()
    snapshot_id = devnet.anvil.snapshot()
    transact(counter.functions.add(10))
    devnet.anvil.mine(3)
    assert call(counter.functions.count()) == 11
    devnet.anvil.revert(snapshot_id)
    assert call(counter.functions.count()) == 1
    assert devnet.anvil.block_number() == height
    with pytest.raises(AnvilError, match="no snapshot"):
        devnet.anvil.revert(snapshot_id)


def test_increase_time(devnet: Devnet) -> None:
    before = int(devnet.anvil.block()["timestamp"], 16)
    after = devnet.anvil.increase_time(3 * 3600)
    assert after >= before + 3 * 3600
    assert int(devnet.anvil.block()["timestamp"], 16) == after
    assert call(devnet.multicall3.functions.getCurrentBlockTimestamp()) == after


def test_set_code(devnet: Devnet) -> None:
    target = "0x000000000000000000000000000000000000bEEF"
    code = devnet.artifacts["Counter"].deployed_bytecode
    devnet.anvil.set_code(target, code)
    assert devnet.anvil.request("eth_getCode", [target, "latest"]) == "0x" + code.hex()
    assert call(devnet.at("Counter", target).functions.count()) == 0


def test_reorg_replaces_the_head(devnet: Devnet) -> None:
    anvil = devnet.anvil
    anvil.mine(5)
    head = anvil.block()
    height = int(head["number"], 16)
    below_fork = anvil.block(height - 2)["hash"]
    payment = {"from": anvil.accounts[0], "to": anvil.accounts[1], "value": hex(1)}
    anvil.reorg(2, [(payment, 0)])
    new_head = anvil.block()
    assert int(new_head["number"], 16) == height
    assert new_head["hash"] != head["hash"]
    assert anvil.block(height - 2)["hash"] == below_fork
    assert len(anvil.block(height - 1)["transactions"]) == 1


def test_dev_rpc_on_a_url(devnet: Devnet) -> None:
    rpc = DevRpc(devnet.anvil.rpc_url)
    try:
        rpc.mine(2)
        assert rpc.block_number() == devnet.anvil.block_number()
        assert rpc.accounts == devnet.anvil.accounts
        with pytest.raises(AnvilRpcError) as info:
            rpc.request("no_such_method")
        assert info.value.code == -32601
    finally:
        rpc.close()


def test_devnet_fixture_starts_clean(devnet: Devnet, anvil: Anvil) -> None:
    """Whatever earlier tests did was reverted: the dev account has sent nothing in this state."""
    assert anvil is devnet.anvil
    assert anvil.request("eth_getTransactionCount", [anvil.accounts[0], "latest"]) == "0x0"
