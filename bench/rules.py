"""Benchmark: alert rule steps through a crash, perpwatch's ``Policy`` against the thresholds
evaluated literally as triggers (``LiteralPolicy``, the baseline), same run.

    python -m bench.rules --accounts 3000 --json

Each account walks ok → warning → critical → liquidatable and back up to ok (health, distance
and σ distance falling together, then recovering), as a crash and its rebound move a whole
book: one ``step`` per account and reading. Thresholds are the defaults with the σ triggers on,
so every trigger kind is evaluated. Both policies must decide the same alerts
(``same_alerts``); the times are the best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from bench.report import write_report
from indexer.config.sections import Thresholds
from monitor.alerts.levels import Level
from monitor.alerts.policy import LADDER, Policy, Reading
from monitor.alerts.rules import AlertDecision, AlertState, Report, step

T0 = datetime(2025, 1, 1, tzinfo=UTC)
HEALTHS = (1.6, 1.3, 1.18, 1.12, 1.06, 0.98, 1.02, 1.1, 1.2, 1.4, 1.8)


class LiteralPolicy(Policy):
    """The levels straight from their definition: a level is reached when one of its
    ``firing`` triggers fires, and holds while a trigger's value is at most
    ``Thresholds.clear_above`` its threshold. ``Policy`` answers the same from limits read
    once (``tests/property/test_rules_props.py`` holds the two equal)."""

    def raw_level(self, reading: Reading) -> Level:
        for level in reversed(LADDER[1:]):
            if self.firing(level, reading):
                return level
        return Level.OK

    def holds(self, level: Level, reading: Reading) -> bool:
        clear_above = self.thresholds.clear_above
        return any(t.value <= clear_above(t.threshold) for t in self.triggers(level, reading))


def crash(accounts: int) -> list[list[Report]]:
    """Per account its readings through the crash and rebound, slightly apart per account."""
    out = []
    for i in range(accounts):
        shift = (i % 7) * 0.004
        out.append([
            Report(health=h + shift, move_pct=3.0 * (h + shift - 1.0) * 100 / (h + shift),
                   move_sigma=2.0 * (h + shift - 1.0) * 10)
            for h in HEALTHS
        ])  # fmt: skip
    return out


def walk(policy: Policy, readings: list[list[Report]]) -> list[list[AlertDecision]]:
    """Every account's alerts through its readings."""
    told = []
    for reports in readings:
        state, alerts = AlertState(), []
        for report in reports:
            state, decided = step(state, report, policy, T0)
            alerts += decided
        told.append(alerts)
    return told


def _best_s(policy: Policy, readings: list[list[Report]], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        walk(policy, readings)
        best = min(best, time.perf_counter() - started)
    return best


def run(accounts: int, repeat: int) -> dict[str, object]:
    thresholds = Thresholds(warning_sigma=3.0, critical_sigma=1.5)
    fast, literal = Policy.from_thresholds(thresholds), LiteralPolicy.from_thresholds(thresholds)
    readings = crash(accounts)
    told = walk(fast, readings)
    steps = accounts * len(HEALTHS)
    fast_s, literal_s = _best_s(fast, readings, repeat), _best_s(literal, readings, repeat)
    return {
        "accounts": accounts,
        "steps": steps,
        "alerts": sum(map(len, told)),
        "same_alerts": told == walk(literal, readings),
        "baseline_ms": round(1000 * literal_s, 1),
        "perpwatch_ms": round(1000 * fast_s, 1),
        "baseline_steps_per_s": round(steps / literal_s),
        "perpwatch_steps_per_s": round(steps / fast_s),
        "ratio": round(literal_s / fast_s, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rules", description=__doc__)
    parser.add_argument("--accounts", type=int, default=3000, help="accounts through the crash")
    parser.add_argument("--repeat", type=int, default=5, help="runs per policy (best taken)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.accounts < 1 or args.repeat < 1:
        parser.error("--accounts and --repeat must be at least 1")
    report = run(args.accounts, args.repeat)
    write_report(report, as_json=args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
