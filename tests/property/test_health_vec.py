"""The vectorised margin math agrees with the scalar one, account by account."""

from __future__ import annotations

import math
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.models import Collateral, MarginAccount, MarginMode, Position
from monitor.health import pieces
from monitor.health.account import account_health, adverse_weights, shock_to_liquidation
from monitor.health.book import (
    BookHealth,
    account_healths,
    compile_accounts,
    evaluate,
    joint_moves,
)
from tests.health_helpers import (
    USDC,
    accounts,
    collaterals,
    gmx_account,
    make_account,
    positions,
    prices,
    two_asset_cross,
    usdc,
)

REL = 1e-9


def close(vec: float, scalar: float | None, abs_tol: float = 0.0) -> bool:
    if scalar is None:
        return math.isnan(vec)
    return math.isclose(vec, scalar, rel_tol=REL, abs_tol=abs_tol)


def assert_matches_scalar(
    book_accounts: list[MarginAccount], px: dict[str, float], result: BookHealth
) -> None:
    row = 0
    for i, acc in enumerate(book_accounts):
        want = account_health(acc, px)
        assert close(result.equity_usd[i], want.equity_usd, abs_tol=1e-9)
        assert close(result.maintenance_usd[i], want.maintenance_usd, abs_tol=1e-9)
        assert close(result.health[i], want.health, abs_tol=1e-9)
        for risk in want.positions:
            assert close(result.liquidation_price[row], risk.liquidation_price), (i, risk)
            assert close(result.distance_pct[row], risk.distance_pct, abs_tol=1e-7), (i, risk)
            row += 1
    assert row == len(result.liquidation_price)


@given(st.lists(accounts(), min_size=1, max_size=8), prices())
def test_vectorised_equals_scalar_on_mixed_accounts(
    book_accounts: list[MarginAccount], px: dict[str, float]
) -> None:
    book = compile_accounts(book_accounts)
    assert_matches_scalar(book_accounts, px, evaluate(book, book.price_vector(px)))


@given(st.lists(accounts(), min_size=1, max_size=8), prices())
def test_account_healths_carry_the_scalar_move_to_liquidation(
    book_accounts: list[MarginAccount], px: dict[str, float]
) -> None:
    book = compile_accounts(book_accounts)
    vector = book.price_vector(px)
    for acc, got in zip(
        book_accounts, account_healths(book, evaluate(book, vector), vector), strict=True
    ):
        want = account_health(acc, px).move_pct
        assert (got.move_pct is None) == (want is None)
        assert want is None or math.isclose(got.move_pct or 0.0, want, abs_tol=1e-7)


@settings(max_examples=60)
@given(
    st.lists(accounts(), min_size=1, max_size=6),
    st.lists(positions(), min_size=5, max_size=24),
    st.lists(collaterals(), min_size=1, max_size=2),
    prices(),
    st.sampled_from([1, 300, pieces.PIECES_PER_CALL]),
)
def test_joint_moves_of_wide_and_narrow_accounts_agree_however_sliced(
    book_accounts: list[MarginAccount],
    wide: list[Position],
    coll: list[Collateral],
    px: dict[str, float],
    budget: int,
) -> None:
    """An account on many markets beside accounts on two: solved by size class and in slices
    of any budget (down to one group per solve), every move is the scalar one."""
    book_accounts = [*book_accounts, make_account(MarginMode.CROSS, coll, wide)]
    book = compile_accounts(book_accounts)
    vector = book.price_vector(px)
    result = evaluate(book, vector)
    with patch.object(pieces, "PIECES_PER_CALL", budget):
        joint = joint_moves(book, result, vector)
        views = account_healths(book, result, vector)
    for i, (acc, got) in enumerate(zip(book_accounts, views, strict=True)):
        want = account_health(acc, px).move_pct
        assert (got.move_pct is None) == (want is None)
        assert want is None or math.isclose(got.move_pct or 0.0, want, abs_tol=1e-7)
        alone = None
        if len({p.asset for p in acc.positions}) > 1:  # a joint move to solve
            alone = shock_to_liquidation(acc, px, adverse_weights(acc))
        assert close(joint[i], alone, abs_tol=1e-9), (i, joint[i], alone)


@given(st.lists(positions("ETH"), min_size=2, max_size=4), prices())
def test_positions_sharing_an_asset_in_a_cross_account(
    pos: list[Position], px: dict[str, float]
) -> None:
    acc = make_account(MarginMode.CROSS, [usdc(50_000)], pos)
    book = compile_accounts([acc])
    assert len(book.shared) == len(pos)
    assert_matches_scalar([acc], px, evaluate(book, book.price_vector(px)))


@given(st.lists(accounts(), min_size=2, max_size=6), prices(), st.floats(0.2, 3.0))
def test_isolated_rows_ignore_other_accounts_prices(
    book_accounts: list[MarginAccount], px: dict[str, float], factor: float
) -> None:
    book = compile_accounts(book_accounts)
    base = evaluate(book, book.price_vector(px))
    for i, acc in enumerate(book_accounts):
        if acc.mode is not MarginMode.ISOLATED:
            continue
        moved = {a: p if a in acc.assets else p * factor for a, p in px.items()}
        again = evaluate(book, book.price_vector(moved))
        rows = book.pos_account == i
        assert again.health[i] == base.health[i]
        np.testing.assert_array_equal(again.liquidation_price[rows], base.liquidation_price[rows])


def test_worked_accounts_in_one_book() -> None:
    book_accounts = [
        gmx_account(True, usdc(1000)),
        gmx_account(False, usdc(1000)),
        two_asset_cross(),
    ]
    px = {"ETH": 2500.0, "BTC": 100_000.0, USDC: 1.0}
    book = compile_accounts(book_accounts)
    result = evaluate(book, book.price_vector(px))
    assert result.liquidation_price[:2] == pytest.approx([2265.5, 2734.5], rel=1e-12)
    assert_matches_scalar(book_accounts, px, result)


def test_empty_book_and_missing_price() -> None:
    book = compile_accounts([])
    result = evaluate(book, book.price_vector({}))
    assert result.health.shape == (0,)
    assert result.liquidation_price.shape == (0,)
    with pytest.raises(KeyError):
        compile_accounts([two_asset_cross()]).price_vector({"ETH": 1.0})
