"""Subscription tables: who hears about which wallets, with which thresholds, and the bot's
update offset. Every schema change needs a migration (revision 0006 created these)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from indexer.store.columns import UtcDateTime, utcnow
from indexer.store.tables import NonNegative, parent_key


class Subscriber(SQLModel, table=True):
    """A destination that subscribes: a Telegram chat (``kind`` telegram, ``target`` its chat
    id) or a webhook endpoint (``kind`` webhook). Threshold columns left NULL inherit the
    config's; ``quiet_from_hour``..``quiet_to_hour`` (UTC, end excluded) hold back warnings.
    ``watch_all``: it hears about every account the monitor covers (the config's chats and
    webhook, a risk team's view). ``source`` says who created it: ``config`` (seeded from the
    TOML) or ``bot``."""

    __tablename__ = "subscribers"
    __table_args__ = (sa.UniqueConstraint("kind", "target", name="uq_subscribers_kind_target"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=sa.String(16))
    target: str = Field(sa_type=sa.String(100))
    is_group: bool = False
    paused: bool = False
    watch_all: bool = False
    warning: float | None = None
    critical: float | None = None
    warning_distance_pct: float | None = None
    critical_distance_pct: float | None = None
    quiet_from_hour: int | None = None
    quiet_to_hour: int | None = None
    source: str = Field(default="bot", sa_type=sa.String(16))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class Subscription(SQLModel, table=True):
    """A subscriber watching one wallet (``owner``, lowercase), optionally only one protocol
    (``protocol``) or one account of it (``account_ref``)."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        sa.UniqueConstraint("subscriber_id", "owner", name="uq_subscriptions_subscriber_owner"),
        sa.Index("ix_subscriptions_owner", "owner"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = parent_key("subscriptions", "subscriber_id", "subscribers")
    owner: str = Field(sa_type=sa.String(64))
    label: str = Field(default="", sa_type=sa.String(64))
    protocol: str | None = Field(default=None, sa_type=sa.String(32))
    account_ref: str | None = Field(default=None, sa_type=sa.String(200))
    source: str = Field(default="bot", sa_type=sa.String(16))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class BotCursor(SQLModel, table=True):
    """The next Telegram update id a bot asks for (``getUpdates`` offset), kept so that a
    restarted bot neither replays nor skips a command."""

    __tablename__ = "bot_cursors"

    name: str = Field(primary_key=True, sa_type=sa.String(64))
    update_offset: NonNegative = Field(sa_type=sa.BigInteger)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
