"""Evidence for the default alert thresholds (issue 16): how early each policy warns, per venue
and leverage, on a scripted crash, against the old health-ratio defaults (the baseline).

    python -m bench.thresholds --step-pct 0.25 --json

Each row is one long position opened at the mark (USDC collateral): GMX-like (maintenance
0.5 % or 1 % of the entry notional, $5 floor) or Hyperliquid-like (maintenance half the initial
margin at the market's max leverage), at leverage 2-100x (up to the venue's max). The price then
falls ``--step-pct`` per block until the account is liquidatable; the alert rules run every
block. Reported per row: the move to liquidation at opening, and for each policy the blocks
between its first warning / critical alert and liquidatable (0: the first alert WAS
liquidatable; opening: the account was born at that level). Pure math, no devnet: a second.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from indexer.config.sections import Thresholds
from indexer.models import E30, Collateral, MarginAccount, MarginMode, Position
from monitor.alerts.levels import Level
from monitor.alerts.rules import AlertState, Policy, Report, step
from monitor.health.account import account_health

MARK = 60_000.0
T0 = datetime(2025, 1, 1, tzinfo=UTC)
VENUES = {  # name -> (mm_rate, mm_rate_entry, max leverage)
    "gmx 0.5%": (0.0, 0.005, 100),
    "gmx 1%": (0.0, 0.01, 100),
    "hl max 50x": (1 / 100, 0.0, 50),
    "hl max 20x": (1 / 40, 0.0, 20),
    "hl max 10x": (1 / 20, 0.0, 10),
    "hl max 3x": (1 / 6, 0.0, 3),
}
LEVERAGES = (2, 3, 5, 10, 25, 50, 100)
POLICIES = {
    "old (health 1.5/1.15)": Policy(Thresholds(warning_distance_pct=0, critical_distance_pct=0)),
    "new (10 %/3 % + health)": Policy(Thresholds()),
}


def _account(mm_rate: float, mm_entry: float, leverage: float) -> MarginAccount:
    collateral_usd = 10_000.0
    notional = collateral_usd * leverage
    position = Position(
        market="BTC/USD",
        asset="BTC",
        size_raw=int(notional / MARK * 10**8),
        size_decimals=8,
        entry_notional_usd_e30=int(notional * E30),
        pending_fees_usd_e30=0,
        closing_fee_rate_e30=0,
        mm_rate_e30=int(mm_rate * E30),
        mm_rate_entry_e30=int(mm_entry * E30),
        mm_floor_usd_e30=5 * E30 if mm_entry else 0,
    )
    usdc = Collateral("USDC", int(collateral_usd * 10**6), 6, "fixed:USDC")
    return MarginAccount(1, "bench", "0xabc", "1", MarginMode.ISOLATED, (usdc,), (position,), 1)


def _leads(account: MarginAccount, policy: Policy, step_pct: float) -> dict[str, Any]:
    """Blocks from the first warning-or-worse and critical-or-worse alert to liquidatable."""
    state, price = AlertState(), MARK
    first: dict[Level, str | int] = {}  # level -> "opening" or the block it first fired
    for block in range(100_000):
        health = account_health(account, {"BTC": price, "USDC": 1.0})
        state, alerts = step(state, Report.from_health(health), policy, T0)
        for alert in alerts:
            for level in (Level.WARNING, Level.CRITICAL):
                if alert.level in (level, Level.CRITICAL, Level.LIQUIDATABLE):
                    first.setdefault(level, "opening" if block == 0 else block)
        if state.level is Level.LIQUIDATABLE:
            return {
                f"{level.value}_lead": lead if isinstance(lead, str) else block - lead
                for level in (Level.WARNING, Level.CRITICAL)
                if (lead := first.get(level)) is not None
            }
        price *= 1 - step_pct / 100
    raise RuntimeError("never liquidated")


def run(step_pct: float) -> list[dict[str, Any]]:
    rows = []
    for venue, (mm_rate, mm_entry, max_lev) in VENUES.items():
        for leverage in (lev for lev in LEVERAGES if lev <= max_lev):
            account = _account(mm_rate, mm_entry, leverage)
            opened = account_health(account, {"BTC": MARK, "USDC": 1.0})
            row: dict[str, Any] = {
                "venue": venue,
                "leverage": leverage,
                "move_pct": round(opened.move_pct or 0.0, 2),
                "health": round(opened.health, 3),
            }
            for name, policy in POLICIES.items():
                row[name] = _leads(account, policy, step_pct)
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step-pct", type=float, default=0.25, help="fall per block, percent")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = run(args.step_pct)
    if args.json:
        sys.stdout.write(orjson.dumps(rows).decode() + "\n")
        return 0
    for row in rows:
        leads = "  ".join(
            f"{name}: " + ", ".join(f"{k.split('_')[0]} {v}" for k, v in row[name].items())
            for name in POLICIES
        )
        print(f"{row['venue']:>11} {row['leverage']:>3}x  move {row['move_pct']:>6}%  {leads}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
