"""Telegram channel: alerts as HTML messages through the Bot API's ``sendMessage``.

    notifier = TelegramNotifier.from_config(config)   # token from PERPWATCH_TELEGRAM_BOT_TOKEN
    await notifier.send(delivery)        # delivery.channel == "telegram:<chat_id>"
    await notifier.aclose()

The bot token is part of the URL path (``/bot<token>/sendMessage``). It never reaches a log
line, an exception or a repr: the client builds requests with a placeholder in its place (so
httpx's own request log shows ``bot***``) and a wrapping transport puts the token in just
before the bytes go out. Error texts are additionally scrubbed of the token.

Answers: 200 ``ok`` → sent; 429 → :class:`RetryableError` with the API's
``parameters.retry_after``; 5xx, timeouts and connection errors → retryable; 400/401/403/404 →
:class:`PermanentDeliveryError` (bad chat id, bot blocked, message rejected).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Self

import httpx
from pydantic import SecretStr

from indexer.config.loader import Config
from indexer.errors import ConfigError, PermanentDeliveryError, RetryableError
from indexer.redact import MASK
from monitor.delivery.outbox import Delivery
from monitor.delivery.worker import channel_target
from monitor.notify.base import delivery_payload, delivery_text, http_failure
from monitor.notify.message import format_digest, format_html

__all__ = ["ChatRateLimiter", "TelegramNotifier"]

_PLACEHOLDER = "bot" + MASK
_DEFAULT_BASE_URL = "https://api.telegram.org"


class ChatRateLimiter:
    """Spaces sends to one chat at least ``60 / per_min`` seconds apart (``clock`` in seconds).

    :meth:`reserve` books the next slot for a chat and returns how long to wait for it.
    """

    def __init__(self, per_min: int, clock: Callable[[], float]) -> None:
        self._spacing_s = 60.0 / per_min
        self._clock = clock
        self._next_free: dict[str, float] = {}

    def reserve(self, chat: str) -> float:
        now = self._clock()
        slot = max(now, self._next_free.get(chat, now))
        self._next_free[chat] = slot + self._spacing_s
        return slot - now


class _TokenTransport(httpx.AsyncBaseTransport):
    """Replaces the placeholder path segment by ``bot<token>`` on the way out."""

    def __init__(self, inner: httpx.AsyncBaseTransport, token: SecretStr) -> None:
        self._inner = inner
        self._token = token

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.replace(
            _PLACEHOLDER.encode(), b"bot" + self._token.get_secret_value().encode(), 1
        )
        # A copy: httpx logs the original request after the answer, and it must keep bot***.
        outgoing = httpx.Request(
            request.method,
            request.url.copy_with(raw_path=path),
            headers=request.headers,
            stream=request.stream,
            extensions=request.extensions,
        )
        return await self._inner.handle_async_request(outgoing)

    async def aclose(self) -> None:
        await self._inner.aclose()


class TelegramNotifier:
    """Sends alerts to Telegram chats; see the module docstring for the error mapping.

    ``transport``: httpx transport to use (tests pass one); ``clock``/``sleep``: monotonic
    seconds and the awaitable sleep used by the per-chat rate limit; ``timeout_s`` bounds each
    request and must stay well below the outbox lease.
    """

    def __init__(
        self,
        token: SecretStr | str,
        *,
        base_url: str = _DEFAULT_BASE_URL,
        per_chat_rate_per_min: int = 20,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        timeout_s: float = 10.0,
    ) -> None:
        self._token = token if isinstance(token, SecretStr) else SecretStr(token)
        if not self._token.get_secret_value():
            raise ConfigError("telegram: the bot token is empty")
        self._limiter = ChatRateLimiter(per_chat_rate_per_min, clock)
        self._sleep = sleep
        inner = transport or httpx.AsyncHTTPTransport()
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            transport=_TokenTransport(inner, self._token),
            timeout=timeout_s,
        )

    @classmethod
    def from_config(cls, config: Config, **io: Any) -> Self:
        """A notifier for ``config.channels.telegram``; ``io`` as in the constructor.

        Raises:
            ConfigError: ``PERPWATCH_TELEGRAM_BOT_TOKEN`` is not set.
        """
        if config.telegram_bot_token is None:
            raise ConfigError("telegram: PERPWATCH_TELEGRAM_BOT_TOKEN is not set")
        telegram = config.channels.telegram
        return cls(
            config.telegram_bot_token,
            base_url=telegram.base_url,
            per_chat_rate_per_min=telegram.per_chat_rate_per_min,
            **io,
        )

    def __repr__(self) -> str:
        return f"TelegramNotifier(base_url={str(self._client.base_url)!r}, token={MASK!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, delivery: Delivery) -> None:
        """Send ``delivery`` to the chat its channel names.

        Raises:
            RetryableError: 429 (with the API's retry_after), 5xx, timeout, connection error.
            PermanentDeliveryError: the API refused the message or chat; or a bad payload.
        """
        chat = channel_target(delivery.channel)
        if not chat:
            raise PermanentDeliveryError(f"channel {delivery.channel!r} names no chat id")
        text = delivery_text(delivery, format_html)
        wait_s = self._limiter.reserve(chat)
        if wait_s > 0:
            await self._sleep(wait_s)
        await self._post(chat, text)

    async def send_batch(self, deliveries: list[Delivery]) -> None:
        """Send ``deliveries`` (one chat's, in alert order) as one message: the alert itself,
        or a digest of several. No per-chat wait here: the caller paces the chats
        (``monitor.delivery.paced``).

        Raises:
            RetryableError: as :meth:`send`.
            PermanentDeliveryError: as :meth:`send`.
        """
        chat = channel_target(deliveries[0].channel)
        if not chat:
            raise PermanentDeliveryError(f"channel {deliveries[0].channel!r} names no chat id")
        if len(deliveries) == 1:
            text = delivery_text(deliveries[0], format_html)
        else:
            text = format_digest([delivery_payload(d) for d in deliveries])
        await self._post(chat, text)

    async def _post(self, chat: str, text: str) -> None:
        body = {"chat_id": chat, "text": text, "parse_mode": "HTML"}
        try:
            response = await self._client.post(f"/{_PLACEHOLDER}/sendMessage", json=body)
        except httpx.HTTPError as exc:  # timeouts, refused connections, broken answers
            raise RetryableError(self._scrub(f"telegram: {http_failure(exc)}")) from None
        _check_answer(response, chat, self._scrub)

    def _scrub(self, text: str) -> str:
        return text.replace(self._token.get_secret_value(), MASK)


def _check_answer(response: httpx.Response, chat: str, scrub: Callable[[str], str]) -> None:
    """Map a Bot API answer to success or an error (see the module docstring)."""
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    status = response.status_code
    if status == 200 and answer.get("ok") is True:
        return
    description = scrub(str(answer.get("description") or response.reason_phrase))[:300]
    message = f"telegram chat {chat}: HTTP {status}: {description}"
    if status == 429:
        parameters = answer.get("parameters")
        retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
        raise RetryableError(message, float(retry_after) if retry_after is not None else None)
    if status >= 500 or status == 200:  # a 200 that is not ok: an intermediary, try again
        raise RetryableError(message)
    raise PermanentDeliveryError(message)
