"""Command parsing (pure): any text is either a command or one line of help with an example;
addresses are normalised; thresholds and moves are range-checked."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.bot.commands import (
    COMMANDS,
    BadInput,
    Command,
    Quiet,
    Simulate,
    Status,
    Threshold,
    Unwatch,
    Watch,
    parse,
)

ADDRESS = "0x" + "Ab" * 20


@given(st.text(max_size=80))
def test_any_text_is_a_command_or_one_line_with_an_example(text: str) -> None:
    try:
        parsed = parse(text)
    except BadInput as exc:
        message = str(exc)
        assert "\n" not in message
        assert "e.g." in message or "/help" in message
    else:
        assert parsed.name in COMMANDS


@given(st.sampled_from(sorted(COMMANDS)), st.sampled_from(["", "@perpwatch_bot"]))
def test_every_command_name_parses(name: str, suffix: str) -> None:
    args = {"watch": f" {ADDRESS}", "unwatch": " main", "threshold": " 2", "simulate": " -5%"}
    assert parse(f"/{name}{suffix}{args.get(name, '')}").name == name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"/watch {ADDRESS} main", Watch(ADDRESS.lower(), "main")),
        (f"/unwatch {ADDRESS}", Unwatch(ADDRESS.lower())),
        ("/status", Status(None)),
        ("/status main", Status("main")),
        ("/threshold 1.4", Threshold(warning=1.4)),
        ("/threshold 1.4 1.1", Threshold(warning=1.4, critical=1.1)),
        ("/threshold 8%", Threshold(warning_distance_pct=8.0)),
        ("/threshold 8% 2%", Threshold(warning_distance_pct=8.0, critical_distance_pct=2.0)),
        ("/simulate -12.5%", Simulate(-12.5)),
        ("/simulate +20", Simulate(20.0)),
        ("/LIST", Command("list")),
        ("/quiet 22-7", Quiet(22, 7)),
        ("/quiet 0:00-6:00", Quiet(0, 6)),
        ("/quiet 23 - 5", Quiet(23, 5)),
        ("/quiet off", Quiet()),
        ("/quiet", Quiet(show=True)),
    ],
)
def test_arguments(text: str, expected: object) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("/watch", "give an address and an optional label, e.g. /watch 0x"),
        ("/watch main", "not an address (0x and 40 hex digits)"),
        ("/watch name.eth", "ENS names are not resolved"),
        ("/unwatch vitalik.eth", "ENS names are not resolved"),
        (f"/watch {ADDRESS} {'x' * 33}", "a label is up to 32 letters"),
        (f"/watch {ADDRESS} 0xlabel", "a label is up to 32 letters"),
        ("/threshold", "give a warning and an optional critical level"),
        ("/threshold nan", "'nan' is not a number"),
        ("/threshold 1", "a health level is above 1"),
        ("/threshold 150%", "a distance is between 0% and 100%"),
        ("/threshold 2% 5%", "critical must be nearer than warning"),
        ("/simulate -99", "a move is between -95% and +500%"),
        ("/simulate", "give one price move in percent"),
        ("/pause now", "/pause takes no arguments"),
        ("/quiet tonight", "give UTC hours from-to"),
        ("/quiet 7-7", "quiet hours need two different hours"),
        ("/quiet 24-6", "hours are 0 to 23"),
        ("hello", "send a command, e.g. /help"),
    ],
)
def test_bad_input_answers(text: str, answer: str) -> None:
    with pytest.raises(BadInput, match=r"e\.g\.") as caught:
        parse(text)
    assert answer in str(caught.value)


@given(st.floats(1.01, 100.0), st.floats(1.01, 100.0))
def test_threshold_order_is_enforced(a: float, b: float) -> None:
    text = f"/threshold {a!r} {b!r}"
    if b < a:
        assert parse(text) == Threshold(warning=a, critical=b)
    else:
        with pytest.raises(BadInput, match="critical must be below warning"):
            parse(text)
