"""The watch list kept in the database: wallets added through the HTTP API, watched like the
config's ``[[wallets]]`` (with the global thresholds).

    add_wallet(engine, "0xabc…", label="desk", now=utcnow())    # True if new
    remove_wallet(engine, "0xabc…")                              # True if it was there
    watched_wallets(engine)                                      # [WatchedWallet, ...]

The monitor re-reads it every tick (``Monitor.tick``), so a wallet added here is read from the
next tick on by protocols without events (whose accounts nothing else reveals); protocols whose
events are indexed see every account anyway.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel

from indexer.store.columns import UtcDateTime
from indexer.store.engine import write_transaction
from indexer.store.tables import Address


class WatchedWallet(SQLModel, table=True):
    """A wallet on the watch list (lower-case address)."""

    __tablename__ = "watched_wallets"

    address: Address = Field(primary_key=True, sa_type=sa.String(42))
    label: str = Field(default="", sa_type=sa.String(64))
    added_at: datetime = Field(sa_type=UtcDateTime)


_wallets = WatchedWallet.__table__  # type: ignore[attr-defined]


def watched_wallets(engine: Engine) -> list[WatchedWallet]:
    """The watch list, by address."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_wallets).order_by(_wallets.c.address)).mappings()
        return [WatchedWallet(**row) for row in rows]


def add_wallet(engine: Engine, address: str, *, label: str, now: datetime) -> bool:
    """Add ``address`` (or update its label); True if it was not on the list."""
    address = address.lower()
    with write_transaction(engine) as conn:
        found = conn.execute(sa.select(_wallets.c.address).where(_wallets.c.address == address))
        if found.first() is not None:
            conn.execute(_wallets.update().where(_wallets.c.address == address).values(label=label))
            return False
        conn.execute(_wallets.insert().values(address=address, label=label, added_at=now))
        return True


def remove_wallet(engine: Engine, address: str) -> bool:
    """Remove ``address``; True if it was on the list."""
    with write_transaction(engine) as conn:
        result = conn.execute(_wallets.delete().where(_wallets.c.address == address.lower()))
        return bool(result.rowcount)
