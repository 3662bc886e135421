"""Pydantic validation errors as perpwatch's one-line config errors. Pure.

    perpwatch.toml: chains[0].chain_id: must be greater than 0 (got -1)

The key path is spelled as in the file (``a.b[0].c``); values that look like URLs are redacted,
since an RPC or database URL may carry a password or an API key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from indexer.config.scalars import ERROR_TYPE
from indexer.redact import redact_url

__all__ = ["format_validation_error"]


def format_validation_error(
    exc: ValidationError, source: str, from_env: Mapping[tuple[str, ...], str] | None = None
) -> str:
    """The first error as ``source: key.path[0].key: problem (got value)``, on one line.

    ``from_env`` maps key paths to the environment variables that set them: an error inside such
    a key names the variable (``PERPWATCH_ALERTS__WARNING: …``), not the file. Values that look
    like URLs are redacted; further errors are only counted.
    """
    errors = exc.errors(include_url=False)
    line = _format_one(errors[0], _origin(errors[0]["loc"], source, from_env or {}))
    more = len(errors) - 1
    return line + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")


def _origin(
    loc: tuple[int | str, ...], source: str, from_env: Mapping[tuple[str, ...], str]
) -> str:
    keys = tuple(str(k).lower() for k in loc)
    for path, variable in from_env.items():
        if keys[: len(path)] == path:
            return f"environment variable {variable}"
    return source


def _format_one(err: ErrorDetails, source: str) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
    ctx = err.get("ctx") or {}
    if err["type"] == ERROR_TYPE:
        sub = str(ctx["subpath"])
        path = f"{path}.{sub}" if path else sub
        problem = str(ctx["problem"])
    elif err["type"] == "extra_forbidden":
        problem = "unknown key"
    elif err["type"] == "missing":
        problem = "required key is missing"
    elif err["type"] == "value_error":  # perpwatch's own message: it shows what it needs
        problem = err["msg"].removeprefix("Value error, ")
    else:
        problem = re.sub(
            r"^(Input|String|Value|Tuple|Dictionary) should ", "must ", err["msg"]
        ) + _shown(err["loc"], err.get("input"))
    return f"{source}: {path}: {problem}" if path else f"{source}: {problem}"


_URL_KEYS = frozenset({"database_url", "rpc_urls", "ws_url", "url", "base_url", "tickers_url"})


def _shown(loc: tuple[int | str, ...], value: object) -> str:
    """`` (got …)`` for a scalar input, URLs redacted; nothing for tables and arrays."""
    if isinstance(value, bool | int | float):
        return f" (got {value})"
    if isinstance(value, str):
        is_url = "://" in value or not _URL_KEYS.isdisjoint(p for p in loc if isinstance(p, str))
        text = redact_url(value) if is_url else value
        return f" (got {text[:60]!r})"
    return ""
