"""How a message marks text up: Telegram HTML or plain text. Pure."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["HTML", "PLAIN", "Markup"]


@dataclass(frozen=True, slots=True)
class Markup:
    """Escape a user-supplied string, make text bold, show text as code."""

    escape: Callable[[str], str]
    bold: Callable[[str], str]
    code: Callable[[str], str]


HTML = Markup(
    escape=lambda s: html.escape(s, quote=False),
    bold=lambda s: f"<b>{s}</b>",
    code=lambda s: f"<code>{s}</code>",
)
PLAIN = Markup(escape=lambda s: s, bold=lambda s: s, code=lambda s: s)
