"""Persist the monitor's latest view (prices and health) cheaply: only rows that changed.

    writer = LatestWriter(engine)
    writer.write(chain_id, block, prices, updated_at, healths, now)   # once per tick
    writer.forget()                                                   # after a lease change

The writer remembers what it last wrote per key; a tick writes only the prices and account
healths that differ from that (usually: the accounts trading a market whose price moved).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from indexer.models import MarginAccount
from indexer.store.bulk import BulkInsert
from indexer.store.columns import driver_datetime
from indexer.store.engine import is_postgres, json_text, upsert_insert, write_transaction
from monitor.health.account import AccountHealth
from monitor.latest.fees import FeeGrowth
from monitor.latest.tables import LatestHealth, LatestPrice

_prices = LatestPrice.__table__  # type: ignore[attr-defined]
_health = LatestHealth.__table__  # type: ignore[attr-defined]

HealthValues = tuple[float | None, float | None, float | None, float | None]
"""(equity_usd, maintenance_usd, health, move_pct) as stored."""

Row = tuple[HealthValues, tuple[tuple[str, float], ...], float | None]
"""What one account's row holds: its health values, fee growth by market, hours to liquidation."""


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def hours_to_liquidation(values: HealthValues, growth: Mapping[str, float]) -> float | None:
    """Hours until fees growing by ``growth`` (market → USD per hour) liquidate an account with
    stored health ``values`` at the current prices: ``(equity - maintenance) / growth`` as
    ``monitor.analysis.drift.fee_drift`` (0 if already liquidatable; None if unknown, without
    a requirement, or without measured growth)."""
    equity, maintenance, health, _ = values
    total = sum(growth.values())
    if equity is None or maintenance is None or maintenance <= 0.0 or total <= 0.0:
        return None
    if health is not None and health <= 1.0:
        return 0.0
    return max(0.0, (equity - maintenance) / total)


def health_values(health: AccountHealth | None) -> HealthValues:
    """What ``latest_health`` stores of ``health``: finite numbers, None for unknown (a bad
    price, or no health at all) and for an infinite health (maintenance zero)."""
    if health is None or not health.known:
        return (None, None, None, None)
    return (
        _finite(health.equity_usd),
        _finite(health.maintenance_usd),
        _finite(health.health),
        _finite(health.move_pct),
    )


@dataclass(frozen=True, slots=True)
class Written:
    """Rows written by one :meth:`LatestWriter.write`."""

    prices: int
    healths: int


class LatestWriter:
    """Upserts changed prices and healths; see the module docstring."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._prices: dict[tuple[int, str, str], tuple[float, int | None]] = {}
        self._healths: dict[int, Row] = {}
        self.fees = FeeGrowth()

    def forget(self) -> None:
        """Write everything again next time (another worker may have written meanwhile)."""
        self._prices.clear()
        self._healths.clear()

    def write(
        self,
        chain_id: int,
        block: int,
        prices: Mapping[str, Mapping[str, float]],
        updated_at: Mapping[str, Mapping[str, int]],
        healths: Iterable[tuple[int, MarginAccount, AccountHealth | None]],
        now: datetime,
        blocks: Mapping[int, int] | None = None,
    ) -> Written:
        """Upsert the prices (protocol → asset → USD) and healths (account id, account, its
        health) that changed since the last write, in one transaction. ``blocks``: account id
        → the block its health was computed at, for those not computed at ``block`` (a view
        that waited for this write)."""
        price_rows = []
        for protocol, book in prices.items():
            stamps = updated_at.get(protocol, {})
            for asset, price in book.items():
                key, value = (chain_id, protocol, asset), (price, stamps.get(asset))
                if math.isfinite(price) and self._prices.get(key) != value:
                    price_rows.append(
                        {"chain_id": chain_id, "protocol": protocol, "asset": asset,
                         "price_usd": price, "source_updated_at": value[1],
                         "block_number": block, "read_at": now}
                    )  # fmt: skip
                    self._prices[key] = value
        changed: list[tuple[int, Row]] = []
        stamp = now.timestamp()
        for account_id, account, health in healths:
            growth = self.fees.observe(account_id, account, stamp)
            values = health_values(health)
            row: Row = (values, tuple(sorted(growth.items())), hours_to_liquidation(values, growth))
            if self._healths.get(account_id) != row:
                changed.append((account_id, row))
                self._healths[account_id] = row
        if price_rows or changed:
            try:
                with write_transaction(self.engine) as conn:
                    _upsert(conn, _prices, ["chain_id", "protocol", "asset"], price_rows)
                    _write_healths(conn, block, now, changed, blocks or {})
            except Exception:
                self.forget()  # nothing of this write is stored: try all of it again
                raise
        return Written(len(price_rows), len(changed))


_HEALTH_COLUMNS = {
    "account_id": "bigint", "block_number": "bigint", "equity_usd": "double precision",
    "maintenance_usd": "double precision", "health": "double precision",
    "move_pct": "double precision", "fee_growth": "jsonb",
    "hours_to_liquidation": "double precision", "computed_at": "timestamptz",
}  # fmt: skip
_HEALTH_UPSERT = BulkInsert.upsert("latest_health", _HEALTH_COLUMNS, ["account_id"])


def _write_healths(
    conn: Connection,
    block: int,
    now: datetime,
    changed: list[tuple[int, Row]],
    blocks: Mapping[int, int],
) -> None:
    """Upsert the ``changed`` (account id, row) healths as driver-level statements
    (:mod:`indexer.store.bulk`): a crash changes thousands, and SQLAlchemy's per-row parameter
    processing was half of writing them."""
    at = driver_datetime(now, postgres=is_postgres(conn))
    rows = [
        (account_id, blocks.get(account_id, block), *values, json_text(dict(growth)), hours, at)
        for account_id, (values, growth, hours) in changed
    ]
    if rows:
        _HEALTH_UPSERT.execute(conn, rows)


def _upsert(conn: Connection, table: sa.Table, keys: list[str], rows: list[dict[str, Any]]) -> None:
    """One upsert statement executed for every row (the driver's executemany)."""
    if not rows:
        return
    stmt = upsert_insert(conn)(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_={c: stmt.excluded[c] for c in rows[0] if c not in keys},
    )
    conn.execute(stmt, rows)
