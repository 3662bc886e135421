"""The notifier interface, as channel modules import it, and the payload-to-text step they share.

The contract itself (``Notifier``, ``PermanentDeliveryError``, channel names) and the worker
that drains the outbox (``deliver_once``, ``run_delivery``) live in ``monitor.delivery`` and are
re-exported here, so ``from monitor.notify.base import deliver_once`` keeps working.
"""

from __future__ import annotations

from collections.abc import Callable

# Re-exported (``X as X``): the channel modules and ``monitor.monitor`` import them from here.
from monitor.delivery import DeliveryReport as DeliveryReport
from monitor.delivery import Notifier as Notifier
from monitor.delivery import PermanentDeliveryError as PermanentDeliveryError
from monitor.delivery import channel_kind as channel_kind
from monitor.delivery import channel_target as channel_target
from monitor.delivery import deliver_once as deliver_once
from monitor.delivery import run_delivery as run_delivery
from monitor.notify.message import AlertPayload, format_text, parse_payload
from monitor.outbox_queue import Delivery


def delivery_text(delivery: Delivery, render: Callable[[AlertPayload], str] = format_text) -> str:
    """The alert message of ``delivery``, rendered by ``render`` (default: plain text, lines
    joined by newlines; ``format_html`` for Telegram).

    Raises:
        PermanentDeliveryError: the stored payload is not a valid alert payload (retrying
            cannot fix it).
    """
    try:
        return render(parse_payload(delivery.payload))
    except ValueError as exc:
        raise PermanentDeliveryError(str(exc)) from None
