"""The GMX v2 adapter against the simulator: logs → touches, Multicall3 reads → margin accounts,
and perpwatch's health agreeing with GMX's own liquidation rule as the price walks."""

from __future__ import annotations

from decimal import Decimal
from typing import TypeVar

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from devnet.deploy import Devnet
from devnet.gmx import GmxDeployment, deploy_gmx
from indexer.errors import ConfigError
from indexer.models import E30, MarginAccount, MarginMode
from indexer.protocols import gmx_v2
from indexer.protocols.base import Read
from indexer.protocols.gmx_v2 import keys as gmx_keys
from indexer.protocols.gmx_v2.adapter import EVENT_LOG1_TOPIC, GmxV2Adapter
from indexer.protocols.gmx_v2.config_memory import ConfigMemory
from indexer.protocols.gmx_v2.decode import GmxMarket, GmxPosition, GmxToken
from indexer.protocols.gmx_v2.market import MarketParams, margin_account
from indexer.protocols.gmx_v2.market_reads import config_keys
from indexer.reads.multicall import MULTICALL3_ADDRESS, decode_aggregate3, encode_aggregate3
from indexer.registry import json_decoder
from indexer.scan.rows import Touch, TouchKind, event_rows
from monitor.health.account import account_health

T = TypeVar("T")
USD = E30


def run_read(devnet: Devnet, read: Read[T]) -> T:
    """perpwatch's read path in miniature: aggregate3 batches by eth_call, then decode."""
    return run_read_at(devnet, read, "latest")


def run_read_at(devnet: Devnet, read: Read[T], block: int | str) -> T:
    """:func:`run_read` at ``block``."""
    tag = hex(block) if isinstance(block, int) else block
    results = []
    for start in range(0, len(read.calls), read.batch_size):
        data = encode_aggregate3(read.calls[start : start + read.batch_size])
        tx = {"to": MULTICALL3_ADDRESS, "data": "0x" + data.hex()}
        ret = devnet.anvil.request("eth_call", [tx, tag])
        results += decode_aggregate3(bytes.fromhex(ret[2:]))
    return read.decode(results)


# -- pure: the normal form reproduces GMX's rule --------------------------------------------------

WETH, USDC, MARKET = "0x" + "aa" * 20, "0x" + "bb" * 20, "0x" + "cc" * 20
TOKENS = {WETH: GmxToken("ETH", 18), USDC: GmxToken("USDC", 6)}


