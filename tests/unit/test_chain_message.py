"""Chain alert messages (``monitor.notify.chain_message`` through ``monitor.notify.message``):
the outage and recovery texts, HTML escaping, digests mixing them with account alerts, and
the channels' use of them (console line, webhook key, status line)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from io import StringIO
from typing import Any

import pytest
from rich.console import Console

from monitor.alerts.levels import Level
from monitor.delivery.outbox import Delivery
from monitor.notify.console import ConsoleNotifier
from monitor.notify.message import format_digest, format_html, format_text, parse_message
from monitor.notify.webhook import idempotency_key
from monitor.runtime.heartbeat import TickSummary, format_status
from tests.fixtures.telegram_api import html_problem
from tests.unit.test_message import payload as account_payload

T0 = datetime(2026, 12, 3, 12, 0, 5, tzinfo=UTC)


def chain_payload(level: str = "unknown", **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "chain", "chain_id": 42161, "chain": "arbitrum", "level": level,
        "reason": "no RPC URL answered eth_chainId", "since": T0.isoformat(),
        "block_number": 250_000_000, "accounts": 312,
    }  # fmt: skip
    return base | extra


def test_the_outage_text_says_since_when_why_and_that_accounts_are_unknown() -> None:
    text = format_text(parse_message(chain_payload()))
    assert text.splitlines() == [
        "Chain outage · arbitrum (chain 42161)",
        "No fresh data since 2026-12-03 12:00:05 UTC (last block 250000000)",
        "Cause: no RPC URL answered eth_chainId",
        "Its 312 accounts show as unknown and are not alerted one by one until the chain is "
        "readable again",
    ]


def test_the_recovery_text_says_how_long_it_lasted() -> None:
    text = format_text(parse_message(chain_payload("recovered", outage_s=7260.0)))
    assert text.splitlines()[:2] == [
        "Chain recovered · arbitrum (chain 42161)",
        "Readable again at block 250000000 after 2h 1m",
    ]


def test_html_escapes_the_cause_and_the_chain_name() -> None:
    html = format_html(parse_message(chain_payload(chain="<x>", reason="bad <answer> & more")))
    assert html_problem(html) is None
    assert "&lt;answer&gt; &amp; more" in html
    assert html.startswith("<b>Chain outage</b> · &lt;x&gt;")


def test_a_digest_holds_chain_and_account_alerts_one_line_each() -> None:
    payloads = [parse_message(chain_payload()), parse_message(account_payload())]
    digest = format_digest(payloads)
    assert html_problem(digest) is None
    assert digest.splitlines()[:2] == [
        "<b>2 alerts</b>", "<b>Chain outage</b> · arbitrum · 312 accounts unknown",
    ]  # fmt: skip
    assert digest.splitlines()[2].startswith("<b>Critical</b> · gmx_v2")


def test_an_invalid_chain_payload_names_its_missing_key() -> None:
    broken = chain_payload()
    del broken["accounts"]
    with pytest.raises(ValueError, match=r"chain alert payload is invalid:.*accounts"):
        parse_message(broken)


def test_channels_tell_a_chain_alert_from_an_account_alert() -> None:
    delivery = Delivery(9, 9, "console", 1, None, Level.UNKNOWN, 2, T0, chain_payload(), 42161)
    assert idempotency_key(delivery) == "perpwatch-9-chain42161-unknown-2"
    out = StringIO()
    asyncio.run(ConsoleNotifier(Console(file=out, width=80)).send(delivery))
    assert out.getvalue().startswith("Chain outage · arbitrum (chain 42161) | No fresh data")


def test_the_status_line_names_an_unreadable_chain() -> None:
    down = TickSummary("arbitrum", 120, 0, 7, 7, (), unreadable="connection refused")
    line = format_status(["arbitrum"], {"arbitrum": down}, pending=1)
    assert line == (
        "status: arbitrum UNREADABLE (connection refused), 7 accounts (7 unknown); "
        "1 deliveries pending"
    )
