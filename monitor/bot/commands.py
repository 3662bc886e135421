"""The bot's commands as data: parsing a message's text into a command, or into the one-line
answer that says what was wrong, with an example. Pure: no I/O.

    parse("/watch 0xAbC…123 main")     # Watch(owner="0xabc…123", label="main")
    parse("/threshold 1.4 1.1")        # Threshold(warning=1.4, critical=1.1)
    parse("/threshold 5%")             # Threshold(warning_distance_pct=5.0)
    parse("/quiet 22-7")               # Quiet(start_hour=22, end_hour=7)
    parse("/watch vitalik.eth")        # raises BadInput("ENS names are not resolved; …")
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "CHANGES_WATCH_LIST", "COMMANDS", "HELP", "BadInput", "Command", "Quiet", "Simulate",
    "Status", "Threshold", "Unwatch", "Watch", "parse",
]  # fmt: skip

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_LABEL = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_EXAMPLE_ADDRESS = "0x" + "1f" * 20

COMMANDS: dict[str, str] = {
    "start": "start, and what this bot does",
    "help": "the commands",
    "watch": "watch a wallet: /watch <address> [label]",
    "unwatch": "stop watching: /unwatch <address|label>",
    "list": "the wallets this chat watches",
    "status": "health and liquidation prices: /status [address|label]",
    "threshold": "when to alert: /threshold <warning> [critical] or /threshold <n>%",
    "pause": "no alerts until /resume",
    "resume": "alerts again",
    "quiet": "no warnings at night (critical still): /quiet 22-7 (UTC), /quiet off, /quiet",
    "simulate": "this chat's accounts after a price move: /simulate -10%",
    "history": "the last alerts sent here",
}
"""Command → one-line description (``setMyCommands`` and /help)."""

CHANGES_WATCH_LIST = frozenset({"watch", "unwatch", "threshold", "pause", "resume", "quiet"})
"""Commands that change what a chat hears: in a group, only its administrators may use them."""

HELP = "\n".join(
    ["perpwatch warns before a watched wallet's perp positions are liquidated.", ""]
    + [f"/{name} - {text}" for name, text in COMMANDS.items()]
)


class BadInput(ValueError):
    """A command the bot cannot run as typed; the message is the one-line answer."""


@dataclass(frozen=True, slots=True)
class Command:
    """A command without arguments (start, help, list, pause, resume, history)."""

    name: str


@dataclass(frozen=True, slots=True)
class Watch:
    owner: str
    label: str = ""
    name: str = "watch"


@dataclass(frozen=True, slots=True)
class Unwatch:
    target: str
    name: str = "unwatch"


@dataclass(frozen=True, slots=True)
class Status:
    target: str | None = None
    name: str = "status"


@dataclass(frozen=True, slots=True)
class Threshold:
    """Health thresholds, or distance-to-liquidation triggers in percent."""

    warning: float | None = None
    critical: float | None = None
    warning_distance_pct: float | None = None
    critical_distance_pct: float | None = None
    name: str = "threshold"


@dataclass(frozen=True, slots=True)
class Simulate:
    move_pct: float
    name: str = "simulate"


@dataclass(frozen=True, slots=True)
class Quiet:
    """Quiet hours, UTC, end excluded (both None: none); ``show``: only say what they are."""

    start_hour: int | None = None
    end_hour: int | None = None
    show: bool = False
    name: str = "quiet"


Parsed = Command | Watch | Unwatch | Status | Threshold | Simulate | Quiet


def parse(text: str) -> Parsed:
    """The command in ``text`` (``/name@botname args``).

    Raises:
        BadInput: unknown command or bad arguments; the message is the answer to send.
    """
    words = text.strip().split()
    if not words or not words[0].startswith("/"):
        raise BadInput("send a command, e.g. /help")
    name = words[0][1:].split("@", 1)[0].lower()
    args = words[1:]
    if name not in COMMANDS:
        raise BadInput(f"unknown command /{name}; /help lists them")
    parser = _PARSERS.get(name)
    if parser is None:
        if args:
            raise BadInput(f"/{name} takes no arguments, e.g. /{name}")
        return Command(name)
    return parser(args)


def address_or_label(word: str, example: str) -> str:
    """A normalised address, or a label as typed.

    Raises:
        BadInput: an ENS name, or something that is neither an address nor a label.
    """
    if word.lower().endswith(".eth"):
        raise BadInput(f"ENS names are not resolved; send the 0x address, e.g. {example}")
    if _ADDRESS.match(word):
        return word.lower()
    if word.lower().startswith("0x"):
        raise BadInput(f"not an address (0x and 40 hex digits), e.g. {example}")
    if not _LABEL.match(word):
        raise BadInput(f"not an address or label, e.g. {example}")
    return word


def _watch(args: list[str]) -> Watch:
    example = f"/watch {_EXAMPLE_ADDRESS} main"
    if not 1 <= len(args) <= 2:
        raise BadInput(f"give an address and an optional label, e.g. {example}")
    owner = address_or_label(args[0], example)
    if not owner.startswith("0x"):
        raise BadInput(f"not an address (0x and 40 hex digits), e.g. {example}")
    label = args[1] if len(args) == 2 else ""
    if label and (not _LABEL.match(label) or label.lower().startswith("0x")):
        raise BadInput(f"a label is up to 32 letters, digits, - _ or ., e.g. {example}")
    return Watch(owner, label)


def _unwatch(args: list[str]) -> Unwatch:
    example = "/unwatch main"
    if len(args) != 1:
        raise BadInput(f"give one address or label, e.g. {example}")
    return Unwatch(address_or_label(args[0], example))


def _status(args: list[str]) -> Status:
    example = "/status main"
    if len(args) > 1:
        raise BadInput(f"give at most one address or label, e.g. {example}")
    return Status(address_or_label(args[0], example) if args else None)


def _number(word: str, example: str) -> float:
    try:
        value = float(word.rstrip("%"))
    except ValueError:
        raise BadInput(f"{word!r} is not a number, e.g. {example}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise BadInput(f"{word!r} is not a number, e.g. {example}")
    return value


def _threshold(args: list[str]) -> Threshold:
    example = "/threshold 1.5 1.15 or /threshold 8% 3%"
    if not 1 <= len(args) <= 2:
        raise BadInput(f"give a warning and an optional critical level, e.g. {example}")
    percent = [a.endswith("%") for a in args]
    if any(percent) and not all(percent):
        raise BadInput(f"use health levels or percentages, not both, e.g. {example}")
    values = [_number(a, example) for a in args]
    if all(percent):
        if not all(0 < v < 100 for v in values):
            raise BadInput(f"a distance is between 0% and 100%, e.g. {example}")
        if len(values) == 2 and values[1] >= values[0]:
            raise BadInput(f"critical must be nearer than warning, e.g. {example}")
        return Threshold(warning_distance_pct=values[0],
                         critical_distance_pct=values[1] if len(values) == 2 else None)  # fmt: skip
    if not all(1 < v <= 100 for v in values):
        raise BadInput(f"a health level is above 1 (1 = liquidation), e.g. {example}")
    if len(values) == 2 and values[1] >= values[0]:
        raise BadInput(f"critical must be below warning, e.g. {example}")
    return Threshold(warning=values[0], critical=values[1] if len(values) == 2 else None)


def _simulate(args: list[str]) -> Simulate:
    example = "/simulate -10%"
    if len(args) != 1:
        raise BadInput(f"give one price move in percent, e.g. {example}")
    move = _number(args[0], example)
    if not -95 <= move <= 500 or move == 0:
        raise BadInput(f"a move is between -95% and +500% and not 0, e.g. {example}")
    return Simulate(move)


_HOURS = re.compile(r"^(\d{1,2})(?::00)?-(\d{1,2})(?::00)?$")


def _quiet(args: list[str]) -> Quiet:
    example = "/quiet 22-7 (from 22:00 to 07:00 UTC) or /quiet off"
    if not args:
        return Quiet(show=True)
    if len(args) == 1 and args[0].lower() == "off":
        return Quiet()
    found = _HOURS.match("".join(args))
    if found is None:
        raise BadInput(f"give UTC hours from-to, e.g. {example}")
    start, end = int(found[1]), int(found[2])
    if not (0 <= start <= 23 and 0 <= end <= 23):
        raise BadInput(f"hours are 0 to 23, e.g. {example}")
    if start == end:
        raise BadInput(f"quiet hours need two different hours, e.g. {example}")
    return Quiet(start, end)


_PARSERS: dict[str, Callable[[list[str]], Parsed]] = {
    "quiet": _quiet,
    "watch": _watch,
    "unwatch": _unwatch,
    "status": _status,
    "threshold": _threshold,
    "simulate": _simulate,
}
