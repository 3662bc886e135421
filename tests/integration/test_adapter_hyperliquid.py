"""The Hyperliquid adapter: pure conversions, and end to end against the simulated HyperCore."""

from __future__ import annotations

import itertools
import random
from decimal import Decimal
from typing import TypeVar

import pytest
from eth_abi.abi import encode
from hypothesis import given
from hypothesis import strategies as st

from devnet.chain import Anvil
from devnet.deploy import Devnet, TransactionReverted
from devnet.hyperliquid import HlDeployment, install_hyperliquid
from indexer.errors import ConfigError, DecodeError
from indexer.models import E30, MarginAccount, MarginMode
from indexer.protocols.base import Read
from indexer.protocols.hyperliquid.adapter import HyperliquidAdapter
from indexer.protocols.hyperliquid.decode import decode_position, margin_summary_call, position_call
from indexer.protocols.hyperliquid.margin import MarginTier, tiers_for
from indexer.protocols.hyperliquid.memory import FULL_READ_EVERY
from indexer.reads.multicall import MULTICALL3_ADDRESS, decode_aggregate3, encode_aggregate3
from monitor.health.account import AccountHealth, account_health

T = TypeVar("T")
USER = "0x" + "ab" * 20

# -- pure ---------------------------------------------------------------------------------------


def test_calldata_is_abi_encode_without_selector() -> None:
    call = position_call(USER, 7)
    assert (call.target[-4:], call.call_data) == ("0800", encode(["address", "uint16"], [USER, 7]))
    assert position_call(USER, 110_003).target.endswith("0813")  # HIP-3 ids need position2
    summary = margin_summary_call(2, USER)
    assert summary.call_data == encode(["uint32", "address"], [2, USER])


def test_failed_precompile_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="position failed"):
        decode_position((False, b""))


def test_bad_configuration_is_rejected() -> None:
    with pytest.raises(ConfigError):
        HyperliquidAdapter(999, markets=[])
    with pytest.raises(ConfigError):
        HyperliquidAdapter(999, markets=[0], margin_tiers={0: [MarginTier(10, 40)]})


BTC_TIERS = (MarginTier(0, 40), MarginTier(150_000_000, 20))


@given(st.integers(min_value=1, max_value=50))
def test_single_tier_is_half_the_initial_margin_at_max_leverage(lev: int) -> None:
    (tier,) = tiers_for(lev)
    assert (tier.lower_bound_usd_e30, tier.deduction_usd_e30) == (0, 0)
    assert abs(tier.mm_rate_e30 * 2 * lev - E30) < 2 * lev


