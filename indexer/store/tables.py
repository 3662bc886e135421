"""The indexer's database tables: the normal form (accounts, positions, collateral) and the
indexing pipeline (raw events, cursors, block hashes, touched accounts). The monitor's tables
(health snapshots, alerts, outbox, alert states) live in ``monitor.tables``.

SQLModel builds table rows *without* validation, so build rows with :func:`validated`, which
checks hex formats, enum values and int256/uint256 ranges before anything reaches the database.

    row = validated(Account, chain_id=42161, protocol="gmx_v2", owner="0xab…", ref="0x12…",
                    mode=MarginMode.ISOLATED, block_number=123)
    session.add(row)

Units: ``*_usd_e30`` and ``*_rate_e30`` are 1e30 fixed point (as GMX); ``*_raw`` are native
token base units (see the neighbouring ``*decimals``). Health snapshot floats are derived.
Every schema change here needs a migration in ``indexer/store/migrations/versions``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import sqlalchemy as sa
from annotated_types import Ge, Le
from pydantic import StringConstraints
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from indexer.models import AccountStatus, MarginMode
from indexer.scan.rows import TouchKind
from indexer.store.columns import ExactInt, ExactIntType, UnsignedExactInt, UtcDateTime, utcnow

E30 = 10**30

Address = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-f]{40}$")]
"""A lower-case 0x-prefixed 20-byte address."""

Hash32 = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-f]{64}$")]
"""A lower-case 0x-prefixed 32-byte hash or topic."""

NonNegative = Annotated[int, Ge(0)]
Decimals = Annotated[int, Ge(0), Le(77)]
Share = Annotated[UnsignedExactInt, Le(E30)]
"""A share 0..1 in 1e30 fixed point."""

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def enum_column(enum_cls: type[StrEnum], constraint: str) -> sa.Enum:
    # VARCHAR plus a CHECK constraint rather than a native PostgreSQL ENUM: adding a value
    # later is then an ordinary migration on both backends.
    return sa.Enum(
        enum_cls,
        name=constraint,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [member.value for member in members],
    )


def parent_key(table: str, column: str, parent: str) -> Any:
    """An integer column referencing ``parent``; deleting the parent deletes this row."""
    fk = sa.ForeignKey(f"{parent}.id", ondelete="CASCADE", name=f"fk_{table}_{column}")
    return Field(sa_column_args=[fk])


class Account(SQLModel, table=True):
    """A margin account in the normal form; ``ref`` is the protocol's own id for it."""

    __tablename__ = "accounts"
    __table_args__ = (
        sa.UniqueConstraint("chain_id", "protocol", "ref", name="uq_accounts_chain_protocol_ref"),
        sa.Index("ix_accounts_owner", "owner"),
        # A read's owners within one book (migration 0010): the unique key's (chain, protocol)
        # prefix would be the whole book.
        sa.Index("ix_accounts_book_owner", "chain_id", "protocol", "owner", "status"),
        # Accounts that ended since a block (the monitor's liquidation lookup, every tick).
        sa.Index("ix_accounts_status_block", "chain_id", "status", "block_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    chain_id: NonNegative = Field(sa_type=sa.BigInteger)
    protocol: str = Field(sa_type=sa.String(32))
    owner: Address = Field(sa_type=sa.String(42))
    ref: str = Field(sa_type=sa.String(200))
    mode: MarginMode = Field(sa_type=enum_column(MarginMode, "ck_accounts_mode"))
    status: AccountStatus = Field(
        default=AccountStatus.OPEN, sa_type=enum_column(AccountStatus, "ck_accounts_status")
    )
    # Signed: a margin tier's deduction lowers the requirement (Hyperliquid).
    fixed_requirement_usd_e30: ExactInt = Field(default=0, sa_type=ExactIntType)
    block_number: NonNegative = Field(sa_type=sa.BigInteger)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class Position(SQLModel, table=True):
    """One position of an account; ``size_raw`` is signed (short < 0) in base units."""

    __tablename__ = "positions"
    __table_args__ = (
        sa.UniqueConstraint("account_id", "market", name="uq_positions_account_market"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = parent_key("positions", "account_id", "accounts")
    market: str = Field(sa_type=sa.String(100))
    asset: str = Field(sa_type=sa.String(100))
    size_raw: ExactInt = Field(sa_type=ExactIntType)
    size_decimals: Decimals
    entry_notional_usd_e30: UnsignedExactInt = Field(sa_type=ExactIntType)
    # Signed: accrued funding can be owed to the position.
    pending_fees_usd_e30: ExactInt = Field(default=0, sa_type=ExactIntType)
    closing_fee_rate_e30: Share = Field(default=0, sa_type=ExactIntType)
    mm_rate_e30: Share = Field(default=0, sa_type=ExactIntType)
    mm_rate_entry_e30: Share = Field(default=0, sa_type=ExactIntType)
    mm_floor_usd_e30: UnsignedExactInt = Field(default=0, sa_type=ExactIntType)
    # Maintenance tiers as [[lower_bound_usd_e30, mm_rate_e30, deduction_usd_e30], ...] of
    # decimal strings: JSON numbers would lose the 1e30 integers' precision.
    mm_tiers: list[list[str]] = Field(
        default_factory=list, sa_type=Json, sa_column_kwargs={"server_default": "[]"}
    )


class Collateral(SQLModel, table=True):
    """One collateral balance of an account, valued at ``price_feed`` less its haircut."""

    __tablename__ = "collateral"
    __table_args__ = (
        sa.UniqueConstraint("account_id", "asset", name="uq_collateral_account_asset"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = parent_key("collateral", "account_id", "accounts")
    asset: str = Field(sa_type=sa.String(100))
    amount_raw: ExactInt = Field(sa_type=ExactIntType)  # signed: negative is a debt
    decimals: Decimals
    haircut_e30: Share = Field(default=0, sa_type=ExactIntType)
    price_feed: str = Field(sa_type=sa.String(200))


class RawEvent(SQLModel, table=True):
    """A log as the node returned it: topics, and either its decoded ``args`` (ints as decimal
    strings) or, when perpwatch does not know the event, its raw ``data``.

    Keyed by the integers the chain gives (chain, block number, log index): the key is also the
    only index, and serves the one query by range (a reorg's rollback). The block's hash is kept
    once per block in ``blocks``.
    """

    __tablename__ = "raw_events"

    chain_id: NonNegative = Field(primary_key=True, sa_type=sa.BigInteger)
    block_number: NonNegative = Field(primary_key=True, sa_type=sa.BigInteger)
    log_index: NonNegative = Field(primary_key=True, sa_type=sa.Integer)
    tx_hash: Hash32 = Field(sa_type=sa.String(66))
    address: Address = Field(sa_type=sa.String(42))
    topic0: Hash32 | None = Field(default=None, sa_type=sa.String(66))
    topic1: Hash32 | None = Field(default=None, sa_type=sa.String(66))
    topic2: Hash32 | None = Field(default=None, sa_type=sa.String(66))
    topic3: Hash32 | None = Field(default=None, sa_type=sa.String(66))
    # The log's data, only for logs perpwatch did not decode: a decoded log is kept as its
    # ``args`` (lossless), which also keeps ingestion's writes to a third.
    data: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    source: str = Field(sa_type=sa.String(100))
    event_name: str | None = Field(default=None, sa_type=sa.String(100))
    args: dict[str, Any] | None = Field(default=None, sa_type=Json)


class EventBlock(SQLModel, table=True):
    """The hash of every block ``raw_events`` holds logs of (once per block, not per log);
    rolled back with its events."""

    __tablename__ = "blocks"

    chain_id: NonNegative = Field(primary_key=True, sa_type=sa.BigInteger)
    number: NonNegative = Field(primary_key=True, sa_type=sa.BigInteger)
    hash: Hash32 = Field(sa_type=sa.String(66))


class Cursor(SQLModel, table=True):
    """Where a log source resumes: the first block not yet indexed."""

    __tablename__ = "cursors"

    name: str = Field(primary_key=True, sa_type=sa.String(100))
    chain_id: NonNegative = Field(sa_type=sa.BigInteger)
    next_block: NonNegative = Field(sa_type=sa.BigInteger)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class BlockHash(SQLModel, table=True):
    """A processed block's hash and parent, kept for a window to detect reorgs."""

    __tablename__ = "block_hashes"

    chain_id: NonNegative = Field(primary_key=True, sa_type=sa.BigInteger)
    number: NonNegative = Field(primary_key=True, sa_type=sa.BigInteger)
    hash: Hash32 = Field(sa_type=sa.String(66))
    parent_hash: Hash32 = Field(sa_type=sa.String(66))


class TouchedAccount(SQLModel, table=True):
    """An account that events changed since it was last read: the state refresher's queue.

    ``kind`` says whether the last event closed or liquidated it; ``block_number`` is the
    block of that event (rows above a reorg's fork point are deleted with the events).
    """

    __tablename__ = "touched_accounts"
    # Who was touched among some owners (a wallets-only monitor, every tick; see migration 0009).
    __table_args__ = (sa.Index("ix_touched_accounts_owner", "chain_id", "protocol", "owner"),)

    chain_id: NonNegative = Field(primary_key=True, sa_type=sa.BigInteger)
    protocol: str = Field(primary_key=True, sa_type=sa.String(32))
    ref: str = Field(primary_key=True, sa_type=sa.String(200))
    owner: Address = Field(sa_type=sa.String(42))
    block_number: NonNegative = Field(sa_type=sa.BigInteger)
    kind: TouchKind = Field(sa_type=enum_column(TouchKind, "ck_touched_accounts_kind"))


Row = TypeVar("Row", bound=SQLModel)


def validated(model: type[Row], **values: Any) -> Row:
    """Build a table row from ``values``, validating every field first.

    Raises:
        pydantic.ValidationError: a value has the wrong type, format or range (it names the
            field); nothing is built.
    """
    return model.model_validate(values)


class AccountEnding(SQLModel, table=True):
    """A close or liquidation event of the canonical chain for one account, by block.

    Unlike ``touched_accounts`` (the refresh queue, latest touch only), every ending is kept and
    rolled back with its events, so "closed or liquidated?" is decided from the chain that stands.
    """

    __tablename__ = "account_endings"

    chain_id: NonNegative = Field(primary_key=True, sa_type=sa.BigInteger)
    protocol: str = Field(primary_key=True, sa_type=sa.String(32))
    ref: str = Field(primary_key=True, sa_type=sa.String(200))
    block_number: NonNegative = Field(primary_key=True, sa_type=sa.BigInteger)
    kind: TouchKind = Field(sa_type=enum_column(TouchKind, "ck_account_endings_kind"))
