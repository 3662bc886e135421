"""Issue 16's acceptance: with the default thresholds, alerts come in order and in time on any
monotone adverse price path, for every venue kind and leverage (hypothesis).

Venues: GMX-like isolated positions (maintenance 0.5-1 % of the entry notional, a small USD
floor, USDC or index-token collateral) and Hyperliquid-like cross accounts (1-3 markets,
maintenance half the initial margin at the market's max leverage). Paths: every step moves each
market against the account (by its own share of the step), never back, until the account is
liquidatable.

Why the step bounds: a step of s shrinks the move to liquidation by less than s (relative), so
one step cannot jump over a band wider than s. The narrowest band is critical's (0, 3 %]; the
warning band (3 %, 10 %] and the health bands are wider. So steps < 3 % walk every level in
order; steps < 10 % (the warning distance) at least alert before liquidatable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from indexer.config.sections import Thresholds
from indexer.models import E30, Collateral, MarginAccount, MarginMode, Position
from monitor.alerts.levels import Level
from monitor.alerts.policy import LADDER, rank
from monitor.alerts.rules import AlertState, Policy, Report, step
from monitor.health.account import account_health, adverse_weights
from tests.health_helpers import MARKS, USDC, e30, make_account

T0 = datetime(2025, 1, 1, tzinfo=UTC)
MAX_STEPS = 20_000


def _position(asset: str, notional_usd: float, is_long: bool, **rates: int) -> Position:
    size = notional_usd / MARKS[asset]
    return Position(
        market=f"{asset}/USD",
        asset=asset,
        size_raw=int(size * 10**18) * (1 if is_long else -1),
        size_decimals=18,
        entry_notional_usd_e30=e30(notional_usd),
        pending_fees_usd_e30=rates.pop("fees_e30", 0),
        closing_fee_rate_e30=0,
        mm_rate_e30=rates.get("mm_rate_e30", 0),
        mm_rate_entry_e30=rates.get("mm_rate_entry_e30", 0),
        mm_floor_usd_e30=rates.get("mm_floor_usd_e30", 0),
    )


def _usdc(usd: float) -> Collateral:
    return Collateral(USDC, int(usd * 10**6), 6, "fixed:USDC")


@st.composite
def gmx_isolated(draw: st.DrawFn) -> MarginAccount:
    """One GMX-like position at leverage 1.1-100x (minCollateralFactor 0.5-1 %)."""
    asset = draw(st.sampled_from(["ETH", "BTC"]))
    is_long = draw(st.booleans())
    leverage = draw(st.floats(1.1, 100.0))
    collateral_usd = draw(st.floats(100.0, 50_000.0))
    notional = collateral_usd * leverage
    position = _position(
        asset, notional, is_long,
        mm_rate_entry_e30=draw(st.sampled_from([5, 6, 8, 10])) * 10**27,
        mm_floor_usd_e30=draw(st.sampled_from([1, 5])) * E30,
        fees_e30=e30(notional * draw(st.floats(0.0, 0.001))),
    )  # fmt: skip
    if is_long and draw(st.booleans()):  # index-token collateral: it falls with the position
        units = collateral_usd / MARKS[asset]
        coll = Collateral(asset, int(units * 10**18), 18, f"feed:{asset}")
    else:
        coll = _usdc(collateral_usd)
    return make_account(MarginMode.ISOLATED, [coll], [position])


@st.composite
def hyperliquid_cross(draw: st.DrawFn) -> MarginAccount:
    """1-3 markets, each at a leverage up to its max; maintenance = 1 / (2·max leverage)."""
    assets = draw(st.lists(st.sampled_from(list(MARKS)), min_size=1, max_size=3, unique=True))
    positions, margin = [], 0.0
    for asset in assets:
        max_lev = draw(st.sampled_from([3, 5, 10, 20, 25, 40, 50]))
        leverage = draw(st.floats(1.0, float(max_lev)))
        notional = draw(st.floats(1_000.0, 200_000.0))
        rate = E30 // (2 * max_lev)
        positions.append(_position(asset, notional, draw(st.booleans()), mm_rate_e30=rate))
        margin += notional / leverage
    return make_account(MarginMode.CROSS, [_usdc(margin)], positions)


venues = gmx_isolated() | hyperliquid_cross()


@dataclass(frozen=True)
class Walk:
    """Where each alert came, as (step index, level); ``start``: the level the account opened
    at (no history); ``end``: the step at which it became liquidatable."""

    alerts: list[tuple[int, Level]]
    start: Level
    end: int


def walk(account: MarginAccount, steps: list[float], shares: list[float], policy: Policy) -> Walk:
    """Move every market against ``account`` step by step (cycling ``steps``; market i moves
    ``shares[i]`` of each step) until it is liquidatable, stepping the alert rules each time."""
    directions = adverse_weights(account)
    prices = {**MARKS, USDC: 1.0}
    state, alerts, start = AlertState(), [], None
    for i in range(MAX_STEPS):
        if i:
            size = steps[i % len(steps)]
            for (asset, d), share in zip(sorted(directions.items()), shares, strict=False):
                prices[asset] *= 1.0 + d * size * share
        report = Report.from_health(account_health(account, prices))
        state, decided = step(state, report, policy, T0)
        start = start or state.level
        alerts += [(i, a.level) for a in decided]
        if state.level is Level.LIQUIDATABLE:
            return Walk(alerts, start, i)
    raise AssertionError("the path never liquidated the account")


def paths(max_step: float) -> st.SearchStrategy[tuple[list[float], list[float]]]:
    """Step sizes (relative, < ``max_step``) and each market's share of them (one moves fully;
    every market moves, so a path reaches every liquidation the joint move finds)."""
    sizes = st.lists(st.floats(0.005, max_step, exclude_max=True), min_size=1, max_size=20)
    shares = st.lists(st.floats(0.25, 1.0), min_size=3, max_size=3).map(lambda s: [1.0, *s[1:]])
    return st.tuples(sizes, shares)


POLICIES = st.sampled_from([0.0, 0.05, 0.2]).map(
    lambda margin: Policy.from_thresholds(Thresholds(clear_margin=margin))
)


@settings(max_examples=150, deadline=None)
@given(venues, paths(max_step=0.03), POLICIES)
def test_steps_below_the_critical_distance_walk_every_level_in_order(
    account: MarginAccount, path: tuple[list[float], list[float]], policy: Policy
) -> None:
    """Opened below warning, an account gets warning, then critical, then liquidatable, each
    at an earlier step than the next; opened higher, no level above its start is skipped."""
    opened = account_health(account, {**MARKS, USDC: 1.0})
    # A 1x long is liquidated (if at all, by rounding) only near a price of 0: not a path.
    assume(opened.health > 1.0 and opened.move_pct is not None and opened.move_pct < 90.0)
    result = walk(account, *path, policy)
    levels = [level for _, level in result.alerts]
    first = max(rank(result.start), rank(Level.WARNING))
    assert levels == list(LADDER[first:]), result
    at = [i for i, _ in result.alerts]
    assert at == sorted(set(at)), result  # one level per step: each fired before the next


@settings(max_examples=150, deadline=None)
@given(venues, paths(max_step=0.10), POLICIES)
def test_steps_below_the_warning_distance_alert_before_liquidatable(
    account: MarginAccount, path: tuple[list[float], list[float]], policy: Policy
) -> None:
    """An account opened at ok is warned (warning or critical) at a step before the one that
    makes it liquidatable, whatever the leverage."""
    opened = account_health(account, {**MARKS, USDC: 1.0})
    # A 1x long is liquidated (if at all, by rounding) only near a price of 0: not a path.
    assume(opened.health > 1.0 and opened.move_pct is not None and opened.move_pct < 90.0)
    result = walk(account, *path, policy)
    assume(result.start is Level.OK)
    earlier = [level for i, level in result.alerts if i < result.end]
    assert earlier, result
    assert earlier[0] in (Level.WARNING, Level.CRITICAL), result