@given(st.integers(min_value=0, max_value=10**10))
def test_tiered_maintenance_is_continuous_and_monotone(ntl_usd: int) -> None:
    tiers = tiers_for(40, BTC_TIERS)

    def mm(usd: int) -> int:  # USD · 1e30
        tier = [t for t in tiers if t.lower_bound_usd_e30 <= usd * E30][-1]
        return usd * tier.mm_rate_e30 - tier.deduction_usd_e30

    assert mm(ntl_usd + 1) >= mm(ntl_usd)
    assert abs(mm(150_000_000) - 150_000_000 * (E30 // 80)) == 0  # both sides meet at the bound


# -- against the devnet ------------------------------------------------------------------------


def run(anvil: Anvil, read: Read[T], calls: list[int] | None = None) -> T:
    """A small runner: Multicall3 batches of ``read.batch_size``, all at one pinned block,
    following ``read.follow``; appends each step's sub-call count to ``calls``."""
    block = hex(anvil.block_number())
    while True:
        results = []
        for i in range(0, len(read.calls), read.batch_size):
            data = encode_aggregate3(read.calls[i : i + read.batch_size])
            tx = {"to": MULTICALL3_ADDRESS, "data": "0x" + data.hex()}
            answer = anvil.request("eth_call", [tx, block])
            results += decode_aggregate3(bytes.fromhex(answer[2:]))
        if calls is not None:
            calls.append(len(read.calls))
        if read.follow is None:
            return read.decode(results)
        read = read.follow(results)


@pytest.fixture
def hl(devnet: Devnet) -> HlDeployment:
    deployment = install_hyperliquid(devnet.anvil, devnet.artifacts)
    for coin, price in (("BTC", "100000"), ("ETH", "2000"), ("SOL", "150")):
        deployment.set_mark(coin, price)
    return deployment


ADAPTER = HyperliquidAdapter(31337, markets=[0, 1, 5], batch_size=4)


# Small tiers, so that devnet-sized ETH positions cross them: 0-20k 25x, 20k-60k 10x, >60k 5x.
ETH_DEVNET_TIERS = ((0, 25), (20_000, 10), (60_000, 5))
TIERED = HyperliquidAdapter(
    31337,
    markets=[0, 1, 5],
    batch_size=4,
    margin_tiers={1: [MarginTier(bound, lev) for bound, lev in ETH_DEVNET_TIERS]},
)


def accounts_of(
    anvil: Anvil, user: str, adapter: HyperliquidAdapter = ADAPTER
) -> dict[str, MarginAccount]:
    return {a.ref: a for a in run(anvil, adapter.read_accounts([user]))}


def health_of(anvil: Anvil, account: MarginAccount) -> AccountHealth:
    prices = run(anvil, ADAPTER.read_prices(sorted(account.assets)))
    return account_health(account, prices)


@pytest.mark.chain
def test_worked_examples_through_the_adapter(devnet: Devnet, hl: HlDeployment) -> None:
    alice, bob = (devnet.anvil.accounts[i].lower() for i in (1, 2))
    hl.deposit(alice, "20000")
    hl.open(alice, "BTC", "1", leverage=40)
    hl.deposit(bob, "2000")
    hl.open(bob, "ETH", "-10", leverage=10, isolated=True)

    (cross,) = accounts_of(devnet.anvil, alice).values()
    assert (cross.ref, cross.mode, cross.block_number) == (
        f"{alice}:cross:0",
        MarginMode.CROSS,
        devnet.anvil.block_number(),
    )
    assert cross.collateral[0].amount_raw == 20000 * 10**6  # rawUsd -80000 + entry 100000
    report = health_of(devnet.anvil, cross)
    assert report.equity_usd == pytest.approx(20000.0, rel=1e-12)  # = accountValue
    assert report.maintenance_usd == pytest.approx(1250.0, rel=1e-12)
    assert report.positions[0].liquidation_price == pytest.approx(6400000 / 79, rel=1e-6)

    accounts = accounts_of(devnet.anvil, bob)
    assert set(accounts) == {f"{bob}:isolated:1"}  # the emptied cross part is not an account
    iso = accounts[f"{bob}:isolated:1"]
    assert (iso.mode, iso.collateral[0].amount_raw) == (MarginMode.ISOLATED, 2000 * 10**6)
    report = health_of(devnet.anvil, iso)
    assert report.maintenance_usd == pytest.approx(400.0, rel=1e-12)
    assert report.positions[0].liquidation_price == pytest.approx(110000 / 51, rel=1e-6)


def _steps(start: Decimal, step: Decimal, direction: int, count: int) -> list[Decimal]:
    return [start + direction * step * k for k in range(count)]


@pytest.mark.chain
@pytest.mark.parametrize(
    ("coin", "size", "leverage", "isolated", "deposit", "exact"),
    [
        ("BTC", "0.5", 20, False, "4000", None),
        ("BTC", "-0.5", 20, False, "4000", None),
        ("ETH", "4", 10, True, "1000", None),
        ("ETH", "-4", 10, True, "1000", None),
        # Tiered ETH, crossing a bound on the way: $80k long (5x tier) liquidates at $52k
        # notional (10x tier): 38·P = 49,399; $50k short (10x) at $71.5k (5x): 27.5·P = 78,600.
        ("ETH", "40", 3, False, "30001", 49_399 / 38),
        ("ETH", "-25", 2, True, "26000", 78_600 / 27.5),
    ],
)
def test_sim_liquidates_where_perpwatch_says_so(
    devnet: Devnet,
    hl: HlDeployment,
    coin: str,
    size: str,
    leverage: int,
    isolated: bool,
    deposit: str,
    exact: float | None,
) -> None:
    adapter = ADAPTER if exact is None else TIERED
    if exact is not None:
        hl.set_margin_tiers(coin, ETH_DEVNET_TIERS)
    user = devnet.anvil.accounts[3].lower()
    hl.deposit(user, deposit)
    hl.open(user, coin, size, leverage=leverage, isolated=isolated)
    ref = f"{user}:isolated:1" if isolated else f"{user}:cross:0"
    account = accounts_of(devnet.anvil, user, adapter)[ref]
    liq = health_of(devnet.anvil, account).positions[0].liquidation_price
    assert liq is not None
    if exact is not None:
        assert liq == pytest.approx(exact, rel=1e-9)
    direction = -1 if size[0] != "-" else 1  # adverse: down for a long, up for a short
    # Steps in the perp's price tick (BTC 0.1, ETH 0.01) that land near, not on, the root.
    step = Decimal("3.7") if coin == "BTC" else Decimal("0.07")
    start = Decimal(str(round(liq))) - direction * 3 * step * 4
    verdicts = []
    for price in _steps(start, step, direction, 30):
        hl.set_mark(coin, price)
        health = health_of(devnet.anvil, accounts_of(devnet.anvil, user, adapter)[ref]).health
        verdicts.append((price, health <= 1.0, hl.is_liquidatable(user, coin)))
    first_ours = next(i for i, (_, ours, _) in enumerate(verdicts) if ours)
    first_sim = next(i for i, (_, _, sim) in enumerate(verdicts) if sim)
    assert 0 < first_ours == first_sim
    assert abs(float(verdicts[first_sim][0]) - liq) <= float(step)
    assert all(ours == sim for _, ours, sim in verdicts)


@pytest.mark.chain
def test_cross_loss_moves_eth_but_not_the_isolated_sibling(
    devnet: Devnet, hl: HlDeployment
) -> None:
    user = devnet.anvil.accounts[4].lower()
    hl.deposit(user, "8000")
    hl.open(user, "BTC", "0.5", leverage=20)
    hl.open(user, "ETH", "10", leverage=10)
    hl.open(user, "SOL", "-20", leverage=5, isolated=True)
    cross_ref, iso_ref = f"{user}:cross:0", f"{user}:isolated:5"

    def snapshot() -> tuple[AccountHealth, AccountHealth]:
        accounts = accounts_of(devnet.anvil, user)
        assert set(accounts) == {cross_ref, iso_ref}
        return health_of(devnet.anvil, accounts[cross_ref]), health_of(
            devnet.anvil, accounts[iso_ref]
        )

    cross_before, iso_before = snapshot()
    hl.set_mark("BTC", "90000")  # a 5,000 loss on the cross BTC long
    cross_after, iso_after = snapshot()
    eth_before = next(p for p in cross_before.positions if p.asset == "ETH")
    eth_after = next(p for p in cross_after.positions if p.asset == "ETH")
    assert eth_before.distance_pct is not None
    assert eth_after.distance_pct is not None
    assert eth_after.distance_pct < eth_before.distance_pct - 20  # ETH's room shrinks ~500 USD
    # The gap shrinks by the 5,000 loss less BTC's lower MM (0.5 * 10,000 / 80); ETH's gap moves
    # 10 * (1 - 1/50) per dollar.
    shift = (5000 - 62.5) / 9.8
    assert eth_before.liquidation_price is not None
    assert eth_after.liquidation_price == pytest.approx(
        eth_before.liquidation_price + shift, rel=1e-9
    )
    assert iso_after == iso_before
    summary = hl.margin_summary(user)
    assert cross_after.equity_usd == pytest.approx(summary[0] / 1e6, rel=1e-12)


@pytest.mark.chain
def test_a_tiered_margin_table_without_configured_tiers_is_a_config_error(
    devnet: Devnet, hl: HlDeployment
) -> None:
    hl.set_margin_tiers("ETH", ETH_DEVNET_TIERS)  # marginTableId >= 50: tiers exist on the venue
    user = devnet.anvil.accounts[5].lower()
    hl.deposit(user, "5000")
    hl.open(user, "ETH", "2", leverage=10)
    with pytest.raises(ConfigError, match=r"margin table \d+.*protocols\.margin_tiers\.1"):
        accounts_of(devnet.anvil, user, ADAPTER)
    assert f"{user}:cross:0" in accounts_of(devnet.anvil, user, TIERED)


# -- remembered wallets --------------------------------------------------------------------------

HEADER_CALLS = 1 + 2 * 3  # the block, then perpAssetInfo and markPx of each market


def remembering() -> tuple[HyperliquidAdapter, HyperliquidAdapter]:
    """An adapter that remembers wallets between reads, and one that reads them in full."""
    return (
        HyperliquidAdapter(31337, markets=[0, 1, 5], batch_size=4),
        HyperliquidAdapter(31337, markets=[0, 1, 5], batch_size=4, remember_wallets=False),
    )


@pytest.mark.chain
def test_a_remembered_wallet_costs_its_summary_and_isolated_positions(
    devnet: Devnet, hl: HlDeployment
) -> None:
    user = devnet.anvil.accounts[6].lower()
    hl.deposit(user, "30000")
    hl.open(user, "BTC", "0.1", leverage=20)
    hl.open(user, "SOL", "-20", leverage=5, isolated=True)
    adapter, fresh = remembering()

    def calls_of_a_read() -> list[int]:
        """Sub-calls of each step of a remembering read; it must find what a full one finds."""
        calls: list[int] = []
        accounts = run(devnet.anvil, adapter.read_accounts([user]), calls)
        assert accounts == run(devnet.anvil, fresh.read_accounts([user]))
        assert accounts
        return calls

    assert calls_of_a_read() == [HEADER_CALLS + 1 + 3, 0]  # never read: every market
    hl.set_mark("BTC", "97000")
    hl.set_mark("SOL", "151")
    assert calls_of_a_read() == [HEADER_CALLS + 1 + 1, 0]  # the summary and isolated SOL
    hl.open(user, "ETH", "1", leverage=10)  # the cross part changed: its raw USD moved
    assert calls_of_a_read() == [HEADER_CALLS + 1 + 1, 2]  # then BTC's and ETH's positions
    hl.set_mark("SOL", "185")  # the isolated short is past maintenance; its liquidation
    hl.liquidate(user, "SOL")  # leaves the cross summary as it was
    assert calls_of_a_read() == [HEADER_CALLS + 1 + 1, 0]
    assert f"{user}:isolated:5" not in {
        a.ref for a in run(devnet.anvil, fresh.read_accounts([user]))
    }
    firsts = []
    for i in range(FULL_READ_EVERY):
        hl.set_mark("BTC", str(97000 + 10 * i))
        firsts.append(calls_of_a_read()[0])
    assert sorted(firsts) == [HEADER_CALLS + 1] * (FULL_READ_EVERY - 1) + [HEADER_CALLS + 1 + 3]
    assert adapter.read_outcomes() == {"in_full": 2, "unchanged": 21, "changed": 1}
    assert fresh.read_outcomes() == {}


@pytest.mark.chain
def test_remembered_reads_agree_with_full_ones_through_a_random_market(
    devnet: Devnet, hl: HlDeployment
) -> None:
    """Every kind of move a wallet can make, at random, each followed by a read of all three
    wallets through both adapters: the accounts must be the same."""
    rng = random.Random(11)
    users = [devnet.anvil.accounts[i].lower() for i in (7, 8, 9)]
    for user, side in zip(users, (1, -1, 1), strict=True):
        hl.deposit(user, "60000")
        hl.open(user, "BTC", str(side * 0.1), leverage=10)
        hl.open(user, "SOL", str(side * -10), leverage=5, isolated=True)
    prices = {"BTC": 100000.0, "ETH": 2000.0, "SOL": 150.0}
    steps = {"BTC": Decimal("0.01"), "ETH": Decimal("0.1"), "SOL": Decimal("1")}
    adapter, fresh = remembering()
    kinds: list[str] = []
    liquidated = 0
    followed: list[int] = []  # sub-calls of each read's second step
    for _ in range(120):
        user, coin = rng.choice(users), rng.choice(["BTC", "ETH", "SOL"])
        kind = rng.choice(["mark", "mark", "trade", "close", "margin", "deposit", "liquidate"])
        if kind == "mark" and rng.random() < 0.2:
            kind = "crash"
        isolated = coin == "SOL"  # SOL on isolated margin, the others on cross
        try:
            if kind in ("mark", "crash"):
                prices[coin] *= rng.uniform(0.9, 1.1) if kind == "mark" else rng.choice([0.7, 1.4])
                hl.set_mark(coin, f"{prices[coin]:.1f}")
            elif kind == "trade":
                size = steps[coin] * rng.randint(1, 30) * rng.choice([1, -1])
                hl.trade(user, coin, str(size), rng.choice([5, 10, 20]), isolated)
            elif kind == "close":
                hl.close(user, coin)
            elif kind == "margin":
                holders = [u for u in users if hl.position(u, "SOL")[0]]
                hl.adjust_margin(rng.choice(holders or users), "SOL", rng.choice(["-99", "300"]))
            elif kind == "deposit":
                hl.deposit(user, str(rng.randint(1, 900)))
            else:
                for who, c in itertools.product(users, prices):
                    if hl.is_liquidatable(who, c):
                        hl.liquidate(who, c)
                        liquidated += 1
        except TransactionReverted:
            continue
        kinds.append(kind)
        calls: list[int] = []
        assert run(devnet.anvil, adapter.read_accounts(users), calls) == run(
            devnet.anvil, fresh.read_accounts(users)
        ), kinds
        followed.append(calls[1])
    assert {"mark", "trade", "close", "margin", "deposit"} <= set(kinds)
    assert liquidated >= 2
    # Most reads asked no position of a cross perp; those after a trade did.
    assert followed.count(0) > len(followed) // 2
    assert any(followed)
