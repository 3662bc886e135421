"""Benchmark: refresh N GMX v2 accounts, perpwatch's Multicall3 reads against plain web3.py.

    python -m bench.state --accounts 10000 --json
    python -m bench.state --protocol gtrade --accounts 1000 --trades-per-owner 1 --json

gTrade (``--protocol gtrade``): N trades on the simulated diamond, ``--trades-per-owner`` per
wallet, read in chunks of the adapter's ``owners_per_read`` (each chunk two ``eth_call``s: the
holding fees take the pair price and the trade index); the baseline is plain web3.py, one
``getTrades`` per wallet and one ``getTradePendingHoldingFeesCollateral`` per trade. Both must
find the same (trader, index) pairs. The devnet is built afresh (no state cache).

Builds a devnet with N GMX v2 positions, one per owner (opened in bulk: many
``increasePosition`` calls per Multicall3 transaction; the node's state is cached by N under
``.cache/bench/``), pins one block, then in the same run refreshes every owner twice:

- ``perpwatch``: :func:`indexer.reads.execute.run_read` of ``adapter.read_accounts(chunk)`` for
chunks
  of :data:`indexer.refresh.OWNERS_PER_READ` owners, one after another as ``refresh_owners``
  does, decoded into ``MarginAccount``s. JSON-RPC calls are counted at the HTTP transport
  under perpwatch's own ``RpcClient`` (a JSON-RPC batch counts as one call per item).
- ``baseline``: plain web3.py, one ``Reader.getAccountPositions`` ``eth_call`` per owner, plus
  the DataStore values that read_accounts also fetches (min collateral USD and eight factors
  per market), read once: the same information per account, decoded by web3.

Both must find the same (owner, size in USD) pairs, or the benchmark fails. Prices are left
out of both (one read per pass, whatever N). Wall-clock ratios only; nothing here is a test.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
import orjson
from web3 import Web3

from devnet.deploy import Devnet, start_devnet
from devnet.gmx import deploy_gmx, devnet_address
from devnet.solc import REPO_ROOT, compile_contracts
from indexer.decode.abi import load_abi
from indexer.models import E30
from indexer.protocols.gmx_v2 import keys as gmx_keys
from indexer.protocols.gmx_v2.adapter import GmxMarket, GmxToken, GmxV2Adapter
from indexer.protocols.gmx_v2.decode import cumulative_borrowing_factor_key, funding_per_size_key
from indexer.reads.execute import run_read
from indexer.reads.multicall import MULTICALL3_ADDRESS, Call3, encode_aggregate3
from indexer.refresh import OWNERS_PER_READ
from indexer.rpc.client import RpcClient

CACHE_DIR = REPO_ROOT / ".cache" / "bench"
OPENS_PER_TX = 1000
"""increasePosition calls per setup transaction (about 560k gas each for a new position)."""
BLOCK_GAS_LIMIT = 1_000_000_000
"""Lets setup transactions hold OPENS_PER_TX opens; eth_call is capped by the same limit, so
the bench also reports the gas of one read (real nodes cap eth_call at 50M gas and up)."""
ALL = 2**256 - 1
SIMULATORS = ("GmxV2DataStore", "GmxV2Exchange", "GmxV2Reader", "GmxV2EventEmitter", "Multicall3")


def owner(i: int) -> str:
    return devnet_address(f"bench-trader:{i}").lower()


# -- the devnet, built once per N --------------------------------------------------------------


def _cache_paths(accounts: int) -> tuple[Path, Path]:
    artifacts = compile_contracts()
    digest = hashlib.sha256(b"".join(artifacts[n].deployed_bytecode for n in SIMULATORS))
    stem = f"gmx-{accounts}-{digest.hexdigest()[:12]}"
    return CACHE_DIR / f"{stem}.state.json", CACHE_DIR / f"{stem}.meta.json"


@contextmanager
def gmx_devnet(accounts: int, *, use_cache: bool = True) -> Iterator[tuple[Devnet, dict[str, Any]]]:
    """A devnet holding ``accounts`` GMX positions and the adapter facts (``meta``) to read
    them. Reuses ``.cache/bench/`` when both its state and meta files exist."""
    state, meta_path = _cache_paths(accounts)
    options: dict[str, Any] = {"extra_args": ("--gas-limit", str(BLOCK_GAS_LIMIT))}
    if use_cache and state.is_file() and meta_path.is_file():
        with start_devnet(load_state=state, **options) as devnet:
            yield devnet, json.loads(meta_path.read_text())
        return
    if use_cache:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        meta_path.unlink(missing_ok=True)  # the meta marks a complete state: none until dumped
        options["dump_state"] = state
        # Keep no old transactions: with their receipts and logs they are 95 % of a dump.
        options["extra_args"] += ("--transaction-block-keeper", "1")
    with start_devnet(**options) as devnet:
        meta = _build(devnet, accounts)
        yield devnet, meta
    if use_cache:
        meta_path.write_text(json.dumps(meta))  # after the node stopped and dumped its state


def _build(devnet: Devnet, accounts: int) -> dict[str, Any]:
    """Deploy GMX and open one 5x USDC-collateral position per owner, alternating market and
    side; returns the adapter facts."""
    gmx = deploy_gmx(devnet)
    adapter = gmx.adapter(devnet.anvil.chain_id)
    usdc = gmx.token("USDC").address
    calls = []
    for i in range(accounts):
        market = gmx.markets["ETH/USD" if i % 2 else "BTC/USD"]
        args = [Web3.to_checksum_address(owner(i)), market.market_token, usdc, i % 3 != 0]
        data = gmx.exchange.encode_abi("increasePosition", [*args, 1000 * 10**6, 5000 * E30])
        calls.append(Call3(gmx.exchange.address, bytes.fromhex(data[2:]), allow_failure=False))
    send_in_bulk(devnet, calls, OPENS_PER_TX)
    devnet.anvil.mine(2)  # so the one block whose transactions are kept holds none
    return {
        "chain_id": devnet.anvil.chain_id,
        "addresses": {
            "data_store": adapter.data_store,
            "reader": adapter.reader,
            "event_emitter": adapter.event_emitter,
        },
        "markets": [asdict(m) for m in adapter.markets.values()],
        "tokens": {address: asdict(t) for address, t in adapter.tokens.items()},
    }


def send_in_bulk(devnet: Devnet, calls: Sequence[Call3], per_tx: int) -> None:
    """Send ``calls`` through Multicall3, ``per_tx`` per transaction (setup of a big devnet).

    Raises RuntimeError if a transaction reverts."""
    sender = devnet.anvil.accounts[0]
    for start in range(0, len(calls), per_tx):
        batch = encode_aggregate3(calls[start : start + per_tx])
        tx = {"from": sender, "to": MULTICALL3_ADDRESS, "data": "0x" + batch.hex()}
        tx_hash = devnet.anvil.request("eth_sendTransaction", [{**tx, "gas": hex(BLOCK_GAS_LIMIT)}])
        receipt = devnet.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
        if receipt["status"] != 1:
            raise RuntimeError(f"setup transaction of calls {start}..{start + per_tx} failed")


def adapter_from(meta: dict[str, Any]) -> GmxV2Adapter:
    return GmxV2Adapter(
        meta["chain_id"],
        meta["addresses"],
        markets=[GmxMarket(**m) for m in meta["markets"]],
        tokens={a: GmxToken(**t) for a, t in meta["tokens"].items()},
    )


# -- perpwatch ---------------------------------------------------------------------------------


class CountingTransport(httpx.AsyncBaseTransport):
    """An HTTP transport that counts the JSON-RPC calls it carries, by method, then hands the
    request to ``inner`` (default: a plain HTTP transport)."""

    def __init__(self, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._inner = inner or httpx.AsyncHTTPTransport()
        self.calls: dict[str, int] = {}
        self.http_requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = orjson.loads(await request.aread())
        for item in body if isinstance(body, list) else [body]:
            self.calls[item["method"]] = self.calls.get(item["method"], 0) + 1
        self.http_requests += 1
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def perpwatch_refresh(
    url: str, adapter: GmxV2Adapter, owners: Sequence[str]
) -> tuple[list[tuple[str, int]], float, CountingTransport]:
    """(owner, size USD e30) of every account, seconds, and the counted calls of the refresh
    (connecting, i.e. the chain-id check, is not part of it)."""
    transport = CountingTransport()
    async with RpcClient([url], chain_id=adapter.chain_id, transport=transport) as rpc:
        transport.calls.clear()
        started = time.perf_counter()
        block = await rpc.block_number()  # one block for every chunk, as refresh_owners pins
        found = []
        for start in range(0, len(owners), OWNERS_PER_READ):
            chunk = owners[start : start + OWNERS_PER_READ]
            accounts = await run_read(rpc, adapter.read_accounts(chunk), block)
            found += [(a.owner, a.positions[0].entry_notional_usd_e30) for a in accounts]
        elapsed = time.perf_counter() - started
    return found, elapsed, transport


def read_gas(url: str, adapter: GmxV2Adapter, owners: Sequence[str]) -> int:
    """eth_estimateGas of one read of ``owners`` (one Multicall3 call)."""
    read = adapter.read_accounts(owners)
    w3 = Web3(Web3.HTTPProvider(url))
    data = "0x" + encode_aggregate3(read.calls).hex()
    return int(w3.eth.estimate_gas({"to": MULTICALL3_ADDRESS, "data": data}))  # type: ignore[typeddict-item]


# -- baseline: plain web3.py -------------------------------------------------------------------


def _datastore_keys(meta: dict[str, Any]) -> list[bytes]:
    keys = [gmx_keys.MIN_COLLATERAL_USD]
    for m in meta["markets"]:
        token = m["market_token"]
        keys += [
            gmx_keys.min_collateral_factor_for_liquidation_key(token),
            gmx_keys.position_fee_factor_key(token, False),
            cumulative_borrowing_factor_key(token, True),
            cumulative_borrowing_factor_key(token, False),
        ]
        keys += [
            funding_per_size_key(token, collateral, is_long)
            for collateral in (m["long_token"], m["short_token"])
            for is_long in (True, False)
        ]
    return keys


def baseline_refresh(
    url: str, meta: dict[str, Any], owners: Sequence[str]
) -> tuple[list[tuple[str, int]], float, int]:
    """(owner, size USD e30) of every position, seconds, and eth_calls made."""
    w3 = Web3(Web3.HTTPProvider(url))
    addresses = {k: Web3.to_checksum_address(v) for k, v in meta["addresses"].items()}
    reader = w3.eth.contract(addresses["reader"], abi=load_abi("gmx_v2/SyntheticsReader.json"))
    store = w3.eth.contract(addresses["data_store"], abi=load_abi("gmx_v2/DataStore.json"))
    started = time.perf_counter()
    block = w3.eth.block_number
    keys = _datastore_keys(meta)
    shared = [store.functions.getUint(k).call(block_identifier=block) for k in keys]
    found = []
    for address in owners:
        fn = reader.functions.getAccountPositions(
            addresses["data_store"], Web3.to_checksum_address(address), 0, ALL
        )
        for position in fn.call(block_identifier=block):
            (account, _, _), numbers, _ = position
            found.append((account.lower(), int(numbers[0])))
    elapsed = time.perf_counter() - started
    assert len(shared) == len(keys)
    return found, elapsed, len(keys) + len(owners)


# -- the run -----------------------------------------------------------------------------------


def run(accounts: int, *, use_cache: bool = True) -> dict[str, Any]:
    """Build (or load) the devnet, run both refreshes, return the report."""
    setup_started = time.perf_counter()
    owners = [owner(i) for i in range(accounts)]
    with gmx_devnet(accounts, use_cache=use_cache) as (devnet, meta):
        url = devnet.anvil.rpc_url
        setup_s = time.perf_counter() - setup_started
        adapter = adapter_from(meta)
        ours, ours_s, counted = asyncio.run(perpwatch_refresh(url, adapter, owners))
        theirs, theirs_s, baseline_calls = baseline_refresh(url, meta, owners)
        gas = read_gas(url, adapter, owners[:OWNERS_PER_READ])
    if sorted(ours) != sorted(theirs) or len(ours) != accounts:
        raise RuntimeError(f"perpwatch found {len(ours)} accounts, web3 {len(theirs)}: differ")
    calls = sum(counted.calls.values())
    reads = counted.calls.get("eth_call", 0)
    return {
        "accounts": accounts,
        "owners_per_read": OWNERS_PER_READ,
        "perpwatch_calls": calls,
        "perpwatch_calls_by_method": counted.calls,
        "calls_per_1k_accounts": round(calls * 1000 / accounts, 3),
        "read_calls_per_1k_accounts": round(reads * 1000 / accounts, 3),
        "gas_per_read": gas,
        "baseline_calls": baseline_calls,
        "baseline_accounts_per_s": round(accounts / theirs_s, 1),
        "perpwatch_accounts_per_s": round(accounts / ours_s, 1),
        "speedup": round(theirs_s / ours_s, 2),
        "baseline_s": round(theirs_s, 3),
        "perpwatch_s": round(ours_s, 3),
        "setup_s": round(setup_s, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--accounts", type=int, default=10_000, help="accounts (gTrade: trades)")
    parser.add_argument("--protocol", choices=("gmx_v2", "gtrade"), default="gmx_v2")
    parser.add_argument("--trades-per-owner", type=int, default=1, help="gTrade trades per wallet")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-cache", action="store_true", help="rebuild the devnet state")
    args = parser.parse_args(argv)
    if args.accounts < 1 or args.trades_per_owner < 1:
        parser.error("--accounts and --trades-per-owner must be >= 1")
    if args.protocol == "gtrade":
        from bench.state_gtrade import run_gtrade

        report = run_gtrade(args.accounts, args.trades_per_owner)
    else:
        report = run(args.accounts, use_cache=not args.no_cache)
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:>28}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
