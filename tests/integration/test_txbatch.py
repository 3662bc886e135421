"""``devnet.txbatch``: a world opened a few transactions per block ends in the state the same
opens sent one block each give, and a reverted transaction in a batch raises."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils.address import to_checksum_address

from devnet import txbatch
from devnet.deploy import Devnet, TransactionReverted, calldata, start_devnet
from devnet.devrpc import AnvilRpcError
from devnet.scenario import World, build_world
from devnet.solc import Artifact
from devnet.txbatch import TxBatch, send_pipelined

pytestmark = pytest.mark.chain


def _state(world: World) -> dict[str, Any]:
    """What the opens wrote: GMX sizes and collateral, Hyperliquid positions and margin,
    gTrade trades (the simulators' own reads; block-dependent fee accrual left out)."""
    gmx = {}
    for p in world.gmx_positions:
        key = world.gmx.position_key(p.account, p.market, p.collateral, p.is_long)
        _, numbers, flags = world.gmx.position(key)
        gmx[key] = (tuple(numbers[:3]), tuple(flags))  # sizeInUsd, sizeInTokens, collateral
    hl = {(p.account, p.coin): world.hl.position(p.account, p.coin) for p in world.hl_positions}
    margin = {a: world.hl.margin_summary(a) for a in world.hl_traders}
    assert world.gtrade is not None
    diamond = world.gtrade.gt.diamond
    get = diamond.functions.getTrade
    trades = {t.ref: tuple(get(to_checksum_address(t.trader), t.index).call())
              for t in world.gtrade.trades}  # fmt: skip
    return {"gmx": gmx, "hl": hl, "margin": margin, "gtrade": trades}


def test_batched_world_equals_the_one_built_a_block_per_open(
    artifacts: dict[str, Artifact],
) -> None:
    states, blocks = [], []
    for batched in (False, True):
        with start_devnet(artifacts=artifacts) as devnet:
            world = build_world(devnet, gmx_traders=14, hl_traders=4, gtrade_traders=5, seed=3,
                                batched=batched)  # fmt: skip
            states.append(_state(world))
            blocks.append(devnet.w3.eth.block_number)
            # Back to automine with the block gas limit it had, as before the batch.
            assert devnet.w3.eth.get_block("latest")["gasLimit"] == 30_000_000
            assert world.gmx.oracle_price("ETH") > 0
    assert states[0] == states[1]
    assert len(states[1]["gmx"]) == 14
    assert len(states[1]["gtrade"]) >= 5
    assert all(size != 0 for size, *_ in states[1]["hl"].values())
    # 14 + 4·5 + ≥5 opens in one block instead of one block each
    assert blocks[1] <= blocks[0] - 38


def test_a_reverted_transaction_in_a_batch_raises(devnet: Devnet) -> None:
    counter = devnet.deploy("Counter", 5)
    batch = TxBatch(devnet).__enter__()
    batch.add(counter.functions.add(2))
    batch.add(counter.functions.boom(1))
    with pytest.raises(TransactionReverted, match="boom reverted"):
        batch.__exit__(None, None, None)
    assert counter.functions.count().call() == 7  # the one before it went through
    assert devnet.anvil.request("txpool_status")["pending"] == "0x0"


def test_calldata_is_what_web3_encodes(devnet: Devnet) -> None:
    counter = devnet.deploy("Counter", 5)
    fn = counter.functions.add(2**200)
    assert calldata(fn) == counter.encode_abi("add", args=[2**200])


@pytest.mark.parametrize("receipts_per_request", [txbatch.RECEIPTS_PER_REQUEST, 1])
def test_pipelined_sends_are_mined_by_the_chain_and_a_revert_is_none(
    artifacts: dict[str, Artifact], receipts_per_request: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One receipt per request: the chunked wait answers for every call, in order.
    monkeypatch.setattr(txbatch, "RECEIPTS_PER_REQUEST", receipts_per_request)
    with start_devnet(artifacts=artifacts) as devnet:
        counter = devnet.deploy("Counter", 5)
        devnet.anvil.request("evm_setAutomine", [False])
        devnet.anvil.request("evm_setIntervalMining", [1])
        before = devnet.w3.eth.block_number
        fns = [counter.functions.add(2), counter.functions.boom(1), counter.functions.add(3)]
        mined = send_pipelined(devnet, fns)
        assert mined[1] is None  # reverted, and the others still went through
        assert mined[0] is not None
        assert mined[0] == mined[2]  # one block: nothing waited for another's receipt
        assert before < mined[0] <= before + 2
        assert counter.functions.count().call() == 10
        assert send_pipelined(devnet, []) == []


def test_a_batch_anvil_refuses_whole_raises_its_error(devnet: Devnet) -> None:
    # anvil answers one error object, not one answer per call, to a body of a few megabytes.
    call = {"to": "0x" + "11" * 20, "data": "0x" + "00" * 16_000}
    with pytest.raises(AnvilRpcError, match="a batch of 250 calls: Invalid request"):
        devnet.anvil.request_batch([("eth_call", [call, "latest"])] * 250)
