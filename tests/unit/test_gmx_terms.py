"""GMX v2's liquidation-check terms (indexer.protocols.gmx_v2.terms/market) on worked numbers.

The issue's example (ETH long $24k, 8.4 ETH, 2 WETH collateral, fee factors 0.07 % when closing
worsens the balance and 0.05 % when it improves it) does not hold at ETH 2345.90 as stated: there
the remaining collateral is $385.36/$380.56. The $122.84 the issue quotes arises at ETH
$2,320.6577 with the 0.05 % fee (10.4·P - 24,000 - 12); that is the price used here.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from indexer.models import E30
from indexer.protocols.gmx_v2.decode import GmxMarket, GmxPosition, GmxToken
from indexer.protocols.gmx_v2.market import BlockState, MarketParams, margin_account
from indexer.protocols.gmx_v2.terms import (
    BorrowingConfig,
    ImpactConfig,
    balance_was_improved,
    borrowing_rate_e30,
    capped_pnl_usd_e30,
    clamp_impact,
    close_impact_usd_e30,
    impact_terms,
)
from monitor.health.account import account_health

USD = E30
WETH, USDC, MARKET = "0x" + "aa" * 20, "0x" + "bb" * 20, "0x" + "cc" * 20
TOKENS = {WETH: GmxToken("ETH", 18), USDC: GmxToken("USDC", 6)}


def test_balance_was_improved_follows_the_contract() -> None:
    # long improves iff L > S and size < 2(L - S); equality of diffs is not an improvement
    assert balance_was_improved(1_000_000, 900_000, 24_000, True)
    assert not balance_was_improved(1_000_000, 900_000, 200_000, True)  # diff unchanged
    assert balance_was_improved(1_000_000, 900_000, 199_999, True)
    assert not balance_was_improved(900_000, 900_000, 24_000, True)
    assert not balance_was_improved(900_000, 1_000_000, 24_000, True)
    assert balance_was_improved(900_000, 1_000_000, 24_000, False)
    assert not balance_was_improved(1_000_000, 900_000, 24_000, False)


def _worked_example(long_oi_usd: int, short_oi_usd: int) -> tuple[float, int, bool]:
    position = GmxPosition(
        "0x" + "11" * 32, "0x" + "22" * 20, MARKET, WETH,
        24_000 * USD, 84 * 10**17, 2 * 10**18, 0, 0, 0, True,
    )  # fmt: skip
    params = MarketParams(
        GmxMarket(MARKET, WETH, WETH, USDC),
        5 * E30 // 1000,  # $120 on $24,000
        {False: 7 * E30 // 10_000, True: 5 * E30 // 10_000},
        {True: 0, False: 0},
        {(WETH, True): 0},
        open_interest_e30={True: long_oi_usd * USD, False: short_oi_usd * USD},
    )
    account, terms = margin_account(position, params, TOKENS, USD, 1, 1, BlockState())
    health = account_health(account, {"ETH": 2320.6577, "USDC": 1.0}).health
    return health, terms.fee_factor_e30, terms.balance_improved


def test_issue_example_improved_is_not_liquidatable() -> None:
    health, fee, improved = _worked_example(1_000_000, 900_000)
    assert improved
    assert fee == 5 * E30 // 10_000
    assert abs(health - 122.84008 / 120) < 1e-9  # remaining $122.84 >= $120


def test_issue_example_not_improved_is_liquidatable() -> None:
    health, fee, improved = _worked_example(1_000_000, 1_000_000)  # L == S: never improved
    assert not improved
    assert fee == 7 * E30 // 10_000
    assert abs(health - 118.04008 / 120) < 1e-9  # remaining $118.04 < $120


IMPACT = ImpactConfig({True: 10**22, False: 2 * 10**22}, {True: 2 * E30, False: 2 * E30},
                      {True: E30 // 100, False: E30 // 100}, E30 // 100)  # fmt: skip


def test_close_impact_same_side_and_crossover() -> None:
    # Worsening: L 1M, S 1.5M, close a $100k long: diff 500k → 600k, f(d) = 2e-8 · d²
    worse = close_impact_usd_e30(10**6 * USD, 15 * 10**5 * USD, 10**5 * USD, True, IMPACT)
    assert worse == -2_200 * USD
    # Improving: L 1.5M, S 1M, close $100k long: 1e-8 · (500k² - 400k²) = $900, capped at 1 %
    better = close_impact_usd_e30(15 * 10**5 * USD, 10**6 * USD, 10**5 * USD, True, IMPACT)
    assert better == 900 * USD
    # Crossover: L 1.1M, S 1M, close $300k long: f₊(100k) - f₋(200k) = 100 - 800
    cross = close_impact_usd_e30(11 * 10**5 * USD, 10**6 * USD, 3 * 10**5 * USD, True, IMPACT)
    assert cross == -700 * USD


def test_clamp_impact() -> None:
    assert clamp_impact(5 * USD, 10_000 * USD, E30 // 1000) == 0
    assert clamp_impact(-5 * USD, 10_000 * USD, E30 // 1000) == -5 * USD
    assert clamp_impact(-25 * USD, 10_000 * USD, E30 // 1000) == -10 * USD  # memo §5 example


@given(
    close_usd=st.integers(-500, 500),
    pending_milli=st.integers(-2000, 2000),
    price=st.integers(1000, 4000),
    move=st.integers(0, 3000),
    side=st.sampled_from([1, -1]),
    cap_bp=st.integers(0, 100),
)
def test_impact_terms_exact_now_and_never_above_gmx_on_adverse_moves(
    close_usd: int, pending_milli: int, price: int, move: int, side: int, cap_bp: int
) -> None:
    size, cap = 10_000 * USD, cap_bp * E30 // 10_000
    pending = pending_milli * 10**15  # thousandths of an ETH
    p0 = price * 10**12
    const, slope = impact_terms(close_usd * USD, pending, p0, side, size, cap)
    assert const + slope * p0 == clamp_impact(close_usd * USD + pending * p0, size, cap)
    p1 = max(1, price - side * move) * 10**12  # against the position
    gmx = clamp_impact(close_usd * USD + pending * p1, size, cap)
    assert const + slope * p1 <= gmx


def test_profit_cap() -> None:
    # pool pnl $2,000 over a cap of 10 % of a $10,000 pool: profit scaled by 1000/2000
    assert capped_pnl_usd_e30(300 * USD, 2000 * USD, 10_000 * USD, E30 // 10) == 150 * USD
    assert capped_pnl_usd_e30(300 * USD, 500 * USD, 10_000 * USD, E30 // 10) == 300 * USD
    assert capped_pnl_usd_e30(-300 * USD, 2000 * USD, 10_000 * USD, E30 // 10) == -300 * USD
    assert capped_pnl_usd_e30(300 * USD, 2000 * USD, 10_000 * USD, 0) == 300 * USD  # cap 0: off


def test_borrowing_rate_models() -> None:
    linear = BorrowingConfig(10**21, E30, 0, 0, 0, 0)
    assert borrowing_rate_e30(linear, 5_000 * USD, 10_000 * USD, False) == 5 * 10**20
    assert borrowing_rate_e30(linear, 5_000 * USD, 10_000 * USD, True) == 0  # smaller side
    kink = BorrowingConfig(0, 0, 8 * E30 // 10, 10**20, 10**21, E30)
    # usage 90 %: base·0.9 + (above - base)·(0.9 - 0.8)/(1 - 0.8)
    rate = borrowing_rate_e30(kink, 9_000 * USD, 10_000 * USD, False)
    assert rate == 9 * 10**19 + 9 * 10**20 // 2
