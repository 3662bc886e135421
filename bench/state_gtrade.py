"""``bench.state`` for gTrade: N trades on the simulated diamond, refreshed by perpwatch's
two-step Multicall3 read and by plain web3.py (see :mod:`bench.state`).

    report = run_gtrade(1000, trades_per_owner=1)   # calls_per_1k_trades, speedup, ...
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from web3 import Web3

from bench.state import BLOCK_GAS_LIMIT, CountingTransport, send_in_bulk
from devnet.deploy import Devnet, start_devnet
from devnet.gmx_types import devnet_address
from devnet.gtrade import GTradeDeployment, deploy_gtrade
from indexer.protocols.gtrade.adapter import GTradeAdapter
from indexer.reads.execute import run_read
from indexer.reads.multicall import Call3
from indexer.rpc.client import RpcClient

OPENS_PER_TX = 400
"""openTrade calls per setup transaction (each stores four structs and emits two events)."""
PAIRS = ("BTC", "ETH", "SOL")
COLLATERALS = (("USDC", 500 * 10**6), ("DAI", 500 * 10**18), ("WETH", 2 * 10**17))


def gtrade_owner(i: int) -> str:
    return devnet_address(f"bench-gtrade-trader:{i}").lower()


def open_trades(devnet: Devnet, gt: GTradeDeployment, trades: int, per_owner: int) -> list[str]:
    """Open ``trades`` trades, ``per_owner`` per wallet, in bulk; returns the wallets."""
    calls = []
    for i in range(trades):
        symbol, amount = COLLATERALS[i % len(COLLATERALS)]
        args = [
            Web3.to_checksum_address(gtrade_owner(i // per_owner)),
            gt.pairs[PAIRS[i % len(PAIRS)]].index,
            gt.collateral_index(symbol),
            amount,
            5_000 + 1_000 * (i % 20),
            i % 3 != 0,
            0,
        ]
        data = gt.diamond.encode_abi("openTrade", args)
        calls.append(Call3(gt.diamond.address, bytes.fromhex(data[2:]), allow_failure=False))
    send_in_bulk(devnet, calls, OPENS_PER_TX)
    return [gtrade_owner(i) for i in range((trades + per_owner - 1) // per_owner)]


async def perpwatch_refresh(
    url: str, adapter: GTradeAdapter, owners: Sequence[str]
) -> tuple[list[tuple[str, str]], float, CountingTransport, int]:
    """(owner, ref) of every account, seconds, counted calls, and reads made."""
    transport = CountingTransport()
    async with RpcClient([url], chain_id=adapter.chain_id, transport=transport) as rpc:
        transport.calls.clear()
        started = time.perf_counter()
        block = await rpc.block_number()
        found, reads = [], 0
        for start in range(0, len(owners), adapter.owners_per_read):
            chunk = owners[start : start + adapter.owners_per_read]
            accounts = await run_read(rpc, adapter.read_accounts(chunk), block)
            found += [(a.owner, a.ref) for a in accounts]
            reads += 1
        elapsed = time.perf_counter() - started
    return found, elapsed, transport, reads


def baseline_refresh(
    url: str, gt: GTradeDeployment, owners: Sequence[str]
) -> tuple[list[tuple[str, str]], float, int]:
    """Plain web3.py: ``getTrades`` per wallet, then the holding fees of each trade."""
    w3 = Web3(Web3.HTTPProvider(url))
    diamond = w3.eth.contract(gt.diamond.address, abi=gt.diamond.abi)
    prices = {p.index: int(gt.prices_usd[a] * 10**10) for a, p in gt.pairs.items()}
    started = time.perf_counter()
    block = w3.eth.block_number
    found, calls = [], 0
    for owner in owners:
        trades = diamond.functions.getTrades(Web3.to_checksum_address(owner)).call(
            block_identifier=block
        )
        calls += 1
        for trade in trades:
            fn = diamond.functions.getTradePendingHoldingFeesCollateral(
                trade[0], trade[1], prices[trade[2]]
            )
            fn.call(block_identifier=block)
            calls += 1
            found.append((owner, f"{owner}:{trade[1]}"))
    return found, time.perf_counter() - started, calls


def run_gtrade(trades: int, trades_per_owner: int = 1) -> dict[str, Any]:
    """Build the devnet, run both refreshes, return the report."""
    setup_started = time.perf_counter()
    with start_devnet(extra_args=("--gas-limit", str(BLOCK_GAS_LIMIT))) as devnet:
        gt = deploy_gtrade(devnet)
        owners = open_trades(devnet, gt, trades, trades_per_owner)
        setup_s = time.perf_counter() - setup_started
        url = devnet.anvil.rpc_url
        adapter = gt.adapter(lookback=False)
        ours, ours_s, counted, reads = asyncio.run(perpwatch_refresh(url, adapter, owners))
        theirs, theirs_s, baseline_calls = baseline_refresh(url, gt, owners)
    if sorted(ours) != sorted(theirs) or len(ours) != trades:
        raise RuntimeError(f"perpwatch found {len(ours)} trades, web3 {len(theirs)}: differ")
    calls = sum(counted.calls.values())
    return {
        "protocol": "gtrade",
        "trades": trades,
        "owners": len(owners),
        "owners_per_read": adapter.owners_per_read,
        "reads": reads,
        "perpwatch_calls": calls,
        "perpwatch_calls_by_method": counted.calls,
        "calls_per_1k_trades": round(calls * 1000 / trades, 3),
        "baseline_calls": baseline_calls,
        "baseline_trades_per_s": round(trades / theirs_s, 1),
        "perpwatch_trades_per_s": round(trades / ours_s, 1),
        "speedup": round(theirs_s / ours_s, 2),
        "setup_s": round(setup_s, 1),
    }
