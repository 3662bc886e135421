"""The steady screen is safe: an account it lets a tick skip would have stepped to nothing.

For any book, prices, σ, thresholds and stored ladder level, every account ``steady_accounts``
marks steady, stepped from that level with the reading the scalar health module gives it, keeps
its state and alerts nothing. And the screen is not empty-handed: far accounts are steady, near
ones are not, and a level whose trigger cleared is judged (it must recover).
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
from monitor.alerts.policy import LADDER, covered_by
from monitor.alerts.rules import AlertState, Policy, Report, step
from monitor.alerts.screen import (
    LevelBounds,
    Moves,
    far_from_warning,
    joint_move_floor,
    steady_accounts,
)
from monitor.health.account import account_health, adverse_weights, shock_to_liquidation
from monitor.health.book import compile_accounts
from monitor.health.tick import ProtocolTick, value_book
from monitor.health.volatility import sigma_move
from tests.health_helpers import MARKS, accounts, gmx_account, prices, two_asset_cross, usdc

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@st.composite
def thresholds(draw: st.DrawFn) -> Thresholds:
    critical = draw(st.floats(1.01, 3.0))
    warning = critical + draw(st.floats(0.01, 2.0))

    def off_or(lo: float, hi: float) -> st.SearchStrategy[float]:
        return st.one_of(st.just(0.0), st.floats(lo, hi))

    crit_d, warn_d = draw(off_or(0.5, 10.0)), draw(off_or(0.5, 10.0))
    crit_s, warn_s = draw(off_or(0.2, 3.0)), draw(off_or(0.2, 3.0))
    return Thresholds(
        warning=warning, critical=critical, clear_margin=draw(st.floats(0.0, 0.3)),
        warning_distance_pct=warn_d + crit_d if warn_d and crit_d else warn_d,
        critical_distance_pct=crit_d,
        warning_sigma=warn_s + crit_s if warn_s and crit_s else warn_s,
        critical_sigma=crit_s,
    )  # fmt: skip


sigma_maps = st.dictionaries(st.sampled_from(sorted(MARKS)), st.floats(0.001, 0.2), max_size=4)


def _steady(
    book_accounts: list[MarginAccount],
    px: dict[str, float],
    policy: Policy,
    sigmas: dict[str, float],
    stale: Collection[str] = (),
    *,
    rank: int = 0,
) -> list[bool]:
    book = compile_accounts(book_accounts)
    ids = np.arange(len(book_accounts), dtype=np.int64)
    tick = value_book("p", ids, book, px)
    bounds = LevelBounds.of([policy] * len(book_accounts))
    ranks = np.full(len(book_accounts), rank, dtype=np.intp)
    steady: list[bool] = steady_accounts(
        tick, bounds, ranks, Moves.of(tick, sigmas), set(stale)
    ).tolist()
    return steady


def _stored(level: Level) -> AlertState:
    """The state an account has after its alert at ``level`` (or none at ok)."""
    if level is Level.OK:
        return AlertState()
    return AlertState(level=level, episode=3, alerted=covered_by(level), since=NOW)


Case = tuple[list[MarginAccount], dict[str, float], Thresholds, dict[str, float]]
cases = st.tuples(st.lists(accounts(), min_size=1, max_size=8), prices(), thresholds(), sigma_maps)


@given(cases, st.integers(0, len(LADDER) - 1))
def test_a_steady_account_steps_to_nothing(case: Case, rank: int) -> None:
    book_accounts, px, limits, sigmas = case
    policy = Policy.from_thresholds(limits)
    state = _stored(LADDER[rank])
    for account, steady in zip(
        book_accounts, _steady(book_accounts, px, policy, sigmas, rank=rank), strict=True
    ):
        if not steady:
            continue
        health = account_health(account, px)
        report = Report.from_health(
            health, move_sigma=sigma_move(account, px, sigmas, health.positions)
        )
        new, decisions = step(state, report, policy, NOW)
        kept = (new.level, new.episode, new.alerted, new.since)
        assert (kept, decisions) == ((state.level, state.episode, state.alerted, state.since), [])


@given(cases, st.floats(1.0, 2.0))
def test_an_account_far_from_warning_fires_nothing_even_at_the_scaled_thresholds(
    case: Case, margin: float
) -> None:
    """What the whole-book re-read takes as cold (re-read rarely) would not be warned even
    with every threshold ``margin`` times higher; and at margin 1 every account steady at ok
    is cold."""
    book_accounts, px, limits, sigmas = case
    book = compile_accounts(book_accounts)
    tick = value_book("p", np.arange(len(book_accounts)), book, px)
    bounds = LevelBounds.of([Policy.from_thresholds(limits)] * len(book_accounts))
    moves = Moves.of(tick, sigmas)
    far = far_from_warning(tick, bounds, moves, margin).tolist()
    scaled = Policy.from_thresholds(
        limits.model_copy(
            update={
                name: getattr(limits, name) * margin
                for name in ("warning", "critical", "warning_distance_pct",
                             "critical_distance_pct", "warning_sigma", "critical_sigma")
            }
        )
    )  # fmt: skip
    for account, is_far in zip(book_accounts, far, strict=True):
        health = account_health(account, px)
        report = Report.from_health(
            health, move_sigma=sigma_move(account, px, sigmas, health.positions)
        )
        if is_far:
            assert step(AlertState(), report, scaled, NOW)[1] == []
    assert all(far_from_warning(tick, bounds, moves, 1.0) >= _steady_at_ok(tick, bounds, moves))


def _steady_at_ok(tick: ProtocolTick, bounds: LevelBounds, moves: Moves) -> np.ndarray:
    ranks = np.zeros(len(tick), dtype=np.intp)
    return steady_accounts(tick, bounds, ranks, moves, set())


@given(cases)
def test_only_accounts_on_the_ladder_with_fresh_prices_are_steady(case: Case) -> None:
    book_accounts, px, limits, sigmas = case
    policy = Policy.from_thresholds(limits)
    assert not any(_steady(book_accounts, px, policy, sigmas, rank=-1))  # unknown, liquidated
    # Every account holds an asset whose price is stale: none is steady.
    every_asset = {a for account in book_accounts for a in account.assets}
    assert not any(_steady(book_accounts, px, policy, sigmas, every_asset))


def test_far_accounts_are_steady_and_near_ones_are_not() -> None:
    far, near = gmx_account(True, usdc(5_000)), gmx_account(True, usdc(400))
    px = {**MARKS, "ETH": 2_500.0, "USDC": 1.0}  # at the entry price: equity is the margin
    h_far, h_near = (account_health(a, px).health for a in (far, near))
    assert 1.01 < h_near < h_far
    between = Thresholds(warning=(h_far + h_near) / 2, critical=1.001,
                         warning_distance_pct=0, critical_distance_pct=0)  # fmt: skip
    policy = Policy.from_thresholds(between)
    assert _steady([far, near], px, policy, {}) == [True, False]
    assert _steady([far, near], px, policy, {}, stale=["USDC"]) == [False, False]


def test_an_account_whose_joint_move_is_nearer_than_each_market_is_not_steady() -> None:
    cross = two_asset_cross()  # 1 BTC and 10 ETH long on 20,000 USDC
    px = {**MARKS, "BTC": 100_000.0, "USDC": 1.0}
    health = account_health(cross, px)
    single = min(p.distance_pct or 0.0 for p in health.positions)
    assert health.move_pct is not None
    assert health.move_pct < single  # the joint move is nearer
    between = Thresholds(warning_distance_pct=(health.move_pct + single) / 2)
    policy = Policy.from_thresholds(between)
    assert step(AlertState(), Report.from_health(health), policy, NOW)[1]  # it would alert
    assert _steady([cross], px, policy, {}) == [False]


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


def test_a_warning_holds_until_its_trigger_clears_then_the_account_is_judged() -> None:
    account = gmx_account(True, usdc(400))
    px = {**MARKS, "ETH": 2_500.0, "USDC": 1.0}
    health = account_health(account, px).health

    def at(warning: float) -> Policy:
        limits = Thresholds(warning=warning, critical=1.001, clear_margin=0.1,
                            warning_distance_pct=0, critical_distance_pct=0)  # fmt: skip
        return Policy.from_thresholds(limits)

    warning = LADDER.index(Level.WARNING)
    held = at(health / 1.05)  # past the threshold, within its 10 % clear margin
    assert _steady([account], px, held, {}, rank=warning) == [True]
    cleared = at(health / 1.2)  # past the clear margin: the account recovers
    assert _steady([account], px, cleared, {}, rank=warning) == [False]
    assert step(_stored(Level.WARNING), Report(health=health), cleared, NOW)[1]  # recovered
    escalated = at(health * 1.5)  # warning's own trigger fires: steady at warning...
    assert _steady([account], px, escalated, {}, rank=warning) == [True]
    assert _steady([account], px, escalated, {}, rank=0) == [False]  # ...but not from ok


def test_a_level_held_only_by_the_joint_floor_is_judged() -> None:
    cross = two_asset_cross()
    px = {**MARKS, "BTC": 100_000.0, "USDC": 1.0}
    health = account_health(cross, px)
    book = compile_accounts([cross])
    tick = value_book("p", np.arange(1), book, px)
    floor = 100.0 * joint_move_floor(tick, np.ones(len(book.assets)))[0]
    assert health.move_pct is not None
    assert floor < health.move_pct  # the bound is below the true joint move
    # Warning by distance only, cleared in truth (the move is past the clear margin) but not
    # by the floor: the account must be judged (it recovers).
    limits = Thresholds(warning=1.02, critical=1.01, clear_margin=0.1,
                        warning_distance_pct=(floor + health.move_pct) / 2 / 1.1,
                        critical_distance_pct=0)  # fmt: skip
    policy = Policy.from_thresholds(limits)
    assert step(_stored(Level.WARNING), Report.from_health(health), policy, NOW)[1]
    assert _steady([cross], px, policy, {}, rank=LADDER.index(Level.WARNING)) == [False]
