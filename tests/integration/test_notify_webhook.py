"""Webhook delivery to a real local receiver: signatures that verify (and fail when tampered
with), a stable idempotency key across retries, retry/permanent answers, redacted URLs."""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import timedelta

import orjson
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from indexer.errors import PermanentDeliveryError, RetryableError
from monitor.alerts.levels import Level
from monitor.delivery.outbox import Delivery, RetryPolicy
from monitor.delivery.worker import deliver_once
from monitor.notify.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookNotifier,
    sign,
    verify_signature,
)
from tests.fixtures.webhook_receiver import SECRET, WebhookReceiver
from tests.outbox_helpers import T0, add_account, add_alerts, alert_payload, statuses

NOW = 1_750_000_000.0


def delivery(n: int = 0, alert_id: int = 1) -> Delivery:
    return Delivery(alert_id, alert_id, "webhook", 1, 5, Level.CRITICAL, n, T0, alert_payload(n=n))


def hook(url: str, secret: str = SECRET) -> WebhookNotifier:
    return WebhookNotifier(url, secret=SecretStr(secret))


def send(notifier: WebhookNotifier, *deliveries: Delivery) -> None:
    async def run() -> None:
        try:
            for d in deliveries:
                await notifier.send(d)
        finally:
            await notifier.aclose()

    asyncio.run(run())


def test_the_receiver_verifies_and_keys_are_stable(webhook_receiver: WebhookReceiver) -> None:
    send(hook(webhook_receiver.url), delivery(0, 1), delivery(0, 1), delivery(1, 2))
    first, repeat, other = webhook_receiver.requests
    assert first.verified
    assert repeat.verified
    assert other.verified
    assert first.headers["Idempotency-Key"] == repeat.headers["Idempotency-Key"]
    assert first.headers["Idempotency-Key"] == "perpwatch-1-5-critical-0"
    assert other.headers["Idempotency-Key"] != first.headers["Idempotency-Key"]
    # The repeat of an alert is dropped by key: the receiver holds two documents.
    assert [doc["alert_id"] for doc in webhook_receiver.accepted] == [1, 2]
    doc = orjson.loads(first.body)
    assert doc["payload"]["block_number"] == 100
    assert "ETH/USD #0" in doc["text"]


def test_verify_signature_rejects_tampering_and_replays() -> None:
    body = orjson.dumps({"alert_id": 1, "level": "critical"})
    ts = int(NOW)
    headers = {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(SECRET, ts, body)}
    lower = {k.lower(): v for k, v in headers.items()}
    assert verify_signature(SECRET, body, headers, now=NOW)
    assert verify_signature(SecretStr(SECRET), body, lower, now=NOW + 299)
    assert not verify_signature(SECRET, body.replace(b"critical", b"warning"), headers, now=NOW)
    assert not verify_signature("another-secret", body, headers, now=NOW)
    assert not verify_signature(SECRET, body, headers, now=NOW + 301)  # too old to trust
    moved = {TIMESTAMP_HEADER: str(ts + 1), SIGNATURE_HEADER: headers[SIGNATURE_HEADER]}
    assert not verify_signature(SECRET, body, moved, now=NOW)  # the timestamp is signed too
    assert not verify_signature(SECRET, body, {TIMESTAMP_HEADER: "soon"}, now=NOW)
    assert not verify_signature(SECRET, body, {}, now=NOW)


def test_a_tampered_body_fails_at_the_receiver(webhook_receiver: WebhookReceiver) -> None:
    notifier = hook(webhook_receiver.url)
    body, headers = notifier.request_parts(delivery())
    tampered = body.replace(b'"critical"', b'"warning"', 1)
    assert tampered != body
    assert not verify_signature(SECRET, tampered, headers)
    assert verify_signature(SECRET, body, headers)
    with pytest.raises(PermanentDeliveryError, match="HTTP 401"):
        send(hook(webhook_receiver.url, secret="not-the-shared-secret"), delivery())
    assert [r.verified for r in webhook_receiver.requests] == [False]


def test_retries_on_503_with_retry_after_then_delivers_once(
    engine: Engine, webhook_receiver: WebhookReceiver
) -> None:
    add_alerts(engine, add_account(engine), 2, ["webhook"])
    webhook_receiver.script(503, retry_after="40", times=2)
    notifier = hook(webhook_receiver.url)
    policy = RetryPolicy(lease_s=60, base_s=1, cap_s=60, max_attempts=10)

    async def run() -> None:
        now = T0
        for _ in range(4):
            await deliver_once(engine, {"webhook": notifier}, now, policy=policy)
            now += timedelta(seconds=41)
        await notifier.aclose()

    asyncio.run(run())
    assert [doc["episode"] for doc in webhook_receiver.accepted] == [0, 1]
    keys = [r.headers["Idempotency-Key"] for r in webhook_receiver.requests]
    assert keys[:3] == ["perpwatch-1-1-critical-0"] * 3  # same key on every retry
    assert statuses(engine, "webhook") == [("sent", 3), ("sent", 1)]


def test_status_mapping(webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.script(429, retry_after="12")
    webhook_receiver.script(404)
    with pytest.raises(RetryableError) as info:
        send(hook(webhook_receiver.url), delivery())
    assert info.value.retry_after == 12.0
    with pytest.raises(PermanentDeliveryError, match="HTTP 404"):
        send(hook(webhook_receiver.url), delivery())


def test_retry_after_as_an_http_date_is_honoured_and_nonsense_ignored(
    webhook_receiver: WebhookReceiver,
) -> None:
    from email.utils import formatdate

    webhook_receiver.script(503, retry_after=formatdate(NOW + 90, usegmt=True))
    webhook_receiver.script(429, retry_after="inf")
    hints = []
    for _ in range(2):
        notifier = WebhookNotifier(webhook_receiver.url, clock=lambda: NOW)
        with pytest.raises(RetryableError) as info:
            send(notifier, delivery())
        hints.append(info.value.retry_after)
    assert hints == [90.0, None]


def test_unreachable_url_is_retryable_and_its_token_hidden() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    secret_path = "T0KEN1234abcdEFGH5678ijkl"
    notifier = hook(f"http://127.0.0.1:{port}/services/{secret_path}")
    with pytest.raises(RetryableError) as info:
        send(notifier, delivery())
    assert secret_path not in str(info.value)
    assert secret_path not in repr(notifier)
    assert "signed=True" in repr(notifier)


def test_a_channel_without_a_notifier_stays_pending_and_is_said_once(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    account = add_account(engine)
    add_alerts(engine, account, 2, ["webhook"])
    unserved: set[str] = set()

    async def run() -> None:
        for _ in range(3):
            report = await deliver_once(engine, {}, T0, unserved=unserved)
            assert not report.busy

    with caplog.at_level(logging.WARNING):
        asyncio.run(run())
    said = [r.getMessage() for r in caplog.records if "no notifier" in r.getMessage()]
    assert said == [
        "no notifier for channel webhook (is its kind configured?); its deliveries stay pending"
    ]
    assert statuses(engine, "webhook") == [("pending", 0), ("pending", 0)]
