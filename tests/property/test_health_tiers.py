"""Maintenance tiers (Hyperliquid margin tables): exact across tier bounds, scalar and vectorised.

Tables are Hyperliquid's mainnet ones from the docs "Margin tiers" page (PROTOCOLS.md §3.2,
notes/gmx_liquidation.md §7): ETH 0-100M 25x, >100M 15x; ARB 0-3M 10x, >3M 5x; BTC 0-150M
40x, >150M 20x; and the docs' testnet DOGE 0-20k 10x, 20k-100k 5x, >100k 3x.

The oracle for one position is the memo's closed form: with account value ``AV`` at mark ``p``
and size ``s``, tier k (rate ``l_k``, deduction ``d_k``) gives
``long: (s·p - AV - d_k) / (s·(1 - l_k))``, ``short: (AV + s·p + d_k) / (s·(1 + l_k))``;
the answer is the k whose notional range holds ``s·P``.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.models import E30, MarginAccount, MmTier, Position
from indexer.protocols.hyperliquid.decode import MarginSummary, PerpInfo, RawPosition
from indexer.protocols.hyperliquid.margin import (
    AccountContext,
    MarginTier,
    PerpLeg,
    cross_account,
    isolated_account,
    mm_rate_e30,
    tiers_for,
)
from monitor.health.account import account_health
from monitor.health.book import account_healths, compile_accounts, evaluate
from tests.health_helpers import USDC

ETH = (MarginTier(0, 25), MarginTier(100_000_000, 15))
ARB = (MarginTier(0, 10), MarginTier(3_000_000, 5))
BTC = (MarginTier(0, 40), MarginTier(150_000_000, 20))
DOGE_TESTNET = (MarginTier(0, 10), MarginTier(20_000, 5), MarginTier(100_000, 3))
CTX = AccountContext(999, "hyperliquid", "0x" + "ab" * 20, 1)


def hl_cross(
    coin: str,
    szi: int,
    sz_decimals: int,
    mark_px: int,
    account_value_usd: float,
    table: tuple[MarginTier, ...],
    max_leverage: int = 25,
) -> MarginAccount:
    """A cross account holding one position entered at the mark, through the adapter's math;
    without ``table`` a single tier at ``max_leverage`` (what perpwatch read before tiers)."""
    info = PerpInfo(0, coin, 0, sz_decimals, max_leverage, False)
    ntl_e6 = abs(szi) * mark_px
    raw_e6 = round(account_value_usd * 10**6) - szi * mark_px
    leg = PerpLeg(info, RawPosition(szi, ntl_e6, 0, 1, False), mark_px, table)
    account = cross_account(CTX, 0, MarginSummary(0, 0, 0, raw_e6), [leg])
    assert account is not None
    return account


def both_paths(account: MarginAccount, prices: dict[str, float]) -> tuple[float, float | None]:
    """(health, liquidation price of the first position), checked equal on both paths."""
    scalar = account_health(account, prices)
    book = compile_accounts([account])
    vector = book.price_vector(prices)
    (vec,) = account_healths(book, evaluate(book, vector), vector)
    assert vec.health == pytest.approx(scalar.health, rel=1e-9)
    liq, vec_liq = scalar.positions[0].liquidation_price, vec.positions[0].liquidation_price
    assert (liq is None) == (vec_liq is None)
    if liq is not None:
        assert vec_liq == pytest.approx(liq, rel=1e-9)
    return scalar.health, liq


def closed_form(side: int, size: float, mark: float, av: float, tier: MmTier) -> float:
    rate, deduction = tier.mm_rate_e30 / E30, tier.deduction_usd_e30 / E30
    if side > 0:
        return (size * mark - av - deduction) / (size * (1.0 - rate))
    return (av + size * mark + deduction) / (size * (1.0 + rate))


# -- worked numbers from the issue ("Margin fidelity") -----------------------------------------


def test_eth_long_151_6m_crosses_into_the_lower_tier() -> None:
    # 43,791 ETH at 3461.9 = $151.60M, account value $148,693,162.9 (a 1.02x long). Today's
    # tier (15x) stretched down gives 37.17; the price lands in the 25x tier: 67.74.
    size, mark, av = 43_791.0, 3461.9, 151_600_062.9 - 2_906_900.0
    account = hl_cross("ETH", 437_910_000, 4, 346_190, av, ETH)
    tiers = account.positions[0].mm_tiers
    _, liq = both_paths(account, {"ETH": mark, USDC: 1.0})
    assert liq is not None
    assert round(liq, 2) == 67.74
    assert liq == pytest.approx(closed_form(1, size, mark, av, tiers[0]), rel=1e-9)
    assert round(closed_form(1, size, mark, av, tiers[1]), 2) == 37.17  # the old answer
    at = account_health(account, {"ETH": liq, USDC: 1.0})
    assert at.equity_usd == pytest.approx(at.maintenance_usd, rel=1e-9)


def test_arb_long_9_3m_is_liquidatable_with_its_tiers() -> None:
    # 30M ARB at 0.31 = $9.3M, account value $585,900: health 1.26 on the 10x rule alone.
    args = ("ARB", 300_000_000, 1, 31_000, 585_900.0)
    untiered, _ = both_paths(hl_cross(*args, (), 10), {"ARB": 0.31, USDC: 1.0})
    tiered, _ = both_paths(hl_cross(*args, ARB), {"ARB": 0.31, USDC: 1.0})
    assert round(untiered, 2) == 1.26
    assert tiered == pytest.approx(585_900 / (930_000 - 150_000), rel=1e-12)  # 0.751
    assert tiered < 1.0


def test_eth_short_104m_liquidates_0_2_pct_sooner_with_its_tiers() -> None:
    # 30,041 ETH short at 3461.9 = $104.0M, account value $16.66M.
    args = ("ETH", -300_410_000, 4, 346_190, 16_660_000.0)
    _, untiered = both_paths(hl_cross(*args, ()), {"ETH": 3461.9, USDC: 1.0})
    account = hl_cross(*args, ETH)
    _, tiered = both_paths(account, {"ETH": 3461.9, USDC: 1.0})
    assert untiered is not None
    assert tiered is not None
    assert round((untiered / tiered - 1.0) * 100, 1) == 0.2
    want = closed_form(-1, 30_041.0, 3461.9, 16_660_000.0, account.positions[0].mm_tiers[1])
    assert tiered == pytest.approx(want, rel=1e-9)


def test_a_price_exists_where_the_stretched_tier_found_none() -> None:
    # $200M BTC long in the 20x tier, only $1M from its entry: the 20x line (deduction
    # $1.875M) has no positive root, the 40x tier below has one.
    size, mark = 2_000.0, 100_000.0
    account = hl_cross("BTC", 200_000_000, 5, 1_000_000, 199_000_000.0, BTC)
    tiers = account.positions[0].mm_tiers
    assert closed_form(1, size, mark, 199e6, tiers[1]) < 0.0
    _, liq = both_paths(account, {"BTC": mark, USDC: 1.0})
    assert liq == pytest.approx(closed_form(1, size, mark, 199e6, tiers[0]), rel=1e-9)


def test_docs_tier_deductions_and_maintenance() -> None:
    btc = tiers_for(40, BTC)
    assert btc[1].deduction_usd_e30 == 1_875_000 * E30
    # BTC $200M: 2.5 % of 200M less 1.875M = 3.125M.
    account = hl_cross("BTC", 200_000_000, 5, 1_000_000, 50_000_000.0, BTC)
    assert account_health(account, {"BTC": 100_000.0, USDC: 1.0}).maintenance_usd == (
        pytest.approx(3_125_000, rel=1e-12)
    )
    # Testnet DOGE $150k: 1,000 + 8,000 + 8,333.33 = 17,333.33.
    doge = hl_cross("DOGE", 1_500_000, 0, 100_000, 50_000.0, DOGE_TESTNET)
    health = account_health(doge, {"DOGE": 0.1, USDC: 1.0})
    assert health.maintenance_usd == pytest.approx(17_333.333333, rel=1e-9)


# -- properties over tier crossings ------------------------------------------------------------


@st.composite
def tiered_accounts(draw: st.DrawFn) -> tuple[MarginAccount, float]:
    """One BTC position of $0.1M-$400M with a random 1-3 tier table whose bounds sit near its
    notional, cross or isolated, at 1-60x; returns the account and its mark."""
    levs = sorted(
        draw(st.sets(st.sampled_from([50, 40, 25, 20, 10, 5, 3]), min_size=1, max_size=3))
    )
    notional = draw(st.floats(1e5, 4e8))
    cuts = sorted({int(notional * draw(st.floats(0.05, 1.5))) for _ in levs[1:]})
    table = tuple(MarginTier(b, lev) for b, lev in zip([0, *cuts], reversed(levs), strict=False))
    mark_px = draw(st.integers(100_000, 2_000_000))  # BTC, szDecimals 5: USD 10,000-200,000
    szi = max(1, int(notional * 1e6 / mark_px)) * draw(st.sampled_from([1, -1]))
    # Low leverage half the time: its liquidation price lies far enough to cross bounds.
    av = abs(szi) * mark_px / draw(st.one_of(st.floats(1.0, 4.0), st.floats(4.0, 60.0)))
    if draw(st.booleans()):
        return hl_cross("BTC", szi, 5, mark_px, av / 1e6, table), mark_px / 10
    info = PerpInfo(0, "BTC", 0, 5, levs[-1], False)
    ntl_e6 = abs(szi) * mark_px
    raw_e6 = round(av) - szi * mark_px
    leg = PerpLeg(info, RawPosition(szi, ntl_e6, raw_e6, 1, True), mark_px, table)
    return isolated_account(CTX, leg), mark_px / 10


@given(tiered_accounts(), st.floats(0.5, 1.5))
def test_liquidation_price_is_the_consistent_tier_and_health_is_one(
    case: tuple[MarginAccount, float], move: float
) -> None:
    account, mark = case
    prices = {"BTC": mark * move, USDC: 1.0}
    _, liq = both_paths(account, prices)
    position = account.positions[0]
    size, av = abs(position.size), account_health(account, prices).equity_usd
    candidates = [
        p
        for k, tier in enumerate(position.mm_tiers)
        if (p := closed_form(position.side, size, prices["BTC"], av, tier)) > 0.0
        and _in_tier(position, k, size * p)
    ]
    if liq is None:
        assert not candidates
        return
    assert any(liq == pytest.approx(p, rel=1e-9) for p in candidates), (liq, candidates)
    at = account_health(account, {**prices, "BTC": liq})
    assert at.equity_usd == pytest.approx(at.maintenance_usd, rel=1e-9, abs=1e-6)


def _in_tier(position: Position, k: int, notional_usd: float) -> bool:
    tiers, slack = position.mm_tiers, 1e-9 * notional_usd
    upper = tiers[k + 1].lower_bound_usd_e30 / E30 if k + 1 < len(tiers) else math.inf
    return tiers[k].lower_bound_usd_e30 / E30 - slack <= notional_usd <= upper + slack


@given(tiered_accounts(), st.lists(st.floats(0.0, 0.95), min_size=2, max_size=6))
def test_margin_gap_falls_with_adverse_moves_across_tiers(
    case: tuple[MarginAccount, float], moves: list[float]
) -> None:
    """Equity minus maintenance: every tier's rate is below 1, so an adverse move always
    costs more equity than it frees maintenance."""
    account, mark = case
    side = account.positions[0].side
    gaps = []
    for m in sorted(moves):
        h = account_health(account, {"BTC": mark * (1 - side * m), USDC: 1.0})
        gaps.append(h.equity_usd - h.maintenance_usd)
    for before, after in itertools.pairwise(gaps):
        assert after <= before + 1e-9 * max(1.0, abs(before))


# -- validation: one-line errors ---------------------------------------------------------------

RATE = E30 // 50


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: MarginTier(0, 0), "max leverage must be an int >= 1, got 0"),
        (lambda: MarginTier(-1, 10), "lower bound must be an int >= 0 USD, got -1"),
        (lambda: mm_rate_e30(0), "max leverage must be >= 1, got 0"),
        (lambda: tiers_for(0), "max leverage must be >= 1, got 0"),
        (lambda: tiers_for(25, [MarginTier(10, 25)]), "must start at 0 USD, got 10"),
        (lambda: tiers_for(25, [*ETH, MarginTier(100, 10)]), "must ascend: 100 after"),
        (lambda: MmTier(0, 0, 0), r"MmTier.mm_rate_e30 must be >= 1"),
        (lambda: MmTier(-1, RATE, 0), r"MmTier.lower_bound_usd_e30 must be >= 0"),
    ],
)
def test_tier_errors_are_one_line_value_errors(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        build()  # type: ignore[operator]
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        ((MmTier(5, RATE, 0),), r"mm_tiers\[0\] must start at notional 0"),
        ((MmTier(0, RATE, 0), MmTier(0, 2 * RATE, 0)), r"mm_tiers\[1\].* must ascend"),
        ((MmTier(0, RATE, 0), MmTier(10 * E30, 2 * RATE, 1)), r"mm_tiers\[1\].*continuous"),
        (((0, RATE, 0),), "must be a tuple of MmTier"),
    ],
)
def test_position_rejects_bad_tiers(tiers: tuple[Any, ...], message: str) -> None:
    base = hl_cross("ETH", 10_000, 4, 200_000, 1000.0, ()).positions[0]
    fields = {f: getattr(base, f) for f in Position.__dataclass_fields__}
    with pytest.raises(ValueError, match=message) as caught:
        Position(**{**fields, "mm_tiers": tiers})
    assert "\n" not in str(caught.value)
