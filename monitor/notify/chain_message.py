"""The human text of a chain alert (``monitor.alerts.chain``): a chain that cannot be read,
and its recovery. Pure: no I/O, no clock.

    payload = parse_chain_payload(raw)            # validates the stored JSON
    "\n".join(chain_lines(payload, HTML))         # the message; chain_digest_line: one line

Times are ISO 8601 UTC strings; ``outage_s`` is seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal, NotRequired

from pydantic import TypeAdapter, ValidationError
from typing_extensions import TypedDict, TypeIs

from monitor.notify.markup import Markup

__all__ = [
    "ChainAlertPayload", "chain_digest_line", "chain_lines", "is_chain_payload",
    "parse_chain_payload",
]  # fmt: skip


class ChainAlertPayload(TypedDict):
    """A chain alert as stored (``kind`` is always ``chain``).

    ``level``: ``unknown`` (the outage) or ``recovered``. ``since``: when the chain became
    unreadable. ``block_number``: the newest block known (before the outage; at recovery, the
    head read). ``accounts``: the chain's accounts in the monitor's scope, shown as unknown
    during the outage. ``outage_s``: on recovery, how long the outage lasted.
    """

    kind: Literal["chain"]
    chain_id: int
    chain: str
    level: str
    reason: str
    since: str
    block_number: int
    accounts: int
    outage_s: NotRequired[float | None]


_PAYLOAD = TypeAdapter(ChainAlertPayload)


def is_chain_payload(payload: Mapping[str, Any]) -> TypeIs[ChainAlertPayload]:
    """Whether a stored alert payload is a chain alert's."""
    return payload.get("kind") == "chain"


def parse_chain_payload(raw: Mapping[str, Any]) -> ChainAlertPayload:
    """Validate a stored chain alert payload.

    Raises:
        ValueError: a key is missing or has the wrong type (pydantic's message names it).
    """
    try:
        return _PAYLOAD.validate_python(dict(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(
            f"chain alert payload is invalid: {first['loc']}: {first['msg']}"
        ) from None


def _duration(seconds: float) -> str:
    """``200`` → "3m 20s"; ``7260`` → "2h 1m"."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def _clock(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S UTC")


def _title(payload: ChainAlertPayload) -> str:
    return "Chain recovered" if payload["level"] == "recovered" else "Chain outage"


def chain_lines(payload: ChainAlertPayload, m: Markup) -> list[str]:
    """The message, one fact per line."""
    head = f"{m.bold(_title(payload))} · {m.escape(payload['chain'])} (chain {payload['chain_id']})"
    accounts = payload["accounts"]
    if payload["level"] == "recovered":
        took = payload.get("outage_s")
        lasted = f" after {_duration(took)}" if took is not None else ""
        return [
            head,
            f"Readable again at block {payload['block_number']}{lasted}",
            f"Its {accounts} accounts are judged from fresh data again; "
            "each one alerts only if its level calls for it",
        ]
    return [
        head,
        f"No fresh data since {_clock(payload['since'])} (last block {payload['block_number']})",
        f"Cause: {m.escape(payload['reason'])}",
        f"Its {accounts} accounts show as unknown and are not alerted one by one "
        "until the chain is readable again",
    ]


def chain_digest_line(payload: ChainAlertPayload, m: Markup) -> str:
    """One line of a digest."""
    what = (
        "readable again"
        if payload["level"] == "recovered"
        else f"{payload['accounts']} accounts unknown"
    )
    return f"{m.bold(_title(payload))} · {m.escape(payload['chain'])} · {what}"
