"""The API's database reads: accounts with their latest health, alerts, freshness per chain.

    page = account_page(engine, AccountFilter(level="critical"), limit=50, offset=0, now=now)

Everything the monitor wrote: ``accounts`` (the normal form), ``latest_health`` and
``latest_prices`` (``monitor.latest``), ``alert_states``, ``alerts``, ``chain_ticks``,
``chain_alert_states``. An account whose chain cannot be read now (its last tick failed,
``monitor.alerts.chain``) is listed at level ``unknown``, whatever its own alert state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from indexer.models import AccountStatus
from indexer.store.accounts import ending_of_account
from indexer.store.tables import Account, AccountEnding, Position
from monitor.alerts.levels import Level
from monitor.alerts.rules import PRIMARY_LENS
from monitor.analysis.performance import AlertEvent, Liquidation
from monitor.latest.tables import LatestHealth, LatestPrice
from monitor.tables import Alert, AlertStateRow, ChainAlertStateRow, ChainTick

_MODELS = (Account, Position, LatestHealth, LatestPrice, AlertStateRow, Alert, ChainTick,
           AccountEnding, ChainAlertStateRow)  # fmt: skip
_accounts, _positions, _health, _prices, _states, _alerts, _ticks, _endings, _chains = (
    model.__table__  # type: ignore[union-attr]
    for model in _MODELS
)

SORTS = ("health", "move_pct", "hours_to_liquidation", "id")


@dataclass(frozen=True, slots=True)
class AccountFilter:
    """Which open accounts to list; None matches everything."""

    level: str | None = None
    health_min: float | None = None
    health_max: float | None = None
    protocol: str | None = None
    market: str | None = None
    mode: str | None = None
    wallet: str | None = None
    chain_id: int | None = None


def _level() -> sa.ColumnElement[str]:
    """The level shown: unknown while the account's chain cannot be read, else its own."""
    own = sa.func.coalesce(_states.c.level, Level.OK.value)
    return sa.case((_chains.c.failing_since.is_not(None), Level.UNKNOWN.value), else_=own)


def _where(f: AccountFilter) -> list[sa.ColumnElement[bool]]:
    clauses = [_accounts.c.status == AccountStatus.OPEN.value]
    if f.level is not None:
        clauses.append(_level() == f.level)
    if f.health_min is not None:
        clauses.append(_health.c.health >= f.health_min)
    if f.health_max is not None:
        clauses.append(_health.c.health <= f.health_max)
    if f.protocol is not None:
        clauses.append(_accounts.c.protocol == f.protocol)
    if f.mode is not None:
        clauses.append(_accounts.c.mode == f.mode)
    if f.wallet is not None:
        clauses.append(_accounts.c.owner == f.wallet.lower())
    if f.chain_id is not None:
        clauses.append(_accounts.c.chain_id == f.chain_id)
    if f.market is not None:
        key = f.market.lower()
        clauses.append(
            sa.exists().where(
                _positions.c.account_id == _accounts.c.id,
                sa.or_(sa.func.lower(_positions.c.market) == key,
                       sa.func.lower(_positions.c.asset) == key),
            )
        )  # fmt: skip
    return clauses


def _joined() -> sa.FromClause:
    joined: sa.FromClause = (
        _accounts.outerjoin(_health, _health.c.account_id == _accounts.c.id)
        .outerjoin(_states, _states.c.account_id == _accounts.c.id)
        .outerjoin(_ticks, _ticks.c.chain_id == _accounts.c.chain_id)
        .outerjoin(_chains, _chains.c.chain_id == _accounts.c.chain_id)
    )
    return joined


