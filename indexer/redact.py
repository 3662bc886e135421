"""Hide the secrets in node URLs before they reach a log line or an exception message.

Providers put API keys in the path (``/v2/<key>``, ``/<token>/``), in the query
(``?apikey=<key>``) or in userinfo (``https://user:pass@host``). Host and port stay visible so an
operator can still tell endpoints apart.

Usage::

    redact_url("https://eth-mainnet.g.alchemy.com/v2/AbC123xyz789QwE456rTy")
    # -> "https://eth-mainnet.g.alchemy.com/v2/***"
    redact_text(str(exc), [url])
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = ["MASK", "redact_text", "redact_url"]

MASK = "***"

# A path segment is treated as a secret if it is long, or mid-length and mixes letters and
# digits: API keys and tokens look like that, route names ("v2", "eth", "arbitrum-one") do not.
_LONG_SEGMENT = 16
_MIXED_SEGMENT = 8
_HAS_DIGIT = re.compile(r"\d")
_HAS_ALPHA = re.compile(r"[A-Za-z]")
_SHORTEST_SECRET = 4


def _is_secret_segment(segment: str) -> bool:
    if len(segment) >= _LONG_SEGMENT:
        return True
    return (
        len(segment) >= _MIXED_SEGMENT
        and _HAS_DIGIT.search(segment) is not None
        and _HAS_ALPHA.search(segment) is not None
    )


def _host_port(netloc: str) -> str:
    """``netloc`` without its userinfo."""
    return netloc.rpartition("@")[2]


def redact_url(url: str) -> str:
    """``url`` with userinfo, secret-looking path segments and every query value masked.

    Pure. The fragment is dropped. A string that does not parse as a URL is masked entirely.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    if not parts.scheme or not parts.netloc:
        return MASK
    netloc = _host_port(parts.netloc)
    if "@" in parts.netloc:
        netloc = f"{MASK}@{netloc}"
    path = "/".join(MASK if _is_secret_segment(seg) else seg for seg in parts.path.split("/"))
    out = f"{parts.scheme}://{netloc}{path}"
    if parts.query:
        pairs = (pair.partition("=") for pair in parts.query.split("&") if pair)
        out += "?" + "&".join(f"{key}={MASK}" if sep else MASK for key, sep, _ in pairs)
    return out


def _secrets(url: str) -> list[str]:
    """The substrings of ``url`` that must never be shown, longest first."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    found: list[str] = []
    if "@" in parts.netloc:
        userinfo = parts.netloc.rpartition("@")[0]
        found += [userinfo, *userinfo.split(":")]
    found += [seg for seg in parts.path.split("/") if _is_secret_segment(seg)]
    for pair in parts.query.split("&"):
        found.append(pair.partition("=")[2])
    if parts.fragment:
        found.append(parts.fragment)
    return sorted({s for s in found if len(s) >= _SHORTEST_SECRET}, key=len, reverse=True)


def redact_text(text: str, urls: Iterable[str]) -> str:
    """``text`` with every occurrence of each URL (and of each URL's secrets) masked.

    Pure. Use it on messages from lower layers (httpx, the OS) that may quote a URL.
    """
    for url in urls:
        text = text.replace(url, redact_url(url))
        for secret in _secrets(url):
            text = text.replace(secret, MASK)
    return text
