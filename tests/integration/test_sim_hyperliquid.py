"""The simulated HyperCore read precompiles: real addresses, raw calldata, real layouts, rules."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import decode, encode

from devnet.deploy import Devnet, TransactionReverted
from devnet.hyperliquid import HlDeployment, install_hyperliquid
from indexer.decode.abi import canonical_type, load_json
from indexer.reads.multicall import MULTICALL3_ADDRESS, Call3, decode_aggregate3, encode_aggregate3

pytestmark = pytest.mark.chain

READS: dict[str, Any] = load_json("hyperliquid/precompiles.json")["reads"]


def precompile(dev: Devnet, read: str, *args: Any) -> tuple[Any, ...]:
    """eth_call the precompile with ``abi.encode(args)`` (no selector); decode its outputs."""
    spec = READS[read]
    data = encode([canonical_type(p) for p in spec["inputs"]], list(args))
    ret = dev.anvil.request("eth_call", [{"to": spec["address"], "data": "0x" + data.hex()}])
    return tuple(decode([canonical_type(p) for p in spec["outputs"]], bytes.fromhex(ret[2:])))


@pytest.fixture
def hl(devnet: Devnet) -> HlDeployment:
    deployment = install_hyperliquid(devnet.anvil, devnet.artifacts)
    deployment.set_mark("BTC", "100000", oracle_usd="100010.5")
    deployment.set_mark("ETH", "2000")
    deployment.set_mark("SOL", "150.25")
    return deployment


def test_precompiles_answer_raw_calldata_in_the_l1read_layout(
    devnet: Devnet, hl: HlDeployment
) -> None:
    alice, bob = devnet.anvil.accounts[1], devnet.anvil.accounts[2]
    hl.deposit(alice, "20000")
    hl.open(alice, "BTC", "1", leverage=40)  # PROTOCOLS.md §3.2 (a)
    hl.deposit(bob, "2000")
    hl.open(bob, "ETH", "-10", leverage=10, isolated=True)  # §3.2 (b)

    # (b) in raw units exactly as PROTOCOLS.md lists them (szDecimals 4).
    iso = (-100000, 20000 * 10**6, 22000 * 10**6, 10, True)
    assert precompile(devnet, "position", bob, 1) == (iso,)
    assert precompile(devnet, "position2", bob, 1) == (iso,)
    assert precompile(devnet, "position", alice, 0) == ((100000, 100000 * 10**6, 0, 40, False),)
    assert precompile(devnet, "position", alice, 1) == ((0, 0, 0, 0, False),)
    assert precompile(devnet, "markPx", 0) == (1_000_000,)  # BTC: USD * 10^(6-5)
    assert precompile(devnet, "oraclePx", 0) == (1_000_105,)
    assert precompile(devnet, "markPx", 5) == (1_502_500,)  # SOL: USD * 10^(6-2)
    assert precompile(devnet, "perpAssetInfo", 1) == (("ETH", 25, 4, 25, False),)
    assert precompile(devnet, "perpAssetInfo", 0) == (("BTC", 40, 5, 40, False),)
    # Cross part only: value 20000, IM 100000/40, ntl 100000, raw = 20000 - 100000.
    summary = (20000 * 10**6, 2500 * 10**6, 100000 * 10**6, -80000 * 10**6)
    assert precompile(devnet, "accountMarginSummary", 0, alice) == (summary,)
    assert precompile(devnet, "accountMarginSummary", 0, bob) == ((0, 0, 0, 0),)
    assert precompile(devnet, "withdrawable", alice) == ((17500 * 10**6,),)


def test_unknown_asset_or_dex_fails_and_burns_the_frame(devnet: Devnet, hl: HlDeployment) -> None:
    user = devnet.anvil.accounts[1]
    for read, args in (("markPx", (3,)), ("perpAssetInfo", (2,)), ("position", (user, 4))):
        with pytest.raises(Exception, match="InvalidFEOpcode"):
            precompile(devnet, read, *args)
    with pytest.raises(Exception, match="InvalidFEOpcode"):
        precompile(devnet, "accountMarginSummary", 1, user)
    # Through Multicall3 with allowFailure the batch survives, the failure is reported.
    good = Call3(READS["markPx"]["address"], encode(["uint32"], [1]))
    bad = Call3(READS["markPx"]["address"], encode(["uint32"], [7]))
    data = encode_aggregate3([good, bad])
    ret = devnet.anvil.request("eth_call", [{"to": MULTICALL3_ADDRESS, "data": "0x" + data.hex()}])
    (ok_good, px), (ok_bad, _) = decode_aggregate3(bytes.fromhex(ret[2:]))
    assert (ok_good, decode(["uint64"], px)[0], ok_bad) == (True, 200_000, False)


def test_cross_liquidation_rule_and_keeper(devnet: Devnet, hl: HlDeployment) -> None:
    user = devnet.anvil.accounts[1]
    hl.deposit(user, "20000")
    hl.open(user, "BTC", "1", leverage=40)
    with pytest.raises(TransactionReverted):
        hl.liquidate(user, "BTC")
    # Liquidation price 6400000/79 = 81012.658...: one tick either side of it.
    hl.set_mark("BTC", "81012.7")
    assert not hl.is_liquidatable(user, "BTC")
    hl.set_mark("BTC", "81012.6")
    assert hl.is_liquidatable(user, "BTC")
    hl.liquidate(user, "BTC")
    assert hl.position(user, "BTC")[0] == 0
    # A market liquidation leaves the remaining account value as USDC.
    assert hl.margin_summary(user) == (1012_600_000, 0, 0, 1012_600_000)


def test_isolated_rule_leaves_cross_alone(devnet: Devnet, hl: HlDeployment) -> None:
    user = devnet.anvil.accounts[1]
    hl.deposit(user, "5000")
    hl.open(user, "ETH", "-10", leverage=10, isolated=True)  # margin 2000 from cross
    assert hl.margin_summary(user) == (3000 * 10**6, 0, 0, 3000 * 10**6)
    hl.set_mark("ETH", "2156.86")  # liquidation price 110000/51 = 2156.8627...
    assert not hl.is_liquidatable(user, "ETH")
    hl.set_mark("ETH", "2156.87")
    assert hl.is_liquidatable(user, "ETH")
    hl.liquidate(user, "ETH")
    assert hl.position(user, "ETH") == (0, 0, 0, 0, False)
    assert hl.margin_summary(user) == (3000 * 10**6, 0, 0, 3000 * 10**6)


def test_closing_and_margin_moves_settle_through_cross(devnet: Devnet, hl: HlDeployment) -> None:
    user = devnet.anvil.accounts[1]
    hl.deposit(user, "5000")
    hl.open(user, "ETH", "2", leverage=5, isolated=True)  # margin 800
    hl.adjust_margin(user, "ETH", "200")
    assert hl.position(user, "ETH")[2] == (1000 - 4000) * 10**6
    hl.set_mark("ETH", "2100")
    hl.close(user, "ETH")  # equity 1000 + 2 * 100 back to cross
    assert hl.margin_summary(user)[3] == 5200 * 10**6
    with pytest.raises(TransactionReverted):
        hl.open(user, "BTC", "10", leverage=40)  # needs 25,000 of initial margin


def test_large_positions_are_liquidated_a_fifth_at_a_time_then_whole_in_the_cooldown(
    devnet: Devnet, hl: HlDeployment
) -> None:
    """Hyperliquid's partial rule: a liquidatable position over 100k USD of notional loses 20 %
    of its size at mark; for 30 s after a block with a partial liquidation, the user's next
    liquidation is whole; after that, partial again."""
    quick, slow = devnet.anvil.accounts[1], devnet.anvil.accounts[2]
    for user in (quick, slow):
        hl.deposit(user, "10000")
        hl.open(user, "BTC", "2", leverage=40)  # raw -190,000; liquidatable below 96202.53
    hl.set_mark("BTC", "96202")  # value 2404 < MM 2405.05, notional 192,404
    hl.liquidate(quick, "BTC")
    # 0.4 BTC sold at 96202: the value stays 2404, the MM falls to 1924.04.
    assert hl.position(quick, "BTC") == (160000, 160000 * 10**6, 0, 40, False)
    assert hl.margin_summary(quick)[3] == -151_519_200_000
    assert not hl.is_liquidatable(quick, "BTC")
    hl.liquidate(slow, "BTC")
    hl.set_mark("BTC", "95898")  # both liquidatable again (below 95898.23)
    hl.liquidate(quick, "BTC")  # within 30 s of its partial liquidation: whole
    assert hl.position(quick, "BTC")[0] == 0
    devnet.anvil.increase_time(31)
    hl.liquidate(slow, "BTC")  # the cooldown is over: a fifth again
    assert hl.position(slow, "BTC")[0] == 128000


def test_a_large_isolated_position_keeps_its_margin_when_partially_liquidated(
    devnet: Devnet, hl: HlDeployment
) -> None:
    user = devnet.anvil.accounts[1]
    hl.deposit(user, "15000")
    hl.open(user, "ETH", "-60", leverage=10, isolated=True)  # 120,000 notional, margin 12,000
    hl.set_mark("ETH", "2156.87")  # equity 2587.8 < MM 2588.244
    hl.liquidate(user, "ETH")
    # 12 ETH bought back at mark: the equity stays 2587.8, the MM falls to 2070.5952.
    assert hl.position(user, "ETH") == (-480000, 96000 * 10**6, 106_117_560_000, 10, True)
    assert not hl.is_liquidatable(user, "ETH")
    assert hl.margin_summary(user)[3] == 3000 * 10**6  # cross untouched
