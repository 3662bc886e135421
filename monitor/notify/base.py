"""The payload-to-text step every channel shares.

The notifier contract itself (``Notifier``, ``PermanentDeliveryError``, channel names) lives in
``monitor.delivery.worker``, beside the worker that drains the outbox.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from indexer.errors import PermanentDeliveryError
from monitor.delivery.queue import Delivery
from monitor.notify.message import Payload, format_text, parse_message


def delivery_text(delivery: Delivery, render: Callable[[Payload], str] = format_text) -> str:
    """The alert message of ``delivery``, rendered by ``render`` (default: plain text, lines
    joined by newlines; ``format_html`` for Telegram).

    Raises:
        PermanentDeliveryError: the stored payload is not a valid alert payload (retrying
            cannot fix it).
    """
    return render(delivery_payload(delivery))


def delivery_payload(delivery: Delivery) -> Payload:
    """The validated alert payload of ``delivery``.

    Raises:
        PermanentDeliveryError: the stored payload is not a valid alert payload.
    """
    try:
        return parse_message(delivery.payload)
    except ValueError as exc:
        raise PermanentDeliveryError(str(exc)) from None


def http_failure(exc: httpx.HTTPError) -> str:
    """A transport failure as words: httpx's timeouts carry no message of their own (a bare
    ``ReadTimeout:`` tells an operator nothing)."""
    if isinstance(exc, httpx.ConnectTimeout):
        return "could not connect in time"
    if isinstance(exc, httpx.TimeoutException):
        return "the server accepted the connection but did not answer in time"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
