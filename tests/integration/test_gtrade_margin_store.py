"""gTrade accounts through the store on every backend: the exact integers of the normal form
(20-decimal sizes, 1e30 USD amounts) come back unchanged, and the monitor values the reloaded
book exactly as the built one."""

from __future__ import annotations

import numpy as np
from sqlalchemy.engine import Engine

from indexer.store.accounts import load_accounts, save_read
from monitor.health.book import compile_accounts, evaluate
from tests.gtrade_helpers import account, collateral_prices, random_trades


def test_accounts_round_trip_and_evaluate_the_same(engine: Engine) -> None:
    trades = random_trades(seed=7, count=150)
    built = [account(t, i) for i, t in enumerate(trades)]
    owners = [a.owner for a in built]
    save_read(engine, 42161, "gtrade", owners, built, read_block=1)

    loaded = [a for _, a in load_accounts(engine, chain_id=42161, protocol="gtrade")]
    assert sorted(loaded, key=lambda a: a.ref) == sorted(built, key=lambda a: a.ref)

    prices = collateral_prices() | {
        f"PAIR{i}": t.open_price_e10 / 1e10 * 0.99 for i, t in enumerate(trades)
    }
    by_ref = {a.ref: a for a in loaded}
    before = compile_accounts(built)
    after = compile_accounts([by_ref[a.ref] for a in built])
    a = evaluate(before, before.price_vector(prices))
    b = evaluate(after, after.price_vector(prices))
    np.testing.assert_array_equal(a.health, b.health)
    np.testing.assert_array_equal(a.liquidation_price, b.liquidation_price)
