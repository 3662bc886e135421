"""Reading JSON-RPC answers: HTTP status and body to per-call results or faults.

Pure (no I/O): :class:`~indexer.rpc.transport.Exchange` hands over a received response and
acts on the outcome. A ``Redo`` outcome means "send this call again"; errors retrying cannot fix
raise here. ``label`` is the redacted URL used in messages, ``url`` only for redaction.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from indexer.errors import RetryableError, RpcError, RpcRangeTooLarge
from indexer.redact import redact_text
from indexer.retry import is_retryable_status, parse_retry_after
from indexer.rpc.faults import Fault, classify_rpc_error
from indexer.rpc.ranges import classify_logs_error

__all__ = ["Call", "Redo", "interpret", "read_answers"]


@dataclass(frozen=True, slots=True)
class Call:
    """One JSON-RPC method call."""

    method: str
    params: list[Any]


@dataclass(frozen=True, slots=True)
class Redo:
    """An answer item that asks for its call to be sent again, and why."""

    error: RetryableError


def read_answers(
    status: int,
    headers: Mapping[str, str],
    content: bytes,
    count: int,
    batch: bool,
    label: str,
    method: str,
) -> list[Any]:
    """The answer objects of a response (HTTP ``status``, ``headers``, body ``content``) to
    ``count`` calls with ids ``0..count-1``.

    Raises ``RetryableError`` for 408/425/429/5xx (with the ``Retry-After`` hint), an
    undecodable 2xx body, a batch answer that is not a list or lacks items; ``RpcError`` for
    another 4xx without a JSON-RPC body (e.g. 401: a bad API key).
    """
    if is_retryable_status(status):
        hint = parse_retry_after(headers.get("retry-after"), time.time())
        raise RetryableError(f"HTTP {status} at {label}", hint)
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        if 200 <= status < 300:
            size = len(content)
            raise RetryableError(f"invalid JSON body ({size} bytes) at {label}") from None
        raise RpcError(method, status, f"HTTP {status}", None, label) from None
    if batch:
        if not isinstance(body, list):
            raise RetryableError(f"batch answer is not a list at {label}")
        by_id = {item.get("id"): item for item in body if isinstance(item, dict)}
        missing = [i for i in range(count) if i not in by_id]
        if missing:
            raise RetryableError(f"batch answer lacks {len(missing)} of {count} items at {label}")
        return [by_id[i] for i in range(count)]
    if not isinstance(body, dict) or body.get("id") != 0:
        raise RetryableError(f"malformed JSON-RPC answer at {label}")
    return [body]


def interpret(call: Call, answer: dict[str, Any], url: str, label: str) -> Any:
    """The result of one answer item, or a ``Redo``. Raises ``RpcRangeTooLarge``, ``RpcError``."""
    error = answer.get("error")
    if error is None:
        if "result" not in answer:
            return Redo(RetryableError(f"{call.method}: answer without result at {label}"))
        return answer["result"]
    if isinstance(error, dict):
        raw_code, message, data = (
            error.get("code"),
            str(error.get("message", "")),
            error.get("data"),
        )
    else:
        raw_code, message, data = None, str(error), None
    code = raw_code if isinstance(raw_code, int) else None
    message = redact_text(message, [url])
    span = _log_span(call)
    if span is not None:
        advice = classify_logs_error(code, message, data, *span)
        if advice is not None:
            text = f"eth_getLogs [{span[0]}, {span[1]}] refused at {label}: {message}"
            raise RpcRangeTooLarge(text, advice, *span)
    if classify_rpc_error(code, message, data) is Fault.FATAL:
        raise RpcError(call.method, code, message, data, label)
    return Redo(RetryableError(f"{call.method}: [{code}] {message} at {label}"))


def _log_span(call: Call) -> tuple[int, int] | None:
    """``(fromBlock, toBlock)`` of an ``eth_getLogs`` call with numeric bounds, else None."""
    if call.method != "eth_getLogs" or not call.params or not isinstance(call.params[0], dict):
        return None
    query = call.params[0]
    try:
        return int(query["fromBlock"], 16), int(query["toBlock"], 16)
    except (KeyError, TypeError, ValueError):
        return None
