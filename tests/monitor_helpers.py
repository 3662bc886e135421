"""Shared parts of the monitor's end-to-end tests: the alert record read back from the database,
the checks every crash test makes on it, configs derived from the demo's, and a stepping clock.

    rows = alert_rows(engine)                       # every alert, oldest first, with its ref
    assert unwarned_liquidations(world, rows) == []
    assert telegram.texts(chat) == telegram_texts(rows)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from devnet.demo import DEMO_TOKEN
from devnet.deploy import Devnet
from devnet.scenario import World, build_world
from devnet.telegram_api import TelegramApi
from devnet.toml import write_config
from indexer.config.loader import Config
from indexer.store.columns import utcnow
from indexer.store.tables import Account
from monitor.alerts.levels import Level
from monitor.notify.message import format_html, format_text, parse_payload
from monitor.tables import Alert, AlertStateRow, ChainTick, OutboxMessage, OutboxStatus

WARNING_LEVELS = frozenset({Level.WARNING, Level.CRITICAL, Level.LIQUIDATABLE})
"""Levels that warn before a liquidation (``liquidated`` and ``unknown`` do not)."""

_alerts = Alert.__table__  # type: ignore[attr-defined]
_accounts = Account.__table__  # type: ignore[attr-defined]
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
_ticks = ChainTick.__table__  # type: ignore[attr-defined]
_states = AlertStateRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One recorded alert; ``block`` is the block the monitor evaluated it at."""

    id: int
    account_id: int
    ref: str
    level: Level
    episode: int
    block: int
    payload: dict[str, Any]
    lens: str = ""


def alert_rows(engine: Engine) -> list[AlertRow]:
    """Every alert in the database, in alert (id) order: the order channels must deliver."""
    query = (
        sa.select(_alerts, _accounts.c.ref)
        .join(_accounts, _accounts.c.id == _alerts.c.account_id)
        .order_by(_alerts.c.id)
    )
    with engine.connect() as conn:
        return [
            AlertRow(r.id, r.account_id, r.ref, Level(r.level), r.episode,
                     int(r.payload["block_number"]), dict(r.payload), r.lens)
            for r in conn.execute(query)
        ]  # fmt: skip


def duplicate_keys(rows: list[AlertRow]) -> list[tuple[int, str, Level, int]]:
    """(account, lens, level, episode) keys recorded more than once."""
    counts = Counter((r.account_id, r.lens, r.level, r.episode) for r in rows)
    return [key for key, n in counts.items() if n > 1]


def unwarned_liquidations(world: World, rows: list[AlertRow]) -> list[tuple[str, int]]:
    """The keeper's liquidations with no warning-level alert at a block before them."""
    return [
        (ref, block)
        for ref, block in world.liquidated
        if not any(r.ref == ref and r.level in WARNING_LEVELS and r.block < block for r in rows)
    ]


def unreported_liquidations(world: World, rows: list[AlertRow]) -> list[str]:
    """The keeper's liquidations that have no ``liquidated`` alert."""
    told = {r.ref for r in rows if r.level is Level.LIQUIDATED}
    return [ref for ref, _ in world.liquidated if ref not in told]


def telegram_texts(rows: list[AlertRow]) -> list[str]:
    """The Telegram message of each alert, in the order a chat must receive them."""
    return [format_html(parse_payload(r.payload)) for r in rows]


def console_lines(rows: list[AlertRow]) -> list[str]:
    """The console notifier's line of each alert, in order."""
    return [format_text(parse_payload(r.payload)).replace("\n", " | ") for r in rows]


def outbox_statuses(engine: Engine, channel_prefix: str = "") -> Counter[str]:
    """How many outbox rows (of channels starting with ``channel_prefix``) are in each status."""
    query = sa.select(_outbox.c.status).where(_outbox.c.channel.startswith(channel_prefix))
    with engine.connect() as conn:
        return Counter(str(OutboxStatus(s)) for s in conn.execute(query).scalars())


def sent_alert_ids(engine: Engine, channel: str) -> set[int]:
    """Alerts whose delivery to ``channel`` is recorded as sent (acknowledged)."""
    query = sa.select(_outbox.c.alert_id).where(
        _outbox.c.channel == channel, _outbox.c.status == OutboxStatus.SENT
    )
    with engine.connect() as conn:
        return set(conn.execute(query).scalars())


def state_levels(engine: Engine) -> dict[int, Level]:
    """Each account's current alert level, by account id."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_states.c.account_id, _states.c.level)).all()
    return {account_id: Level(level) for account_id, level in rows}


def latest_evaluation(engine: Engine) -> datetime | None:
    """When the newest monitor pass completed (its heartbeat; None before the first)."""
    with engine.connect() as conn:
        value: datetime | None = conn.execute(sa.select(sa.func.max(_ticks.c.ticked_at))).scalar()
    return value


def price_path(crash_steps: int, recover_steps: int, step_pct: float) -> list[Decimal]:
    """Factors for ``World.move_prices``: ``crash_steps`` down, then ``recover_steps`` up."""
    step = Decimal(str(step_pct)) / 100
    return [1 - step] * crash_steps + [1 + step] * recover_steps


def config_data(cfg: Config) -> dict[str, Any]:
    """``cfg`` as the data a user would have written (defaults left out), for editing."""
    return cfg.model_dump(exclude_defaults=True, exclude_none=True)


def with_chain(cfg: Config, **changes: Any) -> Config:
    """``cfg`` with its (only) chain's settings changed, validated again."""
    data = config_data(cfg)
    data["chains"][0].update(changes)
    return Config.model_validate(data)


def write_toml(cfg: Config, path: Path) -> Path:
    """``cfg`` as a user's TOML file; the Telegram token is left out (it comes from the env)."""
    data = cfg.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    data.pop("telegram_bot_token", None)
    return write_config(path, data)


class SteppingClock:
    """A wall clock for the monitor that moves ``step_s`` seconds forward on every reading, so
    outbox backoffs and ``retry_after`` waits pass without real waiting."""

    def __init__(self, step_s: float, start: datetime | None = None) -> None:
        self.now = start or utcnow()
        self.step = timedelta(seconds=step_s)

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


@pytest.fixture
def world(devnet: Devnet) -> World:
    """12 GMX and 4 Hyperliquid traders (undone after the test with the devnet snapshot)."""
    return build_world(devnet, gmx_traders=12, hl_traders=4)


@pytest.fixture
def telegram() -> Iterator[TelegramApi]:
    """The Telegram Bot API stand-in, for the demo's token."""
    with TelegramApi(DEMO_TOKEN) as api:
        yield api