@given(
    size_usd=st.integers(100, 10**7),
    leverage_x10=st.integers(11, 500),
    entry=st.integers(500, 5000),
    price=st.integers(300, 8000),
    is_long=st.booleans(),
    weth_collateral=st.booleans(),
    factor_bp=st.integers(0, 200),
    fee_bp=st.integers(0, 20),
    borrow_e30=st.integers(0, 10**28),
    funding_ps=st.integers(0, 10**44),
    floor_usd=st.integers(0, 50),
)
def test_health_le_1_iff_gmx_rule(
    size_usd: int,
    leverage_x10: int,
    entry: int,
    price: int,
    is_long: bool,
    weth_collateral: bool,
    factor_bp: int,
    fee_bp: int,
    borrow_e30: int,
    funding_ps: int,
    floor_usd: int,
) -> None:
    collateral_token = WETH if weth_collateral else USDC
    collateral_usd = size_usd * 10 // leverage_x10
    collateral_raw = collateral_usd * 10**18 // entry if weth_collateral else collateral_usd * 10**6
    size_tokens = size_usd * 10**18 // entry
    assume(size_tokens > 0)
    position = GmxPosition(
        "0x" + "11" * 32,
        "0x" + "22" * 20,
        MARKET,
        collateral_token,
        size_usd * USD,
        size_tokens,
        collateral_raw,
        0,
        0,
        0,
        is_long,
    )
    params = MarketParams(
        GmxMarket(MARKET, WETH, WETH, USDC),
        factor_bp * E30 // 10_000,
        {False: fee_bp * E30 // 10_000, True: fee_bp * E30 // 10_000},
        {is_long: borrow_e30, not is_long: 0},
        {(collateral_token, is_long): funding_ps},
    )
    account, _ = margin_account(position, params, TOKENS, floor_usd * USD, 1, 1)
    # GMX's rule in exact integers, prices per smallest unit times 1e30 (PROTOCOLS.md §1.8).
    p_index = price * 10**12
    p_coll = p_index if weth_collateral else 10**24
    pnl = size_tokens * p_index - size_usd * USD
    funding_raw = -(-size_usd * USD * funding_ps // (E30 * 10**15))
    cost = size_usd * fee_bp * E30 // 10_000 + size_usd * USD * borrow_e30 // E30
    remaining = collateral_raw * p_coll + (pnl if is_long else -pnl) - cost - funding_raw * p_coll
    threshold = max(floor_usd * USD, size_usd * USD * factor_bp // 10_000)
    gmx_liquidatable = remaining < threshold or remaining <= 0
    assume(abs(remaining - threshold) > size_usd * USD // 10**9)  # float health near 1
    health = account_health(account, {"ETH": float(price), "USDC": 1.0}).health
    assert (health <= 1.0) == gmx_liquidatable


def test_unknown_token_or_missing_address_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        GmxV2Adapter(
            1,
            {"data_store": MARKET, "reader": MARKET, "event_emitter": MARKET},
            markets=[GmxMarket(MARKET, WETH, WETH, "0x" + "dd" * 20)],
            tokens=TOKENS,
        )
    with pytest.raises(ConfigError):
        GmxV2Adapter(1, {"data_store": MARKET})


# -- against the simulator ------------------------------------------------------------------------

OPEN = [  # trader index, market, collateral, is_long, collateral raw, size USD
    (1, "ETH/USD", "USDC", True, 1_000 * 10**6, 10_000),
    (1, "ETH/USD", "USDC", False, 1_500 * 10**6, 12_000),
    (2, "ETH/USD", "WETH", True, 5 * 10**17, 8_000),
    (2, "BTC/USD", "USDC", False, 2_000 * 10**6, 30_000),
]


@pytest.fixture
def gmx(devnet: Devnet) -> GmxDeployment:
    """The simulator with OPEN's positions and some borrowing and funding accrued."""
    gmx = deploy_gmx(devnet)
    accounts = devnet.anvil.accounts
    for trader, market, collateral, is_long, amount, size in OPEN:
        gmx.increase(accounts[trader], market, collateral, is_long, amount, size * USD)
    gmx.accrue_borrowing("ETH/USD", True, 3 * 10**26)
    gmx.accrue_borrowing("BTC/USD", False, 7 * 10**26 + 1)
    gmx.accrue_funding("ETH/USD", "USDC", True, 2 * 10**17 + 3)  # rounds up in the fee
    gmx.accrue_funding("ETH/USD", "WETH", True, 10**26 + 7)  # owed in WETH
    gmx.set_price("ETH", "2450")
    gmx.set_price("BTC", "61000")
    return gmx


def _price_e30(gmx: GmxDeployment) -> dict[str, int]:
    return {asset: gmx.oracle_price(asset) for asset in ("ETH", "USDC", "BTC")}


def _exact_remaining_e30(account: MarginAccount, price_e30: dict[str, int]) -> int:
    """The normal form's equity in USD·1e30, exactly: prices per smallest unit times 1e30."""
    (c,), (p,) = account.collateral, account.positions
    return (
        c.amount_raw * price_e30[c.asset]
        + p.size_raw * price_e30[p.asset]
        - p.side * p.entry_notional_usd_e30
        - p.pending_fees_usd_e30
    )


def test_read_accounts_equal_the_simulators_state(gmx: GmxDeployment) -> None:
    accounts = gmx.devnet.anvil.accounts
    adapter = gmx.adapter()
    owners = [accounts[1], accounts[2], accounts[3]]
    result = run_read(gmx.devnet, adapter.read_accounts(owners))
    assert len(result) == len(OPEN)
    head = gmx.devnet.anvil.block_number()
    prices = _price_e30(gmx)
    for trader, market, collateral, is_long, _amount, size in OPEN:
        key = gmx.position_key(accounts[trader], market, collateral, is_long)
        (account,) = [a for a in result if a.ref == "0x" + key.hex()]
        (position,) = account.positions
        numbers = gmx.position(key)[1]
        assert account.owner == accounts[trader].lower()
        assert (account.mode, account.protocol, account.block_number) == (
            MarginMode.ISOLATED,
            "gmx_v2",
            head,
        )
        assert position.entry_notional_usd_e30 == numbers[0] == size * USD
        assert position.size_raw == (numbers[1] if is_long else -numbers[1])
        assert position.asset == gmx.markets[market].index.asset
        assert account.collateral[0].asset == gmx.token(collateral).asset
        assert position.mm_rate_entry_e30 == 5 * E30 // 1000
        assert position.mm_floor_usd_e30 == USD
        check = gmx.is_liquidatable(key)
        assert _exact_remaining_e30(account, prices) == check.remaining_collateral_usd_e30
        requirement = max(position.mm_floor_usd_e30, size * USD * 5 // 1000)
        assert requirement == max(
            check.min_collateral_usd_e30, check.min_collateral_usd_for_leverage_e30
        )


def test_position_in_unconfigured_market_is_a_config_error(gmx: GmxDeployment) -> None:
    full = gmx.adapter()
    eth_only = GmxV2Adapter(
        full.chain_id,
        {"data_store": full.data_store, "reader": full.reader, "event_emitter": full.event_emitter},
        markets=[
            m for m in full.markets.values() if m.index_token == gmx.tokens["WETH"].address.lower()
        ],
        tokens=full.tokens,
    )
    with pytest.raises(ConfigError, match="not configured"):
        run_read(gmx.devnet, eth_only.read_accounts([gmx.devnet.anvil.accounts[2]]))
    assert len(run_read(gmx.devnet, eth_only.read_accounts([gmx.devnet.anvil.accounts[1]]))) == 2


def test_read_prices_and_quotes(gmx: GmxDeployment) -> None:
    adapter = gmx.adapter()
    prices = run_read(gmx.devnet, adapter.read_prices(["ETH", "BTC", "USDC", "DOGE"]))
    assert prices == {"ETH": 2450.0, "BTC": 61000.0, "USDC": 1.0}
    quotes = run_read(gmx.devnet, adapter.read_price_quotes(["BTC"]))
    assert quotes["BTC"].answer == 61000 * 10**8
    assert quotes["BTC"].updated_at == int(gmx.devnet.anvil.block()["timestamp"], 16)


def test_touched_from_logs(gmx: GmxDeployment) -> None:
    accounts = gmx.devnet.anvil.accounts
    gmx.decrease(accounts[1], "ETH/USD", "USDC", False, 2_000 * USD)
    gmx.close(accounts[1], "ETH/USD", "USDC", False)
    gmx.set_price("ETH", "1500")
    assert gmx.liquidate(accounts[2], "ETH/USD", "WETH", True)
    adapter = gmx.adapter()
    source = adapter.log_source()
    assert source.topics[0] == (EVENT_LOG1_TOPIC,)
    logs = gmx.devnet.anvil.request(
        "eth_getLogs",
        [
            {
                "address": list(source.addresses),
                "fromBlock": "0x0",
                "toBlock": "latest",
                "topics": [list(t) if t else None for t in source.topics],
            }
        ],
    )
    rows = event_rows(source, logs, json_decoder([gmx_v2.PLUGIN]))
    touches = adapter.touched(rows)
    kinds = [(t.owner, t.kind) for t in touches]
    a1, a2 = accounts[1].lower(), accounts[2].lower()
    assert kinds == [
        (a1, TouchKind.TOUCHED),
        (a1, TouchKind.TOUCHED),
        (a2, TouchKind.TOUCHED),
        (a2, TouchKind.TOUCHED),
        (a1, TouchKind.TOUCHED),
        (a1, TouchKind.CLOSED),
        (a2, TouchKind.LIQUIDATED),
    ]
    short_key = "0x" + gmx.position_key(accounts[1], "ETH/USD", "USDC", False).hex()
    assert touches[-2].ref == short_key
    assert touches[-1].block_number == gmx.devnet.anvil.block_number()


def _scan(gmx: GmxDeployment, adapter: GmxV2Adapter, from_block: int) -> list[Touch]:
    """The adapter's log source over ``[from_block, latest]``, handed to ``touched``."""
    source = adapter.log_source()
    query = {
        "address": list(source.addresses),
        "fromBlock": hex(from_block),
        "toBlock": "latest",
        "topics": [list(t) if t else None for t in source.topics],
    }
    logs = gmx.devnet.anvil.request("eth_getLogs", [query])
    return adapter.touched(event_rows(source, logs, json_decoder([gmx_v2.PLUGIN])))


def _eth_rates(accounts: list[MarginAccount]) -> set[int]:
    """The maintenance rates of the ETH/USD positions (the market the tests reconfigure)."""
    return {a.positions[0].mm_rate_entry_e30 for a in accounts if a.positions[0].asset == "ETH"}


def test_configuration_is_read_again_when_config_announces_a_change(gmx: GmxDeployment) -> None:
    adapter, owner = gmx.adapter(), gmx.devnet.anvil.accounts[1]
    first = adapter.read_accounts([owner])
    before = run_read(gmx.devnet, first)
    second = adapter.read_accounts([owner])
    config_calls = 3 + sum(1 + len(config_keys(m)) for m in adapter.markets.values())
    assert len(first.calls) - len(second.calls) == config_calls == 55
    assert run_read(gmx.devnet, second) == before  # the remembered values stand in exactly
    assert _eth_rates(before) == {5 * E30 // 1000}

    start = gmx.devnet.anvil.block_number() + 1
    gmx.set_market_factors("ETH/USD", liquidation_factor_e30=9 * E30 // 1000)
    # Read at a block the scan has not reached, the remembered factor still answers: the
    # monitor reads only at the block it scanned to, which holds the SetUint.
    assert _eth_rates(run_read(gmx.devnet, adapter.read_accounts([owner]))) == {5 * E30 // 1000}
    assert _scan(gmx, adapter, start) == []  # a configuration write touches no position
    third = adapter.read_accounts([owner])
    assert len(third.calls) == len(first.calls)
    assert _eth_rates(run_read(gmx.devnet, third)) == {9 * E30 // 1000}
    assert len(adapter.read_accounts([owner]).calls) == len(second.calls)  # remembered again
    adapter.forget_config()  # a worker taking a chain over asks again
    assert len(adapter.read_accounts([owner]).calls) == len(first.calls)


def test_a_config_write_of_a_value_perpwatch_does_not_read_changes_nothing(
    gmx: GmxDeployment,
) -> None:
    """MIN_COLLATERAL_FACTOR gates new orders only: its write is scanned but neither retires
    the remembered configuration nor asks for the book to be re-read."""
    adapter, owner = gmx.adapter(), gmx.devnet.anvil.accounts[1]
    first = adapter.read_accounts([owner])
    run_read(gmx.devnet, first)
    start = gmx.devnet.anvil.block_number() + 1
    gmx.set_market_factors("ETH/USD", min_collateral_factor_e30=2 * E30 // 100)
    assert _scan(gmx, adapter, start) == []
    assert adapter.take_config_change() is False
    assert len(adapter.read_accounts([owner]).calls) < len(first.calls)  # still remembered
    gmx.set_market_factors("ETH/USD", position_fee_factor_e30=7 * E30 // 10_000)
    _scan(gmx, adapter, start)
    assert adapter.take_config_change() is True
    assert adapter.take_config_change() is False  # taken once
    assert len(adapter.read_accounts([owner]).calls) == len(first.calls)


def test_configuration_written_without_an_event_is_read_within_its_max_age(
    gmx: GmxDeployment,
) -> None:
    clock = [0.0]
    adapter, owner = gmx.adapter(), gmx.devnet.anvil.accounts[1]
    adapter.config = ConfigMemory(max_age_s=60.0, monotonic=lambda: clock[0])
    run_read(gmx.devnet, adapter.read_accounts([owner]))
    market = gmx.markets["ETH/USD"].market_token
    gmx.set_uint(gmx_keys.min_collateral_factor_for_liquidation_key(market), 8 * E30 // 1000)
    clock[0] = 59.9
    assert _eth_rates(run_read(gmx.devnet, adapter.read_accounts([owner]))) == {5 * E30 // 1000}
    clock[0] = 60.0
    assert _eth_rates(run_read(gmx.devnet, adapter.read_accounts([owner]))) == {8 * E30 // 1000}


def test_an_answer_older_than_a_seen_change_is_not_remembered(gmx: GmxDeployment) -> None:
    """A read built before a change and answered at an older block keeps its own values but
    cannot stand in for the new ones."""
    adapter, owner = gmx.adapter(), gmx.devnet.anvil.accounts[1]
    old = adapter.read_accounts([owner])  # built with the configuration calls
    start = gmx.devnet.anvil.block_number() + 1
    gmx.set_market_factors("ETH/USD", liquidation_factor_e30=9 * E30 // 1000)
    _scan(gmx, adapter, start)
    at_old_block = run_read_at(gmx.devnet, old, start - 1)
    assert _eth_rates(at_old_block) == {5 * E30 // 1000}  # right for its block
    assert adapter.config is not None
    assert adapter.config.recall() is None
    assert _eth_rates(run_read(gmx.devnet, adapter.read_accounts([owner]))) == {9 * E30 // 1000}


def position_state(gmx: GmxDeployment, trader: str, key: bytes) -> tuple[float, float | None, bool]:
    """(perpwatch's health, its liquidation price, the simulator's own verdict) of the
    position ``key`` of ``trader``, read now through the adapter."""
    adapter = gmx.adapter()
    (account,) = [
        a
        for a in run_read(gmx.devnet, adapter.read_accounts([trader]))
        if a.ref == "0x" + key.hex()
    ]
    prices = run_read(gmx.devnet, adapter.read_prices(sorted(account.assets)))
    report = account_health(account, prices)
    return (
        report.health,
        report.positions[0].liquidation_price,
        gmx.is_liquidatable(key).liquidatable,
    )


def _walk(gmx: GmxDeployment, index: int, step: Decimal) -> None:
    """Move the price adversely step by step across perpwatch's liquidation price: GMX's own
    ``isPositionLiquidatable`` must flip at the first step where health ≤ 1, within a step."""
    accounts = gmx.devnet.anvil.accounts
    trader, market, collateral, is_long, _amount, _size = OPEN[index]
    key = gmx.position_key(accounts[trader], market, collateral, is_long)
    asset = gmx.markets[market].index.asset

    def state() -> tuple[float, float | None, bool]:
        return position_state(gmx, accounts[trader], key)

    health, liq_price, _ = state()
    assert health > 1
    assert liq_price is not None
    direction = Decimal(-1 if is_long else 1)
    # Off the cent grid: a round liquidation price (the short's is exactly 2797) would put a
    # step on the boundary itself, where GMX's strict "<" and health "<= 1" differ by design.
    start = Decimal(repr(liq_price)).quantize(Decimal("0.01")) + Decimal("0.013")
    price = start - direction * 8 * step
    flipped_at = None
    for _ in range(16):
        gmx.set_price(asset, price)
        health, _, sim_liquidatable = state()
        assert sim_liquidatable == (health <= 1.0), (price, health)
        if sim_liquidatable and flipped_at is None:
            flipped_at = price
        price += direction * step
    assert flipped_at is not None
    assert abs(float(flipped_at) - liq_price) <= float(step)


@pytest.mark.parametrize(("index", "step"), [(0, "0.73"), (1, "0.91"), (2, "0.37"), (3, "11.3")])
def test_gmx_rule_flips_where_health_reaches_1(gmx: GmxDeployment, index: int, step: str) -> None:
    _walk(gmx, index, Decimal(step))
