"""Scalar types for perpwatch's configuration: addresses, URLs, slugs and their validators.

Each type is an ``Annotated`` alias that pydantic validates, so a bad value is reported with its
key path by ``indexer.config.loader``. ``invalid`` builds an error that names a key below the
validator's own location (model validators cannot set the location themselves).

    >>> normalize_address("0xfd70de6b91282d8017aa4e741e9ae325cab992d8")
    '0xFD70de6b91282D8017aA4E741e9Ae325CAb992d8'
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from eth_utils.address import to_checksum_address
from pydantic import AfterValidator, BeforeValidator, ConfigDict
from pydantic_core import PydanticCustomError

from indexer.redact import redact_url

__all__ = [
    "ERROR_TYPE", "STRICT", "Address", "ChatId", "EnvName", "HttpUrl", "RpcUrl", "Slug",
    "WsUrl", "invalid", "normalize_address",
]  # fmt: skip

ERROR_TYPE = "perpwatch_config"
"""The pydantic error type of ``invalid`` errors; their ``ctx`` holds ``subpath``, ``problem``."""
STRICT = ConfigDict(extra="forbid", frozen=True, strict=True)
"""Every config model rejects unknown keys, takes no value of another type (``chain_id =
"31337"`` is an error, not a number; an int is still a valid float) and is immutable. Arrays
arrive as tuples: ``indexer.config.loader.Config`` converts the lists TOML and JSON give."""


def invalid(subpath: str, problem: str) -> PydanticCustomError:
    """An error at ``subpath`` below the validator's own location (validators cannot set loc)."""
    return PydanticCustomError(
        ERROR_TYPE, "{subpath}: {problem}", {"subpath": subpath, "problem": problem}
    )


_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")
_SLUG_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def normalize_address(value: object) -> str:
    """Return ``value`` as an EIP-55 checksum address.

    All-lower or all-upper hex carries no checksum and is accepted; mixed case must already be the
    correct checksum, because a wrong one means a typo. Raises ``ValueError`` otherwise.
    """
    if not isinstance(value, str) or not _ADDRESS_RE.fullmatch(value):
        raise ValueError("not an address: expected 0x followed by 40 hex digits")
    body, checksummed = value[2:], str(to_checksum_address(value))
    if value == checksummed or body in (body.lower(), body.upper()):
        return checksummed
    raise ValueError("bad checksum: this mixed-case address is not valid EIP-55 (a typo?)")


def _url_checker(schemes: tuple[str, ...], hint: str = "") -> AfterValidator:
    def check(url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in schemes or not parts.netloc:
            starts = " or ".join(s + "://" for s in schemes)
            raise ValueError(
                f"must be a URL starting with {starts} (got {redact_url(url)!r}){hint}"
            )
        return url

    return AfterValidator(check)


def _check_slug(name: str) -> str:
    if not _SLUG_RE.fullmatch(name):
        raise ValueError("must be a slug: lowercase a-z, 0-9, '-' or '_', at most 32 characters")
    return name


def _check_env_name(name: str) -> str:
    if not _ENV_NAME_RE.fullmatch(name):
        raise ValueError("must be an environment variable name (letters, digits, '_')")
    return name


def _chat_id(value: object) -> int | str:
    """Telegram chat ids are integers (negative for groups) or ``@channelname``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"@[A-Za-z0-9_]{4,}", value):
        return value
    raise ValueError("must be a numeric chat id or an @channel name")


Address = Annotated[str, BeforeValidator(normalize_address)]
HttpUrl = Annotated[str, _url_checker(("http", "https"))]
RpcUrl = Annotated[
    str, _url_checker(("http", "https"), "; a ws:// or wss:// URL goes in ws_url (new heads)")
]
"""A node's JSON-RPC over HTTP (a WebSocket URL goes in ``ws_url``: new heads only)."""
WsUrl = Annotated[str, _url_checker(("ws", "wss"))]
Slug = Annotated[str, AfterValidator(_check_slug)]
EnvName = Annotated[str, AfterValidator(_check_env_name)]
ChatId = Annotated[int | str, BeforeValidator(_chat_id)]
