"""Benchmark: one price tick over N accounts, vectorised (``monitor.health.book``) against a
per-object loop over the scalar ``monitor.health.account.account_health`` (the baseline), same run.

    python -m bench.health --accounts 100000 --json

Accounts are random but seeded: half isolated (one position, USDC or same-asset collateral),
half cross (1-5 positions on distinct markets, USDC collateral), at 1.5-50x leverage.
The vectorised time excludes ``compile_accounts`` (done once, reported as ``compile_s``).
``views_s`` is the rules' side of a tick: ``account_healths`` (one ``AccountHealth`` per account,
each with its smallest move to liquidation, joint moves of cross accounts included) for every
account, against the same baseline loop (``views_speedup``); ``move_pct_mismatches`` counts
accounts whose move differs from the scalar one by more than 1e-6 percentage points.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench.report import write_report
from indexer.models import E30, Collateral, MarginAccount, MarginMode, Position
from monitor.health.account import account_health
from monitor.health.book import account_healths, compile_accounts, evaluate

MARKS = {
    "ETH": 2000.0, "BTC": 60_000.0, "SOL": 150.0, "ARB": 0.8,
    "DOGE": 0.15, "LINK": 14.0, "AVAX": 25.0, "XRP": 0.5,
}  # fmt: skip
USDC = "USDC"


def _e30(usd: float) -> int:
    return int(usd * E30)


def random_position(rng: np.random.Generator, asset: str) -> Position:
    """A position of 10-100,000 USD notional, entry within ±20 % of the mark."""
    notional = float(10 ** rng.uniform(1, 5))
    entry = MARKS[asset] * float(rng.uniform(0.8, 1.2))
    size_raw = max(1, int(notional / entry * 10**8)) * int(rng.choice([1, -1]))
    return Position(
        market=f"{asset}/USD",
        asset=asset,
        size_raw=size_raw,
        size_decimals=8,
        entry_notional_usd_e30=_e30(abs(size_raw) / 10**8 * entry),
        pending_fees_usd_e30=_e30(notional * float(rng.uniform(0, 0.002))),
        closing_fee_rate_e30=int(rng.integers(0, 10)) * 10**26,
        mm_rate_e30=int(rng.integers(50, 500)) * 10**26,
        mm_rate_entry_e30=int(rng.integers(0, 100)) * 10**26,
        mm_floor_usd_e30=int(rng.integers(0, 20)) * E30,
    )


def random_account(rng: np.random.Generator, i: int) -> MarginAccount:
    cross = bool(rng.integers(0, 2))
    count = int(rng.integers(1, 6)) if cross else 1
    assets = [str(a) for a in rng.choice(list(MARKS), size=count, replace=False)]
    pos = tuple(random_position(rng, a) for a in assets)
    margin_usd = sum(p.entry_notional_usd for p in pos) / float(rng.uniform(1.5, 50))
    if not cross and rng.integers(0, 2):
        coll = Collateral(assets[0], int(margin_usd / MARKS[assets[0]] * 10**18), 18, "feed")
    else:
        coll = Collateral(USDC, int(margin_usd * 10**6), 6, "fixed:USDC")
    mode = MarginMode.CROSS if cross else MarginMode.ISOLATED
    return MarginAccount(42161, "bench", f"0x{i:040x}", str(i), mode, (coll,), pos, 1)


def run(n_accounts: int, seed: int, repeat: int) -> dict[str, float | int]:
    """Build the accounts, time both paths on the same tick, check they agree."""
    rng = np.random.default_rng(seed)
    accounts = [random_account(rng, i) for i in range(n_accounts)]
    prices = {a: p * float(rng.uniform(0.95, 1.05)) for a, p in MARKS.items()} | {USDC: 1.0}
    positions = sum(len(a.positions) for a in accounts)

    started = time.perf_counter()
    book = compile_accounts(accounts)
    compile_s = time.perf_counter() - started
    vector = book.price_vector(prices)
    tick_s = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = evaluate(book, vector)
        tick_s.append(time.perf_counter() - started)

    views_s = []
    for _ in range(repeat):
        started = time.perf_counter()
        views = account_healths(book, result, vector)
        views_s.append(time.perf_counter() - started)

    started = time.perf_counter()
    baseline = [account_health(a, prices) for a in accounts]
    baseline_s = time.perf_counter() - started

    scalar_health = np.array([h.health for h in baseline])
    vec_s = min(tick_s)
    return {
        "accounts": n_accounts,
        "positions": positions,
        "compile_s": round(compile_s, 4),
        "tick_s": round(vec_s, 6),
        "baseline_tick_s": round(baseline_s, 4),
        "positions_per_s": round(positions / vec_s),
        "baseline_positions_per_s": round(positions / baseline_s),
        "speedup": round(baseline_s / vec_s, 1),
        "views_s": round(min(views_s), 4),
        "views_speedup": round(baseline_s / min(views_s), 1),
        "move_pct_mismatches": sum(
            _moved_apart(v.move_pct, b.move_pct) for v, b in zip(views, baseline, strict=True)
        ),
        "max_rel_diff_health": float(
            np.max(np.abs(result.health - scalar_health) / np.abs(scalar_health))
        ),
    }


def _moved_apart(got: float | None, want: float | None) -> bool:
    if got is None or want is None:
        return got is not want
    return abs(got - want) > 1e-6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.health", description=__doc__)
    parser.add_argument("--accounts", type=int, default=100_000, help="number of accounts")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5, help="vectorised ticks (best taken)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.accounts < 1 or args.repeat < 1:
        parser.error("--accounts and --repeat must be at least 1")
    report = run(args.accounts, args.seed, args.repeat)
    write_report(report, as_json=args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