def _age_s(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else max(0.0, (now - then).total_seconds())


def account_page(
    engine: Engine, f: AccountFilter, *, limit: int, offset: int, sort: str, now: datetime
) -> dict[str, Any]:
    """One page of open accounts, riskiest first by ``sort`` (unknown values last), with the
    total count; each with its latest health, level, markets and data age (seconds since its
    chain's last monitor tick)."""
    column = _accounts.c.id if sort == "id" else _health.c[sort]
    query = (
        sa.select(
            _accounts.c.id, _accounts.c.chain_id, _accounts.c.protocol, _accounts.c.owner,
            _accounts.c.ref, _accounts.c.mode, _accounts.c.block_number,
            _health.c.health, _health.c.equity_usd, _health.c.maintenance_usd,
            _health.c.move_pct, _health.c.hours_to_liquidation, _health.c.computed_at,
            _level().label("level"), _ticks.c.ticked_at, _ticks.c.block_number.label("head"),
        )
        .select_from(_joined())
        .where(*_where(f))
        .order_by(column.is_(None), column, _accounts.c.id)
        .limit(limit)
        .offset(offset)
    )  # fmt: skip
    count = sa.select(sa.func.count()).select_from(_joined()).where(*_where(f))
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
        total = conn.execute(count).scalar_one()
        markets = _markets_of(conn, [r["id"] for r in rows])
    items = [
        {
            "id": r["id"], "chain_id": r["chain_id"], "protocol": r["protocol"],
            "owner": r["owner"], "ref": r["ref"], "mode": r["mode"], "level": r["level"],
            "health": r["health"], "equity_usd": r["equity_usd"],
            "maintenance_usd": r["maintenance_usd"], "move_pct": r["move_pct"],
            "hours_to_liquidation": r["hours_to_liquidation"],
            "positions": markets.get(r["id"], []), "block_number": r["block_number"],
            "chain_block": r["head"], "data_age_s": _age_s(now, r["ticked_at"]),
        }
        for r in rows
    ]  # fmt: skip
    return {"total": total, "limit": limit, "offset": offset, "items": items}


def _markets_of(conn: sa.Connection, ids: Sequence[int]) -> dict[int, list[dict[str, str]]]:
    out: dict[int, list[dict[str, str]]] = {}
    if not ids:
        return out
    query = sa.select(
        _positions.c.account_id, _positions.c.market, _positions.c.asset, _positions.c.size_raw
    ).where(_positions.c.account_id.in_(list(ids)))
    for row in conn.execute(query.order_by(_positions.c.id)):
        side = "short" if str(row.size_raw).startswith("-") else "long"
        out.setdefault(row.account_id, []).append(
            {"market": row.market, "asset": row.asset, "side": side}
        )
    return out


def account_row(engine: Engine, account_id: int, now: datetime) -> dict[str, Any] | None:
    """An account's stored latest health, level and episode, and its data age (any status)."""
    query = (
        sa.select(
            _accounts.c.status, _health, _level().label("level"), _states.c.episode,
            _states.c.since, _ticks.c.ticked_at, _ticks.c.block_number.label("chain_block"),
        )
        .select_from(_joined())
        .where(_accounts.c.id == account_id)
    )  # fmt: skip
    with engine.connect() as conn:
        row = conn.execute(query).mappings().first()
    if row is None:
        return None
    out = dict(row)
    out["data_age_s"] = _age_s(now, out.pop("ticked_at"))
    return out


def alerts_page(
    engine: Engine,
    *,
    level: str | None,
    account_id: int | None,
    limit: int,
    offset: int,
    lens: str | None = None,
) -> dict[str, Any]:
    """Recorded alerts, newest first, with their account's chain, protocol, owner and ref (a
    chain alert: its chain, the account fields None); ``lens`` (``""``: the config's
    thresholds, with the chain alerts) keeps one lens's alerts only."""
    clauses = []
    if lens is not None:
        clauses.append(_alerts.c.lens == lens)
    if level is not None:
        clauses.append(_alerts.c.level == level)
    if account_id is not None:
        clauses.append(_alerts.c.account_id == account_id)
    joined = _alerts.outerjoin(_accounts, _accounts.c.id == _alerts.c.account_id)
    chain_id = sa.func.coalesce(_accounts.c.chain_id, _alerts.c.chain_id).label("chain_id")
    own = [c for c in _alerts.c if c.name != "chain_id"]
    query = (
        sa.select(*own, chain_id, _accounts.c.protocol, _accounts.c.owner, _accounts.c.ref)
        .select_from(joined)
        .where(*clauses)
        .order_by(_alerts.c.id.desc())
        .limit(limit)
        .offset(offset)
    )  # fmt: skip
    count = sa.select(sa.func.count()).select_from(_alerts).where(*clauses)
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
        total = conn.execute(count).scalar_one()
    items = [{**dict(r), "block_number": r["payload"].get("block_number")} for r in rows]
    return {"total": total, "limit": limit, "offset": offset, "items": items}


def performance_inputs(engine: Engine) -> tuple[list[Liquidation], list[AlertEvent]]:
    """Every alert of the primary lens as an ``AlertEvent`` (at its evaluated block and record
    time), and every liquidation. On a venue with liquidation events (one that has indexed
    endings), each indexed liquidation at its block, timed by the account's first whole
    ``liquidated`` alert at or after it; on a venue without (Hyperliquid), each ``liquidated``
    alert, whole or partial, at its block and time (a cross account keeps its balance, so its
    status says nothing: the monitor's inference is the record)."""
    liquidated = Level.LIQUIDATED.value
    with engine.connect() as conn:
        accounts_only = _alerts.c.account_id.is_not(None)  # a chain outage warns no account
        # The config's thresholds: a chat with its own has alerts of its own (a lens), and
        # each of its ``liquidated`` alerts is the same liquidation again.
        primary = _alerts.c.lens == PRIMARY_LENS
        alerts = (
            conn.execute(sa.select(_alerts).where(accounts_only, primary).order_by(_alerts.c.id))
            .mappings()
            .all()
        )
        evented = set(conn.execute(sa.select(_endings.c.chain_id, _endings.c.protocol).distinct()))
        ending_rows = conn.execute(
            sa.select(_accounts.c.id, _endings.c.block_number)
            .join(_endings, ending_of_account())
            .where(_endings.c.kind == AccountStatus.LIQUIDATED.value)
        ).all()  # fmt: skip
        told_ids = sa.select(_alerts.c.account_id).where(_alerts.c.level == liquidated, primary)
        venues = {
            r.id: (r.chain_id, r.protocol)
            for r in conn.execute(
                sa.select(_accounts.c.id, _accounts.c.chain_id, _accounts.c.protocol)
                .where(_accounts.c.id.in_(told_ids))
            )
        }  # fmt: skip
    events = [
        AlertEvent(a["id"], a["account_id"], Level(a["level"]), a["episode"],
                   int(a["payload"].get("block_number", 0)), a["created_at"],
                   "partial" in a["payload"])
        for a in alerts
    ]  # fmt: skip
    told = [e for e in events if e.level is Level.LIQUIDATED]
    liquidations = [
        Liquidation(e.account_id, e.block_number, e.at, told_by=e.alert_id if e.partial else None)
        for e in told
        if venues.get(e.account_id) not in evented
    ]
    whole: dict[int, list[AlertEvent]] = {}
    for e in told:
        if not e.partial:
            whole.setdefault(e.account_id, []).append(e)
    ends: dict[int, list[int]] = {}
    for account_id, block in ending_rows:
        ends.setdefault(account_id, []).append(block)
    for account_id, blocks in ends.items():
        blocks.sort()
        for block, until in zip(blocks, [*blocks[1:], None], strict=True):
            # Timed by the first whole alert from its block until the account's next one (a
            # GMX key's later life is liquidated and told apart).
            seen = next(
                (e for e in whole.get(account_id, ())
                 if e.block_number >= block and (until is None or e.block_number < until)),
                None,
            )  # fmt: skip
            liquidations.append(Liquidation(account_id, block, seen.at if seen else None))
    return liquidations, events


def freshness(engine: Engine, names: dict[int, str], now: datetime) -> list[dict[str, Any]]:
    """Per chain: the monitor's last tick (block, time, age), its newest price reading, and
    whether it can be read (``unreadable_since``: when its ticks began failing, with the
    ``unreadable_reason``; ``outage``: its outage alert is out and not yet recovered)."""
    with engine.connect() as conn:
        ticks = {r.chain_id: r for r in conn.execute(sa.select(_ticks))}
        chains = {r.chain_id: r for r in conn.execute(sa.select(_chains))}
        reads = {
            r.chain_id: r
            for r in conn.execute(
                sa.select(
                    _prices.c.chain_id,
                    sa.func.max(_prices.c.read_at).label("read_at"),
                    sa.func.max(_prices.c.source_updated_at).label("source_updated_at"),
                ).group_by(_prices.c.chain_id)
            )
        }
    out = []
    for chain_id in sorted(set(names) | set(ticks)):
        tick, read, state = ticks.get(chain_id), reads.get(chain_id), chains.get(chain_id)
        failing = state.failing_since if state else None
        out.append(
            {
                "chain_id": chain_id,
                "chain": names.get(chain_id),
                "block_number": tick.block_number if tick else None,
                "ticked_at": tick.ticked_at if tick else None,
                "tick_age_s": _age_s(now, tick.ticked_at if tick else None),
                "accounts": tick.accounts if tick else None,
                "worker": tick.worker if tick else None,
                "prices_read_at": read.read_at if read else None,
                "newest_price_source_at": read.source_updated_at if read else None,
                "unreadable_since": failing,
                "unreadable_reason": state.reason if state and failing else None,
                "outage": bool(state and state.level == "outage"),
            }
        )
    return out
