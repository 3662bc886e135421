"""Webhook channel: alerts as signed JSON POSTs, with a stable idempotency key.

    notifier = WebhookNotifier(url, secret=config.webhook_secret)
    await notifier.send(delivery)                        # delivery.channel == "webhook"
    verify_signature(secret, body, request.headers)      # on the receiving side

Headers sent:

- ``Idempotency-Key``: ``perpwatch-<alert id>-<account id>-<level>-<episode>`` (a chain
  alert: ``chain<chain id>`` in place of the account id), the same on every retry of one
  alert, so a receiver can drop a repeat (the outbox is at-least-once).
- ``X-Perpwatch-Timestamp``: unix seconds when this attempt was signed.
- ``X-Perpwatch-Signature``: ``sha256=<hex>``, HMAC-SHA256 with the shared secret over
  ``<timestamp>.<body>`` (exact body bytes), sent only when a secret is configured.

Answers: 2xx → sent; 408, 425, 429 (``Retry-After`` honoured, seconds or an HTTP date) and 5xx,
timeouts and connection errors → retryable; any other status → permanent. The URL may embed its
own token (Slack, Discord): errors show it redacted.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from typing import Any, Self

import httpx
import orjson
from pydantic import SecretStr

from indexer.config.loader import Config
from indexer.errors import ConfigError, PermanentDeliveryError, RetryableError
from indexer.redact import redact_text, redact_url
from indexer.retry import is_retryable_status, parse_retry_after
from monitor.delivery.outbox import Delivery
from monitor.notify.base import delivery_text, http_failure

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookNotifier",
    "idempotency_key",
    "sign",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Perpwatch-Signature"
TIMESTAMP_HEADER = "X-Perpwatch-Timestamp"


def idempotency_key(delivery: Delivery) -> str:
    """The same key for every attempt of one alert; different alerts never share one."""
    subject = (
        delivery.account_id if delivery.account_id is not None else f"chain{delivery.chain_id}"
    )
    return f"perpwatch-{delivery.alert_id}-{subject}-{delivery.level.value}-{delivery.episode}"


def sign(secret: SecretStr | str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``b"<timestamp>." + body`` under ``secret``."""
    key = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    digest = hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def verify_signature(
    secret: SecretStr | str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: float | None = None,
    tolerance_s: float = 300.0,
) -> bool:
    """True if ``headers`` carry a valid signature of ``body`` made less than ``tolerance_s``
    seconds from ``now`` (unix seconds; default the current time). Header names are matched
    case-insensitively; the comparison is constant-time. Never raises on bad input.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    signature = lowered.get(SIGNATURE_HEADER.lower(), "")
    try:
        timestamp = int(lowered.get(TIMESTAMP_HEADER.lower(), ""))
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:  # an old captured request must not replay
        return False
    return hmac.compare_digest(signature, sign(secret, timestamp, body))


class WebhookNotifier:
    """POSTs each alert as JSON to ``url``; see the module docstring for headers and errors.

    ``clock`` gives unix seconds for the timestamp header; ``transport`` is the httpx transport
    (tests inject one); ``timeout_s`` must stay well below the outbox lease.
    """

    def __init__(
        self,
        url: str,
        *,
        secret: SecretStr | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        timeout_s: float = 10.0,
    ) -> None:
        self._url = url
        self._secret = secret
        self._clock = clock
        self._client = httpx.AsyncClient(transport=transport, timeout=timeout_s)

    @classmethod
    def from_config(cls, config: Config, **io: Any) -> Self:
        """A notifier for ``config.channels.webhook``; ``io`` as in the constructor.

        Raises:
            ConfigError: the webhook has no URL.
        """
        url = config.channels.webhook.url
        if url is None:
            raise ConfigError("channels.webhook.url: the webhook has no url")
        return cls(url, secret=config.webhook_secret, **io)

    def __repr__(self) -> str:
        return f"WebhookNotifier(url={redact_url(self._url)!r}, signed={self._secret is not None})"

    async def aclose(self) -> None:
        await self._client.aclose()

    def request_parts(self, delivery: Delivery) -> tuple[bytes, dict[str, str]]:
        """The exact body and headers this delivery is sent with (signed at ``clock()``).

        Raises:
            PermanentDeliveryError: the stored payload is not a valid alert payload.
        """
        text = delivery_text(delivery)
        key = idempotency_key(delivery)
        document = {
            "idempotency_key": key,
            "alert_id": delivery.alert_id,
            "account_id": delivery.account_id,
            "chain_id": delivery.chain_id,
            "level": delivery.level.value,
            "episode": delivery.episode,
            "created_at": delivery.created_at.isoformat(),
            "text": text,
            "payload": delivery.payload,
        }
        body = orjson.dumps(document)
        timestamp = int(self._clock())
        headers = {"Content-Type": "application/json", "Idempotency-Key": key,
                   TIMESTAMP_HEADER: str(timestamp)}  # fmt: skip
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = sign(self._secret, timestamp, body)
        return body, headers

    async def send(self, delivery: Delivery) -> None:
        """POST ``delivery``; returns on a 2xx answer.

        Raises:
            RetryableError: 408/425/429/5xx (``Retry-After`` kept), timeout, network.
            PermanentDeliveryError: any other status, or an invalid payload.
        """
        body, headers = self.request_parts(delivery)
        try:
            response = await self._client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            message = redact_text(f"webhook: {http_failure(exc)}", [self._url])
            raise RetryableError(message) from None
        status = response.status_code
        if 200 <= status < 300:
            return
        message = f"webhook {redact_url(self._url)}: HTTP {status}"
        if is_retryable_status(status):
            hint = parse_retry_after(response.headers.get("retry-after"), self._clock())
            raise RetryableError(message, hint)
        raise PermanentDeliveryError(message)
