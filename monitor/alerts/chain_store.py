"""Step a chain's alert state (``monitor.alerts.chain``) and persist the outcome atomically.

    decided = record_chain_read(engine, subject, readable(block), policy, now)
    states = chain_states(engine)          # chain id → ChainState (the API, the status line)

In ONE transaction: read the chain's stored state (locked on PostgreSQL), step it, upsert
the new state and write any alert with its outbox rows. The alert is keyed on (chain, level,
episode), so two workers that both step the chain (a lease changing hands) or a monitor
restarted during the outage cannot repeat it; the stored state means the restarted monitor
continues the outage (no second outage alert) and still sends its recovery.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from indexer.store.engine import upsert_insert, write_transaction
from monitor.alerts.chain import (
    ChainDecision,
    ChainLevel,
    ChainPolicy,
    ChainRead,
    ChainState,
    step_chain,
)
from monitor.delivery.outbox import enqueue_chain
from monitor.notify.chain_message import ChainAlertPayload
from monitor.tables import ChainAlertStateRow

__all__ = ["ChainDecided", "ChainSubject", "chain_states", "record_chain_read"]

_states = ChainAlertStateRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class ChainSubject:
    """What a chain alert says and where it goes: the chain, how many of its accounts the
    monitor covers (shown as unknown while it is unreadable), and the alert's channels."""

    chain_id: int
    name: str
    accounts: int
    channels: Sequence[str]


@dataclass(frozen=True, slots=True)
class ChainDecided:
    """A chain alert that was recorded (and queued for every channel)."""

    chain_id: int
    alert_id: int
    decision: ChainDecision


def record_chain_read(
    engine: Engine, subject: ChainSubject, read: ChainRead, policy: ChainPolicy, now: datetime
) -> tuple[ChainState, list[ChainDecided]]:
    """Step ``subject``'s chain by one tick's ``read``; returns the new state and the alerts
    recorded (none when another worker or an earlier run recorded them already)."""
    decided = []
    with write_transaction(engine) as conn:
        state = _load(conn, subject.chain_id, lock=True)
        new, decisions = step_chain(state, read, policy, now)
        if new != state:
            _save(conn, subject.chain_id, new, now)
        for decision in decisions:
            payload = chain_payload(subject, decision, read.block_number)
            alert_id = enqueue_chain(
                conn, subject.chain_id, decision.level, decision.episode, dict(payload),
                subject.channels, now=now,
            )  # fmt: skip
            if alert_id is not None:
                decided.append(ChainDecided(subject.chain_id, alert_id, decision))
    return new, decided


def chain_payload(
    subject: ChainSubject, decision: ChainDecision, block_number: int
) -> ChainAlertPayload:
    """The stored description of one chain alert (``monitor.notify.chain_message``)."""
    return ChainAlertPayload(
        kind="chain",
        chain_id=subject.chain_id,
        chain=subject.name,
        level=decision.level.value,
        reason=decision.reason,
        since=decision.since.isoformat(),
        block_number=block_number,
        accounts=subject.accounts,
        outage_s=decision.outage_s,
    )


def chain_states(engine: Engine) -> dict[int, ChainState]:
    """Every stored chain state, by chain id."""
    with engine.connect() as conn:
        return {row["chain_id"]: _state(row) for row in conn.execute(sa.select(_states)).mappings()}


def _state(row: Any) -> ChainState:
    return ChainState(
        level=ChainLevel(row["level"]),
        episode=row["episode"],
        failing_since=row["failing_since"],
        readable_since=row["readable_since"],
        since=row["since"],
        reason=row["reason"],
    )


def _load(conn: Connection, chain_id: int, *, lock: bool) -> ChainState:
    query = sa.select(_states).where(_states.c.chain_id == chain_id)
    row = conn.execute(query.with_for_update() if lock else query).mappings().first()
    return ChainState() if row is None else _state(row)


def _save(conn: Connection, chain_id: int, state: ChainState, now: datetime) -> None:
    values = {
        "level": state.level.value,
        "episode": state.episode,
        "failing_since": state.failing_since,
        "readable_since": state.readable_since,
        "since": state.since,
        "reason": state.reason[:1000],
        "updated_at": now,
    }
    stmt = upsert_insert(conn)(_states).values(chain_id=chain_id, **values)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[_states.c.chain_id], set_={k: stmt.excluded[k] for k in values}
        )
    )
