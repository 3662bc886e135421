"""The bot's answers as text. Pure: no I/O, no clock.

status_text([AccountLine(...), ...])        # /status
simulate_text(-10.0, [(line_before, health_after), ...])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from indexer.config.sections import ThresholdOverride, Thresholds
from indexer.models import MarginAccount
from monitor.health.account import AccountHealth
from monitor.notify.message import short_wallet

__all__ = [
    "AccountLine", "HistoryLine", "list_text", "mode_line", "simulate_text", "status_text",
    "thresholds_text",
]  # fmt: skip

MAX_LINES = 30
"""Accounts listed per answer (Telegram caps a message at 4096 characters)."""


@dataclass(frozen=True, slots=True)
class AccountLine:
    """One account of a watched wallet: ``name`` (label or address), its ``health`` at the
    monitor's latest prices (None: not priced yet, or its chain cannot be read now: then
    ``unreadable_since`` says since when)."""

    name: str
    account: MarginAccount
    health: AccountHealth | None
    unreadable_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class HistoryLine:
    """One alert sent to the chat: when (``at``, ISO text), level and the wallet; a chain
    alert has no wallet (``owner`` None) and names its ``chain``."""

    at: str
    level: str
    owner: str | None
    protocol: str | None
    health: float | None
    chain: str | None = None


def mode_line(account: MarginAccount) -> str:
    """Isolated vs cross, in one line."""
    if account.mode.value == "isolated":
        return "isolated: each position has its own collateral; only it can be lost"
    return "cross: one balance backs every position; a loss on one pulls all closer"


def _price(usd: float) -> str:
    return f"${usd:,.2f}" if abs(usd) >= 1 else f"${usd:.4g}"


def _health(health: AccountHealth | None, unreadable_since: datetime | None = None) -> str:
    if unreadable_since is not None:
        return f"health unknown (chain unreadable since {unreadable_since:%Y-%m-%d %H:%M} UTC)"
    if health is None or not health.known:
        return "health unknown (no usable price yet)"
    return f"health {health.health:.2f}" + (
        f", liquidation after a {health.move_pct:.1f}% move" if health.move_pct is not None else ""
    )


def _account_lines(line: AccountLine) -> list[str]:
    acc = line.account
    head = f"{line.name} · {acc.protocol} {acc.mode.value}: "
    head += _health(line.health, line.unreadable_since)
    out = [head]
    risks = line.health.positions if line.health is not None and line.health.known else ()
    for position, risk in zip(acc.positions, risks, strict=False):
        side = "long" if position.is_long else "short"
        if risk.liquidation_price is None:
            out.append(f"  {risk.asset} {side}: no liquidation price")
            continue
        away = "" if risk.distance_pct is None else f" ({risk.distance_pct:.1f}% away)"
        out.append(f"  {risk.asset} {side}: liquidation {_price(risk.liquidation_price)}{away}")
    return out


def status_text(lines: Sequence[AccountLine], wallets: int) -> str:
    """/status: each account's health, liquidation prices and distance, and one line on
    isolated vs cross for each mode present."""
    if not wallets:
        return "this chat watches no wallet yet; /watch <address> [label]"
    if not lines:
        return "no open positions on the watched wallets"
    out: list[str] = []
    for line in lines[:MAX_LINES]:
        out += _account_lines(line)
    if len(lines) > MAX_LINES:
        out.append(f"… and {len(lines) - MAX_LINES} more accounts")
    modes = {line.account.mode.value: line.account for line in lines}
    out += [mode_line(account) for account in modes.values()]
    return "\n".join(out)


def simulate_text(move_pct: float, after: Sequence[tuple[AccountLine, AccountHealth]]) -> str:
    """/simulate: each account after every market moves by ``move_pct`` (a cross account
    recomputed as a whole)."""
    if not after:
        return "no priced open positions to simulate; /watch a wallet first"
    liquidated = sum(h.known and h.health <= 1.0 for _, h in after)
    out = [f"after a {move_pct:+g}% move of every market: {liquidated} of {len(after)} "
           "accounts liquidatable"]  # fmt: skip
    for line, health in after[:MAX_LINES]:
        before = line.health.health if line.health is not None and line.health.known else None
        was = f"{before:.2f} → " if before is not None else ""
        now = f"{health.health:.2f}" if health.known else "unknown"
        mark = " LIQUIDATABLE" if health.known and health.health <= 1.0 else ""
        out.append(f"{line.name} · {line.account.protocol} {line.account.mode.value}: "
                   f"health {was}{now}{mark}")  # fmt: skip
    if len(after) > MAX_LINES:
        out.append(f"… and {len(after) - MAX_LINES} more accounts")
    return "\n".join(out)


def list_text(names: Sequence[tuple[str, str]], paused: bool, limit: int) -> str:
    """/list: ``(owner, label)`` pairs."""
    if not names:
        return "this chat watches no wallet yet; /watch <address> [label]"
    out = [f"watching {len(names)} of at most {limit} wallets" + (" (paused)" if paused else "")]
    out += [f"{label or '-'}  {owner}" for owner, label in names]
    return "\n".join(out)


def thresholds_text(base: Thresholds, own: ThresholdOverride) -> str:
    """The thresholds in force for a chat after /threshold."""
    t = base.merged(own)
    parts = [f"warning at health {t.warning:g}", f"critical at {t.critical:g}"]
    if t.warning_distance_pct:
        parts.append(f"or within {t.warning_distance_pct:g}% / {t.critical_distance_pct:g}%")
    return "alerts here: " + ", ".join(parts)


def quiet_text(start_hour: int | None, end_hour: int | None) -> str:
    """/quiet: the chat's quiet hours in force."""
    if start_hour is None or end_hour is None:
        return "no quiet hours: every alert is sent at once; /quiet 22-7 to set some"
    return (
        f"quiet {start_hour:02d}:00-{end_hour:02d}:00 UTC: warnings are not sent then; "
        "critical and every other alert still is"
    )


def history_text(lines: Sequence[HistoryLine]) -> str:
    """/history: the latest alerts sent to the chat, newest first."""
    if not lines:
        return "no alert was sent to this chat yet"
    return "\n".join(map(_history_line, lines))


def _history_line(h: HistoryLine) -> str:
    if h.owner is None:  # the chain's own alert: its outage (level unknown) or recovery
        what = "outage" if h.level == "unknown" else h.level
        return f"{h.at} chain {what} · {h.chain}"
    health = f" · health {h.health:.2f}" if h.health is not None else ""
    return f"{h.at} {h.level} · {short_wallet(h.owner)} {h.protocol}{health}"
