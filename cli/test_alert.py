"""``perpwatch test-alert``: one test message through every configured channel, each reported.

    perpwatch test-alert                     # console, telegram:<each chat>, webhook
    perpwatch test-alert --channel telegram  # one kind (or a full name: telegram:-100123)

The message is a real alert payload (level ``warning``, chain id 0, an ``owner`` of zeros and
the ref ``perpwatch-test``), rendered and sent by the same notifier ``perpwatch run`` uses, so a
delivered test proves the token, chat id, URL and signature. Nothing touches the database.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from rich.console import Console

from indexer.config.loader import Config
from indexer.errors import DependencyError, UserError
from monitor.alerts.levels import Level
from monitor.delivery.queue import Delivery
from monitor.delivery.worker import Notifier, channel_kind
from monitor.notify.channels import build_notifiers, channels_for, close_notifiers
from monitor.notify.message import AlertPayload

SEND_TIMEOUT_S = 15.0
"""A bound on one channel's send, above the notifiers' own 10 s request timeout."""

TEST_PAYLOAD: AlertPayload = {
    "chain_id": 0,
    "protocol": "perpwatch-test",
    "owner": "0x" + "0" * 40,
    "account_ref": "perpwatch-test",
    "mode": "cross",
    "level": Level.WARNING.value,
    "health": 1.5,
    "equity_usd": 0.0,
    "maintenance_usd": 0.0,
    "block_number": 0,
    "positions": [],
}


def selected_channels(cfg: Config, wanted: str | None) -> list[str]:
    """The configured channels ``wanted`` names (a kind or a full name; None: all).

    Raises:
        UserError: nothing is configured, or ``wanted`` matches no configured channel.
    """
    channels = channels_for(cfg.channels)
    if wanted is not None:
        channels = [c for c in channels if wanted in (c, channel_kind(c))]
    if not channels:
        configured = ", ".join(channels_for(cfg.channels)) or "none"
        what = f"no configured channel matches {wanted!r}" if wanted else "no channel enabled"
        raise UserError(f"{what} (configured: {configured}); enable one under [channels]")
    return channels


def run_test_alert(cfg: Config, console: Console, *, channel: str | None) -> None:
    """Send the test message; one line per channel. Raises ``DependencyError`` (exit 3) if any
    channel failed, after every channel was tried."""
    channels = selected_channels(cfg, channel)
    notifiers = build_notifiers(cfg)
    results = asyncio.run(_send_all(notifiers, channels))
    for name, problem in results:
        line = f"{name}: delivered" if problem is None else f"{name}: failed: {problem}"
        console.print(line, markup=False, highlight=False)
    failed = [name for name, problem in results if problem is not None]
    if failed:
        raise DependencyError(
            f"{len(failed)} of {len(results)} channel(s) failed ({', '.join(failed)}); "
            "check their settings, tokens and servers"
        )


async def _send_all(
    notifiers: dict[str, Notifier], channels: list[str]
) -> list[tuple[str, str | None]]:
    try:
        return [(name, await _send_one(notifiers, name, i)) for i, name in enumerate(channels)]
    finally:
        await close_notifiers(notifiers)


async def _send_one(notifiers: dict[str, Notifier], channel: str, index: int) -> str | None:
    now = datetime.now(UTC)
    delivery = Delivery(
        id=-(index + 1),  # never an outbox row
        alert_id=-1,
        channel=channel,
        attempts=1,
        account_id=-1,
        level=Level.WARNING,
        episode=0,
        created_at=now,
        payload=dict(TEST_PAYLOAD),
    )
    try:
        await asyncio.wait_for(notifiers[channel_kind(channel)].send(delivery), SEND_TIMEOUT_S)
    except TimeoutError:
        return f"no answer within {SEND_TIMEOUT_S:g}s"
    except Exception as exc:  # every failure is reported per channel, never raised
        return str(exc) or type(exc).__name__
    return None
