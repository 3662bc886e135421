"""What a tick did: its summary, the per-chain heartbeat row, and the operator's status line.

await asyncio.to_thread(record_tick, engine, chain_id, summary, now, worker)
log.info(format_status(["arbitrum"], {"arbitrum": summary}, pending=3))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine

from indexer.store.engine import upsert_insert, write_transaction
from monitor.alerts.apply import Decided
from monitor.alerts.chain_store import ChainDecided
from monitor.tables import ChainTick

_ticks = ChainTick.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class TickSummary:
    """What one pass over a chain did."""

    chain: str
    block: int
    logs: int
    accounts: int
    unknown: int
    alerts: tuple[Decided, ...]
    stepped: int = 0
    """Accounts whose rule inputs changed, stepped through the rules this tick."""
    leased: bool = True
    """False when another worker holds the chain's lease (this tick did nothing)."""
    chain_alerts: tuple[ChainDecided, ...] = ()
    """The chain's own alerts (its outage or recovery, ``monitor.alerts.chain``)."""
    unreadable: str | None = None
    """Why the chain could not be read (its accounts are all unknown), None when it was."""
    phase_s: Mapping[str, float] = field(default_factory=dict)
    """Wall seconds per phase of the tick (``monitor.runtime.phases.TICK_PHASES``); empty for
    a tick that did not judge the chain's accounts."""
    slowest_request_s: float = 0.0
    """The longest single request to the node in the tick (``RpcClient.take_slowest_request_s``;
    in a failed tick, that of its failed attempts): a ``read`` phase about this long was
    mostly a wait on the node."""


def format_status(chains: Sequence[str], last: Mapping[str, TickSummary], pending: int) -> str:
    """``status: arbitrum block 123, 300 accounts (2 unknown); 4 deliveries pending``; a chain
    that cannot be read: ``arbitrum UNREADABLE (cause), 300 accounts (300 unknown)``."""
    parts = []
    for name in chains:
        tick = last.get(name)
        if tick is None:
            parts.append(f"{name} no tick yet")
        elif not tick.leased:
            parts.append(f"{name} ticked by another worker")
        elif tick.unreadable is not None:
            parts.append(f"{name} UNREADABLE ({tick.unreadable}), {tick.accounts} accounts "
                         f"({tick.unknown} unknown)")  # fmt: skip
        else:
            parts.append(f"{name} block {tick.block}, {tick.accounts} accounts "
                         f"({tick.unknown} unknown)")  # fmt: skip
    return f"status: {'; '.join(parts)}; {pending} deliveries pending"


def record_tick(
    engine: Engine, chain_id: int, summary: TickSummary, now: datetime, worker: str
) -> None:
    """Upsert the chain's heartbeat row (``chain_ticks``)."""
    values = {"chain_id": chain_id, "block_number": summary.block, "accounts": summary.accounts,
              "stepped": summary.stepped, "ticked_at": now, "worker": worker}  # fmt: skip
    stmt = upsert_insert(engine)(_ticks).values(**values)
    with write_transaction(engine) as conn:
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[_ticks.c.chain_id],
                set_={k: stmt.excluded[k] for k in values if k != "chain_id"},
            )
        )
