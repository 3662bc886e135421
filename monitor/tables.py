"""The monitor's database tables: alerts, their outbox and alert states.

Like ``indexer.store.tables`` (whose column helpers they share), rows are built with
``validated``; every schema change needs a migration in ``indexer/store/migrations/versions``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from indexer.store.columns import UtcDateTime, utcnow
from indexer.store.tables import Json, NonNegative, enum_column, parent_key
from monitor.alerts.chain import ChainLevel
from monitor.alerts.levels import Level

LENS_KEY_CHARS = 200
"""Room for a lens key: seven thresholds' values (``lens_key``)."""


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class Alert(SQLModel, table=True):
    """An alert about one account (``account_id``) or a whole chain (``chain_id``: its outage
    and recovery, ``monitor.alerts.chain``), never both. An account's alert is decided in one
    of its lenses (``lens``; ``""`` the primary: ``monitor.subscriptions.routing.Lens``).
    (account, lens, level, episode) and (chain, level, episode) are unique so a retried step
    cannot duplicate it."""

    __tablename__ = "alerts"
    __table_args__ = (
        sa.UniqueConstraint(
            "account_id", "lens", "level", "episode", name="uq_alerts_account_lens_level_episode"
        ),
        sa.UniqueConstraint("chain_id", "level", "episode", name="uq_alerts_chain_level_episode"),
        sa.CheckConstraint("(account_id IS NULL) <> (chain_id IS NULL)", name="ck_alerts_subject"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int | None = parent_key("alerts", "account_id", "accounts")
    chain_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    lens: str = Field(
        default="", sa_type=sa.String(LENS_KEY_CHARS), sa_column_kwargs={"server_default": ""}
    )
    level: Level = Field(sa_type=enum_column(Level, "ck_alerts_level"))
    episode: NonNegative
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=Json)


class OutboxMessage(SQLModel, table=True):
    """One delivery of an alert to one channel, retried until sent or failed."""

    __tablename__ = "outbox"
    __table_args__ = (
        sa.UniqueConstraint("alert_id", "channel", name="uq_outbox_alert_channel"),
        sa.Index("ix_outbox_status_next_attempt", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = parent_key("outbox", "alert_id", "alerts")
    channel: str = Field(sa_type=sa.String(100))
    status: OutboxStatus = Field(
        default=OutboxStatus.PENDING, sa_type=enum_column(OutboxStatus, "ck_outbox_status")
    )
    attempts: NonNegative = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    sent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class AlertStateRow(SQLModel, table=True):
    """An account's place in the alert state machine (``monitor.alerts.rules.AlertState``), so a
    restarted monitor neither repeats nor forgets an episode. ``alerted`` lists level values."""

    __tablename__ = "alert_states"

    account_id: int = Field(
        primary_key=True,
        sa_column_args=[
            sa.ForeignKey("accounts.id", ondelete="CASCADE", name="fk_alert_states_account_id")
        ],
    )
    level: Level = Field(sa_type=enum_column(Level, "ck_alert_states_level"))
    episode: NonNegative
    alerted: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    health: float | None = None
    since: datetime | None = Field(default=None, sa_type=UtcDateTime)
    updated_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class LensStateRow(SQLModel, table=True):
    """An account's place in the alert state machine in one of its secondary lenses (the
    primary's is ``AlertStateRow``): the state of the watchers whose own thresholds differ
    from the config's (``monitor.subscriptions.routing.Lens``)."""

    __tablename__ = "alert_lens_states"

    account_id: int = Field(
        primary_key=True,
        sa_column_args=[
            sa.ForeignKey("accounts.id", ondelete="CASCADE", name="fk_alert_lens_states_account_id")
        ],
    )
    lens: str = Field(primary_key=True, sa_type=sa.String(LENS_KEY_CHARS))
    level: Level = Field(sa_type=enum_column(Level, "ck_alert_lens_states_level"))
    episode: NonNegative
    alerted: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    health: float | None = None
    since: datetime | None = Field(default=None, sa_type=UtcDateTime)
    updated_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class ChainAlertStateRow(SQLModel, table=True):
    """A chain's place in the chain alert state machine (``monitor.alerts.chain.ChainState``),
    so a monitor restarted during an outage neither alerts it again nor forgets to recover.
    ``failing_since`` set: the chain's last tick failed and its accounts show as unknown."""

    __tablename__ = "chain_alert_states"

    chain_id: NonNegative = Field(primary_key=True, sa_type=sa.BigInteger)
    level: ChainLevel = Field(sa_type=enum_column(ChainLevel, "ck_chain_alert_states_level"))
    episode: NonNegative
    failing_since: datetime | None = Field(default=None, sa_type=UtcDateTime)
    readable_since: datetime | None = Field(default=None, sa_type=UtcDateTime)
    since: datetime | None = Field(default=None, sa_type=UtcDateTime)
    reason: str = Field(default="", sa_type=sa.Text)
    updated_at: datetime = Field(sa_type=UtcDateTime)


class ChainTick(SQLModel, table=True):
    """The monitor's heartbeat per chain: the last completed tick, its block and book size.

    Written after every tick, whether or not any account changed, so operators (and tests) can
    tell a live monitor from a stuck one.
    """

    __tablename__ = "chain_ticks"

    chain_id: NonNegative = Field(primary_key=True, sa_type=sa.BigInteger)
    block_number: NonNegative = Field(sa_type=sa.BigInteger)
    accounts: NonNegative
    stepped: NonNegative
    ticked_at: datetime = Field(sa_type=UtcDateTime)
    worker: str = Field(default="", sa_type=sa.String(100))


class ChainLease(SQLModel, table=True):
    """Which ``perpwatch run`` process ticks a chain, until when. Several workers can share
    one PostgreSQL: each chain is ticked by the holder of its lease only, and a lease that is
    not renewed (its worker died) is taken over once it expires."""

    __tablename__ = "chain_leases"

    chain_id: NonNegative = Field(primary_key=True, sa_type=sa.BigInteger)
    holder: str = Field(sa_type=sa.String(100))
    expires_at: datetime = Field(sa_type=UtcDateTime)
