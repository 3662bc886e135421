"""The quiet screen is safe: an account it lets a tick skip would have stepped to nothing.

For any book, prices, σ and thresholds, every account ``quiet_accounts`` marks quiet, stepped
from the ok state with the reading the scalar health module gives it, stays ok and alerts
nothing. And the screen is not empty-handed: far accounts are quiet, near ones are not.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from indexer.config.sections import Thresholds
from indexer.models import MarginAccount
from monitor.alerts.levels import Level
from monitor.alerts.rules import AlertState, Policy, Report, step
from monitor.alerts.screen import QuietBounds, joint_move_floor, quiet_accounts
from monitor.health.account import account_health, adverse_weights, shock_to_liquidation
from monitor.health.book import compile_accounts
from monitor.health.tick import value_book
from monitor.health.volatility import sigma_move
from tests.health_helpers import MARKS, accounts, gmx_account, prices, two_asset_cross, usdc

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@st.composite
def thresholds(draw: st.DrawFn) -> Thresholds:
    critical = draw(st.floats(1.01, 3.0))
    warning = critical + draw(st.floats(0.01, 2.0))
    off_or = lambda lo, hi: st.one_of(st.just(0.0), st.floats(lo, hi))  # noqa: E731
    crit_d, warn_d = draw(off_or(0.5, 10.0)), draw(off_or(0.5, 10.0))
    crit_s, warn_s = draw(off_or(0.2, 3.0)), draw(off_or(0.2, 3.0))
    return Thresholds(
        warning=warning, critical=critical,
        warning_distance_pct=warn_d + crit_d if warn_d and crit_d else warn_d,
        critical_distance_pct=crit_d,
        warning_sigma=warn_s + crit_s if warn_s and crit_s else warn_s,
        critical_sigma=crit_s,
    )  # fmt: skip


sigma_maps = st.dictionaries(st.sampled_from(sorted(MARKS)), st.floats(0.001, 0.2), max_size=4)


def _quiet(
    book_accounts: list[MarginAccount],
    px: dict[str, float],
    policy: Policy,
    sigmas: dict[str, float],
    stale: Collection[str] = (),
    *,
    settled: bool = True,
) -> list[bool]:
    book = compile_accounts(book_accounts)
    ids = np.arange(len(book_accounts), dtype=np.int64)
    tick = value_book("p", ids, book, px)
    bounds = QuietBounds.of([policy] * len(book_accounts))
    levels = np.full(len(book_accounts), settled, dtype=bool)
    return quiet_accounts(tick, bounds, levels, sigmas, set(stale)).tolist()


Case = tuple[list[MarginAccount], dict[str, float], Thresholds, dict[str, float]]
cases = st.tuples(st.lists(accounts(), min_size=1, max_size=8), prices(), thresholds(), sigma_maps)


@given(cases)
def test_a_quiet_account_steps_to_nothing(case: Case) -> None:
    book_accounts, px, limits, sigmas = case
    policy = Policy.from_thresholds(limits)
    for account, quiet in zip(
        book_accounts, _quiet(book_accounts, px, policy, sigmas), strict=True
    ):
        if not quiet:
            continue
        health = account_health(account, px)
        report = Report.from_health(
            health, move_sigma=sigma_move(account, px, sigmas, health.positions)
        )
        state, decisions = step(AlertState(), report, policy, NOW)
        assert (state.level, decisions) == (Level.OK, []), (account, report)


@given(cases)
def test_only_settled_fresh_accounts_are_quiet(case: Case) -> None:
    book_accounts, px, limits, sigmas = case
    policy = Policy.from_thresholds(limits)
    assert not any(_quiet(book_accounts, px, policy, sigmas, settled=False))
    # Every account holds an asset whose price is stale: none is quiet.
    every_asset = {a for account in book_accounts for a in account.assets}
    assert not any(_quiet(book_accounts, px, policy, sigmas, every_asset))


def test_far_accounts_are_quiet_and_near_ones_are_not() -> None:
    far, near = gmx_account(True, usdc(5_000)), gmx_account(True, usdc(400))
    px = {**MARKS, "ETH": 2_500.0, "USDC": 1.0}  # at the entry price: equity is the margin
    h_far, h_near = (account_health(a, px).health for a in (far, near))
    assert 1.01 < h_near < h_far
    between = Thresholds(warning=(h_far + h_near) / 2, critical=1.001,
                         warning_distance_pct=0, critical_distance_pct=0)  # fmt: skip
    policy = Policy.from_thresholds(between)
    assert _quiet([far, near], px, policy, {}) == [True, False]
    assert _quiet([far, near], px, policy, {}, stale=["USDC"]) == [False, False]


def test_an_account_whose_joint_move_is_nearer_than_each_market_is_not_quiet() -> None:
    cross = two_asset_cross()  # 1 BTC and 10 ETH long on 20,000 USDC
    px = {**MARKS, "BTC": 100_000.0, "USDC": 1.0}
    health = account_health(cross, px)
    single = min(p.distance_pct or 0.0 for p in health.positions)
    assert health.move_pct is not None
    assert health.move_pct < single  # the joint move is nearer
    between = Thresholds(warning_distance_pct=(health.move_pct + single) / 2)
    policy = Policy.from_thresholds(between)
    assert step(AlertState(), Report.from_health(health), policy, NOW)[1]  # it would alert
    assert _quiet([cross], px, policy, {}) == [False]


@given(cases)
def test_the_joint_floor_never_exceeds_the_joint_move(case: Case) -> None:
    book_accounts, px, _, sigmas = case
    book = compile_accounts(book_accounts)
    tick = value_book("p", np.arange(len(book_accounts)), book, px)
    scales: list[dict[str, float] | None] = [None]
    if all(a in sigmas for a in book.assets if a != "USDC"):
        scales.append(sigmas)
    for scale in scales:
        vector = np.array([(scale or {}).get(a, 1.0) for a in book.assets])
        floor = joint_move_floor(tick, vector).tolist()
        for i, account in enumerate(book_accounts):
            if not book.joint[i] or account_health(account, px).health <= 1.0:
                continue
            markets = {p.asset for p in account.positions}
            weights = adverse_weights(
                account, None if scale is None else {a: scale[a] for a in markets}
            )
            exact = shock_to_liquidation(account, px, weights)
            assert exact is None or floor[i] <= exact * (1 + 1e-9) + 1e-12, (
                account,
                floor[i],
                exact,
            )
