"""The diamond's events perpwatch scans, and which trades they touch. Pure.

Every event names the trader and the trade index in its topics (PROTOCOLS.md §4.3):
``TradeStored``, ``TradePositionUpdated``, ``TradeCollateralUpdated``, ``MarketExecuted``,
``LimitExecuted``, ``TradeClosed`` (``user``, ``index``) and ``PositionSizeIncreaseExecuted`` /
``…DecreaseExecuted`` (``trader``, ``index``). A ``LimitExecuted`` with orderType 6
(``LIQ_CLOSE``) is a liquidation, a ``TradeClosed`` a closure; the rest only touch the trade.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from indexer.decode.abi import AbiEntry, event_signature, load_abi, topic0
from indexer.protocols.gtrade.decode import ABI, PROTOCOL
from indexer.scan.rows import EventRow, Touch, TouchKind

EVENT_NAMES = (
    "TradeStored",
    "TradePositionUpdated",
    "TradeCollateralUpdated",
    "MarketExecuted",
    "LimitExecuted",
    "TradeClosed",
    "PositionSizeIncreaseExecuted",
    "PositionSizeDecreaseExecuted",
)
LIQ_CLOSE = 6
"""``PendingOrderType.LIQ_CLOSE``: a ``LimitExecuted`` of this orderType is a liquidation."""

EVENTS: tuple[AbiEntry, ...] = tuple(
    e for e in load_abi(ABI) if e.get("type") == "event" and e["name"] in EVENT_NAMES
)
EVENT_TOPICS: dict[str, str] = {"0x" + topic0(event_signature(e)).hex(): e["name"] for e in EVENTS}
"""topic0 → event name, for the log filter and for rows."""


def _int(value: Any) -> int:
    return int(str(value))


def touch_kind(event: str, args: Mapping[str, Any]) -> TouchKind:
    """Liquidated, closed or just touched, by one decoded event."""
    if event == "LimitExecuted" and _int(args.get("orderType", -1)) == LIQ_CLOSE:
        return TouchKind.LIQUIDATED
    if event == "TradeClosed":
        return TouchKind.CLOSED
    return TouchKind.TOUCHED


def touched_by(rows: Sequence[EventRow], diamond: str) -> list[Touch]:
    """Touches of the decoded ``raw_events`` rows emitted by ``diamond`` (lower-case); rows of
    other emitters or events are ignored. Ref ``trader:index`` (the account's ref)."""
    out = []
    for row in rows:
        event = EVENT_TOPICS.get(str(row.get("topic0")))
        args = row.get("args")
        if event is None or row.get("address") != diamond or not args:
            continue
        owner = str(args.get("user") or args.get("trader")).lower()
        index = _int(args["index"])
        out.append(
            Touch(
                protocol=PROTOCOL,
                ref=f"{owner}:{index}",
                owner=owner,
                block_number=int(row["block_number"]),
                kind=touch_kind(event, args),
            )
        )
    return out
