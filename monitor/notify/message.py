"""The human text of an alert, built from its payload. Pure: no I/O, no clock.

The monitor fills an :class:`AlertPayload` when it decides an alert; the outbox stores it as
JSON; each channel renders it here, as Telegram HTML or as plain text::

    payload = parse_payload(delivery.payload)   # validates the stored JSON
    html = format_html(payload)                  # every user-supplied string escaped
    text = format_text(payload)
    any_kind = parse_message(delivery.payload)   # an account's alert, or a chain's

A chain alert (an outage and its recovery) has its own payload and text,
``monitor.notify.chain_message``; the functions here render either kind.

Units: prices and amounts are US dollars as floats (derived display values; the exact integers
stay in the store), ``distance_pct``, ``move_pct`` and ``adverse_move_pct`` are percent (2.5
means 2.5 %); ``distance_sigma`` and ``move_sigma`` count the same moves in σ of the market's
moves over ``sigma_horizon_s`` seconds. Keys added later are ``NotRequired``: alerts stored
before them still parse.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NotRequired

from pydantic import TypeAdapter, ValidationError
from typing_extensions import TypedDict

from monitor.notify.chain_message import (
    ChainAlertPayload,
    chain_digest_line,
    chain_lines,
    is_chain_payload,
    parse_chain_payload,
)
from monitor.notify.markup import HTML, PLAIN, Markup

__all__ = [
    "AlertPayload",
    "ChainAlertPayload",
    "Payload",
    "PositionPayload",
    "format_digest",
    "format_html",
    "format_text",
    "move_line",
    "parse_message",
    "parse_payload",
    "short_wallet",
    "why_line",
]

MAX_POSITION_LINES = 10
"""Positions listed per message; the rest are counted (Telegram caps a message at 4096 chars)."""


class PositionPayload(TypedDict):
    """One position of the alerted account, as the monitor saw it.

    ``distance_pct``: how far the mark must move against the position to reach its liquidation
    price, in percent of the mark (None when it has none, e.g. a fully collateralised long).
    ``distance_sigma``: that distance in σ of the market's recent moves (None: σ not known).
    ``adverse_move_pct``: how far the mark moved against this position since the previous
    check, in percent (negative when it moved in the position's favour).
    """

    market: str
    asset: str
    side: Literal["long", "short"]
    mark_price_usd: float
    liquidation_price_usd: float | None
    distance_pct: float | None
    adverse_move_pct: float
    distance_sigma: NotRequired[float | None]


class AlertPayload(TypedDict):
    """Everything a notifier needs to tell a human about one alert (stored as the alert JSON).

    ``health`` is equity / maintenance (None when the maintenance requirement is zero);
    ``level`` is an ``monitor.alerts.levels.Level`` value; ``previous_level`` is set on escalation.
    ``reason`` is the rule's line (which threshold fired); ``move_pct`` the smallest adverse move
    that liquidates the account (a cross account: its markets moving together), ``move_sigma``
    the same in σ over ``sigma_horizon_s`` seconds.
    """

    chain_id: int
    protocol: str
    owner: str
    account_ref: str
    mode: Literal["isolated", "cross"]
    level: str
    health: float | None
    equity_usd: float
    maintenance_usd: float
    block_number: int
    positions: list[PositionPayload]
    previous_level: NotRequired[str]
    reason: NotRequired[str]
    move_pct: NotRequired[float | None]
    move_sigma: NotRequired[float | None]
    sigma_horizon_s: NotRequired[float | None]
    partial: NotRequired[str]
    """What a partial liquidation closed ("BTC long 2 → 1.6"); the account is still open."""


_PAYLOAD = TypeAdapter(AlertPayload)

Payload = AlertPayload | ChainAlertPayload
"""Any stored alert payload: an account's, or a chain's (``monitor.notify.chain_message``)."""

_TITLES = {
    "warning": "Warning",
    "critical": "Critical",
    "liquidatable": "LIQUIDATABLE",
    "liquidated": "Liquidated",
    "unknown": "Data stale",
    "recovered": "Recovered",
}


def parse_payload(raw: Mapping[str, Any]) -> AlertPayload:
    """Validate a stored alert payload.

    Raises:
        ValueError: a key is missing or has the wrong type (pydantic's message names it).
    """
    try:
        return _PAYLOAD.validate_python(dict(raw))
    except ValidationError as exc:
        raise ValueError(
            f"alert payload is invalid: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}"
        ) from None


def parse_message(raw: Mapping[str, Any]) -> Payload:
    """Validate a stored alert payload of either kind (a chain alert's says ``kind: chain``).

    Raises:
        ValueError: as :func:`parse_payload`.
    """
    return parse_chain_payload(raw) if is_chain_payload(raw) else parse_payload(raw)


def short_wallet(address: str) -> str:
    """``0x1234…abcd`` for a 0x address; other strings longer than 14 chars keep 6+4 chars."""
    return address if len(address) <= 14 else f"{address[:6]}…{address[-4:]}"


def _price(usd: float) -> str:
    # Cents for ordinary prices; significant digits for sub-dollar tokens (PEPE at 0.0000123).
    return f"${usd:,.2f}" if abs(usd) >= 1 else f"${usd:.4g}"


def _worst(positions: list[PositionPayload]) -> list[PositionPayload]:
    """Positions closest to liquidation first; those without a liquidation price last."""
    return sorted(positions, key=lambda p: (p["distance_pct"] is None, p["distance_pct"] or 0.0))


def why_line(payload: AlertPayload) -> str:
    """One sentence on why this account is in danger, by margin mode.

    For a cross account whose position closest to liquidation is not the one whose price moved
    most against it, the sentence names both: the loss on one market eats the shared balance.
    """
    if payload["mode"] == "isolated":
        return "isolated: only this position's collateral is at risk"
    positions = payload["positions"]
    if len(positions) > 1:
        worst = _worst(positions)[0]
        mover = max(positions, key=lambda p: p["adverse_move_pct"])
        if mover["adverse_move_pct"] > 0 and mover["asset"] != worst["asset"]:
            return (
                f"cross account: the {mover['asset']} loss also pulls your {worst['asset']} "
                "position closer"
            )
    return "cross account: the whole balance backs every position; liquidation closes them all"


def _horizon(seconds: float | None) -> str:
    """``3600`` → "1h", ``900`` → "15min": the σ's time scale, short."""
    if not seconds:
        return ""
    if seconds % 3600 == 0:
        return f" of {seconds / 3600:g}h"
    return f" of {seconds / 60:g}min" if seconds % 60 == 0 else f" of {seconds:g}s"


def _sigma(value: float | None, horizon: str = "") -> str:
    return "" if value is None else f" ({value:.1f}σ{horizon})"


def move_line(payload: AlertPayload) -> str | None:
    """How far the market may move before liquidation, e.g. "Liquidation after a 2.80% move
    against it (1.9σ of 1h)"; None when not known (a liquidated or unvalued account)."""
    move = payload.get("move_pct")
    if move is None:
        return None
    together = len({p["asset"] for p in payload["positions"]}) > 1
    what = "its markets together" if together else "it"
    sigma = _sigma(payload.get("move_sigma"), _horizon(payload.get("sigma_horizon_s")))
    if move <= 0:
        return f"Liquidatable now: {-move:.2f}% back would restore it{sigma}"
    return f"Liquidation after a {move:.2f}% move against {what}{sigma}"


def _position_line(p: PositionPayload, m: Markup) -> str:
    head = f"{m.escape(p['market'])} {p['side']}"
    if p["liquidation_price_usd"] is None:
        return f"{head}: no liquidation price, mark {_price(p['mark_price_usd'])}"
    away = "" if p["distance_pct"] is None else f", {p['distance_pct']:.2f}% away"
    away += _sigma(p.get("distance_sigma"))
    return (
        f"{head}: liquidation at {_price(p['liquidation_price_usd'])} "
        f"(mark {_price(p['mark_price_usd'])}{away})"
    )


def _title(payload: AlertPayload) -> str:
    level = payload["level"]
    return "Partially liquidated" if "partial" in payload else _TITLES.get(level, level)


def _lines(payload: AlertPayload, m: Markup) -> list[str]:
    level = payload["level"]
    title = _title(payload)
    escalated = payload.get("previous_level")
    if escalated:
        title += f" (was {m.escape(escalated)})"
    lines = [
        f"{m.bold(m.escape(title))} · {m.escape(payload['protocol'])} · {payload['mode']}",
        f"Wallet {m.code(m.escape(short_wallet(payload['owner'])))}"
        f" · chain {payload['chain_id']} · block {payload['block_number']}",
    ]
    health = payload["health"]
    lines.append(
        f"Health {health:.2f} (liquidation at 1.00)" if health is not None else "Health n/a"
    )
    if (move := move_line(payload)) is not None:
        lines.append(move)
    if payload.get("reason") and level in ("warning", "critical", "liquidatable"):
        lines.append(f"Trigger: {m.escape(payload['reason'])}")
    if "partial" in payload:
        lines.append(f"Closed by the venue: {m.escape(payload['partial'])}; the rest is open")
    ordered = _worst(payload["positions"])
    lines += [_position_line(p, m) for p in ordered[:MAX_POSITION_LINES]]
    if len(ordered) > MAX_POSITION_LINES:
        lines.append(f"… and {len(ordered) - MAX_POSITION_LINES} more positions")
    if level != "recovered":
        lines.append(f"Why: {m.escape(why_line(payload))}")
    return lines


def format_html(payload: Payload) -> str:
    """The alert as Telegram HTML (``parse_mode=HTML``); all payload strings are escaped."""
    return _render(payload, HTML)


def format_text(payload: Payload) -> str:
    """The alert as plain text, one fact per line."""
    return _render(payload, PLAIN)


def _render(payload: Payload, m: Markup) -> str:
    if is_chain_payload(payload):
        return "\n".join(chain_lines(payload, m))
    return "\n".join(_lines(payload, m))


def _digest_line(payload: Payload, m: Markup) -> str:
    if is_chain_payload(payload):
        return chain_digest_line(payload, m)
    level = payload["level"]
    health = payload["health"]
    parts = [
        m.bold(m.escape(_title(payload))),
        m.escape(payload["protocol"]),
        m.code(m.escape(short_wallet(payload["owner"]))),
        f"health {health:.2f}" if health is not None else "health n/a",
    ]
    move = payload.get("move_pct")
    if move is not None and level in ("warning", "critical", "liquidatable"):
        parts.append(f"liquidation after {move:.2f}%" if move > 0 else "liquidatable now")
    return " · ".join(parts)


def format_digest(payloads: list[Payload], *, html_markup: bool = True) -> str:
    """Several alerts for one chat as one message (Telegram HTML unless ``html_markup`` is
    False), one line each in alert order: what a backed-up chat gets instead of a burst."""
    m = HTML if html_markup else PLAIN
    head = m.bold(f"{len(payloads)} alerts")
    return "\n".join([head, *(_digest_line(p, m) for p in payloads)])
