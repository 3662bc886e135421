"""Chain leases: several ``perpwatch run`` workers on one database, each chain ticked by one.

    if acquire_lease(engine, chain_id, worker, now, ttl_s):
        ...  # tick the chain; the lease holds until now + ttl_s unless renewed

A worker renews its lease at every tick; a worker that dies (even by SIGKILL) stops renewing,
and after ``ttl_s`` any other worker takes the chain over. Taking and renewing is one atomic
upsert, so two workers can never both believe they hold a chain.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from indexer.store.engine import upsert_insert, write_transaction
from monitor.tables import ChainLease

_leases = ChainLease.__table__  # type: ignore[attr-defined]


def worker_name() -> str:
    """This process's name in leases and heartbeats: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def lease_ttl_s(block_time_s: float) -> float:
    """How long a lease lasts unrenewed: a few block times, never under 5 s."""
    return max(5 * block_time_s, 5.0)


def acquire_lease(engine: Engine, chain_id: int, worker: str, now: datetime, ttl_s: float) -> bool:
    """Take or renew ``chain_id``'s lease for ``worker`` until ``now + ttl_s``; True when
    ``worker`` holds it (it was free, expired, or already its own)."""
    stmt = upsert_insert(engine)(_leases).values(
        chain_id=chain_id, holder=worker, expires_at=now + timedelta(seconds=ttl_s)
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[_leases.c.chain_id],
        set_={"holder": stmt.excluded.holder, "expires_at": stmt.excluded.expires_at},
        where=sa.or_(_leases.c.holder == worker, _leases.c.expires_at < now),
    )
    with write_transaction(engine) as conn:
        conn.execute(stmt)
        holder = conn.execute(
            sa.select(_leases.c.holder).where(_leases.c.chain_id == chain_id)
        ).scalar_one()
    return bool(holder == worker)


def release_leases(engine: Engine, worker: str) -> None:
    """Give up every lease ``worker`` holds (a clean stop hands chains over at once)."""
    with write_transaction(engine) as conn:
        conn.execute(_leases.delete().where(_leases.c.holder == worker))
