"""Alert message formatting: content, the "why" line, and HTML escaping (pure functions)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.notify.message import (
    AlertPayload,
    PositionPayload,
    format_html,
    format_text,
    parse_payload,
    short_wallet,
    why_line,
)
from tests.fixtures.telegram_api import html_problem

OWNER = "0x" + "ab" * 20


def position(asset: str, *, distance: float | None, move: float, side: str = "long") -> Any:
    liq = None if distance is None else 100.0 * (1 - distance / 100)
    return PositionPayload(
        market=f"{asset}/USD", asset=asset, side=side,  # type: ignore[typeddict-item]
        mark_price_usd=100.0, liquidation_price_usd=liq, distance_pct=distance,
        adverse_move_pct=move,
    )  # fmt: skip


def payload(mode: str = "isolated", positions: list[Any] | None = None, **extra: Any) -> Any:
    base: dict[str, Any] = {
        "chain_id": 42161, "protocol": "gmx_v2", "owner": OWNER, "account_ref": "0x01",
        "mode": mode, "level": "critical", "health": 1.08, "equity_usd": 1080.0,
        "maintenance_usd": 1000.0, "block_number": 123,
        "positions": positions if positions is not None else [position("ETH", distance=7.5,
                                                                         move=3.0)],
    }  # fmt: skip
    base.update(extra)
    return base


def test_short_wallet_keeps_both_ends() -> None:
    assert short_wallet(OWNER) == "0xabab…abab"
    assert short_wallet("0x1234") == "0x1234"


def test_isolated_why() -> None:
    assert why_line(payload()) == "isolated: only this position's collateral is at risk"


def test_cross_why_names_the_mover_and_the_victim() -> None:
    btc = position("BTC", distance=20.0, move=8.0)
    eth = position("ETH", distance=4.0, move=1.0)
    line = why_line(payload("cross", [btc, eth]))
    assert line == "cross account: the BTC loss also pulls your ETH position closer"


def test_cross_why_when_the_mover_is_the_worst() -> None:
    btc = position("BTC", distance=3.0, move=8.0)
    eth = position("ETH", distance=20.0, move=1.0)
    assert why_line(payload("cross", [btc, eth])).startswith("cross account: the whole balance")


def test_text_has_every_fact_worst_position_first() -> None:
    btc = position("BTC", distance=20.0, move=8.0)
    eth = position("ETH", distance=4.0, move=1.0, side="short")
    text = format_text(parse_payload(payload("cross", [btc, eth], previous_level="warning")))
    lines = text.splitlines()
    assert lines[0] == "Critical (was warning) · gmx_v2 · cross"
    assert "0xabab…abab" in lines[1]
    assert "chain 42161" in lines[1]
    assert lines[2] == "Health 1.08 (liquidation at 1.00)"
    assert lines[3] == "ETH/USD short: liquidation at $96.00 (mark $100.00, 4.00% away)"
    assert lines[4].startswith("BTC/USD long: liquidation at $80.00")
    assert lines[5] == "Why: cross account: the BTC loss also pulls your ETH position closer"


def test_small_prices_keep_significant_digits_and_missing_liquidation_price() -> None:
    pepe = position("PEPE", distance=None, move=0.0)
    pepe["mark_price_usd"] = 0.00001234
    text = format_text(parse_payload(payload(positions=[pepe], health=None)))
    assert "PEPE/USD long: no liquidation price, mark $1.234e-05" in text
    assert "Health n/a" in text


def test_many_positions_are_counted_not_listed() -> None:
    many = [position(f"A{i}", distance=float(i + 1), move=0.0) for i in range(13)]
    text = format_text(parse_payload(payload("cross", many)))
    assert "A9/USD" in text
    assert "A10/USD" not in text
    assert "… and 3 more positions" in text


def test_html_escapes_user_data() -> None:
    evil = position("<b>X&Y", distance=5.0, move=1.0)
    html = format_html(parse_payload(payload(positions=[evil], protocol="<script>")))
    assert "&lt;script&gt;" in html
    assert "<script>" not in html
    assert "&lt;b&gt;X&amp;Y/USD" in html
    assert html.startswith("<b>Critical</b> · &lt;script&gt;")
    assert html_problem(html) is None


def test_recovered_has_no_why_line() -> None:
    text = format_text(parse_payload(payload(level="recovered")))
    assert text.startswith("Recovered")
    assert "Why:" not in text


def test_parse_payload_names_the_missing_key() -> None:
    broken = copy.deepcopy(payload())
    del broken["health"]
    with pytest.raises(ValueError, match="health"):
        parse_payload(broken)
    with pytest.raises(ValueError, match="mode"):
        parse_payload(payload(mode="portfolio"))


@given(
    market=st.text(max_size=30),
    protocol=st.text(min_size=1, max_size=20),
    owner=st.text(max_size=50),
    previous=st.text(max_size=12),
)
def test_any_user_text_yields_html_telegram_accepts(
    market: str, protocol: str, owner: str, previous: str
) -> None:
    pos = position("ETH", distance=5.0, move=2.0)
    pos["market"] = market
    other = position(market or "x", distance=9.0, move=9.0)
    doc: AlertPayload = parse_payload(
        payload("cross", [pos, other], protocol=protocol, owner=owner, previous_level=previous)
    )
    html = format_html(doc)
    assert html_problem(html) is None
    assert html.count("<b>") == 1
    assert html.count("<code>") == 1


def test_console_prints_one_plain_line_without_interpreting_markup() -> None:
    import asyncio
    from io import StringIO

    from rich.console import Console

    from monitor.alerts.levels import Level
    from monitor.delivery.outbox import Delivery
    from monitor.notify.console import ConsoleNotifier
    from tests.outbox_helpers import T0

    out = StringIO()
    doc = payload(positions=[position("[red]ETH[/red]", distance=5.0, move=1.0)])
    delivery = Delivery(1, 1, "console", 1, 1, Level.CRITICAL, 0, T0, doc)
    asyncio.run(ConsoleNotifier(Console(file=out, width=80)).send(delivery))
    line = out.getvalue()
    assert line.count("\n") == 1
    assert "[red]ETH[/red]/USD long" in line
    assert line.startswith("Critical · gmx_v2 · isolated | Wallet 0xabab…abab")


def test_text_tells_the_move_to_liquidation_in_percent_and_sigma() -> None:
    btc = {**position("BTC", distance=20.0, move=8.0), "distance_sigma": 6.25}
    eth = {**position("ETH", distance=4.0, move=1.0), "distance_sigma": 1.5}
    facts = {"move_pct": 3.2, "move_sigma": 1.1, "sigma_horizon_s": 3600.0}
    reason = "liquidation 3.2% away ≤ 5%; health 1.08 ≤ 1.15"
    text = format_text(parse_payload(payload("cross", [btc, eth], reason=reason, **facts)))
    lines = text.splitlines()
    assert lines[3] == "Liquidation after a 3.20% move against its markets together (1.1σ of 1h)"
    assert lines[4] == f"Trigger: {reason}"
    assert lines[5] == "ETH/USD long: liquidation at $96.00 (mark $100.00, 4.00% away (1.5σ))"
    single = format_text(parse_payload(payload(move_pct=7.5, move_sigma=None)))
    assert "Liquidation after a 7.50% move against it\n" in single
    gone = format_text(parse_payload(payload(move_pct=-0.4, level="liquidatable")))
    assert "Liquidatable now: 0.40% back would restore it" in gone


def test_alerts_stored_before_the_move_facts_still_render() -> None:
    text = format_text(parse_payload(payload()))  # no move_pct, reason or distance_sigma
    assert "Liquidation after" not in text
    assert "Trigger:" not in text


def test_a_partial_liquidation_is_titled_so_and_says_what_is_left_open() -> None:
    cut = "BTC long 2 → 1.6 & <more>"
    told = parse_payload(payload(level="liquidated", partial=cut, mode="cross"))
    text = format_text(told)
    assert text.startswith("Partially liquidated · gmx_v2 · cross")
    assert f"Closed by the venue: {cut}; the rest is open" in text
    html = format_html(told)
    assert "Closed by the venue: BTC long 2 → 1.6 &amp; &lt;more&gt;" in html
    assert html_problem(html) is None
    assert format_text(parse_payload(payload(level="liquidated"))).startswith("Liquidated ·")
