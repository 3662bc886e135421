"""Console channel: one rich line per alert, coloured by level.

    notifier = ConsoleNotifier(Console(stderr=True))
    await notifier.send(delivery)          # delivery.channel == "console"

Payload strings are printed as plain text (no rich markup is interpreted), so an account or
market name cannot restyle or hide the line.
"""

from __future__ import annotations

from typing import Any, Self

from rich.console import Console
from rich.text import Text

from indexer.config.loader import Config
from monitor.delivery.outbox import Delivery
from monitor.notify.base import delivery_text

__all__ = ["ConsoleNotifier"]

_STYLES = {
    "warning": "yellow",
    "critical": "bold red",
    "liquidatable": "bold white on red",
    "liquidated": "bold magenta",
    "unknown": "dim",
    "recovered": "green",
}


class ConsoleNotifier:
    """Prints alerts to ``console`` (default: a rich console on stderr)."""

    def __init__(self, console: Console | None = None) -> None:
        self._console = console or Console(stderr=True)

    @classmethod
    def from_config(cls, config: Config, **io: Any) -> Self:
        """A console notifier; ``config`` has nothing for it, ``io`` may pass ``console``."""
        return cls(**io)

    async def aclose(self) -> None:
        return None

    async def send(self, delivery: Delivery) -> None:
        """Print ``delivery`` on one line (the message's lines joined by `` | ``).

        Raises:
            PermanentDeliveryError: the stored payload is not a valid alert payload.
        """
        text = delivery_text(delivery)
        line = Text(text.replace("\n", " | "), style=_STYLES.get(delivery.level.value, ""))
        self._console.print(line, soft_wrap=True, highlight=False)
